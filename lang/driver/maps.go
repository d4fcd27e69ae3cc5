package driver

import (
	"bytes"
	"slices"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/wagglebpf/waggle/lang/output"
	"github.com/wagglebpf/waggle/session"
)

// Running is a script whose programs and maps are loaded, for callers
// that read its maps while it runs (an agent answering ReadMaps, an
// exporter). It is valid from the Options.OnOpen call until the function
// that call returned is called.
type Running struct {
	pr *printer
	s  *session.Session
}

// Maps are the script's loaded maps by BPF name (codegen.Map.BPFName).
func (m *Running) Maps() map[string]*ebpf.Map { return m.s.Collection.Maps }

// Programs are the script's loaded programs by BPF name
// (codegen.Probe.Program).
func (m *Running) Programs() map[string]*ebpf.Program { return m.s.Collection.Programs }

// MapText is one script map: as print(@map) prints it, and its raw
// entries.
type MapText struct {
	// Name is the script's name, "@name".
	Name    string
	PerCPU  bool
	Text    []byte
	Entries []output.Entry
}

// ReadMaps reads the maps named ("@name" or "name"; every map when names is
// empty), in name order, each rendered as print() renders it: text, or
// bpftrace's -f json line when asJSON.
func (m *Running) ReadMaps(names []string, asJSON bool) ([]MapText, error) {
	var out []MapText
	for _, cm := range m.pr.p.Maps {
		if len(names) > 0 && !slices.Contains(names, cm.Name) && !slices.Contains(names, strings.TrimPrefix(cm.Name, "@")) {
			continue
		}
		om, err := m.pr.read(cm, m.s.Collection.Maps[cm.BPFName])
		if err != nil {
			return nil, err
		}
		var b bytes.Buffer
		// A printer of its own: the run's writes to the user's output and
		// this read may happen at once.
		p := output.Printer{Out: &b, JSON: asJSON, Program: m.pr.out.Program, Symbols: m.pr.out.Symbols}
		if err := p.PrintMap(om, 0, 0); err != nil {
			return nil, err
		}
		out = append(out, MapText{Name: cm.Name, PerCPU: cm.PerCPU, Text: b.Bytes(), Entries: om.Entries})
	}
	slices.SortStableFunc(out, func(a, b MapText) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}
