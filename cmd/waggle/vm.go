package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/spf13/cobra"
	"github.com/wagglebpf/waggle/btfprint"
	"github.com/wagglebpf/waggle/verifier"
	"github.com/wagglebpf/waggle/vm"
	"github.com/wagglebpf/waggle/vm/jit"
)

type vmRunFlags struct {
	prog     string
	ctx      string
	packet   string
	repeat   int
	typ      string
	noVerify bool
	engine   string
}

func newVMCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "vm",
		Short: "Run eBPF programs in waggle's user-space runtime (no root, no kernel)",
	}
	cmd.AddCommand(newVMRunCommand(), newVMTestCommand(), newVMDumpCommand())
	return cmd
}

func newVMRunCommand() *cobra.Command {
	var f vmRunFlags
	cmd := &cobra.Command{
		Use:   "run OBJECT.o|BYTECODE",
		Short: "Run one program in the interpreter or the JIT and print r0, the time per run and the maps it changed",
		Long: `Run one eBPF program in waggle's user-space runtime: its interpreter, or with
--engine jit as native code (amd64 and arm64 on Linux), with the same results and
the same run-time checks.

The program is an ELF object (pick the program with --prog when it has several) or
raw bytecode: 8-byte little-endian instructions, as a binary file or as hex text.
An object's maps and global variables are created as the kernel would create them,
and the maps the runs changed are printed afterwards, decoded through BTF.

The program's input is either --ctx, a file whose bytes are its memory (r1 = their
address, r2 = their length), or --packet, a file holding one packet from its
Ethernet header, wrapped in the context the program's section calls for: struct
xdp_md for xdp programs, struct __sk_buff for socket filters and tc programs.

Before it runs, the program is checked by waggle's static verifier (see waggle verify)
as a program of its type: the ELF section's, or --type, which raw bytecode needs. A
rejected program is not run. --no-verify runs it anyway, with only the interpreter's
run-time checks, which stop a bad memory access or a runaway loop when it happens; it
is also how raw bytecode that is not a program of any kernel type (r1 as plain memory,
as in the conformance suite) runs. A verified program's context is zero-extended to
the size the verifier proved it may read.`,
		Example: `  waggle vm run prog.bin --type tracepoint --ctx input.bin --repeat 1000
  waggle vm run net.bpf.o --prog xdp_count --packet frame.bin
  waggle vm run raw.bin --no-verify --ctx memory.bin`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runVM(args[0], &f, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&f.prog, "prog", "", "program to run from an ELF object")
	cmd.Flags().StringVar(&f.ctx, "ctx", "", "file whose bytes are the program's memory (r1, r2)")
	cmd.Flags().StringVar(&f.packet, "packet", "", "file holding a packet (from the Ethernet header) for an xdp, tc or socket program")
	cmd.Flags().IntVar(&f.repeat, "repeat", 1, "run this many times and report the mean time per run")
	cmd.Flags().StringVar(&f.typ, "type", "", "program type to verify and run as: xdp, socket, tc, tracepoint, kprobe, ... (default: from the ELF section; raw bytecode needs it)")
	cmd.Flags().BoolVar(&f.noVerify, "no-verify", false, "run without waggle's verifier, with only the interpreter's run-time checks")
	cmd.Flags().StringVar(&f.engine, "engine", "interp", "how to run the program: interp (the interpreter) or jit (native code; same results, same run-time checks)")
	return cmd
}

// parseEngine reads --engine.
func parseEngine(s string) (vm.Engine, error) {
	switch s {
	case "interp", "interpreter", "":
		return vm.Interpreter, nil
	case "jit":
		if !jit.Supported() {
			return 0, fmt.Errorf("--engine jit: there is no JIT for %s/%s here; use --engine interp", runtime.GOOS, runtime.GOARCH)
		}
		return vm.JIT, nil
	}
	return 0, fmt.Errorf("--engine %s: expected interp or jit", s)
}

type vmDumpFlags struct {
	prog  string
	jited bool
	arch  string
	blind bool
}

func newVMDumpCommand() *cobra.Command {
	var f vmDumpFlags
	cmd := &cobra.Command{
		Use:   "dump OBJECT.o|BYTECODE",
		Short: "Print a program's bytecode, or with --jited the native code the JIT makes of it",
		Long: `Print one eBPF program as the VM loads it: its instructions, or with --jited the
disassembly of the machine code that waggle's JIT generates for it (what
waggle vm run --engine jit runs), each BPF instruction's code under its pc,
followed by the shared stubs and the exits back to Go. --arch picks another
architecture's back end (code for any of them can be generated on any host).`,
		Example: `  waggle vm dump prog.bin
  waggle vm dump net.bpf.o --prog xdp_count --jited
  waggle vm dump prog.bin --jited --arch arm64`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return dumpVM(args[0], &f, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&f.prog, "prog", "", "program to dump from an ELF object")
	cmd.Flags().BoolVar(&f.jited, "jited", false, "print the JIT's machine code instead of the bytecode")
	cmd.Flags().StringVar(&f.arch, "arch", "", "with --jited: the architecture to generate code for (default: this machine's; "+strings.Join(sortedArches(), ", ")+")")
	cmd.Flags().BoolVar(&f.blind, "blind", false, "with --jited: generate code with constant blinding")
	return cmd
}

func sortedArches() []string {
	a := jit.Arches()
	sort.Strings(a)
	return a
}

func dumpVM(path string, f *vmDumpFlags, out io.Writer) error {
	src, err := openVMSource(path, f.prog)
	if err != nil {
		return err
	}
	if !f.jited {
		insns := asm.Instructions(nil)
		if src.prog != nil {
			insns = src.prog.Instructions
		} else if insns, err = src.file.instructions(); err != nil {
			return err
		}
		_, err := fmt.Fprintf(out, "%v", insns)
		return err
	}
	_, prog, err := src.load(vmGate{noVerify: true})
	if err != nil {
		return err
	}
	listing, err := jit.Listing(prog, f.arch, jit.Options{ConstantBlinding: f.blind})
	if err != nil {
		return err
	}
	_, err = io.WriteString(out, listing)
	return err
}

// vmInput is the input a program takes: raw memory or a packet in a context.
type vmInput int

const (
	inputRaw vmInput = iota
	inputXDP
	inputTC
	inputSocket
)

// String is the name --type uses for the input, "" for raw memory.
func (k vmInput) String() string {
	return [...]string{inputRaw: "", inputXDP: "xdp", inputTC: "tc", inputSocket: "socket"}[k]
}

// vmInputOf tells which context a program of type t takes over a packet,
// from its program type, else from its libbpf section name.
func vmInputOf(t ebpf.ProgramType, sec string) vmInput {
	switch t {
	case ebpf.XDP:
		return inputXDP
	case ebpf.SchedCLS, ebpf.SchedACT:
		return inputTC
	case ebpf.SocketFilter:
		return inputSocket
	}
	first, _, _ := strings.Cut(strings.TrimPrefix(sec, "?"), "/")
	switch {
	case first == "xdp" || strings.HasPrefix(first, "xdp."):
		return inputXDP
	case first == "socket":
		return inputSocket
	case first == "tc" || first == "tcx" || first == "classifier" || first == "action" ||
		strings.HasPrefix(first, "tc.") || strings.HasPrefix(first, "tcx."):
		return inputTC
	}
	return inputRaw
}

// vmPacketContext wraps pkt in the context of kind.
func vmPacketContext(kind vmInput, pkt []byte) (*vm.Context, error) {
	if kind == inputXDP {
		return vm.NewXDPContext(vm.XDPMD{Packet: pkt, IngressIfindex: 1})
	}
	skb := vm.SkBuff{Packet: pkt, IngressIfindex: 1, Ifindex: 1}
	if len(pkt) >= 14 {
		skb.Protocol = binary.BigEndian.Uint16(pkt[12:])
	}
	return vm.NewSkBuffContext(skb)
}

// vmVerdictName names r0 for packet programs, "" when it means nothing more
// than its value.
func vmVerdictName(kind vmInput, r0 uint64, pktLen int) string {
	switch kind {
	case inputXDP:
		a := vm.XDPVerdict(r0)
		if !a.Valid() {
			return fmt.Sprintf("%v (invalid, the kernel takes it as %v)", a, a.Effective())
		}
		return a.String()
	case inputTC:
		names := map[int32]string{
			vm.TCActUnspec: "TC_ACT_UNSPEC", vm.TCActOK: "TC_ACT_OK", vm.TCActReclassify: "TC_ACT_RECLASSIFY",
			vm.TCActShot: "TC_ACT_SHOT", vm.TCActPipe: "TC_ACT_PIPE", vm.TCActStolen: "TC_ACT_STOLEN",
			vm.TCActQueued: "TC_ACT_QUEUED", vm.TCActRepeat: "TC_ACT_REPEAT", vm.TCActRedirect: "TC_ACT_REDIRECT",
		}
		if n, ok := names[int32(r0)]; ok {
			return n
		}
	case inputSocket:
		if n := vm.SocketFilterVerdict(r0, pktLen); n == 0 {
			return "drop"
		} else {
			return fmt.Sprintf("keep %d of %d bytes", n, pktLen)
		}
	}
	return ""
}

func runVM(path string, f *vmRunFlags, out io.Writer) error {
	if f.repeat < 1 {
		return fmt.Errorf("--repeat %d: must be at least 1", f.repeat)
	}
	if f.ctx != "" && f.packet != "" {
		return fmt.Errorf("--ctx and --packet: give one or the other")
	}
	engine, err := parseEngine(f.engine)
	if err != nil {
		return err
	}
	src, err := openVMSource(path, f.prog)
	if err != nil {
		return err
	}
	g := vmGate{noVerify: f.noVerify}
	if f.typ != "" {
		if g.typ, err = parseProgType(f.typ); err != nil {
			return err
		}
	}
	section := src.section()
	kind := vmInputOf(src.progType(), section)
	if g.typ != 0 {
		kind = vmInputOf(g.typ, "")
	}
	if f.packet != "" && kind == inputRaw {
		what := "raw bytecode"
		if g.typ != 0 {
			what = "a program of type " + progTypeName(g.typ)
		} else if section != "" {
			what = fmt.Sprintf("a program of section %q", section)
		}
		return fmt.Errorf("--packet: %s takes no packet; --packet works for xdp, socket (socket filter) and tc/classifier programs (use --ctx for raw memory)", what)
	}
	coll, prog, err := src.load(g)
	if err != nil {
		return err
	}
	var ctx *vm.Context
	pktLen := 0
	switch {
	case f.packet != "":
		pkt, err := os.ReadFile(f.packet)
		if err != nil {
			return err
		}
		pktLen = len(pkt)
		if ctx, err = vmPacketContext(kind, pkt); err != nil {
			return fmt.Errorf("--packet %s: %w", f.packet, err)
		}
	case f.ctx != "":
		mem, err := os.ReadFile(f.ctx)
		if err != nil {
			return err
		}
		ctx = vm.RawContext(mem)
		kind = inputRaw
	default:
		ctx = vm.RawContext(nil)
		kind = inputRaw
	}

	task := vm.HostTask()
	helpers := vm.MapHelpers()
	for id, h := range vm.KernelHelpers(vm.HelperConfig{Task: &task}) {
		helpers[id] = h
	}
	for id, h := range ctx.Helpers() {
		helpers[id] = h
	}
	var before map[string]map[string][]byte
	if coll != nil {
		before = snapshotVMMaps(coll)
	}

	// Each run gets a fresh copy: a program may write its memory.
	mem := ctx.Mem
	work := make([]byte, len(mem))
	var res vm.Result
	start := time.Now()
	for i := 0; i < f.repeat; i++ {
		copy(work, mem)
		if res, err = prog.Execute(work, vm.RunOptions{Helpers: helpers, Engine: engine}); err != nil {
			return err
		}
	}
	elapsed := time.Since(start)
	fmt.Fprintf(out, "r0: %#x (%d)\n", res.R0, int64(res.R0))
	if v := vmVerdictName(kind, res.R0, pktLen); v != "" {
		fmt.Fprintf(out, "verdict: %s\n", v)
	}
	fmt.Fprintf(out, "instructions: %d per run\n", res.Steps)
	per := elapsed / time.Duration(f.repeat)
	fmt.Fprintf(out, "time: %v per run (%d runs)\n", per, f.repeat)
	if !bytes.Equal(work, mem) {
		what := "memory"
		if kind != inputRaw {
			what = "packet"
		}
		fmt.Fprintf(out, "%s: changed\n", what)
	}
	if coll != nil {
		return printChangedVMMaps(out, coll, before)
	}
	return nil
}

// snapshotVMMaps copies the entries of every map that has entries.
func snapshotVMMaps(coll *vm.Collection) map[string]map[string][]byte {
	snap := map[string]map[string][]byte{}
	for name, m := range coll.Maps {
		entries := map[string][]byte{}
		_ = m.Iterate(func(k, v []byte) bool {
			entries[string(k)] = v
			return true
		})
		snap[name] = entries
	}
	return snap
}

// printChangedVMMaps prints the maps whose entries differ from before, and
// the records waiting in ring buffers and perf event arrays.
func printChangedVMMaps(out io.Writer, coll *vm.Collection, before map[string]map[string][]byte) error {
	after := snapshotVMMaps(coll)
	for _, name := range sortedKeys(coll.Maps) {
		m := coll.Maps[name]
		ms := coll.Spec.Maps[name]
		switch rb := m.(type) {
		case *vm.RingBufMap:
			printVMRecords(out, coll.Spec, name, false, func() ([]byte, bool) { return rb.Read() })
			if lost := rb.Lost(); lost > 0 {
				fmt.Fprintf(out, "@%s: %d records lost (ring buffer full)\n", name, lost)
			}
			continue
		case *vm.PerfEventArrayMap:
			var lost uint64
			printVMRecords(out, coll.Spec, name, true, func() ([]byte, bool) {
				for {
					r, ok := rb.Read()
					if !ok {
						return nil, false
					}
					if r.Sample == nil {
						lost += r.LostSamples
						continue
					}
					return r.Sample, true
				}
			})
			if lost > 0 {
				fmt.Fprintf(out, "@%s: %d samples lost\n", name, lost)
			}
			continue
		}
		if vmMapsEqual(before[name], after[name]) {
			continue
		}
		spec := m.Spec()
		perCPU := spec.Type == vm.PerCPUArray || spec.Type == vm.PerCPUHash
		bm := btfprint.Map{
			Name:   name,
			Key:    ms.Key,
			Value:  ms.Value,
			PerCPU: perCPU,
			Array:  spec.Type == vm.Array || spec.Type == vm.PerCPUArray,
		}
		keys := sortedKeys(after[name])
		for _, k := range keys {
			v := after[name][k]
			e := btfprint.Entry{Key: []byte(k)}
			if perCPU {
				stride := (int(spec.ValueSize) + 7) &^ 7
				for off := 0; off+stride <= len(v); off += stride {
					e.Values = append(e.Values, v[off:off+int(spec.ValueSize)])
				}
			} else {
				e.Values = [][]byte{v}
			}
			bm.Entries = append(bm.Entries, e)
		}
		if err := btfprint.PrintMap(out, bm, btfprint.MapOptions{}); err != nil {
			return fmt.Errorf("map %s: %w", name, err)
		}
	}
	return nil
}

func vmMapsEqual(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || !bytes.Equal(v, w) {
			return false
		}
	}
	return true
}

// printVMRecords prints the records next returns, as a table of the struct
// BTF suggests for their size, or as hex.
func printVMRecords(out io.Writer, spec *ebpf.CollectionSpec, name string, perf bool, next func() ([]byte, bool)) {
	var tab *btfprint.EventTable
	n := 0
	for {
		rec, ok := next()
		if !ok {
			break
		}
		if n == 0 {
			fmt.Fprintf(out, "@%s: records\n", name)
			if spec.Types != nil {
				if t, err := btfprint.EventType(spec.Types, len(rec), perf); err == nil {
					tab, _ = btfprint.NewEventTable(out, t)
				}
			}
		}
		n++
		if tab != nil {
			if err := tab.Write(rec); err == nil {
				continue
			}
		}
		fmt.Fprintln(out, btfprint.HexRecord(rec))
	}
}

// vmGate says how a vm command checks a program before running it.
type vmGate struct {
	// typ is the program type to verify as; 0 means the ELF program's own.
	typ      ebpf.ProgramType
	noVerify bool
}

// vmSource is the program a vm command runs, read but not loaded yet.
type vmSource struct {
	file *bpfFile
	prog *ebpf.ProgramSpec // nil for raw bytecode
}

// openVMSource reads an ELF object and picks its program called name
// (which may be empty when there is only one), or reads raw bytecode.
func openVMSource(path, name string) (*vmSource, error) {
	file, err := readBPFFile(path)
	if err != nil {
		return nil, err
	}
	if file.spec == nil {
		return &vmSource{file: file}, nil
	}
	ps, err := pickProgram(file.spec, name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &vmSource{file: file, prog: ps}, nil
}

// section is the ELF program's section, "" for raw bytecode.
func (s *vmSource) section() string {
	if s.prog == nil {
		return ""
	}
	return s.prog.SectionName
}

// progType is the ELF program's type, 0 for raw bytecode.
func (s *vmSource) progType() ebpf.ProgramType {
	if s.prog == nil {
		return 0
	}
	return s.prog.Type
}

// load verifies the program (unless g.noVerify) and loads it into the VM:
// an ELF program with the maps and global variables of its object, in a
// collection; raw bytecode alone, with a nil collection. A program the
// verifier rejects is an error that shows the rejection.
func (s *vmSource) load(g vmGate) (*vm.Collection, *vm.Program, error) {
	path := s.file.path
	if s.prog != nil {
		spec, name := s.file.spec, s.prog.Name
		if g.typ != 0 && g.typ != s.prog.Type {
			spec = spec.Copy()
			spec.Programs[name].Type = g.typ
		}
		coll, err := vm.LoadCollection(spec, vm.CollectionOptions{Programs: []string{name}, SkipVerify: g.noVerify})
		if err != nil {
			return nil, nil, s.refused(err, spec)
		}
		return coll, coll.Programs[name], nil
	}
	if g.noVerify {
		p, err := vm.Load(s.file.code)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		return nil, p, nil
	}
	if g.typ == 0 {
		return nil, nil, fmt.Errorf("%s is raw bytecode, which does not say its program type, so it cannot be verified: "+
			"pass --type (%s), or --no-verify to run it with only the interpreter's run-time checks", path, progTypeHint)
	}
	insns, err := s.file.instructions()
	if err != nil {
		return nil, nil, err
	}
	p, err := vm.LoadVerified(insns, g.typ, nil, verifier.Options{})
	if err != nil {
		return nil, nil, s.refused(err, nil)
	}
	return nil, p, nil
}

// refused turns the VM's refusal of a program the verifier rejected into
// an error that shows the rejection as waggle verify does; other errors
// get the file name.
func (s *vmSource) refused(err error, spec *ebpf.CollectionSpec) error {
	var ve *vm.VerifyError
	if !errors.As(err, &ve) {
		return fmt.Errorf("%s: %w", s.file.path, err)
	}
	name := ve.Program
	var insns asm.Instructions
	if name == "" {
		name = filepath.Base(s.file.path)
		insns, _ = s.file.instructions()
	} else if spec != nil && spec.Programs[name] != nil {
		insns = spec.Programs[name].Instructions
	}
	var b strings.Builder
	writeRejection(&b, name, ve.Type, ve.Report, insns)
	return &exitError{code: 1, err: fmt.Errorf("not run: waggle's verifier rejected the program "+
		"(--no-verify runs it with only the interpreter's run-time checks):\n%s", strings.TrimSuffix(b.String(), "\n"))}
}

func isHex(s string) bool {
	s = strings.ReplaceAll(s, "0x", "")
	if len(s)%2 != 0 {
		return false
	}
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
			return false
		}
	}
	return true
}

func pickProgram(spec *ebpf.CollectionSpec, name string) (*ebpf.ProgramSpec, error) {
	if name != "" {
		if ps := spec.Programs[name]; ps != nil {
			return ps, nil
		}
		return nil, fmt.Errorf("no program %q; it has: %s", name, strings.Join(sortedKeys(spec.Programs), ", "))
	}
	if len(spec.Programs) == 1 {
		for _, ps := range spec.Programs {
			return ps, nil
		}
	}
	names := sortedKeys(spec.Programs)
	sort.Strings(names)
	return nil, fmt.Errorf("%d programs (%s): choose one with --prog", len(names), strings.Join(names, ", "))
}
