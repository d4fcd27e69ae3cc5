package main

import (
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/wagglebpf/waggle/inspect"
)

func newNetCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "net",
		Short: "Show the BPF programs on network hooks",
	}
	cmd.AddCommand(newNetListCommand())
	return cmd
}

func newNetListCommand() *cobra.Command {
	return listingCommand(&cobra.Command{
		Use:     "list",
		Aliases: []string{"show", "ls"},
		Short:   "List the programs on this network namespace's interfaces and hooks",
		Long: `List the BPF programs on the network hooks of this network namespace, as bpftool
net does: XDP per interface with its mode (driver, generic, offload; from netlink,
whether attached by a link or not), tcx ingress and egress (Linux 6.6+), tc
cls_bpf filters on clsact and ingress qdiscs (from netlink: priority, handle,
name, direct-action), netkit primary and peer, and the namespace's flow dissector,
sk_lookup and netfilter links. -o json prints one JSON object per program and line.
Run it under ip netns exec NAME for another namespace.`,
		Example: `  waggle net list
  ip netns exec blue waggle net list -o json`,
		Args: cobra.NoArgs,
	}, func([]string) ([]inspect.NetAttachment, error) { return inspect.NetAttachments() }, writeNetTable)
}

func writeNetTable(w io.Writer, list []inspect.NetAttachment) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "INTERFACE\tIFINDEX\tKIND\tHOOK\tPROG\tLINK\tDETAIL")
	for _, a := range list {
		ifindex := "-"
		if a.Ifindex != 0 {
			ifindex = strconv.Itoa(a.Ifindex)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", orDash(a.Interface), ifindex, a.Kind, orDash(a.Hook),
			progText(a.ProgID, a.ProgName), orDash(idText(a.LinkID)), orDash(a.Detail))
	}
	return tw.Flush()
}
