package output

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/wagglebpf/waggle/lang/ast"
	"github.com/wagglebpf/waggle/lang/layout"
)

// Program is what the printer needs to know about a compiled program to
// read its records: the tables that record indexes point into. The code
// generator fills it in as it assigns the indexes.
type Program struct {
	// Formats are the format strings of printf(), time(), cat() and
	// system() calls, with the types of their arguments.
	Formats []Format
	// Maps are the program's maps, for print(@m), clear(@m) and zero(@m).
	Maps []MapInfo
	// Values are the types of the expressions of print(expr) calls.
	Values []*ast.Type
}

// Format is one format string with the types of its arguments, which the
// record carries laid out as a tuple of those types.
type Format struct {
	Text string
	Args []*ast.Type
}

// MapInfo names a map and its types; see Map.
type MapInfo struct {
	Name       string
	Key, Value *ast.Type
}

// Symbolizer resolves code addresses to names for ksym and usym values.
// A nil function, or an empty result, prints the address in hex.
// User is given the pid of the process the address was taken in.
// Stack formats a kstack or ustack value (t says which, its mode and
// depth) from its stack id and, for ustack, the pid.
type Symbolizer struct {
	Kernel func(addr uint64) string
	User   func(pid uint32, addr uint64) string
	Stack  func(t *ast.Type, id int64, pid uint32) string
	// CgroupPath names a cgroup id, its hierarchies filtered by filter.
	CgroupPath func(id uint64, filter string) string
}

// Printer writes what a running program prints, as bpftrace prints it:
// text by default, or with JSON set, bpftrace's -f json, one object per
// line of the form {"type": ..., "data": ...}.
//
// Out receives everything a script prints. Err receives, in text mode, the
// messages bpftrace writes to its standard error (attached probes, lost
// events, warnings); in JSON mode those that have a JSON form go to Out
// like the rest. A nil writer discards.
//
// A Printer is not safe for concurrent use: records must be printed in
// order anyway.
type Printer struct {
	Out, Err io.Writer
	JSON     bool
	Program  *Program
	// Now is the clock of time(); nil means time.Now. Times print in the
	// zone of the value it returns (time.Now's is the local zone, as
	// bpftrace's localtime).
	Now func() time.Time
	// Symbols resolves ksym and usym values; nil prints them in hex.
	Symbols *Symbolizer

	formats map[int]*formatString
}

// Action is what a record asks of the caller beyond printing: to stop, or
// to act on a map or a file or command, which the printer cannot reach.
type Action struct {
	// Kind is the record's kind.
	Kind layout.RecordKind
	// Exit is set by exit(): stop tracing, print the maps (Printer.Exit)
	// and leave with Code.
	Exit bool
	Code int
	// Map is the index into Program.Maps of print(@m), clear(@m) and
	// zero(@m). For print, read the map and pass it to Printer.PrintMap
	// with Top and Div.
	Map      int
	Top, Div uint64
	// Text is, for cat(), the path of the file to print with Printer.Cat,
	// and for system() the command line whose output goes to
	// Printer.System.
	Text string
	// HelperError is, for a failed helper call (-k), the index of the call
	// in the program's table, and Code what the helper returned.
	HelperError int
}

// ErrRecord reports a record that does not fit the program's tables: a
// short record, an unknown kind, an index past a table.
var ErrRecord = errors.New("malformed record")

func recordErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrRecord}, args...)...)
}

// Record prints one record from the program's ring buffer, laid out as
// package layout describes, and returns what else it asks for. Malformed
// records are errors, never panics: nothing is printed for them.
func (p *Printer) Record(rec []byte) (Action, error) {
	if len(rec) < 8 {
		return Action{}, recordErr("%d bytes, shorter than a record kind", len(rec))
	}
	kind := layout.RecordKind(hostOrder.Uint64(rec))
	a := Action{Kind: kind}
	if len(rec) < layout.RecordHeader {
		return a, recordErr("record of kind %d has %d bytes, need %d", kind, len(rec), layout.RecordHeader)
	}
	idx := hostOrder.Uint64(rec[8:])
	body := rec[layout.RecordHeader:]
	switch kind {
	case layout.RecordExit:
		a.Exit, a.Code = true, int(int64(idx))
		return a, nil
	case layout.RecordPrint, layout.RecordClear, layout.RecordZero:
		if p.Program == nil || idx >= uint64(len(p.Program.Maps)) {
			return a, recordErr("map index %d out of range", idx)
		}
		a.Map = int(idx)
		if kind == layout.RecordPrint && len(body) >= 16 {
			a.Top, a.Div = hostOrder.Uint64(body), hostOrder.Uint64(body[8:])
		}
		return a, nil
	case layout.RecordPrintf, layout.RecordCat, layout.RecordSystem:
		text, err := p.formatRecord(idx, body)
		if err != nil {
			return a, err
		}
		switch kind {
		case layout.RecordPrintf:
			return a, p.emit("printf", text, "")
		default:
			a.Text = text
			return a, nil
		}
	case layout.RecordTime:
		f, err := p.format(idx)
		if err != nil {
			return a, err
		}
		return a, p.time(f.Text)
	case layout.RecordJoin:
		return a, p.join(idx, body)
	case layout.RecordHelperError:
		if len(body) < 8 {
			return a, recordErr("helper error record has %d bytes of return value", len(body))
		}
		a.HelperError, a.Code = int(idx), int(int64(hostOrder.Uint64(body)))
		return a, nil
	case layout.RecordPrintValue:
		if p.Program == nil || idx >= uint64(len(p.Program.Values)) {
			return a, recordErr("value index %d out of range", idx)
		}
		return a, p.Value(Value{Type: p.Program.Values[idx], Data: body})
	}
	return a, recordErr("unknown record kind %d", kind)
}

// format looks up a format string of the program.
func (p *Printer) format(idx uint64) (Format, error) {
	if p.Program == nil || idx >= uint64(len(p.Program.Formats)) {
		return Format{}, recordErr("format index %d out of range", idx)
	}
	return p.Program.Formats[idx], nil
}

// formatRecord formats the arguments of a printf-like record, parsing each
// format string once.
func (p *Printer) formatRecord(idx uint64, body []byte) (string, error) {
	f, err := p.format(idx)
	if err != nil {
		return "", err
	}
	fs := p.formats[int(idx)]
	if fs == nil {
		fs = parseFormat(f.Text)
		if p.formats == nil {
			p.formats = map[int]*formatString{}
		}
		p.formats[int(idx)] = fs
	}
	tuple := &ast.Type{Kind: ast.KindTuple, Elems: f.Args}
	if need := layout.Size(tuple); len(body) < need {
		return "", recordErr("arguments of format %d are %d bytes, need %d", idx, len(body), need)
	}
	args := make([]Value, len(f.Args))
	for i, off := range layout.Offsets(tuple) {
		args[i] = Value{Type: f.Args[i], Data: body[off:]}
	}
	s, err := fs.format(args, p.Symbols)
	if err != nil {
		return "", fmt.Errorf("%w: format %d: %w", ErrRecord, idx, err)
	}
	return s, nil
}

// MaxTimeLen is the longest text time() prints, terminating NUL included,
// as bpftrace's buffer for it: a longer result prints nothing but a
// warning, as strftime(3) fails there.
const MaxTimeLen = 64

// time prints time(format) for now.
func (p *Printer) time(format string) error {
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	s := Strftime(format, now())
	if s == "" || len(s) >= MaxTimeLen {
		// strftime(3) returns 0 for both, and bpftrace warns.
		_, err := io.WriteString(p.err(), "WARNING: strftime returned 0\n")
		return err
	}
	return p.emit("time", s, "")
}

// emit writes a piece of output: as is in text mode, followed by end;
// in JSON as {"type": typ, "data": "text"}.
func (p *Printer) emit(typ, text, end string) error {
	var b []byte
	if p.JSON {
		b = append(b, `{"type": "`...)
		b = append(b, typ...)
		b = append(b, `", "data": `...)
		b = appendJSONString(b, text)
		b = append(b, "}\n"...)
	} else {
		b = append(append(b, text...), end...)
	}
	_, err := p.out().Write(b)
	return err
}

func (p *Printer) out() io.Writer {
	if p.Out == nil {
		return io.Discard
	}
	return p.Out
}

func (p *Printer) err() io.Writer {
	if p.Err == nil {
		return io.Discard
	}
	return p.Err
}

// Printf prints printf(format, args...) as the program's printf record
// would: the formatted text as is, or {"type": "printf", "data": ...}.
func (p *Printer) Printf(format string, args []Value) error {
	s, err := parseFormat(format).format(args, p.Symbols)
	if err != nil {
		return err
	}
	return p.emit("printf", s, "")
}

// Value prints print(expr): the value's text and a newline, or
// {"type": "value", "data": ...}.
func (p *Printer) Value(v Value) error {
	x, err := decode(v.Type, v.Data, p.Symbols)
	if err != nil {
		return fmt.Errorf("%w: print value: %w", ErrRecord, err)
	}
	var b []byte
	if p.JSON {
		b = append(b, `{"type": "value", "data": `...)
		b = x.appendJSON(b)
		b = append(b, "}\n"...)
	} else {
		b = append(append(b, x.text()...), '\n')
	}
	_, err = p.out().Write(b)
	return err
}

// Cat prints the contents of the file cat() named.
func (p *Printer) Cat(contents string) error {
	return p.emit("cat", contents, "")
}

// System prints the output of the command system() ran; bpftrace adds a
// newline after it in text mode.
func (p *Printer) System(output string) error {
	return p.emit("syscall", output, "\n")
}

// PrintMap prints a map as print(@m, top, div) does, and as maps print at
// exit with top and div 0: see formatMap for the order of entries. In
// text, a map of plain values prints one line per entry and no blank line
// after; a histogram ends with a blank line. Nothing is written if the map
// cannot be printed whole.
func (p *Printer) PrintMap(m Map, top, div uint64) error {
	out, err := formatMap(m, top, div, p.Symbols)
	if err != nil {
		return fmt.Errorf("print map %s: %w", mapName(m), err)
	}
	var b []byte
	if p.JSON {
		b = appendMapJSON(b, mapName(m), out)
	} else {
		b = appendMapText(b, mapName(m), out)
	}
	_, err = p.out().Write(b)
	return err
}

// End marks the end of tracing, before the maps print: bpftrace writes two
// newlines in text mode (after the ^C of an interactive session), nothing
// in JSON.
func (p *Printer) End() error {
	if p.JSON {
		return nil
	}
	_, err := io.WriteString(p.out(), "\n\n")
	return err
}

// Exit prints what bpftrace prints when tracing ends: End, then every map
// given, in order of name. The caller leaves out the maps it should not
// print (config print_maps_on_exit = false); maps that were cleared print
// nothing by themselves. All maps are tried; the first error is returned.
func (p *Printer) Exit(maps []Map) error {
	err := p.End()
	sorted := slices.Clone(maps)
	slices.SortStableFunc(sorted, func(a, b Map) int { return cmp.Compare(mapName(a), mapName(b)) })
	for _, m := range sorted {
		if e := p.PrintMap(m, 0, 0); err == nil {
			err = e
		}
	}
	return err
}

// AttachedProbes reports the number of probes attached: "Attached 2
// probes" on Err in text mode (current bpftrace; 0.17 printed "Attaching
// 2 probes..." on its standard output), and
// {"type": "attached_probes", "count": 2, "data": {"probes": 2}} in JSON.
func (p *Printer) AttachedProbes(n int) error {
	if p.JSON {
		_, err := fmt.Fprintf(p.out(), `{"type": "attached_probes", "count": %d, "data": {"probes": %d}}`+"\n", n, n)
		return err
	}
	noun := "probes"
	if n == 1 {
		noun = "probe"
	}
	_, err := io.WriteString(p.err(), "Attached "+strconv.Itoa(n)+" "+noun+"\n")
	return err
}

// LostEvents reports events the kernel dropped because the buffer was
// full: "Lost 3 events" on Err in text mode, and
// {"type": "lost_events", "count": 3, "data": {"events": 3}} in JSON.
func (p *Printer) LostEvents(n uint64) error {
	if p.JSON {
		_, err := fmt.Fprintf(p.out(), `{"type": "lost_events", "count": %d, "data": {"events": %d}}`+"\n", n, n)
		return err
	}
	_, err := io.WriteString(p.err(), "Lost "+strconv.FormatUint(n, 10)+" events\n")
	return err
}
