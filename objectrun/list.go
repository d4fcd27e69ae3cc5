package objectrun

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/cilium/ebpf"
	"github.com/wagglebpf/waggle/attach"
	"github.com/wagglebpf/waggle/btfprint"
	"github.com/wagglebpf/waggle/session"
)

// List writes the programs of spec with where each attaches, its maps, and
// the global variables --set can write with their values.
func List(w io.Writer, spec *ebpf.CollectionSpec) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PROGRAM\tSECTION\tTYPE\tATTACH")
	for _, name := range slices.Sorted(maps.Keys(spec.Programs)) {
		ps := spec.Programs[name]
		where := ""
		t, err := attach.ParseSection(ps.SectionName, ps.Type, ps.AttachType)
		switch {
		case err != nil:
			where = "(unknown section)"
		case !t.HasTarget():
			where = "(needs --attach)"
		case (t.Kind == attach.KindXDP || t.Kind == attach.KindTC || t.Kind == attach.KindSocket) && t.Interface == "":
			where = "(needs --iface)"
		default:
			where = t.String()
		}
		if strings.HasPrefix(ps.SectionName, "?") {
			where += " (not loaded by default)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", name, ps.SectionName, ps.Type, where)
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "MAP\tTYPE\tKEY\tVALUE\tMAX ENTRIES")
	for _, name := range slices.Sorted(maps.Keys(spec.Maps)) {
		ms := spec.Maps[name]
		if strings.HasPrefix(name, ".") {
			continue
		}
		entries := strconv.FormatUint(uint64(ms.MaxEntries), 10)
		if ms.Type == ebpf.PerfEventArray && ms.MaxEntries == 0 {
			// cilium/ebpf sizes it to the number of CPUs when loading.
			entries = "per CPU"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", name, ms.Type, session.TypeName(ms.Key), session.TypeName(ms.Value), entries)
	}
	vars := session.Variables(spec)
	if len(vars) > 0 {
		fmt.Fprintln(tw)
		fmt.Fprintln(tw, "VARIABLE\tTYPE\tVALUE\tSECTION")
		for _, v := range vars {
			val, err := btfprint.Text(v.Type, v.Spec.Value)
			if err != nil {
				val = "?"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", v.Name, session.TypeName(v.Type), val, v.Section)
		}
	}
	return tw.Flush()
}
