package main

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/cilium/ebpf"
	"github.com/spf13/cobra"

	"github.com/wagglebpf/waggle/attach"
	"github.com/wagglebpf/waggle/inspect"
	"github.com/wagglebpf/waggle/inspect/maps"
)

const mapRefHelp = `MAP is "id N", "name NAME", "pinned PATH", or just N or PATH.`

func newMapCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "map",
		Short: "List, dump, read and write the BPF maps loaded in the kernel",
		Long: `List the BPF maps loaded in the kernel, dump their contents decoded through their
BTF, and look up, update, delete and pin entries, as bpftool map does.

` + mapRefHelp + `

Keys and values are typed on the command line in bpftool's byte syntax (key 1 0 0 0,
key hex 01 00 00 00) or, for maps with BTF, as values of the map's types: key 5,
key TASK_RUNNING, key waggle (a char array), key 42 waggle (a struct's members in
order, as dump prints them), or JSON: key '{"pid": 42, "comm": "waggle"}'.`,
		Example: `  waggle map list
  waggle map show name counts -o json
  waggle map dump id 12
  waggle map lookup id 12 key 5
  waggle map update id 12 key 5 value 100 noexist
  waggle map update name by_task key '{"pid": 42, "comm": "bash"}' value '{"count": 1}'
  waggle map delete id 12 key hex 05 00 00 00
  waggle map getnext id 12 key 5
  waggle map pin id 12 /sys/fs/bpf/counts`,
	}
	cmd.AddCommand(newMapListCommand(), newMapShowCommand(), newMapDumpCommand(),
		newMapLookupCommand(), newMapUpdateCommand(), newMapDeleteCommand(),
		newMapGetNextCommand(), newMapPinCommand())
	return cmd
}

// checkOutput accepts the -o values every listing takes.
func checkOutput(o string) error {
	if o != "text" && o != "json" {
		return fmt.Errorf("-o %s: expected text or json", attach.Shorten(o))
	}
	return nil
}

func newMapListCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the loaded maps",
		Long: `List every BPF map loaded in the kernel: ID, name, type, key and value sizes in
bytes, maximum entries, creation flags (and "frozen" when user space may no longer
write it), the kernel's memory estimate in bytes, the ID of its BTF, the processes
holding it open and where it is pinned under /sys/fs/bpf. -o json prints one JSON
object per map and line.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			infos, err := maps.List(maps.ListOptions{})
			if err != nil {
				return err
			}
			return writeMapInfos(cmd.OutOrStdout(), infos, output == "json", false)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}

func newMapShowCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "show [MAP]",
		Short: "Describe maps, with the BTF types of their keys and values",
		Long: `Describe the maps MAP names (several may share a name) as list does, with the
BTF types of their keys and values. Without MAP, every map.

` + mapRefHelp,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			var (
				infos []maps.Info
				err   error
			)
			if len(args) == 0 {
				infos, err = maps.List(maps.ListOptions{Types: true})
			} else {
				ref, rest, rerr := maps.ParseRef(args)
				if rerr != nil {
					return rerr
				}
				if len(rest) > 0 {
					return fmt.Errorf("unexpected %q after the map", attach.Shorten(rest[0]))
				}
				infos, err = maps.Show(ref, maps.ListOptions{Types: true})
			}
			if err != nil {
				return err
			}
			return writeMapInfos(cmd.OutOrStdout(), infos, output == "json", true)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}

// writeMapInfos prints a listing: aligned columns, or a JSON object per
// map and line.
func writeMapInfos(w io.Writer, infos []maps.Info, asJSON, types bool) error {
	if asJSON {
		return writeJSONLines(w, infos)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tTYPE\tKEY\tVALUE\tMAX ENTRIES\tFLAGS\tMEMLOCK\tBTF\tPIDS\tPINNED")
	for _, i := range infos {
		key, value := strconv.FormatUint(uint64(i.KeySize), 10), strconv.FormatUint(uint64(i.ValueSize), 10)
		if types {
			if i.KeyType != "" {
				key += " (" + i.KeyType + ")"
			}
			if i.ValueType != "" {
				value += " (" + i.ValueType + ")"
			}
		}
		flags := strings.Join(i.FlagNames, ",")
		if i.Frozen {
			flags = strings.TrimPrefix(flags+",frozen", ",")
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%s\t%d\t%s\t%s\t%s\n",
			i.ID, orDash(i.Name), i.Type, key, value, i.MaxEntries, orDash(flags), i.Memlock,
			orDash(idText(i.BTFID)), orDash(pidsText(i.PIDs)), orDash(strings.Join(i.Pinned, ",")))
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func idText(id uint32) string {
	if id == 0 {
		return ""
	}
	return strconv.FormatUint(uint64(id), 10)
}

// pidsText lists holders as bpftool does: comm(pid), comma-separated.
func pidsText(ps []inspect.Process) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = fmt.Sprintf("%s(%d)", p.Comm, p.PID)
	}
	return strings.Join(s, ",")
}

func newMapDumpCommand() *cobra.Command {
	var (
		output string
		perCPU bool
	)
	cmd := &cobra.Command{
		Use:   "dump MAP",
		Short: "Print every entry of a map, decoded through its BTF",
		Long: `Print every entry of a map. Maps with BTF print as waggle run prints maps, in
bpftrace's format: @name[key]: value, struct keys as their members joined by ", ",
bcc-style histograms (a struct with an array member named slots) drawn as log2
histograms, per-CPU values summed (--per-cpu prints each CPU's). Maps without BTF
print as bpftool prints them: key: 01 00 00 00  value: 2a 00 00 00 ...

-o json prints one object per entry and line: {"key": K, "value": V} with the
values decoded ("key_hex" and "value_hex" without BTF; "values", one per CPU, for
per-CPU maps).

` + mapRefHelp,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			h, err := openMapArgs(args)
			if err != nil {
				return err
			}
			defer h.Close()
			c, err := h.Dump()
			if err != nil {
				return err
			}
			return c.Write(cmd.OutOrStdout(), maps.DumpOptions{JSON: output == "json", PerCPU: perCPU})
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	cmd.Flags().BoolVar(&perCPU, "per-cpu", false, "print each CPU's value of per-CPU maps instead of their sum")
	return cmd
}

// openMapArgs opens the map args name; words after it are an error.
func openMapArgs(args []string) (*maps.Handle, error) {
	ref, after, err := maps.ParseRef(args)
	if err != nil {
		return nil, err
	}
	if len(after) > 0 {
		return nil, fmt.Errorf("unexpected %q after the map", attach.Shorten(after[0]))
	}
	return maps.OpenHandle(ref)
}

// elemFlags are the flags of the element commands. Their words are parsed
// by hand, not by cobra, so that keys and values such as -1 are not taken
// for flags.
type elemFlags struct {
	output string
	perCPU bool
	help   bool
	args   []string
}

func parseElemFlags(words []string, perCPUFlag bool) (elemFlags, error) {
	f := elemFlags{output: "text"}
	for i := 0; i < len(words); i++ {
		w := words[i]
		switch {
		case w == "--":
			f.args = append(f.args, words[i+1:]...)
			return f, checkOutput(f.output)
		case w == "-h" || w == "--help":
			f.help = true
		case w == "-o" || w == "--output":
			if i+1 == len(words) {
				return f, fmt.Errorf("%s needs a value: text or json", w)
			}
			f.output = words[i+1]
			i++
		case strings.HasPrefix(w, "-o=") || strings.HasPrefix(w, "--output="):
			_, f.output, _ = strings.Cut(w, "=")
		case w == "--per-cpu" && perCPUFlag:
			f.perCPU = true
		default:
			f.args = append(f.args, w)
		}
	}
	return f, checkOutput(f.output)
}

// newElemCommand builds a command whose arguments are parsed by run.
func newElemCommand(use, short, long string, perCPUFlag bool, run func(cmd *cobra.Command, f elemFlags) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:                use,
		Short:              short,
		Long:               long + "\n\n" + mapRefHelp + " A key or value that looks like a flag is given after --.",
		DisableFlagParsing: true,
	}
	cmd.Flags().StringP("output", "o", "text", "output format: text or json")
	if perCPUFlag {
		cmd.Flags().Bool("per-cpu", false, "print each CPU's value of per-CPU maps instead of their sum")
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		f, err := parseElemFlags(args, perCPUFlag)
		if f.help {
			return cmd.Help()
		}
		if err != nil {
			return err
		}
		return run(cmd, f)
	}
	return cmd
}

// elem is an open map with the key and value a command line gave; key
// and value are nil when not given.
type elem struct {
	h          *maps.Handle
	key, value []byte
	flag       ebpf.MapUpdateFlags
}

// openElem opens the map at the front of args and reads the key and value
// words after it for command name; only update takes a value.
func openElem(args []string, name string, takesValue bool) (*elem, error) {
	ref, rest, err := maps.ParseRef(args)
	if err != nil {
		return nil, err
	}
	ea, err := maps.ParseElemArgs(rest)
	if err != nil {
		return nil, err
	}
	if ea.HasValue && !takesValue {
		return nil, fmt.Errorf("%s takes a key, not a value", name)
	}
	h, err := maps.OpenHandle(ref)
	if err != nil {
		return nil, err
	}
	e := &elem{h: h, flag: ea.Flag}
	if ea.HasKey {
		e.key, err = h.ParseKey(ea.Key)
	}
	if err == nil && ea.HasValue {
		e.value, err = h.ParseValue(ea.Value)
	}
	if err != nil {
		h.Close()
		return nil, err
	}
	return e, nil
}

func newMapLookupCommand() *cobra.Command {
	return newElemCommand("lookup MAP [key KEY...]", "Print one entry of a map",
		`Print the entry of KEY, as dump prints entries. Queue and stack maps take no key:
their next value is peeked at.`, true,
		func(cmd *cobra.Command, f elemFlags) error {
			e, err := openElem(f.args, "lookup", false)
			if err != nil {
				return err
			}
			defer e.h.Close()
			if e.key == nil && e.h.Map.KeySize() != 0 {
				return fmt.Errorf("lookup needs a key: key WORDS... (the key is %d bytes)", e.h.Map.KeySize())
			}
			c, err := e.h.Lookup(e.key)
			if err != nil {
				return err
			}
			return c.Write(cmd.OutOrStdout(), maps.DumpOptions{JSON: f.output == "json", PerCPU: f.perCPU})
		})
}

func newMapUpdateCommand() *cobra.Command {
	return newElemCommand("update MAP key KEY... value VALUE... [any|exist|noexist]", "Create or replace one entry of a map",
		`Set KEY to VALUE. any (the default) creates or replaces, exist only replaces and
noexist only creates. A per-CPU map gets VALUE on every CPU.`, false,
		func(cmd *cobra.Command, f elemFlags) error {
			e, err := openElem(f.args, "update", true)
			if err != nil {
				return err
			}
			defer e.h.Close()
			if e.key == nil || e.value == nil {
				return errors.New("update needs a key and a value: key WORDS... value WORDS... [any|exist|noexist]")
			}
			return e.h.Update(e.key, e.value, e.flag)
		})
}

func newMapDeleteCommand() *cobra.Command {
	return newElemCommand("delete MAP key KEY...", "Delete one entry of a map", `Delete the entry of KEY.`, false,
		func(cmd *cobra.Command, f elemFlags) error {
			e, err := openElem(f.args, "delete", false)
			if err != nil {
				return err
			}
			defer e.h.Close()
			if e.key == nil {
				return errors.New("delete needs a key: key WORDS...")
			}
			return e.h.Delete(e.key)
		})
}

func newMapGetNextCommand() *cobra.Command {
	return newElemCommand("getnext MAP [key KEY...]", "Print the key that follows a key",
		`Print the key the kernel orders after KEY, or the first key without KEY ("none"
after the last key), as bpftool map getnext does.`, false,
		func(cmd *cobra.Command, f elemFlags) error {
			e, err := openElem(f.args, "getnext", false)
			if err != nil {
				return err
			}
			defer e.h.Close()
			next, _, err := e.h.NextKey(e.key)
			if err != nil {
				return err
			}
			return e.h.WriteNextKey(cmd.OutOrStdout(), e.key, next, f.output == "json")
		})
}

func newMapPinCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "pin MAP PATH",
		Short: "Pin a map in the BPF file system",
		Long: `Pin the map at PATH in a BPF file system (usually /sys/fs/bpf), so that it outlives
the processes holding it. Remove the pin with rm.

` + mapRefHelp,
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, rest, err := maps.ParseRef(args)
			if err != nil {
				return err
			}
			if len(rest) != 1 {
				return errors.New("pin needs one path after the map: waggle map pin MAP PATH")
			}
			h, err := maps.OpenHandle(ref)
			if err != nil {
				return err
			}
			defer h.Close()
			return h.Pin(rest[0])
		},
	}
}
