package objectrun

import (
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/wagglebpf/waggle/session"
)

// A record whose size differs from its BTF type's is printed as far as
// it goes, with one warning per source.
func TestEventPrinterSizeMismatch(t *testing.T) {
	u32 := &btf.Int{Name: "u32", Size: 4}
	big := &btf.Struct{Name: "big", Size: 16, Members: []btf.Member{{Name: "a", Type: u32}, {Name: "b", Type: u32, Offset: 32}, {Name: "c", Type: u32, Offset: 64}, {Name: "d", Type: u32, Offset: 96}}}
	small := &btf.Struct{Name: "small", Size: 4, Members: []btf.Member{{Name: "a", Type: u32}}}
	rec := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i + 1)
		}
		return b
	}
	for _, tc := range []struct {
		name       string
		typ        btf.Type
		perf       bool
		size       int
		wantOut    string
		wantStderr string
	}{
		{"record too short", big, false, 8, "01 02 03 04 05 06 07 08\n01 02 03 04 05 06 07 08\n",
			"waggle: events: struct big is 16 bytes, but a record is only 8; printing such records as hex\n"},
		{"record longer", small, false, 8, "A\n67305985\n67305985\n",
			"waggle: events: struct small is 4 bytes, but a record is 8; printing the first 4 bytes of such records\n"},
		{"perf padding", small, true, 8, "A\n67305985\n67305985\n", ""},
		{"beyond perf padding", small, true, 12, "A\n67305985\n67305985\n",
			"waggle: events: struct small is 4 bytes, but a record is 12; printing the first 4 bytes of such records\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr strings.Builder
			p := newEventPrinter(&stdout, &stderr, &ebpf.CollectionSpec{}, false, tc.typ)
			src := &session.EventSource{Name: "events", Perf: tc.perf}
			for range 2 {
				p.print(session.Event{Source: src, Data: rec(tc.size)})
			}
			if stdout.String() != tc.wantOut || stderr.String() != tc.wantStderr {
				t.Errorf("stdout %q, stderr %q\nwant   %q, stderr %q", stdout.String(), stderr.String(), tc.wantOut, tc.wantStderr)
			}
		})
	}
}
