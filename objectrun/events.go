package objectrun

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/wagglebpf/waggle/btfprint"
	"github.com/wagglebpf/waggle/session"
)

// printTimeHeader precedes a periodic map dump with the local time, as
// libbpf-tools do: "15:04:05", or {"type": "time", "data": "15:04:05"}.
func printTimeHeader(w io.Writer, json bool, now time.Time) {
	if json {
		fmt.Fprintf(w, "{\"type\": \"time\", \"data\": %q}\n", now.Format(time.TimeOnly))
		return
	}
	fmt.Fprintln(w, now.Format(time.TimeOnly))
}

// iterPrinter writes what an iterator produced: as it is in text, and in
// JSON as one line per run, {"type": "iter", "program": NAME, "data": TEXT}.
func iterPrinter(w io.Writer, asJSON bool) func(string, []byte) {
	return func(program string, out []byte) {
		if !asJSON {
			w.Write(out)
			return
		}
		fmt.Fprintf(w, "{\"type\": \"iter\", \"program\": %s, \"data\": %s}\n", jsonString(program), jsonString(string(out)))
	}
}

// jsonString encodes s as a JSON string, leaving <, > and & as they are.
func jsonString(s string) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}

// eventPrinter decodes records of each event source through BTF.
type eventPrinter struct {
	stdout, stderr io.Writer
	spec           *ebpf.CollectionSpec
	json           bool
	// eventType is --event-type's type, or nil.
	eventType btf.Type
	tables    map[string]*btfprint.EventTable
	types     map[string]btf.Type
	warned    map[string]bool
}

func newEventPrinter(stdout, stderr io.Writer, spec *ebpf.CollectionSpec, asJSON bool, eventType btf.Type) *eventPrinter {
	return &eventPrinter{
		stdout: stdout, stderr: stderr, spec: spec,
		json:      asJSON,
		eventType: eventType,
		tables:    map[string]*btfprint.EventTable{},
		types:     map[string]btf.Type{},
		warned:    map[string]bool{},
	}
}

// warnOnce writes a warning about a source the first time key comes up.
func (p *eventPrinter) warnOnce(src, key, format string, args ...any) {
	if p.warned[src+"/"+key] {
		return
	}
	p.warned[src+"/"+key] = true
	fmt.Fprintf(p.stderr, "waggle: %s: %s\n", src, fmt.Sprintf(format, args...))
}

// typeFor finds the BTF type of a source's records: the map's own value
// type, --event-type, or the one struct of the record's size.
func (p *eventPrinter) typeFor(ev session.Event) (btf.Type, error) {
	if t, ok := p.types[ev.Source.Name]; ok {
		return t, nil
	}
	var t btf.Type
	var err error
	switch {
	case ev.Source.Spec != nil && ev.Source.Spec.Value != nil && !isPlainInt(ev.Source.Spec.Value):
		t = ev.Source.Spec.Value
	case p.eventType != nil:
		t = p.eventType
	case p.spec.Types == nil:
		err = fmt.Errorf("the object has no BTF")
	default:
		t, err = btfprint.EventType(p.spec.Types, len(ev.Data), ev.Source.Perf)
	}
	if err != nil {
		return nil, err
	}
	p.types[ev.Source.Name] = t
	return t, nil
}

func isPlainInt(t btf.Type) bool {
	_, ok := btf.UnderlyingType(t).(*btf.Int)
	return ok
}

func (p *eventPrinter) hex(ev session.Event) {
	if p.json {
		fmt.Fprintf(p.stdout, "{\"type\": \"event\", \"map\": %q, \"hex\": %q}\n", ev.Source.Name, btfprint.HexRecord(ev.Data))
	} else {
		fmt.Fprintln(p.stdout, btfprint.HexRecord(ev.Data))
	}
}

// perfPadding is how many bytes the kernel may add to a perf sample so
// that it and its 4-byte size header end on 8 bytes.
const perfPadding = 7

func (p *eventPrinter) print(ev session.Event) {
	src := ev.Source.Name
	t, err := p.typeFor(ev)
	if err != nil {
		p.warnOnce(src, "type", "%v; printing records as hex", err)
		p.hex(ev)
		return
	}
	if size, err := btf.Sizeof(t); err == nil {
		n := len(ev.Data)
		switch {
		case n < size:
			p.warnOnce(src, "short", "%s is %d bytes, but a record is only %d; printing such records as hex", session.TypeName(t), size, n)
			p.hex(ev)
			return
		case n > size && !(ev.Source.Perf && n-size <= perfPadding):
			p.warnOnce(src, "long", "%s is %d bytes, but a record is %d; printing the first %d bytes of such records", session.TypeName(t), size, n, size)
		}
	}
	if p.json {
		err = btfprint.EventJSON(p.stdout, ev.Source.Name, t, ev.Data)
	} else {
		tab := p.tables[ev.Source.Name]
		if tab == nil {
			if tab, err = btfprint.NewEventTable(p.stdout, t); err != nil {
				fmt.Fprintf(p.stderr, "waggle: %s: %v\n", ev.Source.Name, err)
				return
			}
			p.tables[ev.Source.Name] = tab
		}
		err = tab.Write(ev.Data)
	}
	if err != nil {
		p.warnOnce(src, "decode", "%v", err)
	}
}

func (p *eventPrinter) flush() {
	if len(p.tables) > 0 && !p.json {
		fmt.Fprintln(p.stdout)
	}
}
