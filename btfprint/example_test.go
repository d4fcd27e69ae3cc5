package btfprint_test

import (
	"encoding/binary"
	"fmt"
	"os"

	"github.com/cilium/ebpf/btf"

	"github.com/wagglebpf/waggle/btfprint"
)

// A map of per-process counts keyed by struct { u32 pid; char comm[16]; },
// printed the way bpftrace prints @counts[pid, comm] = count() at exit, and
// one of its keys rendered alone.
func Example() {
	u32 := &btf.Int{Name: "unsigned int", Size: 4}
	u64 := &btf.Int{Name: "unsigned long long", Size: 8}
	char := &btf.Int{Name: "char", Size: 1, Encoding: btf.Signed}
	key := &btf.Struct{Name: "key", Size: 20, Members: []btf.Member{
		{Name: "pid", Type: u32, Offset: 0},
		{Name: "comm", Type: &btf.Array{Index: u32, Type: char, Nelems: 16}, Offset: 32},
	}}

	mkKey := func(pid uint32, comm string) []byte {
		b := make([]byte, 20)
		binary.NativeEndian.PutUint32(b, pid)
		copy(b[4:], comm)
		return b
	}
	count := func(n uint64) []byte { return binary.NativeEndian.AppendUint64(nil, n) }

	m := btfprint.Map{Name: "counts", Key: key, Value: u64, Entries: []btfprint.Entry{
		{Key: mkKey(812, "sshd"), Values: [][]byte{count(40)}},
		{Key: mkKey(1, "systemd"), Values: [][]byte{count(3)}},
	}}
	if err := btfprint.PrintMap(os.Stdout, m, btfprint.MapOptions{}); err != nil {
		fmt.Println(err)
	}
	if err := btfprint.PrintMap(os.Stdout, m, btfprint.MapOptions{JSON: true}); err != nil {
		fmt.Println(err)
	}

	s, err := btfprint.Text(key, mkKey(812, "sshd"))
	fmt.Println(s, err)
	// Output:
	// @counts[1, systemd]: 3
	// @counts[812, sshd]: 40
	// {"type": "map", "data": {"@counts": {"1,systemd": 3, "812,sshd": 40}}}
	// { .pid = 812, .comm = sshd } <nil>
}
