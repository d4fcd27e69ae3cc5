package main

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/wagglebpf/waggle/attach"
	"github.com/wagglebpf/waggle/inspect"
)

const linkRefHelp = `LINK is "id N" or just N.`

func newLinkCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "link",
		Short: "List, describe, pin and detach BPF links",
		Long: `List the BPF links in the kernel (a link is a program's attachment kept as an
object: a tracepoint, probe, cgroup, XDP, tcx or netns hook), with the processes
holding them, and pin or detach them, as bpftool link does.

` + linkRefHelp,
		Example: `  waggle link list
  waggle link show 7 -o json
  waggle link pin 7 /sys/fs/bpf/my_link
  waggle link detach id 7`,
	}
	cmd.AddCommand(newLinkListCommand(), newLinkShowCommand(), newLinkPinCommand(), newLinkDetachCommand())
	return cmd
}

// parseLinkID reads "id N" or "N" from the front of args.
func parseLinkID(args []string) (uint32, []string, error) {
	if len(args) == 0 {
		return 0, nil, errors.New("no link given: name one as id N (waggle link list shows them)")
	}
	if args[0] == "id" {
		if len(args) < 2 {
			return 0, nil, errors.New(`"id" needs a value after it`)
		}
		args = args[1:]
	}
	n, err := strconv.ParseUint(args[0], 10, 32)
	if err != nil || n == 0 {
		return 0, nil, fmt.Errorf("%q is not a link ID (a positive number, as waggle link list shows)", attach.Shorten(args[0]))
	}
	return uint32(n), args[1:], nil
}

func newLinkListCommand() *cobra.Command {
	return listingCommand(&cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the links",
		Long: `List every BPF link: ID, type, the program it attaches, where (tracepoint,
function, file and offset, cgroup directory, interface, network namespace, perf
event), the processes holding it and where it is pinned. -o json prints one JSON
object per link and line.`,
		Args: cobra.NoArgs,
	}, func([]string) ([]inspect.LinkInfo, error) { return inspect.Links() }, writeLinkTable)
}

func newLinkShowCommand() *cobra.Command {
	return listingCommand(&cobra.Command{
		Use:   "show [LINK]",
		Short: "Describe a link",
		Long: `Describe the link LINK names as list does. Without LINK, every link.

` + linkRefHelp,
	}, func(args []string) ([]inspect.LinkInfo, error) {
		if len(args) == 0 {
			return inspect.Links()
		}
		id, err := oneLinkID(args)
		if err != nil {
			return nil, err
		}
		return inspect.Links(id)
	}, writeLinkTable)
}

// oneLinkID reads LINK and refuses anything after it.
func oneLinkID(args []string) (uint32, error) {
	id, rest, err := parseLinkID(args)
	if err != nil {
		return 0, err
	}
	if len(rest) > 0 {
		return 0, fmt.Errorf("unexpected %q after the link", attach.Shorten(rest[0]))
	}
	return id, nil
}

func progText(id uint32, name string) string {
	if name == "" {
		return strconv.FormatUint(uint64(id), 10)
	}
	return fmt.Sprintf("%d %s", id, name)
}

func writeLinkTable(w io.Writer, links []inspect.LinkInfo) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTYPE\tPROG\tATTACHED\tPIDS\tPINNED")
	for _, l := range links {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", l.ID, l.Type, progText(l.ProgID, l.ProgName),
			l.Attach.Hook(), orDash(pidsText(l.Pids)), orDash(strings.Join(l.Pinned, ",")))
	}
	return tw.Flush()
}

func newLinkPinCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "pin LINK PATH",
		Short: "Pin a link to a path on the BPF filesystem",
		Long: `Pin the link at PATH on a BPF filesystem, so that the attachment outlives the
processes holding it (rm PATH unpins it; link detach ends it). PATH's directories
are created, and /sys/fs/bpf is mounted when it is missing and waggle runs as root.

` + linkRefHelp,
		Example: `  waggle link pin 7 /sys/fs/bpf/my_link`,
		RunE: func(cmd *cobra.Command, args []string) error {
			id, rest, err := parseLinkID(args)
			if err != nil {
				return err
			}
			if len(rest) != 1 {
				return errors.New("give the link and then one path to pin it at, under /sys/fs/bpf")
			}
			if err := inspect.PinLink(id, rest[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "pinned link %d at %s\n", id, rest[0])
			return nil
		},
	}
}

func newLinkDetachCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "detach LINK",
		Short: "Detach a link's program from its hook",
		Long: `Detach the program of the link LINK names from its hook (cgroup, XDP, tcx,
netkit, netns, netfilter, struct_ops and tracing links). The link object stays
until its holders close it, but the program stops running there. Tracepoint, probe
and perf event links cannot be detached: they end when their holders exit.

` + linkRefHelp,
		Example: `  waggle link detach 7`,
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := oneLinkID(args)
			if err != nil {
				return err
			}
			if err := inspect.DetachLink(id); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "detached link %d\n", id)
			return nil
		},
	}
}
