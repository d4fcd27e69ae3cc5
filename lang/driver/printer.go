package driver

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"strings"

	"github.com/wagglebpf/waggle/lang/layout"
	"github.com/wagglebpf/waggle/lang/parser"

	"github.com/cilium/ebpf"
	"github.com/wagglebpf/waggle/lang/codegen"
	"github.com/wagglebpf/waggle/lang/output"
	"github.com/wagglebpf/waggle/session"
)

// printer prints what a running script sends, through lang/output.
type printer struct {
	p   *codegen.Program
	out *output.Printer
	o   Options
	// file and src are the script, for helper error messages.
	file string
	src  []byte
}

// stacks is the stack trace map of kstack and ustack, nil when the
// script has none.
func newPrinter(p *codegen.Program, file string, src []byte, o Options, stacks *ebpf.Map) *printer {
	tables := &output.Program{Values: p.Values}
	for _, f := range p.Formats {
		tables.Formats = append(tables.Formats, output.Format{Text: f.Text, Args: f.Args})
	}
	for _, m := range p.Maps {
		tables.Maps = append(tables.Maps, output.MapInfo{Name: m.Name, Key: m.Key, Value: m.Value})
	}
	return &printer{p: p, o: o, file: file, src: src, out: &output.Printer{Out: o.Stdout, Err: o.Stderr, JSON: o.JSON, Program: tables, Symbols: sysSymbols.symbolizer(stacks)}}
}

func (pr *printer) attached(n int) { pr.out.AttachedProbes(n) }

// record handles one ring-buffer record; it reports whether the script
// asked to exit, and with which code.
func (pr *printer) record(rec []byte, s *session.Session) (bool, int, error) {
	act, err := pr.out.Record(rec)
	if err != nil {
		return false, 0, err
	}
	if act.Exit {
		return true, act.Code, nil
	}
	switch act.Kind {
	case kindCat, kindSystem:
		return false, 0, pr.text(act)
	case kindHelperError:
		return false, 0, pr.helperError(act)
	case kindPrint, kindClear, kindZero:
	default:
		return false, 0, nil
	}
	if act.Map < 0 || act.Map >= len(pr.p.Maps) {
		return false, 0, fmt.Errorf("record names map %d of %d", act.Map, len(pr.p.Maps))
	}
	m := pr.p.Maps[act.Map]
	bm := s.Collection.Maps[m.BPFName]
	switch act.Kind {
	case kindPrint:
		om, err := pr.read(m, bm)
		if err != nil {
			return false, 0, err
		}
		return false, 0, pr.out.PrintMap(om, act.Top, act.Div)
	case kindClear:
		return false, 0, clearMap(bm)
	default:
		return false, 0, zeroMap(bm)
	}
}

func (pr *printer) text(act output.Action) error {
	switch act.Kind {
	case kindCat:
		data, err := readCat(act.Text)
		if err != nil {
			// bpftrace's words.
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return fmt.Errorf("failed to open file '%s': %v", act.Text, err)
		}
		return pr.out.Cat(string(data))
	case kindSystem:
		// As popen: the command's standard output is printed, its errors
		// go where waggle's go.
		cmd := exec.Command("sh", "-c", act.Text)
		cmd.Stderr = pr.o.Stderr
		out, _ := cmd.Output()
		text := string(out)
		if !pr.o.JSON {
			// The printer ends the text with a newline; bpftrace prints
			// the output as it is.
			text = strings.TrimSuffix(text, "\n")
		}
		return pr.out.System(text)
	}
	return nil
}

// maxCatBytes is how much of a file cat() prints (bpftrace's
// max_cat_bytes default).
const maxCatBytes = 10240

func readCat(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxCatBytes))
}

func (pr *printer) read(m *codegen.Map, bm *ebpf.Map) (output.Map, error) {
	entries, err := session.ReadEntries(bm)
	if err != nil {
		return output.Map{}, fmt.Errorf("read %s: %w", m.Name, err)
	}
	om := output.Map{Name: m.Name, Key: m.Key, Value: m.Value}
	for _, e := range entries {
		om.Entries = append(om.Entries, output.Entry{Key: e.Key, Values: e.Values})
	}
	return om, nil
}

// maps prints every map at exit, as bpftrace does.
func (pr *printer) maps(s *session.Session) error {
	var all []output.Map
	for _, m := range pr.p.Maps {
		om, err := pr.read(m, s.Collection.Maps[m.BPFName])
		if err != nil {
			return err
		}
		all = append(all, om)
	}
	return pr.out.Exit(all)
}

func clearMap(m *ebpf.Map) error {
	if m.Type() == ebpf.PerCPUArray || m.Type() == ebpf.Array {
		// An array keeps its entries: clearing one zeroes them.
		return zeroMap(m)
	}
	entries, err := session.ReadEntries(m)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := m.Delete(e.Key); err != nil && !isNotExist(err) {
			return err
		}
	}
	return nil
}

func zeroMap(m *ebpf.Map) error {
	entries, err := session.ReadEntries(m)
	if err != nil {
		return err
	}
	for _, e := range entries {
		zero := make([][]byte, len(e.Values))
		for i := range zero {
			zero[i] = make([]byte, len(e.Values[i]))
		}
		var val any = zero
		if len(zero) == 1 && m.Type() != ebpf.PerCPUHash && m.Type() != ebpf.LRUCPUHash && m.Type() != ebpf.PerCPUArray {
			val = zero[0]
		}
		if err := m.Put(e.Key, val); err != nil {
			return err
		}
	}
	return nil
}

const (
	kindPrint       = layout.RecordPrint
	kindClear       = layout.RecordClear
	kindZero        = layout.RecordZero
	kindCat         = layout.RecordCat
	kindHelperError = layout.RecordHelperError
	kindSystem      = layout.RecordSystem
)

func isNotExist(err error) bool { return errors.Is(err, ebpf.ErrKeyNotExist) }

// helperError prints a failed helper call's warning at its script line.
func (pr *printer) helperError(act output.Action) error {
	if act.HelperError < 0 || act.HelperError >= len(pr.p.HelperErrors) {
		return fmt.Errorf("record names helper call %d of %d", act.HelperError, len(pr.p.HelperErrors))
	}
	he := pr.p.HelperErrors[act.HelperError]
	file := pr.file
	if file == "" {
		file = "stdin"
	}
	return pr.out.HelperError(he.Helper, act.Code, file, he.Span, parser.SourceLine(pr.src, he.Span.Start))
}
