package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/wagglebpf/waggle/attach"
	"github.com/wagglebpf/waggle/inspect/cheader"
	"github.com/wagglebpf/waggle/inspect/kernelbtf"
)

const btfSourceHelp = `SOURCE is one of:
  (nothing)          the running kernel's BTF, /sys/kernel/btf/vmlinux
  FILE | file FILE   a raw BTF file, or an ELF object's .BTF section
  N | id N           a BTF object loaded in the kernel, by ID (waggle btf list)
  module NAME        a kernel module's BTF, split over vmlinux's
                     (also /sys/kernel/btf/NAME as a FILE)`

func newBTFCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "btf",
		Short: "List the kernel's BTF objects and write BTF as a C header (vmlinux.h)",
		Long: `List the BTF objects loaded in the kernel, and dump BTF from the kernel, a kernel
module or an object file as a C header (vmlinux.h, as bpftool btf dump ... format c
writes it) or as bpftool's raw listing.`,
		Example: `  waggle btf dump > vmlinux.h
  waggle btf dump --format raw --type task_struct
  waggle btf dump file prog.bpf.o format c
  waggle btf dump module nf_tables > nf_tables.h
  waggle btf list
  waggle btf show 1 -o json`,
	}
	cmd.AddCommand(newBTFDumpCommand(), newBTFListCommand(), newBTFShowCommand())
	return cmd
}

func newBTFDumpCommand() *cobra.Command {
	var (
		format, output string
		types          []string
		unsorted       bool
		noCORE         bool
		noKfuncs       bool
	)
	cmd := &cobra.Command{
		Use:   "dump [SOURCE] [format c|raw] [unsorted]",
		Short: "Write BTF as a C header or as bpftool's raw listing",
		Long: `Write BTF as a C header that compiles with clang -target bpf: every type, in an
order that needs only forward declarations, with bitfields, packing and padding
inferred from the layout, bpftool's names for clashing types (foo___2), CO-RE's
preserve_access_index pragma (define BPF_NO_PRESERVE_ACCESS_INDEX before including
it to turn it off) and the kernel's kfunc prototypes (BPF_NO_KFUNC_PROTOTYPES). The
header is what bpftool btf dump ... format c writes; types are sorted by kind and
name as bpftool v7.5 sorts them, or kept in ID order with --unsorted.

--format raw prints bpftool's listing of every type instead ("[1] INT 'long
unsigned int' size=8 ..."); -o json prints it as bpftool's JSON document and implies
--format raw. --type limits either format to the named types (and, for C, what
they need). bpftool's words "format c", "format raw" and "unsorted" work too.

` + btfSourceHelp,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			args, wordFormat, wordUnsorted, err := btfDumpWords(args)
			if err != nil {
				return err
			}
			if wordFormat != "" {
				if cmd.Flags().Changed("format") && wordFormat != format {
					return fmt.Errorf("format %s contradicts --format %s", wordFormat, format)
				}
				format = wordFormat
			}
			unsorted = unsorted || wordUnsorted
			switch {
			case output == "json" && !cmd.Flags().Changed("format") && wordFormat == "":
				format = "raw"
			case format != "c" && format != "raw":
				return fmt.Errorf("--format %s: expected c or raw", attach.Shorten(format))
			case format == "c" && output == "json":
				return fmt.Errorf("-o json is the raw listing's; a C header has no JSON form (use --format raw)")
			}
			relaxGC()
			b, err := loadBTFSource(args)
			if err != nil {
				return err
			}
			roots, err := btfTypeIDs(b, types, format == "c")
			if err != nil {
				return err
			}
			if format == "raw" {
				return b.WriteRaw(cmd.OutOrStdout(), output == "json", roots...)
			}
			return b.WriteC(cmd.OutOrStdout(), cheader.Options{
				Roots: roots, Unsorted: unsorted, NoAccessIndex: noCORE, NoKfuncs: noKfuncs,
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&format, "format", "c", "c (a compilable header) or raw (bpftool's listing of every type)")
	f.StringVarP(&output, "output", "o", "text", "output format: text or json (json implies --format raw)")
	f.StringArrayVar(&types, "type", nil, "dump only the types with this name or ID, and what they need (repeatable)")
	f.BoolVar(&unsorted, "unsorted", false, "keep types in ID order instead of bpftool's sorted order")
	f.BoolVar(&noCORE, "no-core", false, "leave out the preserve_access_index pragma")
	f.BoolVar(&noKfuncs, "no-kfuncs", false, "leave out the kfunc prototypes")
	return cmd
}

// relaxGC turns the garbage collector off below 512 MiB, unless the user
// tuned it: a dump keeps nearly everything it allocates until it ends, so
// collecting finds little and, on vmlinux, costs a tenth of the run.
func relaxGC() {
	if os.Getenv("GOGC") == "" && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetGCPercent(-1)
		debug.SetMemoryLimit(512 << 20)
	}
}

// btfDumpWords takes bpftool's trailing words (format c|raw, unsorted) off
// the arguments.
func btfDumpWords(args []string) (rest []string, format string, unsorted bool, err error) {
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "format":
			if i+1 == len(args) {
				return nil, "", false, fmt.Errorf("format needs a value: c or raw")
			}
			format = args[i+1]
			if format != "c" && format != "raw" {
				return nil, "", false, fmt.Errorf("format %s: expected c or raw", attach.Shorten(format))
			}
			i++
		case "unsorted":
			unsorted = true
		default:
			rest = append(rest, args[i])
		}
	}
	return rest, format, unsorted, nil
}

// loadBTFSource reads the BTF a dump's SOURCE words name.
func loadBTFSource(args []string) (*cheader.BTF, error) {
	switch {
	case len(args) == 0:
		return kernelbtf.Vmlinux()
	case len(args) == 2 && args[0] == "file":
		return kernelbtf.LoadFile(args[1])
	case len(args) == 2 && args[0] == "id":
		id, err := parseBTFID(args[1])
		if err != nil {
			return nil, err
		}
		b, _, err := kernelbtf.Load(id)
		return b, err
	case len(args) == 2 && args[0] == "module":
		return kernelbtf.LoadModule(args[1])
	case len(args) == 1:
		if id, err := strconv.ParseUint(args[0], 10, 32); err == nil {
			if _, statErr := os.Stat(args[0]); statErr != nil {
				b, _, err := kernelbtf.Load(uint32(id))
				return b, err
			}
		}
		return kernelbtf.LoadFile(args[0])
	}
	return nil, fmt.Errorf("unexpected %q: SOURCE is FILE, file FILE, N, id N or module NAME", attach.Shorten(strings.Join(args, " ")))
}

func parseBTFID(s string) (uint32, error) {
	id, err := strconv.ParseUint(s, 0, 32)
	if err != nil || id == 0 {
		return 0, fmt.Errorf("%q is not a BTF object ID (a number from waggle btf list)", attach.Shorten(s))
	}
	return uint32(id), nil
}

// btfTypeIDs resolves --type arguments: names, or type IDs. For a C
// header the names must be of types C can define.
func btfTypeIDs(b *cheader.BTF, types []string, defined bool) ([]uint32, error) {
	var ids []uint32
	for _, t := range types {
		if n, err := strconv.ParseUint(t, 10, 32); err == nil {
			if n == 0 || n >= uint64(b.NumTypes()) {
				return nil, fmt.Errorf("--type %s: the BTF has type IDs 1 to %d", t, b.NumTypes()-1)
			}
			ids = append(ids, uint32(n))
			continue
		}
		found := b.TypesByName(t)
		if len(found) == 0 {
			return nil, fmt.Errorf("--type %s: no type of that name in the BTF", attach.Shorten(t))
		}
		if defined {
			kind := b.Kind(found[0])
			found = slices.DeleteFunc(found, func(id uint32) bool {
				switch b.Kind(id) {
				case cheader.KindFunc, cheader.KindVar, cheader.KindDatasec, cheader.KindDeclTag:
					return true
				}
				return false
			})
			if len(found) == 0 {
				return nil, fmt.Errorf("--type %s names a %s, which a header does not define; it takes struct, union, enum and typedef names (--format raw lists any type)",
					attach.Shorten(t), strings.ToLower(kind.String()))
			}
		}
		ids = append(ids, found...)
	}
	return ids, nil
}

func newBTFListCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the BTF objects loaded in the kernel",
		Long: `List the BTF objects loaded in the kernel: ID, name (vmlinux, a module's, or none
for BTF loaded with programs and maps), size in bytes, kind (kernel, module or
user), and the programs and maps loaded with it. -o json prints one JSON object per
BTF object and line. Listing needs root (CAP_SYS_ADMIN).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			infos, err := kernelbtf.List()
			if err != nil {
				return err
			}
			return writeBTFInfos(cmd.OutOrStdout(), infos, output == "json")
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}

func newBTFShowCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "show [id] ID",
		Short: "Describe one BTF object loaded in the kernel",
		Long:  `Describe the BTF object with this ID as list does. -o json prints one JSON object.`,
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			if len(args) == 2 {
				if args[0] != "id" {
					return fmt.Errorf("unexpected %q: expected id ID or ID", attach.Shorten(args[0]))
				}
				args = args[1:]
			}
			id, err := parseBTFID(args[0])
			if err != nil {
				return err
			}
			info, err := kernelbtf.Show(id)
			if err != nil {
				return err
			}
			return writeBTFInfos(cmd.OutOrStdout(), []kernelbtf.Info{info}, output == "json")
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}

func btfKind(i kernelbtf.Info) string {
	switch {
	case i.Module():
		return "module"
	case i.Kernel:
		return "kernel"
	}
	return "user"
}

// writeBTFInfos prints BTF objects: aligned columns, or a JSON object per
// object and line.
func writeBTFInfos(w io.Writer, infos []kernelbtf.Info, asJSON bool) error {
	if asJSON {
		for _, info := range infos {
			b, err := json.Marshal(info)
			if err != nil {
				return err
			}
			if _, err := fmt.Fprintf(w, "%s\n", b); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tSIZE\tKIND\tPROGRAMS\tMAPS")
	for _, i := range infos {
		fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%s\t%s\n", i.ID, orDash(i.Name), i.Size, btfKind(i),
			orDash(joinUint32(i.Programs)), orDash(joinUint32(i.Maps)))
	}
	return tw.Flush()
}

func joinUint32(ids []uint32) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.FormatUint(uint64(id), 10)
	}
	return strings.Join(s, ",")
}
