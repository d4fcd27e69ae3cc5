// Package cheader renders BTF as C: the vmlinux.h header that bpftool's
// `btf dump ... format c` writes (forward declarations and ordering so
// that it compiles, CO-RE's preserve_access_index, bitfields, packing and
// padding inferred from the layout, bpftool's names for clashing types,
// kfunc prototypes), and bpftool's `format raw` listing in text and JSON.
//
// BTF is decoded here into flat tables rather than through cilium/ebpf's
// type graph: a whole vmlinux (over 100,000 types) then renders in a few
// tens of milliseconds, and the raw listing keeps what the graph folds
// away (DECL_TAG entries and their IDs, ENUM versus ENUM64, the kind flag
// of type tags, legacy INT bit offsets). FromTypes and FromSpec accept
// cilium/ebpf types for callers that already hold them.
package cheader

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"unsafe"
)

// Kind is a BTF type kind (BTF_KIND_*).
type Kind uint8

// The BTF kinds, numbered as in the kernel's uapi/linux/btf.h.
const (
	KindUnknown Kind = iota
	KindInt
	KindPtr
	KindArray
	KindStruct
	KindUnion
	KindEnum
	KindFwd
	KindTypedef
	KindVolatile
	KindConst
	KindRestrict
	KindFunc
	KindFuncProto
	KindVar
	KindDatasec
	KindFloat
	KindDeclTag
	KindTypeTag
	KindEnum64
	numKinds
)

var kindNames = [numKinds]string{
	"UNKNOWN", "INT", "PTR", "ARRAY", "STRUCT", "UNION", "ENUM", "FWD", "TYPEDEF",
	"VOLATILE", "CONST", "RESTRICT", "FUNC", "FUNC_PROTO", "VAR", "DATASEC", "FLOAT",
	"DECL_TAG", "TYPE_TAG", "ENUM64",
}

// String is the kind's name as bpftool prints it: STRUCT, FUNC_PROTO, ...
func (k Kind) String() string {
	if k < numKinds {
		return kindNames[k]
	}
	return "UNKNOWN"
}

// extraWords is the size, in 32-bit words, of what follows a type's
// 12-byte header: fixed for most kinds, per vlen entry for the others.
func extraWords(k Kind, vlen uint32) (uint32, bool) {
	switch k {
	case KindInt, KindVar, KindDeclTag:
		return 1, true
	case KindArray:
		return 3, true
	case KindStruct, KindUnion, KindDatasec, KindEnum64:
		return 3 * vlen, true
	case KindEnum, KindFuncProto:
		return 2 * vlen, true
	case KindPtr, KindFwd, KindTypedef, KindVolatile, KindConst, KindRestrict,
		KindFunc, KindFloat, KindTypeTag:
		return 0, true
	}
	return 0, false
}

const (
	btfMagic      = 0xeB9F
	btfHeaderSize = 24
	// maxTypes bounds the type IDs of one blob; BTF type IDs are 31 bits
	// in the kernel, and no real blob comes near this.
	maxTypes = 1 << 24
)

// BTF is one decoded BTF blob, with the base it was split from (a kernel
// module's BTF over vmlinux) merged in: type IDs and string offsets are
// the ones the blob itself uses.
type BTF struct {
	// words holds every type record, base types first, as 32-bit words in
	// host order.
	words []uint32
	// offs[id] is the index in words of type id's header; offs[0] (void)
	// is unused.
	offs []uint32
	// strs is the string section: base strings, then the split blob's.
	strs string
	// first is the first type ID that belongs to this blob rather than to
	// its base (1 without a base).
	first   uint32
	ptrSize int
	base    *BTF
}

// ErrNoBTF reports an ELF object without a .BTF section.
var ErrNoBTF = errors.New("no .BTF section")

// Parse decodes a raw BTF blob (the format of /sys/kernel/btf/* and of an
// object file's .BTF section). base is the BTF the blob was split from,
// nil for a standalone blob. Malformed input is an error, never a panic.
// The BTF may keep referring to raw, which must not change afterwards.
func Parse(raw []byte, base *BTF) (*BTF, error) {
	var bo binary.ByteOrder
	switch {
	case len(raw) < 2:
		return nil, fmt.Errorf("not BTF: %d bytes, too short for the magic number", len(raw))
	case binary.LittleEndian.Uint16(raw) == btfMagic:
		bo = binary.LittleEndian
	case binary.BigEndian.Uint16(raw) == btfMagic:
		bo = binary.BigEndian
	default:
		return nil, fmt.Errorf("not BTF: magic %#04x, expected %#04x", binary.LittleEndian.Uint16(raw), btfMagic)
	}
	if len(raw) < btfHeaderSize {
		return nil, fmt.Errorf("BTF is %d bytes long, shorter than its %d-byte header", len(raw), btfHeaderSize)
	}
	if v := raw[2]; v != 1 {
		return nil, fmt.Errorf("BTF version %d is not supported (only version 1 exists)", v)
	}
	hdrLen := bo.Uint32(raw[4:])
	typeOff, typeLen := bo.Uint32(raw[8:]), bo.Uint32(raw[12:])
	strOff, strLen := bo.Uint32(raw[16:]), bo.Uint32(raw[20:])
	if hdrLen < btfHeaderSize || uint64(hdrLen) > uint64(len(raw)) {
		return nil, fmt.Errorf("BTF header length %d is outside the %d-byte blob", hdrLen, len(raw))
	}
	data := raw[hdrLen:]
	if uint64(typeOff)+uint64(typeLen) > uint64(len(data)) || uint64(strOff)+uint64(strLen) > uint64(len(data)) {
		return nil, fmt.Errorf("BTF type or string section runs past the end of the %d-byte blob", len(raw))
	}
	if typeOff%4 != 0 || typeLen%4 != 0 {
		return nil, fmt.Errorf("BTF type section (offset %d, length %d) is not 4-byte aligned", typeOff, typeLen)
	}
	strSec := data[strOff : strOff+strLen]
	if base == nil && (len(strSec) == 0 || strSec[0] != 0) {
		return nil, errors.New("BTF string section does not start with the empty string")
	}
	if len(strSec) > 0 && strSec[len(strSec)-1] != 0 {
		return nil, errors.New("BTF string section does not end with a NUL byte")
	}

	b := &BTF{base: base, first: 1}
	typeSec := data[typeOff : typeOff+typeLen]
	nwords := len(typeSec) / 4
	if base != nil {
		if base.base != nil {
			return nil, errors.New("split BTF cannot serve as the base of another split BTF")
		}
		b.first = uint32(len(base.offs))
		b.words = make([]uint32, len(base.words), len(base.words)+nwords)
		copy(b.words, base.words)
		b.words = appendWords(b.words, typeSec, bo)
		b.offs = make([]uint32, len(base.offs), len(base.offs)+nwords/3)
		copy(b.offs, base.offs)
		b.strs = base.strs + string(strSec)
	} else {
		b.words = wordsOf(typeSec, bo)
		b.offs = make([]uint32, 1, nwords/3+1)
		b.strs = stringOf(strSec)
	}

	for w := uint32(len(b.words) - nwords); w < uint32(len(b.words)); {
		id := len(b.offs)
		if w+3 > uint32(len(b.words)) {
			return nil, fmt.Errorf("BTF type [%d] is truncated", id)
		}
		if id >= maxTypes {
			return nil, fmt.Errorf("BTF has more than %d types", maxTypes)
		}
		info := b.words[w+1]
		k := Kind(info >> 24 & 0x1f)
		n, ok := extraWords(k, info&0xffff)
		if !ok {
			return nil, fmt.Errorf("BTF type [%d] has kind %d, which waggle does not know (BTF newer than waggle?)", id, k)
		}
		if uint64(w)+3+uint64(n) > uint64(len(b.words)) {
			return nil, fmt.Errorf("BTF type [%d] (%s) is truncated", id, k)
		}
		b.offs = append(b.offs, w)
		w += 3 + n
	}
	if err := b.validate(); err != nil {
		return nil, err
	}
	b.ptrSize = b.guessPtrSize()
	return b, nil
}

// validate checks that every type ID and name offset the blob's own types
// use is in range, so that rendering never indexes out of bounds.
func (b *BTF) validate() error {
	n := uint32(len(b.offs))
	checkName := func(id, off uint32) error {
		if uint64(off) >= uint64(len(b.strs)) {
			return fmt.Errorf("BTF type [%d] names string offset %d, past the %d-byte string section", id, off, len(b.strs))
		}
		return nil
	}
	checkType := func(id, ref uint32) error {
		if ref >= n {
			return fmt.Errorf("BTF type [%d] refers to type [%d], but there are only %d types", id, ref, n-1)
		}
		return nil
	}
	for id := b.first; id < n; id++ {
		w := b.offs[id]
		if err := checkName(id, b.words[w]); err != nil {
			return err
		}
		k, vlen := b.Kind(id), b.vlen(id)
		ex := b.words[w+3:]
		var err error
		switch k {
		case KindPtr, KindTypedef, KindVolatile, KindConst, KindRestrict, KindFunc,
			KindVar, KindDeclTag, KindTypeTag:
			err = checkType(id, b.words[w+2])
		case KindArray:
			if err = checkType(id, ex[0]); err == nil {
				err = checkType(id, ex[1])
			}
		case KindStruct, KindUnion:
			for i := uint32(0); i < vlen && err == nil; i++ {
				if err = checkName(id, ex[3*i]); err == nil {
					err = checkType(id, ex[3*i+1])
				}
			}
		case KindEnum:
			for i := uint32(0); i < vlen && err == nil; i++ {
				err = checkName(id, ex[2*i])
			}
		case KindEnum64:
			for i := uint32(0); i < vlen && err == nil; i++ {
				err = checkName(id, ex[3*i])
			}
		case KindFuncProto:
			if err = checkType(id, b.words[w+2]); err != nil {
				break
			}
			for i := uint32(0); i < vlen && err == nil; i++ {
				if err = checkName(id, ex[2*i]); err == nil {
					err = checkType(id, ex[2*i+1])
				}
			}
		case KindDatasec:
			for i := uint32(0); i < vlen && err == nil; i++ {
				err = checkType(id, ex[3*i])
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// guessPtrSize finds the size of long as libbpf does for BTF that does not
// come with an ELF class: from the integer types named like long.
func (b *BTF) guessPtrSize() int {
	for id := uint32(1); id < uint32(len(b.offs)); id++ {
		if b.Kind(id) != KindInt {
			continue
		}
		switch b.Name(id) {
		case "long int", "long unsigned int", "unsigned long", "long", "unsigned long int", "long signed int", "signed long int", "signed long":
			if s := b.size(id); s == 4 || s == 8 {
				return int(s)
			}
		}
	}
	return 8
}

// Load reads BTF from a file: a raw blob such as /sys/kernel/btf/vmlinux,
// or an ELF object's .BTF section. base is the BTF a split blob (a kernel
// module's) was built over, nil otherwise.
func Load(path string, base *BTF) (*BTF, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", path, pathErr(err))
	}
	if bytes.HasPrefix(raw, []byte(elf.ELFMAG)) {
		return parseELF(raw, base)
	}
	b, err := Parse(raw, base)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return b, nil
}

// pathErr is the reason of a file operation's error, without the
// operation and path it repeats.
func pathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// parseELF decodes the .BTF section of an ELF object; the object's class
// fixes the pointer size.
func parseELF(raw []byte, base *BTF) (*BTF, error) {
	f, err := elf.NewFile(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("not a valid ELF file: %w", err)
	}
	sec := f.Section(".BTF")
	if sec == nil {
		return nil, fmt.Errorf("ELF object: %w (build it with clang -g)", ErrNoBTF)
	}
	if sec.Type == elf.SHT_NOBITS {
		return nil, fmt.Errorf("ELF object: its .BTF section holds no data")
	}
	data, err := io.ReadAll(io.LimitReader(sec.Open(), int64(len(raw))))
	if err != nil {
		return nil, fmt.Errorf("read .BTF section: %w", err)
	}
	b, err := Parse(data, base)
	if err != nil {
		return nil, fmt.Errorf(".BTF section: %w", err)
	}
	switch f.Class {
	case elf.ELFCLASS32:
		b.ptrSize = 4
	case elf.ELFCLASS64:
		b.ptrSize = 8
	}
	return b, nil
}

// NumTypes is the number of type IDs, counting void (ID 0) and the base's
// types: valid IDs are 0 to NumTypes()-1.
func (b *BTF) NumTypes() int { return len(b.offs) }

// FirstID is the first type ID of this blob itself: 1, or one past the
// base's last type for split BTF.
func (b *BTF) FirstID() uint32 { return b.first }

// Base is the BTF this one was split from, or nil.
func (b *BTF) Base() *BTF { return b.base }

// PointerSize is the size of a pointer on the BTF's target, in bytes.
func (b *BTF) PointerSize() int { return b.ptrSize }

// Kind is the kind of type id; void (0) and IDs out of range are
// KindUnknown.
func (b *BTF) Kind(id uint32) Kind {
	if id == 0 || id >= uint32(len(b.offs)) {
		return KindUnknown
	}
	return Kind(b.words[b.offs[id]+1] >> 24 & 0x1f)
}

// Name is type id's name, "" for anonymous types.
func (b *BTF) Name(id uint32) string {
	if id == 0 || id >= uint32(len(b.offs)) {
		return ""
	}
	return b.str(b.words[b.offs[id]])
}

// TypesByName lists the IDs of the types called name, in ID order.
func (b *BTF) TypesByName(name string) []uint32 {
	var ids []uint32
	for id := uint32(1); id < uint32(len(b.offs)); id++ {
		if b.Name(id) == name {
			ids = append(ids, id)
		}
	}
	return ids
}

func (b *BTF) str(off uint32) string {
	if off == 0 || uint64(off) >= uint64(len(b.strs)) {
		return ""
	}
	s := b.strs[off:]
	if i := strings.IndexByte(s, 0); i >= 0 {
		return s[:i]
	}
	return s
}

func (b *BTF) info(id uint32) uint32 { return b.words[b.offs[id]+1] }
func (b *BTF) vlen(id uint32) uint32 { return b.info(id) & 0xffff }
func (b *BTF) kflag(id uint32) bool  { return b.info(id)>>31 != 0 }
func (b *BTF) nameOff(id uint32) uint32 {
	if id == 0 {
		return 0
	}
	return b.words[b.offs[id]]
}

// size is the size field of sized kinds (INT, STRUCT, UNION, ENUM, ENUM64,
// DATASEC, FLOAT).
func (b *BTF) size(id uint32) uint32 { return b.words[b.offs[id]+2] }

// ref is the type field of referring kinds (PTR, TYPEDEF, the modifiers,
// FUNC, FUNC_PROTO's return type, VAR, DECL_TAG, TYPE_TAG).
func (b *BTF) ref(id uint32) uint32 { return b.words[b.offs[id]+2] }

// extra is the kind-specific data following type id's header.
func (b *BTF) extra(id uint32) []uint32 {
	w := b.offs[id] + 3
	n, _ := extraWords(b.Kind(id), b.vlen(id))
	return b.words[w : w+n]
}

// member is one member of a struct or union.
type member struct {
	name, typ    uint32
	bitOff, bits uint32
}

func (b *BTF) member(id uint32, i int) member {
	ex := b.words[b.offs[id]+3+uint32(3*i):]
	m := member{name: ex[0], typ: ex[1], bitOff: ex[2]}
	if b.kflag(id) {
		m.bitOff, m.bits = ex[2]&0xffffff, ex[2]>>24
	}
	return m
}

// arrayOf returns an array's element type, index type and length.
func (b *BTF) arrayOf(id uint32) (elem, index, n uint32) {
	ex := b.words[b.offs[id]+3:]
	return ex[0], ex[1], ex[2]
}

// param returns the name offset and type of a FUNC_PROTO's parameter i.
func (b *BTF) param(id uint32, i int) (name, typ uint32) {
	ex := b.words[b.offs[id]+3+uint32(2*i):]
	return ex[0], ex[1]
}

// hostOrder is the byte order of this machine.
var hostOrder binary.ByteOrder = func() binary.ByteOrder {
	x := uint16(1)
	if *(*byte)(unsafe.Pointer(&x)) == 1 {
		return binary.LittleEndian
	}
	return binary.BigEndian
}()

// wordsOf views a type section as 32-bit words: in place when it is in
// this machine's byte order and aligned (a vmlinux type section is
// megabytes), else as a converted copy.
func wordsOf(sec []byte, bo binary.ByteOrder) []uint32 {
	if len(sec) >= 4 && bo == hostOrder && uintptr(unsafe.Pointer(&sec[0]))%4 == 0 {
		return unsafe.Slice((*uint32)(unsafe.Pointer(&sec[0])), len(sec)/4)
	}
	return appendWords(make([]uint32, 0, len(sec)/4), sec, bo)
}

func appendWords(words []uint32, sec []byte, bo binary.ByteOrder) []uint32 {
	for i := 0; i+4 <= len(sec); i += 4 {
		words = append(words, bo.Uint32(sec[i:]))
	}
	return words
}

// stringOf views the string section as a string without copying it.
func stringOf(sec []byte) string {
	if len(sec) == 0 {
		return ""
	}
	return unsafe.String(&sec[0], len(sec))
}

func errOutOfRange(b *BTF, id uint32) error {
	return fmt.Errorf("type ID %d is out of range: the BTF has types 1 to %d", id, len(b.offs)-1)
}
