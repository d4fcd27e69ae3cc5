package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/wagglebpf/waggle/inspect"
)

func newPerfCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "perf",
		Short: "Show which processes hold tracepoint, kprobe and uprobe programs",
	}
	cmd.AddCommand(newPerfListCommand())
	return cmd
}

func newPerfListCommand() *cobra.Command {
	return listingCommand(&cobra.Command{
		Use:     "list",
		Aliases: []string{"show", "ls"},
		Short:   "List the programs attached through perf events and raw tracepoints, by process",
		Long: `List, for every process, the file descriptors through which a BPF program is
attached to a tracepoint, kprobe, kretprobe, uprobe, uretprobe or raw tracepoint,
as the kernel reports them (BPF_TASK_FD_QUERY; bpftool perf list): pid, command,
fd, program and target. Programs attached with a link show its ID. perf_event
(sampling) programs are not described by the kernel this way: waggle link list
shows them. -o json prints one JSON object per descriptor and line.`,
		Args: cobra.NoArgs,
	}, func([]string) ([]inspect.PerfAttachment, error) { return inspect.PerfAttachments() }, writePerfTable)
}

func writePerfTable(w io.Writer, list []inspect.PerfAttachment) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PID\tCOMM\tFD\tPROG\tKIND\tTARGET\tLINK")
	for _, a := range list {
		fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%s\t%s\t%s\n", a.PID, orDash(a.Comm), a.FD, progText(a.ProgID, a.ProgName),
			a.Kind, orDash(a.Target), orDash(idText(a.LinkID)))
	}
	return tw.Flush()
}
