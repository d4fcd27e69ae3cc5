package metrics

import (
	"fmt"
	"math"
	"strings"

	"github.com/cilium/ebpf"

	"github.com/wagglebpf/waggle/lang/ast"
	"github.com/wagglebpf/waggle/lang/codegen"
	"github.com/wagglebpf/waggle/lang/output"
	"github.com/wagglebpf/waggle/session"
)

// ScriptMap is one map of a tracing-language script, loaded.
type ScriptMap struct {
	// Name is the map's name in the script: "@opens", or "@" for the
	// anonymous map.
	Name string
	// Key and Value are the map's types (codegen.Map's): Key nil for a
	// map without a key.
	Key, Value *ast.Type
	// Labels name the key's parts: one name per element of a tuple key,
	// one for any other key. Empty names, and a nil or short list, fall
	// back to key0, key1... by position.
	Labels []string
	// Map is the loaded map.
	Map *ebpf.Map
}

// ScriptSource exports the maps of a running script, one metric per map;
// see the package documentation for names, types and labels.
type ScriptSource struct {
	name string
	maps []ScriptMap
	fams []family
	sym  *output.Symbolizer
}

// ScriptMaps pairs the maps of a compiled program with their loaded maps
// (a session's Collection.Maps, by BPF name), labelled by KeyLabels.
func ScriptMaps(p *codegen.Program, loaded map[string]*ebpf.Map) ([]ScriptMap, error) {
	labels := KeyLabels(p)
	out := make([]ScriptMap, 0, len(p.Maps))
	for _, m := range p.Maps {
		bm := loaded[m.BPFName]
		if bm == nil {
			return nil, fmt.Errorf("map %s: %w", m.Name, errNoMap)
		}
		out = append(out, ScriptMap{Name: m.Name, Key: m.Key, Value: m.Value, Labels: labels[m.Name], Map: bm})
	}
	return out, nil
}

// NewScriptSource exports maps under the source name name. sym names
// addresses, stacks and cgroups in keys and values (see
// Symbols.Symbolizer); nil prints them as numbers.
func NewScriptSource(name string, maps []ScriptMap, sym *output.Symbolizer) (*ScriptSource, error) {
	s := &ScriptSource{name: name, maps: maps, sym: sym}
	seen := map[string]string{}
	for _, m := range maps {
		if m.Value == nil {
			return nil, fmt.Errorf("map %s has no value type", m.Name)
		}
		if m.Map == nil {
			return nil, fmt.Errorf("map %s: %w", m.Name, errNoMap)
		}
		f := scriptFamily(m)
		for _, n := range familyNames(f.name, f.kind) {
			if prev, ok := seen[n]; ok {
				return nil, fmt.Errorf("maps %s and %s would both be exported as %s; rename one of them", prev, m.Name, n)
			}
			seen[n] = m.Name
		}
		s.fams = append(s.fams, f)
	}
	return s, nil
}

// Name is the source's name.
func (s *ScriptSource) Name() string { return s.name }

func (s *ScriptSource) families() []family { return s.fams }

// MetricName is the name a script map is exported under, before the
// prefix: the map's name without its '@', and "map" for the anonymous
// map. Map names are identifiers, which are valid metric names.
func MetricName(mapName string) string {
	n := strings.TrimPrefix(mapName, "@")
	if n == "" {
		return "map"
	}
	return n
}

// textValue reports whether a map's values are not numbers, and so are
// exported as a label of a gauge that is always 1.
func textValue(t *ast.Type) bool {
	switch t.Kind {
	case ast.KindCount, ast.KindSum, ast.KindMin, ast.KindMax, ast.KindAvg, ast.KindStats,
		ast.KindHist, ast.KindLHist, ast.KindInt, ast.KindBool:
		return false
	}
	return true
}

func scriptFamily(m ScriptMap) family {
	f := family{name: MetricName(m.Name), kind: kindGauge}
	switch m.Value.Kind {
	case ast.KindCount, ast.KindSum:
		f.kind = kindCounter
	case ast.KindStats:
		f.kind = kindSummary
	case ast.KindHist, ast.KindLHist:
		f.kind = kindHistogram
	}
	n := keyParts(m.Key)
	f.labels = make([]string, n)
	for i := range n {
		if i < len(m.Labels) {
			f.labels[i] = m.Labels[i]
		}
	}
	if textValue(m.Value) {
		f.labels = append(f.labels, "value")
	}
	f.help = "bpftrace map " + displayName(m.Name) + " (" + m.Value.String() + ")"
	return f
}

func displayName(name string) string {
	if strings.HasPrefix(name, "@") {
		return name
	}
	return "@" + name
}

// keyParts is how many labels a key makes.
func keyParts(t *ast.Type) int {
	switch {
	case t == nil:
		return 0
	case t.Kind == ast.KindTuple:
		return len(t.Elems)
	}
	return 1
}

func (s *ScriptSource) collect(em *emitter) {
	for i, m := range s.maps {
		if err := s.collectMap(em, i, m); err != nil {
			em.fail(fmt.Errorf("%s: %w", m.Name, err))
		}
	}
}

func (s *ScriptSource) collectMap(em *emitter, f int, m ScriptMap) error {
	entries, err := session.ReadEntries(m.Map)
	if err != nil {
		return err
	}
	om := output.Map{Name: m.Name, Key: m.Key, Value: m.Value, Entries: make([]output.Entry, len(entries))}
	for i, e := range entries {
		om.Entries[i] = output.Entry{Key: e.Key, Values: e.Values}
	}
	series, err := output.MapSeries(om, s.sym)
	if err != nil {
		return err
	}
	em.read()
	merged := mergeSeries(m, series)
	for _, r := range merged.order {
		ser := merged.byKey[r]
		labels := labelValues(m.Key, *ser)
		switch {
		case m.Value.Kind == ast.KindHist || m.Value.Kind == ast.KindLHist:
			bounds := make([]float64, len(ser.Buckets))
			counts := make([]uint64, len(ser.Buckets))
			for i, b := range ser.Buckets {
				bounds[i], counts[i] = b.Max, b.Count
			}
			buckets, total := cumulative(bounds, counts)
			// hist() keeps no sum of the values it counts.
			em.histogram(f, total, math.NaN(), buckets, labels)
		case m.Value.Kind == ast.KindStats:
			em.summary(f, ser.Count, ser.Total, labels)
		case textValue(m.Value):
			em.value(f, 1, append(labels, validUTF8(ser.Text)))
		default:
			em.value(f, ser.Value, labels)
		}
	}
	return nil
}

// labelValues are a series' key parts as label values: valid UTF-8, and
// stacks on one line.
func labelValues(key *ast.Type, s output.Series) []string {
	out := make([]string, len(s.Key), len(s.Key)+1)
	for i, k := range s.Key {
		var t *ast.Type
		switch {
		case key != nil && key.Kind == ast.KindTuple && i < len(key.Elems):
			t = key.Elems[i]
		case key != nil:
			t = key
		}
		if t != nil && t.Kind == ast.KindStack {
			k = foldStack(k)
		}
		out[i] = validUTF8(k)
	}
	return out
}

// foldStack puts a printed stack on one line, frames innermost first
// joined by ';'.
func foldStack(s string) string {
	var frames []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			frames = append(frames, l)
		}
	}
	return strings.Join(frames, ";")
}

// merged holds a map's series by key text. Different keys can print
// alike (two addresses in one function, strings cut short), and
// Prometheus takes one sample per label set, so such entries are
// combined as the aggregation combines values.
type merged struct {
	order []string
	byKey map[string]*output.Series
}

func mergeSeries(m ScriptMap, series []output.Series) merged {
	out := merged{byKey: make(map[string]*output.Series, len(series))}
	for i := range series {
		s := &series[i]
		k := strings.Join(s.Key, "\x00")
		if textValue(m.Value) {
			k += "\x00" + s.Text
		}
		prev := out.byKey[k]
		if prev == nil {
			out.byKey[k] = s
			out.order = append(out.order, k)
			continue
		}
		combine(m.Value.Kind, prev, s)
	}
	return out
}

// combine folds s into prev.
func combine(k ast.Kind, prev, s *output.Series) {
	switch k {
	case ast.KindCount, ast.KindSum:
		prev.Value += s.Value
	case ast.KindMin:
		prev.Value = min(prev.Value, s.Value)
	case ast.KindMax:
		prev.Value = max(prev.Value, s.Value)
	case ast.KindAvg, ast.KindStats:
		prev.Count += s.Count
		prev.Total += s.Total
		if prev.Count > 0 {
			prev.Value = prev.Total / float64(prev.Count)
		}
	case ast.KindHist, ast.KindLHist:
		for i := range min(len(prev.Buckets), len(s.Buckets)) {
			prev.Buckets[i].Count += s.Buckets[i].Count
		}
	default:
		// Plain values have nothing to add up: one of them stands.
	}
}

// KeyLabels names the key parts of each map of p (by "@name") after the
// expressions the script indexes it with: @opens[comm] labels by comm,
// @bytes[pid, str(args.filename)] by pid and filename, @x[$fd] by fd.
// Calls name a part after the function (ksym, kstack, syscall_name), but
// str(), ntop(), casts and the like after what they convert. A part with
// no name (a literal, arithmetic), or named differently in two places, is
// left empty ("": key<position>).
func KeyLabels(p *codegen.Program) map[string][]string {
	out := map[string][]string{}
	if p == nil || p.Info == nil || p.Info.Prog == nil {
		return out
	}
	parts := map[string]int{}
	conflict := map[string][]bool{}
	for _, m := range p.Maps {
		parts[m.Name] = keyParts(m.Key)
	}
	ast.Inspect(p.Info.Prog, func(n ast.Node) bool {
		me, ok := n.(*ast.MapExpr)
		if !ok || len(me.Keys) == 0 {
			return true
		}
		want, ok := parts[me.Name]
		if !ok {
			return true
		}
		keys := me.Keys
		if len(keys) == 1 && want > 1 {
			if t, ok := keys[0].(*ast.TupleExpr); ok {
				keys = t.Elems
			}
		}
		if len(keys) != want {
			return true
		}
		names := out[me.Name]
		if names == nil {
			names = make([]string, want)
			out[me.Name] = names
			conflict[me.Name] = make([]bool, want)
		}
		for i, k := range keys {
			n := exprLabel(k)
			switch {
			case n == "" || conflict[me.Name][i]:
			case names[i] == "":
				names[i] = n
			case names[i] != n:
				names[i], conflict[me.Name][i] = "", true
			}
		}
		return true
	})
	return out
}

// converters are functions whose result is best named after their
// argument.
var converters = map[string]bool{
	"str": true, "ntop": true, "kptr": true, "uptr": true, "buf": true,
	"macaddr": true, "bswap": true, "pton": true,
}

// exprLabel names a key expression, "" when nothing fits.
func exprLabel(e ast.Expr) string {
	var n string
	switch e := e.(type) {
	case *ast.Ident:
		n = e.Name
	case *ast.VarExpr:
		n = strings.TrimPrefix(e.Name, "$")
	case *ast.FieldExpr:
		n = e.Field
	case *ast.IndexExpr:
		return exprLabel(e.X)
	case *ast.CastExpr:
		return exprLabel(e.X)
	case *ast.Unary:
		if e.Op == "*" || e.Op == "&" {
			return exprLabel(e.X)
		}
	case *ast.Call:
		if converters[e.Func] && len(e.Args) > 0 {
			if n := exprLabel(e.Args[0]); n != "" {
				return n
			}
		}
		n = e.Func
	}
	if !validLabelName(n) || strings.HasPrefix(n, "__") {
		return ""
	}
	return n
}
