package btfprint

import (
	"bytes"
	"encoding/json"
	"io"
	"testing"

	"github.com/cilium/ebpf/btf"
)

// fuzzTypes cover every kind the decoder handles, including bitfields,
// anonymous members, 128-bit integers and signed enums.
func fuzzTypes() []btf.Type {
	return []btf.Type{
		tEvent, tOuter, tBits, tStraddle, tHist, tKeyPidComm,
		array(tU16, 5), tS128, tF32, tF64, tErr, tBig,
		&btf.Pointer{Target: tU32},
		&btf.Union{Name: "u", Size: 8, Members: []btf.Member{mem("d", tF64, 0), mem("c", charArray(8), 0), mem("e", tColor, 0)}},
		&btf.Datasec{Name: ".bss", Size: 12, Vars: []btf.VarSecinfo{
			{Type: &btf.Var{Name: "n", Type: tU64}, Offset: 0, Size: 8},
			{Type: &btf.Var{Name: "b", Type: tBool}, Offset: 8, Size: 1},
		}},
	}
}

func addSeeds(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0xff})
	f.Add(eventRecord(1234, "bash", 2, 99, "/etc/passwd", -2))
	f.Add(bytes.Repeat([]byte{0xff}, 128))
	f.Add(bytes.Repeat([]byte{0x80, 0x7f, 0x00, 0x0a}, 40))
}

func FuzzText(f *testing.F) {
	addSeeds(f)
	types := fuzzTypes()
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, typ := range types {
			s, err := Text(typ, data)
			// Text is for terminals: one line, no control bytes, whatever
			// the data holds.
			for i := 0; err == nil && i < len(s); i++ {
				if s[i] < 0x20 || s[i] >= 0x7f {
					t.Fatalf("%s: byte %#x in text %q", typeString(typ), s[i], s)
				}
			}
			tab, err := NewEventTable(io.Discard, typ)
			if err != nil {
				t.Fatalf("%s: %v", typeString(typ), err)
			}
			_ = tab.Write(data)
		}
		var out bytes.Buffer
		for _, m := range fuzzMaps(data) {
			_ = PrintMap(&out, m, MapOptions{})
			_ = PrintMap(&out, m, MapOptions{PerCPU: true})
		}
	})
}

func FuzzJSON(f *testing.F) {
	addSeeds(f)
	types := fuzzTypes()
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, typ := range types {
			js, err := JSON(typ, data)
			if err == nil && !json.Valid(js) {
				t.Fatalf("%s: invalid JSON %s", typeString(typ), js)
			}
			var out bytes.Buffer
			if err := EventJSON(&out, "ev\x00\"", typ, data); err == nil && !json.Valid(out.Bytes()) {
				t.Fatalf("%s: invalid event JSON %s", typeString(typ), out.Bytes())
			}
		}
		for _, m := range fuzzMaps(data) {
			for _, perCPU := range []bool{false, true} {
				var out bytes.Buffer
				if err := PrintMap(&out, m, MapOptions{JSON: true, PerCPU: perCPU}); err == nil && out.Len() > 0 && !json.Valid(out.Bytes()) {
					t.Fatalf("map %s: invalid JSON %s", m.Name, out.Bytes())
				}
			}
		}
	})
}

// fuzzMaps cuts data into per-CPU map entries of a few value types.
func fuzzMaps(data []byte) []Map {
	var maps []Map
	for _, vt := range []btf.Type{tHist, tU64, tS32, tOuter, tBits, nil} {
		size := 8
		if vt != nil {
			size, _ = btf.Sizeof(vt)
		}
		var entries []Entry
		rest := data
		for len(rest) >= 4+2*size && len(entries) < 4 {
			entries = append(entries, Entry{Key: rest[:4], Values: [][]byte{rest[4 : 4+size], rest[4+size : 4+2*size]}})
			rest = rest[4+2*size:]
		}
		if len(entries) == 0 && len(rest) > 4 {
			// Short values must be refused, not read past.
			entries = append(entries, Entry{Key: rest[:4], Values: [][]byte{rest[4:]}})
		}
		for _, array := range []bool{false, true} {
			maps = append(maps, Map{Name: "m", Key: tKeyOrNil(vt), Value: vt, PerCPU: true, Array: array, Entries: entries})
		}
	}
	return maps
}

func tKeyOrNil(vt btf.Type) btf.Type {
	if vt == nil {
		return nil
	}
	return tU32
}
