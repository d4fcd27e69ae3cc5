package inspect

import (
	"testing"
	"unsafe"
)

// The attr structs must match the kernel's layout byte for byte.
func TestAttrSizes(t *testing.T) {
	for _, c := range []struct {
		name      string
		got, want uintptr
	}{
		{"ptr64", unsafe.Sizeof(ptr64{}), 8},
		{"progQueryAttr", unsafe.Sizeof(progQueryAttr{}), 64},
		{"progQueryAttr.revision", unsafe.Offsetof(progQueryAttr{}.revision), 56},
		{"taskFDQueryAttr", unsafe.Sizeof(taskFDQueryAttr{}), 48},
		{"taskFDQueryAttr.progID", unsafe.Offsetof(taskFDQueryAttr{}.progID), 24},
		{"objGetAttr", unsafe.Sizeof(objGetAttr{}), 16},
		{"objInfoAttr", unsafe.Sizeof(objInfoAttr{}), 16},
		{"progInfoHead.xlatedInsns", unsafe.Offsetof(progInfoHead{}.xlatedInsns), 32},
	} {
		if c.got != c.want {
			t.Errorf("%s: %d bytes, want %d", c.name, c.got, c.want)
		}
	}
}
