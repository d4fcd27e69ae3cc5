package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/wagglebpf/waggle/inspect"
)

func newCgroupCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cgroup",
		Short: "Show the BPF programs attached to cgroups",
	}
	cmd.AddCommand(newCgroupTreeCommand())
	return cmd
}

func newCgroupTreeCommand() *cobra.Command {
	var effective bool
	cmd := listingCommand(&cobra.Command{
		Use:   "tree [ROOT]",
		Short: "List the programs attached to every cgroup under ROOT",
		Long: `List the BPF programs attached to the cgroup v2 directory ROOT (the root of the
cgroup v2 hierarchy by default) and every cgroup below it, with the attach type,
the link holding the attachment, and the hook's flags: multi (several programs
may attach, BPF_F_ALLOW_MULTI), override (a child's program replaces this one,
BPF_F_ALLOW_OVERRIDE), or "-" for an exclusive attachment. --effective lists
the programs that run for each cgroup, inherited ones included. -o json prints one
JSON object per attachment and line.`,
		Example: `  waggle cgroup tree
  waggle cgroup tree /sys/fs/cgroup/system.slice --effective`,
		Args: cobra.MaximumNArgs(1),
	}, func(args []string) ([]inspect.CgroupAttachment, error) {
		root := ""
		if len(args) == 1 {
			root = args[0]
		}
		return inspect.CgroupTree(root, effective)
	}, writeCgroupTable)
	cmd.Flags().BoolVar(&effective, "effective", false, "list the programs that run for each cgroup, inherited ones included")
	return cmd
}

func writeCgroupTable(w io.Writer, list []inspect.CgroupAttachment) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CGROUP\tATTACH TYPE\tPROG\tLINK\tFLAGS")
	for _, a := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", a.Cgroup, a.AttachType, progText(a.ProgID, a.ProgName),
			orDash(idText(a.LinkID)), orDash(a.Flags))
	}
	return tw.Flush()
}
