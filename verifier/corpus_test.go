package verifier_test

// Measured against the kernel: a corpus of programs, each given to the
// kernel's verifier and to ours, and the verdicts compared. The corpus is
// the project's compiled objects (testdata/*.bpf.o), the programs that
// `waggle trace` generates for its runtime tests (testdata/trace/*.test),
// the bpf_conformance suite (../shared/conformance) and the hand-written
// cases of cases_test.go.
//
// A program that only we accept is a soundness bug unless allowOnlyOurs
// explains why it is safe; the test fails for it. A program that only the
// kernel accepts is precision we lack, and is listed.

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/wagglebpf/waggle/internal/conformance"
	"github.com/wagglebpf/waggle/internal/kerneltest"
	"github.com/wagglebpf/waggle/lang/driver"
	"github.com/wagglebpf/waggle/verifier"
)

// Sources of the corpus, in the order the table shows them.
const (
	srcHand        = "hand-written"
	srcObjects     = "testdata objects"
	srcTrace       = "waggle trace"
	srcConfSocket  = "conformance (socket filter)"
	srcConfTracept = "conformance (tracepoint)"
)

var sources = []string{srcHand, srcObjects, srcTrace, srcConfSocket, srcConfTracept}

// allowOnlyOurs lists programs that we accept and the kernel does not,
// by "source/name", with why that is safe. Nothing else may be only ours.
var allowOnlyOurs = map[string]string{
	srcHand + "/unsigned modulo bounds an offset": "x % 16 with a constant divisor is in [0, 15], so the 1-byte store stays in the 16-byte value; " +
		"the kernel marks the result of BPF_MOD unknown and so refuses what is safe",
	srcHand + "/null check against a register holding zero": "comparing with a register known to be 0 is the same test as comparing with the immediate 0, " +
		"which the kernel does accept as a null check",
	srcHand + "/negative variable offset with a positive constant": "the offset is in [-4, 3] and the constant 7, so the 4-byte load reads bytes [3, 14) of the 16-byte value; " +
		"the kernel looks at the unsigned range of the offset, which is unbounded for a possibly negative number",
}

// entry is one program of the corpus.
type entry struct {
	source, name string
	rule         string // hand-written cases: the rule exercised
	typ          ebpf.ProgramType
	attach       ebpf.AttachType
	insns        asm.Instructions // nil when the bytecode cannot be decoded
	decodeErr    error
	maps         map[string]verifier.MapInfo
	unpriv       bool

	// The kernel is asked in one of three ways: a collection spec
	// loaded with cilium/ebpf (objects, scripts), raw bytecode
	// (conformance, malformed encodings), or insns with maps.
	spec *ebpf.CollectionSpec
	prog string
	raw  []byte

	label *bool // hand-written cases: what the kernel is expected to say
}

func (e *entry) key() string { return e.source + "/" + e.name }

// ourVerdicts memoises ours(): both tests ask, and some programs take
// seconds.
var ourVerdicts sync.Map // entry key -> ourVerdict

type ourVerdict struct {
	rep    *verifier.Report
	reason string
}

// ours runs our verifier.
func (e *entry) ours() (*verifier.Report, string) {
	if v, ok := ourVerdicts.Load(e.key()); ok {
		return v.(ourVerdict).rep, v.(ourVerdict).reason
	}
	rep, reason := e.verify()
	ourVerdicts.Store(e.key(), ourVerdict{rep, reason})
	return rep, reason
}

func (e *entry) verify() (*verifier.Report, string) {
	if e.insns == nil {
		return nil, fmt.Sprintf("cannot decode the bytecode: %v", e.decodeErr)
	}
	opts := verifier.Options{Unprivileged: e.unpriv, MaxInsnsProcessed: oursMaxInsns, AttachType: e.attach}
	var rep *verifier.Report
	var err error
	if e.spec != nil {
		rep, err = verifier.VerifySpec(e.spec, e.spec.Programs[e.prog], opts)
	} else {
		rep, err = verifier.Verify(e.insns, e.typ, e.maps, opts)
	}
	if err != nil {
		return nil, "error: " + err.Error()
	}
	if !rep.Accepted {
		return rep, rep.Rejection.Reason
	}
	return rep, ""
}

// kernel asks the kernel.
func (e *entry) kernel() kernelVerdict {
	switch {
	case e.spec != nil:
		return kernelLoadSpec(e.spec, e.prog)
	case e.raw != nil:
		return kernelLoadRaw(e.typ, e.attach, e.raw, e.unpriv)
	}
	return kernelLoadInsns(e.typ, e.attach, e.insns, e.maps, e.unpriv)
}

// bytecode renders the program for a report: its listing and its bytes.
func (e *entry) bytecode() string {
	var b strings.Builder
	if e.insns != nil {
		fmt.Fprintf(&b, "%v", e.insns)
	}
	code := e.raw
	if code == nil && e.insns != nil {
		cp := fixAtomics(e.insns)
		var buf bytes.Buffer
		if err := cp.Marshal(&buf, binary.LittleEndian); err == nil {
			code = buf.Bytes()
		}
	}
	for i := 0; i+8 <= len(code); i += 8 {
		fmt.Fprintf(&b, "  %04d: %s\n", i/8, hex.EncodeToString(code[i:i+8]))
	}
	return b.String()
}

func decode(code []byte) (asm.Instructions, error) {
	return asm.AppendInstructions(nil, bytes.NewReader(code), binary.LittleEndian, "linux")
}

// oursMaxInsns bounds our analysis of corpus programs. The kernel's bound
// is a million; ours is lower to keep the test fast (our verifier takes
// seconds for a million instructions). A lower bound can only turn accepts
// into rejects, so it cannot hide a program that only we accept; the
// programs it affects are the hand-written loops that exceed the kernel's
// bound anyway.
const oursMaxInsns = 100_000

// repoRoot is the module root, from the package directory.
const repoRoot = ".."

// corpus gathers every program; omitted records sources or programs left
// out, with why.
func corpus(t testing.TB) (entries []*entry, omitted []string) {
	for _, c := range handCases() {
		k := c.kernel
		e := &entry{source: srcHand, name: c.name, rule: c.rule, typ: c.typ, attach: c.attach, maps: handMaps, unpriv: c.unpriv, label: &k}
		switch {
		case c.raw != nil:
			e.raw = c.raw
			e.insns, e.decodeErr = decode(c.raw)
		case c.attachTo != "":
			// Programs that need a BTF attach target go through
			// cilium/ebpf, which finds it.
			e.insns = c.insns
			e.spec = handSpec(c)
			e.prog = "prog"
		default:
			e.insns = c.insns
		}
		entries = append(entries, e)
	}

	objs, _ := filepath.Glob(filepath.Join(repoRoot, "testdata", "*.bpf.o"))
	if len(objs) == 0 {
		omitted = append(omitted, srcObjects+": no testdata/*.bpf.o")
	}
	for _, path := range objs {
		spec, err := ebpf.LoadCollectionSpec(path)
		if err != nil {
			omitted = append(omitted, fmt.Sprintf("%s: %s: %v", srcObjects, filepath.Base(path), err))
			continue
		}
		for _, name := range slices.Sorted(maps.Keys(spec.Programs)) {
			ps := spec.Programs[name]
			entries = append(entries, &entry{source: srcObjects, name: filepath.Base(path) + ":" + name,
				typ: ps.Type, insns: ps.Instructions, spec: spec, prog: name})
		}
	}

	scripts, err := traceScripts()
	if err != nil {
		omitted = append(omitted, srcTrace+": "+err.Error())
	}
	failed := 0
	for _, s := range scripts {
		p, err := driver.Compile(s.name, []byte(s.prog), nil, 0)
		if err != nil {
			failed++
			continue
		}
		for _, pr := range p.Probes {
			ps := p.Spec.Programs[pr.Program]
			if ps == nil {
				continue
			}
			name := s.name
			if len(p.Probes) > 1 {
				name += " [" + pr.Instance.Name + "]"
			}
			entries = append(entries, &entry{source: srcTrace, name: name, typ: ps.Type, insns: ps.Instructions, spec: p.Spec, prog: pr.Program})
		}
	}
	if failed > 0 {
		omitted = append(omitted, fmt.Sprintf("%s: %d of %d scripts do not compile here (error cases, or probes this machine lacks)", srcTrace, failed, len(scripts)))
	}

	dir, err := conformance.SuiteDir()
	var files []string
	if err == nil {
		files, err = conformance.SuiteFiles(dir)
	}
	if err != nil {
		omitted = append(omitted, "conformance: "+err.Error())
	}
	for _, f := range files {
		ct, err := conformance.ParseFile(f)
		if err != nil || len(ct.Code) == 0 {
			omitted = append(omitted, fmt.Sprintf("conformance: %s: %v", filepath.Base(f), err))
			continue
		}
		insns, derr := decode(ct.Code)
		for _, src := range []struct {
			source string
			typ    ebpf.ProgramType
		}{{srcConfSocket, ebpf.SocketFilter}, {srcConfTracept, ebpf.TracePoint}} {
			entries = append(entries, &entry{source: src.source, name: ct.Name, typ: src.typ, insns: insns, decodeErr: derr, raw: ct.Code})
		}
	}
	return entries, omitted
}

// handSpec makes a collection of one hand-written program and its maps.
func handSpec(c handCase) *ebpf.CollectionSpec {
	spec := &ebpf.CollectionSpec{Maps: map[string]*ebpf.MapSpec{}, Programs: map[string]*ebpf.ProgramSpec{
		"prog": {Name: "prog", Type: c.typ, AttachType: c.attach, AttachTo: c.attachTo, License: "GPL", Instructions: fixAtomics(c.insns)},
	}}
	for _, ins := range c.insns {
		if name := ins.Reference(); ins.IsLoadFromMap() && name != "" {
			mi := handMaps[name]
			spec.Maps[name] = &ebpf.MapSpec{Name: name, Type: mi.Type, KeySize: mi.KeySize, ValueSize: mi.ValueSize, MaxEntries: mi.MaxEntries}
		}
	}
	return spec
}

type script struct{ name, prog string }

// traceScripts reads the PROG lines of testdata/trace/*.test (the format
// is described in cmd/waggle/trace_harness_test.go), each script once.
func traceScripts() ([]script, error) {
	files, err := filepath.Glob(filepath.Join(repoRoot, "testdata", "trace", "*.test"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no testdata/trace/*.test (%v)", err)
	}
	var out []script
	seen := map[string]bool{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		name, prog := "", ""
		flush := func() {
			if prog != "" && !seen[prog] {
				seen[prog] = true
				out = append(out, script{name: name, prog: prog})
			}
			prog = ""
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			key, value, _ := strings.Cut(sc.Text(), " ")
			switch key {
			case "NAME":
				flush()
				name = strings.TrimSuffix(filepath.Base(f), ".test") + ": " + value
			case "PROG":
				// Several PROG lines make one program of several lines.
				if prog != "" {
					prog += "\n"
				}
				prog += value
			}
		}
		flush()
	}
	return out, nil
}

// Outcomes of a comparison, the table's columns.
const (
	bothAccept = iota
	bothReject
	onlyKernel
	onlyOurs
	kernelNA
	nOutcomes
)

var outcomeNames = [nOutcomes]string{"both accept", "both reject", "only kernel accepts", "only we accept", "kernel n/a"}

func TestAgainstKernel(t *testing.T) {
	kerneltest.Require(t)
	entries, omitted := corpus(t)
	for _, o := range omitted {
		t.Logf("omitted: %s", o)
	}

	table := map[string]*[nOutcomes]int{}
	for _, s := range sources {
		table[s] = new([nOutcomes]int)
	}
	var onlyKernelLines, onlyOursLines, naLines []string
	for _, e := range entries {
		rep, reason := e.ours()
		weAccept := rep != nil && rep.Accepted
		if strings.Contains(reason, "internal verifier error") {
			t.Errorf("%s: %s", e.key(), reason)
		}
		k := e.kernel()
		if e.label != nil && k.na == "" && k.accepted != *e.label {
			t.Errorf("%s: the case expects the kernel to %s, but it %s", e.key(), verdictWord(*e.label), k)
		}
		var o int
		switch {
		case k.na != "":
			o = kernelNA
			ours := "we accept"
			if !weAccept {
				ours = "we reject: " + reason
				// What waggle generates must pass our verifier at least
				// where the kernel cannot judge (fentry here).
				if strings.HasPrefix(e.key(), "waggle trace") {
					t.Errorf("%s: the kernel cannot load it and our verifier rejects it: %s", e.key(), reason)
				}
			}
			naLines = append(naLines, fmt.Sprintf("%s: kernel %s; %s", e.key(), k, ours))
		case k.accepted && weAccept:
			o = bothAccept
		case !k.accepted && !weAccept:
			o = bothReject
		case k.accepted:
			o = onlyKernel
			onlyKernelLines = append(onlyKernelLines, fmt.Sprintf("%s: kernel accepts; we reject: %s", e.key(), reason))
		default:
			o = onlyOurs
			line := fmt.Sprintf("%s: kernel rejects: %s; we accept", e.key(), k.last)
			if why, ok := allowOnlyOurs[e.key()]; ok {
				line += " (allowed: " + why + ")"
			} else {
				t.Errorf("soundness: only we accept %s (%s)\nkernel: %s\nbytecode:\n%s", e.key(), e.rule, k.last, e.bytecode())
			}
			onlyOursLines = append(onlyOursLines, line)
		}
		table[e.source][o]++
	}

	// cilium/ebpf unmaps the .rodata and .bss of a collection only when
	// the garbage collector finds it; until then the kernel keeps the maps.
	runtime.GC()
	runtime.GC()

	t.Logf("verdicts of the kernel (Linux, this machine) and of waggle's verifier on %d programs:\n%s", len(entries), formatTable(table))
	for _, group := range []struct {
		title string
		lines []string
	}{{"only we accept", onlyOursLines}, {"only the kernel accepts", onlyKernelLines}, {"not loadable here", naLines}} {
		if len(group.lines) > 0 {
			t.Logf("%s (%d):\n  %s", group.title, len(group.lines), strings.Join(group.lines, "\n  "))
		}
	}
}

func verdictWord(accept bool) string {
	if accept {
		return "accept it"
	}
	return "reject it"
}

func formatTable(table map[string]*[nOutcomes]int) string {
	var b strings.Builder
	w := 0
	for _, s := range sources {
		w = max(w, len(s))
	}
	fmt.Fprintf(&b, "%-*s", w, "source")
	for _, n := range outcomeNames {
		fmt.Fprintf(&b, " | %s", n)
	}
	b.WriteString(" | total\n")
	var total [nOutcomes]int
	row := func(name string, r [nOutcomes]int) {
		fmt.Fprintf(&b, "%-*s", w, name)
		sum := 0
		for i, n := range outcomeNames {
			fmt.Fprintf(&b, " | %*d", len(n), r[i])
			sum += r[i]
		}
		fmt.Fprintf(&b, " | %5d\n", sum)
	}
	for _, s := range sources {
		row(s, *table[s])
		for i := range total {
			total[i] += table[s][i]
		}
	}
	row("all", total)
	return b.String()
}
