package main

import (
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = ""

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "waggle",
		Short:         "eBPF without LLVM: load, attach, trace and inspect from one static binary",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newVersionCommand(), newRunCommand(), newTraceCommand(), newVerifyCommand(), newVMCommand(), newMapCommand(), newFeatureCommand(), newExportCommand(),
		newProgCommand(), newLinkCommand(), newNetCommand(), newCgroupCommand(), newPerfCommand(), newAgentCommand(), newBTFCommand())
	return root
}

// newBpftraceCommand is the command tree when waggle is invoked as
// bpftrace: the trace command at the top, with bpftrace's flags.
func newBpftraceCommand() *cobra.Command {
	cmd := newTraceCommand()
	cmd.Use = "bpftrace [options] {-e 'PROGRAM' | FILE} [ARGS...]"
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	cmd.Version = buildVersion()
	cmd.SetVersionTemplate("bpftrace v0.26.0 (waggle {{.Version}})\n")
	cmd.Flags().BoolP("version", "V", false, "print the version")
	return cmd
}

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print waggle's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(cmd.OutOrStdout(), "waggle %s (%s, %s/%s)\n", buildVersion(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		},
	}
}

func buildVersion() string {
	if version != "" {
		return version
	}
	if info, ok := debug.ReadBuildInfo(); ok {
		if v := info.Main.Version; v != "" && v != "(devel)" {
			return v
		}
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return "devel-" + s.Value[:12]
			}
		}
	}
	return "devel"
}

// exitError carries a specific exit status out of a command.
type exitError struct {
	code int
	err  error
	// silent errors are an exit status the user's script chose, not a
	// failure to report.
	silent bool
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func exitCode(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return 1
}
