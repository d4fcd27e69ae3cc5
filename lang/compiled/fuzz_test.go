package compiled_test

import (
	"bytes"
	"testing"

	"github.com/cilium/ebpf/btf"
	"github.com/wagglebpf/waggle/lang/compiled"
)

// FuzzDecode feeds Decode arbitrary files: it must return a program or an
// error, never panic, and what it returns must survive being encoded,
// checked and relocated. The seeds in testdata/fuzz/FuzzDecode are
// compiled programs (regenerate them with TestWriteFuzzSeeds).
func FuzzDecode(f *testing.F) {
	f.Add([]byte(compiled.Magic + "\x01\x00\x00\x00{}"))
	f.Add([]byte(compiled.Magic + "\x01\x00\x00\x00" + `{"types":[{"kind":"ptr","elem":1}]}`))
	f.Add([]byte(compiled.Magic + "\x01\x00\x00\x00" + `{"file":{"base64":"/w=="},"programs":[{"name":"p","type":17,"license":"GPL","code":"twAAAAAAAACVAAAAAAAAAA==","relocs":[{"insn":0,"root":"struct task_struct","path":["pid"],"local":4}]}]}`))
	i32 := &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed}
	task := &btf.Struct{Name: "task_struct", Size: 64, Members: []btf.Member{{Name: "pid", Type: i32, Offset: 32 * 8}}}
	b, err := btf.NewBuilder([]btf.Type{task}, nil)
	if err != nil {
		f.Fatal(err)
	}
	raw, err := b.Marshal(nil, nil)
	if err != nil {
		f.Fatal(err)
	}
	target, err := btf.LoadSpecFromReader(bytes.NewReader(raw))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := compiled.Decode(data)
		if err != nil {
			if p != nil {
				t.Fatal("a program and an error")
			}
			return
		}
		var out bytes.Buffer
		if err := compiled.Encode(&out, p); err == nil {
			if _, err := compiled.Decode(out.Bytes()); err != nil {
				t.Fatalf("a decoded program encodes to something that does not decode: %v", err)
			}
		}
		p.Check(compiled.Target{Arch: p.Assumes.Arch, BTF: func() (*btf.Spec, error) { return target, nil }})
		p.Code.Relocate(target)
	})
}
