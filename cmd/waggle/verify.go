package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/spf13/cobra"
	"github.com/wagglebpf/waggle/verifier"
)

type verifyFlags struct {
	prog         string
	typ          string
	unprivileged bool
	verbose      bool
	output       string
}

func newVerifyCommand() *cobra.Command {
	var f verifyFlags
	cmd := &cobra.Command{
		Use:   "verify OBJECT.o|BYTECODE",
		Short: "Check programs with waggle's static verifier, without loading them into a kernel",
		Long: `Check every program of an ELF object (or only --prog) with waggle's own static
verifier, the one that guards waggle's VM. No root and no kernel are needed.

Each accepted program prints one line with the instructions the analysis processed and
the stack it uses. A rejected program prints the instruction that failed, its source
line when the object has BTF line info, the reason in a sentence, the registers that
matter and the branch decisions that led there ("insn 3 -> 7": the conditional jump at
instruction 3 went to instruction 7). -v prints the whole analysis, instruction by
instruction, as the kernel's verifier log does.

The program type comes from the ELF section, as libbpf reads it; --type overrides it
and is required for raw bytecode (8-byte little-endian instructions, as a binary file
or as hex text). Types are named as bpftool and libbpf name them (socket_filter,
kprobe, sched_cls, tracepoint, xdp, ...), by a section prefix (socket, tc, tp, raw_tp,
cgroup/skb, ...) or by cilium/ebpf's name (SocketFilter, SchedCLS, ...).

The exit status is 0 when every program is accepted and 1 when one is rejected or the
input is unusable. -o json prints one JSON object per program and line.`,
		Example: `  waggle verify prog.bpf.o
  waggle verify prog.bpf.o --prog handle_openat -v
  waggle verify filter.bin --type socket --unprivileged
  waggle verify prog.bpf.o -o json | jq .rejection.reason`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runVerify(args[0], &f, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.prog, "prog", "", "verify only this program of the object")
	fl.StringVar(&f.typ, "type", "", "program type to verify as (default: from the ELF section; required for raw bytecode)")
	fl.BoolVar(&f.unprivileged, "unprivileged", false, "apply the rules for unprivileged loaders (socket filters only, no pointer leaks)")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "print the whole analysis, instruction by instruction")
	fl.StringVarP(&f.output, "output", "o", "text", "output format: text or json")
	return cmd
}

// verifyTarget is one program to verify.
type verifyTarget struct {
	name    string
	section string // "" for raw bytecode
	typ     ebpf.ProgramType
	insns   asm.Instructions
	spec    *ebpf.CollectionSpec // nil for raw bytecode
}

// verifyResult is what -o json prints for a program: its name and type,
// then the verifier's report.
type verifyResult struct {
	Program string `json:"program"`
	Section string `json:"section,omitempty"`
	Type    string `json:"type"`
	Insns   int    `json:"insns"` // the program's size in 8-byte slots
	*verifier.Report
	// Error is set when the program could not be analysed at all
	// (malformed input); Accepted is false then.
	Error string `json:"error,omitempty"`
}

func runVerify(path string, f *verifyFlags, stdout, stderr io.Writer) error {
	if f.output != "text" && f.output != "json" {
		return fmt.Errorf("-o %s: expected text or json", f.output)
	}
	var override ebpf.ProgramType
	if f.typ != "" {
		t, err := parseProgType(f.typ)
		if err != nil {
			return err
		}
		override = t
	}
	file, err := readBPFFile(path)
	if err != nil {
		return err
	}
	var targets []verifyTarget
	if file.spec == nil {
		if f.prog != "" {
			return fmt.Errorf("--prog %s: %s is raw bytecode, a single program without names; drop --prog", f.prog, path)
		}
		if override == 0 {
			return fmt.Errorf("%s is raw bytecode, which does not say its program type: pass --type (%s)", path, progTypeHint)
		}
		insns, err := file.instructions()
		if err != nil {
			return err
		}
		targets = append(targets, verifyTarget{name: filepath.Base(path), typ: override, insns: insns})
	} else {
		names := sortedKeys(file.spec.Programs)
		if f.prog != "" {
			if file.spec.Programs[f.prog] == nil {
				if len(names) == 0 {
					return fmt.Errorf("%s: no program %q; the object has no programs", path, f.prog)
				}
				return fmt.Errorf("%s: no program %q; it has: %s", path, f.prog, strings.Join(names, ", "))
			}
			names = []string{f.prog}
		}
		if len(names) == 0 {
			return fmt.Errorf("%s: the object has no programs", path)
		}
		for _, n := range names {
			ps := file.spec.Programs[n]
			t := verifyTarget{name: n, section: ps.SectionName, typ: ps.Type, insns: ps.Instructions, spec: file.spec}
			if override != 0 {
				t.typ = override
			}
			targets = append(targets, t)
		}
	}

	out := bufio.NewWriter(stdout)
	defer out.Flush()
	logTo := io.Writer(out)
	if f.output == "json" {
		// Keep stdout one JSON object per line.
		logTo = stderr
	}
	rejected, failed := 0, 0
	for _, t := range targets {
		opts := verifier.Options{Unprivileged: f.unprivileged}
		if f.verbose {
			fmt.Fprintf(logTo, "%s (%s): %d instructions\n", t.name, progTypeName(t.typ), slots(t.insns))
			opts.Log = logTo
		}
		rep, err := verifyOne(t, opts)
		res := verifyResult{Program: t.name, Section: t.section, Type: progTypeName(t.typ), Insns: slots(t.insns), Report: rep}
		switch {
		case err != nil:
			failed++
			res.Report = &verifier.Report{}
			res.Error = err.Error()
		case !rep.Accepted:
			rejected++
		}
		if f.output == "json" {
			b, err := json.Marshal(res)
			if err != nil {
				return err
			}
			out.Write(append(b, '\n'))
			continue
		}
		switch {
		case err != nil:
			fmt.Fprintf(out, "%s (%s): cannot be verified: %v\n", t.name, progTypeName(t.typ), err)
		case rep.Accepted:
			fmt.Fprintf(out, "%s (%s): accepted, %d instructions processed, stack %d bytes\n",
				t.name, progTypeName(t.typ), rep.InsnsProcessed, rep.MaxStackDepth)
		default:
			writeRejection(out, t.name, t.typ, rep, t.insns)
		}
	}
	if err := out.Flush(); err != nil {
		return err
	}
	if rejected+failed == 0 {
		return nil
	}
	var parts []string
	if rejected > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d %s rejected by the verifier", rejected, len(targets), "program"+plural(len(targets))))
	}
	if failed > 0 {
		parts = append(parts, fmt.Sprintf("%d could not be analysed", failed))
	}
	return &exitError{code: 1, err: errors.New(strings.Join(parts, "; "))}
}

func verifyOne(t verifyTarget, opts verifier.Options) (*verifier.Report, error) {
	if t.spec != nil {
		ps := t.spec.Programs[t.name].Copy()
		ps.Type = t.typ
		return verifier.VerifySpec(t.spec, ps, opts)
	}
	return verifier.Verify(t.insns, t.typ, nil, opts)
}

// slots is the size of insns in 8-byte instruction slots, as the
// verifier and bpftool number them.
func slots(insns asm.Instructions) int {
	return int(insns.Size() / asm.InstructionSize)
}

// writeRejection prints the block that explains a rejection: the failing
// instruction, its source line, the reason, the registers that matter and
// the branch decisions on the way there. insns (may be nil) are the
// program's, to tell which jump each decision was.
func writeRejection(w io.Writer, name string, typ ebpf.ProgramType, rep *verifier.Report, insns asm.Instructions) {
	if rep.InsnsProcessed > 0 {
		fmt.Fprintf(w, "%s (%s): rejected, %d instructions processed\n", name, progTypeName(typ), rep.InsnsProcessed)
	} else {
		fmt.Fprintf(w, "%s (%s): rejected\n", name, progTypeName(typ))
	}
	r := rep.Rejection
	if r == nil {
		return
	}
	if r.PC >= 0 && r.Disasm != "" {
		fmt.Fprintf(w, "  insn %d: %s\n", r.PC, r.Disasm)
	}
	if r.Source != "" {
		fmt.Fprintf(w, "  ; %s\n", r.Source)
	}
	fmt.Fprintf(w, "  %s\n", r.Reason)
	if r.Regs != "" {
		fmt.Fprintf(w, "  registers: %s\n", r.Regs)
	}
	if p := renderPath(insns, r.Path); p != "" {
		fmt.Fprintf(w, "  %s\n", p)
	}
}

// maxPathShown is how many branch decisions the text output shows; JSON
// has them all.
const maxPathShown = 20

// renderPath writes the branch decisions of a rejection's path as "path:
// insn 3 -> 7, insn 9 -> 10": the conditional jump at 3 went to 7, the
// one at 9 fell through to 10. The verifier records only where execution
// continued; the jump that decided it is the nearest conditional jump
// reachable from the previous decision with an edge there.
func renderPath(insns asm.Instructions, path []int) string {
	if len(path) == 0 {
		return ""
	}
	g := newFlowGraph(insns)
	first := 0
	head := "path: "
	if len(path) > maxPathShown {
		first = len(path) - maxPathShown
		head = fmt.Sprintf("path (last %d of %d branch decisions): ", maxPathShown, len(path))
	}
	var parts []string
	for i := first; i < len(path); i++ {
		from := 0
		if i > 0 {
			from = path[i-1]
		}
		if j := g.decision(from, path[i]); j >= 0 {
			parts = append(parts, fmt.Sprintf("insn %d -> %d", j, path[i]))
		} else {
			parts = append(parts, fmt.Sprintf("-> insn %d", path[i]))
		}
	}
	return head + strings.Join(parts, ", ")
}

// flowGraph is a program's control flow by raw instruction offset.
type flowGraph struct {
	succ [][]int // nil for the second slot of an lddw and for exit
	cond []bool  // conditional jumps
}

func newFlowGraph(insns asm.Instructions) *flowGraph {
	// Resolve symbolic jumps and calls on a copy, as the kernel sees them.
	cp := slices.Clone(insns)
	_ = cp.Marshal(io.Discard, binary.LittleEndian)
	n := slots(cp)
	g := &flowGraph{succ: make([][]int, n), cond: make([]bool, n)}
	iter := cp.Iterate()
	for iter.Next() {
		pc, ins := int(iter.Offset), iter.Ins
		next := pc + int(ins.Size()/asm.InstructionSize)
		op := ins.OpCode
		if !op.Class().IsJump() {
			g.succ[pc] = []int{next}
			continue
		}
		switch op.JumpOp() {
		case asm.Exit:
		case asm.Call:
			g.succ[pc] = []int{next}
			if ins.IsFunctionCall() {
				g.succ[pc] = append(g.succ[pc], pc+1+int(ins.Constant))
			}
		case asm.Ja:
			if op.Class() == asm.Jump32Class {
				g.succ[pc] = []int{pc + 1 + int(int32(ins.Constant))}
			} else {
				g.succ[pc] = []int{pc + 1 + int(ins.Offset)}
			}
		default:
			g.succ[pc] = []int{next, pc + 1 + int(ins.Offset)}
			g.cond[pc] = true
		}
	}
	return g
}

// decision finds the conditional jump nearest to from (breadth first)
// that can continue at to; -1 if there is none.
func (g *flowGraph) decision(from, to int) int {
	n := len(g.succ)
	if from < 0 || from >= n {
		return -1
	}
	seen := make([]bool, n)
	queue := []int{from}
	seen[from] = true
	for len(queue) > 0 {
		pc := queue[0]
		queue = queue[1:]
		if g.cond[pc] && slices.Contains(g.succ[pc], to) {
			return pc
		}
		for _, s := range g.succ[pc] {
			if s >= 0 && s < n && !seen[s] {
				seen[s] = true
				queue = append(queue, s)
			}
		}
	}
	return -1
}

// bpfFile is an ELF object or raw bytecode, read from a file.
type bpfFile struct {
	path string
	spec *ebpf.CollectionSpec // nil for raw bytecode
	code []byte               // raw bytecode; nil for an ELF object
}

// readBPFFile reads an ELF object or raw bytecode: 8-byte little-endian
// instructions, as a binary file or as hex text (whitespace and 0x
// prefixes allowed).
func readBPFFile(path string) (*bpfFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseBPFFile(path, data)
}

// parseBPFFile is readBPFFile for the file's contents, data.
func parseBPFFile(path string, data []byte) (*bpfFile, error) {
	var err error
	if bytes.HasPrefix(data, []byte("\x7fELF")) {
		spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("%s: not a usable BPF object: %w", path, err)
		}
		return &bpfFile{path: path, spec: spec}, nil
	}
	code := data
	if text := strings.Join(strings.Fields(string(data)), ""); len(text) > 0 && isHex(text) {
		text = strings.ReplaceAll(text, "0x", "")
		if code, err = hex.DecodeString(text); err != nil {
			return nil, fmt.Errorf("%s: hex bytecode: %w", path, err)
		}
	}
	if len(code) == 0 || len(code)%8 != 0 {
		return nil, fmt.Errorf("%s: bytecode is %d bytes, not a whole number of 8-byte instructions", path, len(code))
	}
	return &bpfFile{path: path, code: code}, nil
}

// instructions decodes raw bytecode.
func (f *bpfFile) instructions() (asm.Instructions, error) {
	insns, err := asm.AppendInstructions(nil, bytes.NewReader(f.code), binary.LittleEndian, "linux")
	if err != nil {
		return nil, fmt.Errorf("%s: bytecode: %w", f.path, err)
	}
	return insns, nil
}

// progTypeNames are the program types by the names bpftool and libbpf
// print, with the section prefixes (and other spellings) that mean them.
var progTypeNames = []struct {
	t       ebpf.ProgramType
	name    string
	aliases []string
}{
	{ebpf.SocketFilter, "socket_filter", []string{"socket"}},
	{ebpf.Kprobe, "kprobe", []string{"kretprobe", "uprobe", "uretprobe", "ksyscall", "kretsyscall", "usdt",
		"kprobe.multi", "kretprobe.multi", "uprobe.multi", "uretprobe.multi", "uprobe.s", "uretprobe.s"}},
	{ebpf.SchedCLS, "sched_cls", []string{"tc", "tcx", "classifier", "netkit"}},
	{ebpf.SchedACT, "sched_act", []string{"action"}},
	{ebpf.TracePoint, "tracepoint", []string{"tp"}},
	{ebpf.XDP, "xdp", []string{"xdp.frags"}},
	{ebpf.PerfEvent, "perf_event", nil},
	{ebpf.CGroupSKB, "cgroup_skb", []string{"cgroup/skb"}},
	{ebpf.CGroupSock, "cgroup_sock", []string{"cgroup/sock", "cgroup/sock_create", "cgroup/sock_release", "cgroup/post_bind4", "cgroup/post_bind6"}},
	{ebpf.LWTIn, "lwt_in", nil},
	{ebpf.LWTOut, "lwt_out", nil},
	{ebpf.LWTXmit, "lwt_xmit", nil},
	{ebpf.SockOps, "sock_ops", []string{"sockops"}},
	{ebpf.SkSKB, "sk_skb", nil},
	{ebpf.CGroupDevice, "cgroup_device", []string{"cgroup/dev"}},
	{ebpf.SkMsg, "sk_msg", nil},
	{ebpf.RawTracepoint, "raw_tracepoint", []string{"raw_tp"}},
	{ebpf.CGroupSockAddr, "cgroup_sock_addr", []string{"cgroup/bind4", "cgroup/bind6", "cgroup/connect4", "cgroup/connect6",
		"cgroup/connect_unix", "cgroup/sendmsg4", "cgroup/sendmsg6", "cgroup/sendmsg_unix", "cgroup/recvmsg4",
		"cgroup/recvmsg6", "cgroup/recvmsg_unix", "cgroup/getpeername4", "cgroup/getpeername6",
		"cgroup/getpeername_unix", "cgroup/getsockname4", "cgroup/getsockname6", "cgroup/getsockname_unix"}},
	{ebpf.LWTSeg6Local, "lwt_seg6local", nil},
	{ebpf.LircMode2, "lirc_mode2", nil},
	{ebpf.SkReuseport, "sk_reuseport", nil},
	{ebpf.FlowDissector, "flow_dissector", nil},
	{ebpf.CGroupSysctl, "cgroup_sysctl", []string{"cgroup/sysctl"}},
	{ebpf.RawTracepointWritable, "raw_tracepoint_writable", []string{"raw_tracepoint.w", "raw_tp.w"}},
	{ebpf.CGroupSockopt, "cgroup_sockopt", []string{"cgroup/getsockopt", "cgroup/setsockopt"}},
	{ebpf.Tracing, "tracing", []string{"fentry", "fexit", "fmod_ret", "fentry.s", "fexit.s", "fmod_ret.s", "tp_btf", "iter", "iter.s"}},
	{ebpf.StructOps, "struct_ops", []string{"struct_ops.s"}},
	{ebpf.Extension, "ext", []string{"freplace"}},
	{ebpf.LSM, "lsm", []string{"lsm.s", "lsm_cgroup"}},
	{ebpf.SkLookup, "sk_lookup", nil},
	{ebpf.Syscall, "syscall", nil},
	{ebpf.Netfilter, "netfilter", nil},
}

// progTypeHint is the short list of types that error messages suggest.
const progTypeHint = "xdp, socket, tc, kprobe, tracepoint, raw_tracepoint, perf_event, cgroup_skb, ..."

// progTypeName is the name bpftool and libbpf print for t.
func progTypeName(t ebpf.ProgramType) string {
	for _, n := range progTypeNames {
		if n.t == t {
			return n.name
		}
	}
	if t == ebpf.UnspecifiedProgram {
		return "unspec"
	}
	return t.String()
}

// parseProgType reads a program type: a bpftool/libbpf type name, a
// libbpf section name or its prefix, or a cilium/ebpf ProgramType name,
// in any case.
func parseProgType(s string) (ebpf.ProgramType, error) {
	key := strings.ToLower(strings.TrimPrefix(strings.TrimSpace(s), "?"))
	lookup := func(k string) (ebpf.ProgramType, bool) {
		for _, n := range progTypeNames {
			if k == n.name || strings.ToLower(n.t.String()) == k || slices.Contains(n.aliases, k) {
				return n.t, true
			}
		}
		return 0, false
	}
	if t, ok := lookup(key); ok {
		return t, nil
	}
	// A whole section name: "tracepoint/syscalls/sys_enter_openat",
	// "cgroup/connect4", "tc/ingress".
	if parts := strings.Split(key, "/"); len(parts) > 1 {
		if t, ok := lookup(parts[0] + "/" + parts[1]); ok {
			return t, nil
		}
		if t, ok := lookup(parts[0]); ok {
			return t, nil
		}
	}
	names := make([]string, 0, len(progTypeNames))
	for _, n := range progTypeNames {
		name := n.name
		if len(n.aliases) > 0 && !strings.Contains(n.aliases[0], "/") {
			name += " (" + n.aliases[0] + ")"
		}
		names = append(names, name)
	}
	return 0, fmt.Errorf("--type %s: unknown program type; use a bpftool type name, a libbpf section prefix or a cilium/ebpf ProgramType name: %s", s, strings.Join(names, ", "))
}
