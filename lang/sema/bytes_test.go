package sema

import (
	"bytes"
	"testing"

	"github.com/wagglebpf/waggle/lang/ast"
)

func TestBytesFunctionTypes(t *testing.T) {
	src := `BEGIN {
  $t = strftime("%H:%M:%S.%f", nsecs);
  $b1 = buf(curtask, 8);
  $b2 = buf(curtask, 1000);
  $len = 5;
  $b3 = buf(curtask, $len);
  $b4 = buf(pton("1.2.3.4"));
  $n4 = ntop(1);
  $n6 = ntop(10, pton("::1"));
  $p6 = pton("::ffff:1.2.3.4");
  $m = macaddr(curtask);
  $e = strerror(1);
  $s = syscall_name(1);
  $u = uptr(curtask);
  $k = kptr($u);
  join(curtask, ", ");
}`
	_, prog := mustCheck(t, src, defaultOpts)
	for text, want := range map[string]string{
		`strftime("%H:%M:%S.%f", nsecs)`: "timestamp",
		`buf(curtask, 8)`:                "buffer[8]",
		`buf(curtask, 1000)`:             "buffer[64]",
		`buf(curtask, $len)`:             "buffer[64]",
		`buf(pton("1.2.3.4"))`:           "buffer[4]",
		`ntop(1)`:                        "inet",
		`pton("::ffff:1.2.3.4")`:         "uint8[16]",
		`macaddr(curtask)`:               "mac_address",
		`strerror(1)`:                    "strerror_t",
		`join(curtask, ", ")`:            "none",
	} {
		if got := typeAt(t, prog, text).String(); got != want {
			t.Errorf("%s: %s, want %s", text, got, want)
		}
	}
	if f := typeAt(t, prog, `strftime("%H:%M:%S.%f", nsecs)`); f.Name != "%H:%M:%S.%f" {
		t.Errorf("strftime's format %q", f.Name)
	}
	if e := typeAt(t, prog, `syscall_name(1)`); e.Kind != ast.KindText || e.Name != SyscallNameName {
		t.Errorf("syscall_name type %+v", e)
	}
	if u := typeAt(t, prog, `uptr(curtask)`); u.Kind != ast.KindPtr || !u.User {
		t.Errorf("uptr type %+v", u)
	}
	if k := typeAt(t, prog, `kptr($u)`); k.Kind != ast.KindPtr || k.User {
		t.Errorf("kptr type %+v", k)
	}
}

func TestPton(t *testing.T) {
	for s, want := range map[string][]byte{
		"1.2.3.4":        {1, 2, 3, 4},
		"::1":            {15: 1},
		"::ffff:1.2.3.4": {10: 0xff, 11: 0xff, 12: 1, 13: 2, 14: 3, 15: 4},
		"fe80::1":        {0: 0xfe, 1: 0x80, 15: 1},
	} {
		if got, ok := Pton(s); !ok || !bytes.Equal(got, want) {
			t.Errorf("Pton(%q) = %v, %v", s, got, ok)
		}
	}
	for _, s := range []string{"", "1.2.3", "1.2.3.256", "01.2.3.4", "fe80::1%eth0", "::g", "localhost"} {
		if got, ok := Pton(s); ok {
			t.Errorf("Pton(%q) = %v, want an error", s, got)
		}
	}
}
