package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/cilium/ebpf/rlimit"
	"github.com/spf13/cobra"

	"github.com/wagglebpf/waggle/inspect/feature"
	"github.com/wagglebpf/waggle/session"
)

func newFeatureCommand() *cobra.Command {
	var (
		output    string
		asJSON    bool
		progTypes []string
		parallel  int
	)
	cmd := &cobra.Command{
		Use:   "feature [SECTION...]",
		Short: "Show what eBPF the running kernel supports, each answer from a real probe",
		Long: `Show what eBPF the running kernel supports: program types, map types, the helpers
each program type may call, attach mechanisms (kprobes, uprobes, fentry, tcx, ...),
BTF and its kinds, the JIT and the settings around it, and the instruction set level.

Every answer comes from a probe of this kernel (a map created, a program loaded, a
link attached and at once detached, in a network namespace or cgroup of its own for
network hooks), not from a table of kernel versions. Each is yes, no or unknown, with
the reason when it is not yes.

The sections are ` + strings.Join(feature.Sections, ", ") + `; without SECTION,
all of them. The helpers section is summarised (how many helpers each program type
may call) unless it is named or --prog-type is given, which list every helper.
-o json (or --json) prints the whole report as one JSON object.`,
		Example: `  waggle feature
  waggle feature attach program_types
  waggle feature helpers --prog-type xdp,kprobe
  waggle feature --json | jq '.attach[] | select(.answer != "yes")'`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if asJSON {
				output = "json"
			}
			if err := checkOutput(output); err != nil {
				return err
			}
			sections := make([]string, 0, len(args))
			listHelpers := len(progTypes) > 0
			for _, a := range args {
				s, err := feature.SectionName(a)
				if err != nil {
					return err
				}
				sections = append(sections, s)
				listHelpers = listHelpers || s == feature.SectionHelpers
			}
			if len(progTypes) > 0 && len(sections) == 0 {
				sections = []string{feature.SectionHelpers}
			}
			// Probes load programs: lift the memlock limit older kernels
			// charge maps to, and mount tracefs for the tracepoint probe.
			// Without privileges neither happens and the answers say so.
			_ = rlimit.RemoveMemlock()
			session.MountTracefs(cmd.ErrOrStderr())
			r, err := feature.Probe(feature.Options{Sections: sections, ProgramTypes: progTypes, Parallel: parallel})
			if err != nil {
				return err
			}
			if output == "json" {
				b, err := json.Marshal(r)
				if err != nil {
					return err
				}
				_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s\n", b)
				return err
			}
			return writeFeatures(cmd.OutOrStdout(), r, listHelpers)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&output, "output", "o", "text", "output format: text or json")
	fl.BoolVar(&asJSON, "json", false, "print JSON (the same as -o json)")
	fl.StringSliceVar(&progTypes, "prog-type", nil, "probe the helpers of these program types only (e.g. xdp,kprobe)")
	fl.IntVar(&parallel, "parallel", 0, "probes to run at once (default: one per CPU)")
	return cmd
}

// writeFeatures prints a report in aligned columns: the answers, then the
// helpers listed in full or summarised per program type.
func writeFeatures(out io.Writer, r *feature.Report, listHelpers bool) error {
	var buf bytes.Buffer
	if err := writeFeatureTables(&buf, r, listHelpers); err != nil {
		return err
	}
	_, err := out.Write(trimLines(buf.Bytes()))
	return err
}

func writeFeatureTables(w io.Writer, r *feature.Report, listHelpers bool) error {
	fmt.Fprintf(w, "kernel %s (%s)\n\n", r.Kernel, r.Machine)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	sections := []struct {
		name    string
		answers []feature.Answer
	}{
		{feature.SectionSystem, r.System},
		{feature.SectionBTF, r.BTF},
		{feature.SectionProgramTypes, r.ProgramTypes},
		{feature.SectionMapTypes, r.MapTypes},
		{feature.SectionAttach, r.Attach},
		{feature.SectionInstructions, r.Instructions},
	}
	header := false
	for _, s := range sections {
		for _, a := range s.answers {
			if !header {
				fmt.Fprintln(tw, "SECTION\tFEATURE\tANSWER\tDETAIL")
				header = true
			}
			writeRow(tw, s.name, a.Name, string(a.Status), detail(a.Value, a.Reason))
		}
	}
	if !listHelpers {
		for _, l := range r.Helpers {
			if !header {
				fmt.Fprintln(tw, "SECTION\tFEATURE\tANSWER\tDETAIL")
				header = true
			}
			d := l.Reason
			if l.Status == feature.Yes {
				d = fmt.Sprintf("%d of %d helpers", l.Available(), len(l.Helpers))
			}
			writeRow(tw, feature.SectionHelpers, l.ProgramType, string(l.Status), d)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if len(r.Helpers) > 0 {
			fmt.Fprintln(w, "\nwaggle feature helpers --prog-type TYPE lists the helpers of a program type.")
		}
		return nil
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if header && len(r.Helpers) > 0 {
		fmt.Fprintln(w)
	}
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if len(r.Helpers) > 0 {
		fmt.Fprintln(tw, "PROGRAM TYPE\tHELPER\tANSWER\tREASON")
	}
	for _, l := range r.Helpers {
		if l.Status != feature.Yes {
			writeRow(tw, l.ProgramType, "*", string(l.Status), l.Reason)
			continue
		}
		for _, h := range l.Helpers {
			writeRow(tw, l.ProgramType, h.Name, string(h.Status), h.Reason)
		}
	}
	return tw.Flush()
}

// writeRow writes one row of cells to a tabwriter.
func writeRow(tw io.Writer, cells ...string) {
	io.WriteString(tw, strings.Join(cells, "\t")+"\n")
}

// trimLines drops the spaces tabwriter pads an empty last column with.
func trimLines(b []byte) []byte {
	var out []byte
	for line := range bytes.Lines(b) {
		body, nl := bytes.CutSuffix(line, []byte("\n"))
		out = append(out, bytes.TrimRight(body, " ")...)
		if nl {
			out = append(out, '\n')
		}
	}
	return out
}

// detail joins a setting's value and the reason for an answer.
func detail(value, reason string) string {
	switch {
	case value == "":
		return reason
	case reason == "":
		return value
	}
	return value + "; " + reason
}
