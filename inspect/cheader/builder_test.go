package cheader

import (
	"encoding/binary"
	"testing"
)

// rawBuilder writes BTF by hand, type by type, so that tests control every
// bit: kind flags, ENUM against ENUM64, DECL_TAG entries, odd layouts.
type rawBuilder struct {
	words   []uint32
	offs    []int // index in words of each type's header
	strs    []byte
	n       uint32
	first   uint32 // ID of the first type added
	strBase uint32 // length of the base's strings, for split BTF
}

func newRawBuilder() *rawBuilder { return &rawBuilder{strs: []byte{0}, first: 1} }

// newSplitBuilder starts BTF split over base.
func newSplitBuilder(base *BTF) *rawBuilder {
	return &rawBuilder{first: uint32(base.NumTypes()), strBase: uint32(len(base.strs))}
}

// next is the ID the next type will get.
func (b *rawBuilder) next() uint32 { return b.first + b.n }

func (b *rawBuilder) str(s string) uint32 {
	if s == "" {
		return 0
	}
	off := b.strBase + uint32(len(b.strs))
	b.strs = append(append(b.strs, s...), 0)
	return off
}

func (b *rawBuilder) add(k Kind, name string, kflag bool, vlen int, sizeOrType uint32, extra ...uint32) uint32 {
	info := uint32(k)<<24 | uint32(vlen)&0xffff
	if kflag {
		info |= 1 << 31
	}
	b.offs = append(b.offs, len(b.words))
	b.words = append(b.words, b.str(name), info, sizeOrType)
	b.words = append(b.words, extra...)
	id := b.next()
	b.n++
	return id
}

const (
	encSigned = 1
	encChar   = 2
	encBool   = 4
)

func (b *rawBuilder) Int(name string, size, enc uint32) uint32 {
	return b.add(KindInt, name, false, 0, size, enc<<24|size*8)
}
func (b *rawBuilder) Ptr(t uint32) uint32      { return b.add(KindPtr, "", false, 0, t) }
func (b *rawBuilder) Const(t uint32) uint32    { return b.add(KindConst, "", false, 0, t) }
func (b *rawBuilder) Volatile(t uint32) uint32 { return b.add(KindVolatile, "", false, 0, t) }
func (b *rawBuilder) Restrict(t uint32) uint32 { return b.add(KindRestrict, "", false, 0, t) }
func (b *rawBuilder) Typedef(name string, t uint32) uint32 {
	return b.add(KindTypedef, name, false, 0, t)
}
func (b *rawBuilder) Array(elem, index, n uint32) uint32 {
	return b.add(KindArray, "", false, 0, 0, elem, index, n)
}
func (b *rawBuilder) Float(name string, size uint32) uint32 {
	return b.add(KindFloat, name, false, 0, size)
}
func (b *rawBuilder) Fwd(name string, union bool) uint32 {
	return b.add(KindFwd, name, union, 0, 0)
}
func (b *rawBuilder) TypeTag(value string, t uint32, attr bool) uint32 {
	return b.add(KindTypeTag, value, attr, 0, t)
}
func (b *rawBuilder) DeclTag(value string, t uint32, component int32) uint32 {
	return b.add(KindDeclTag, value, false, 0, t, uint32(component))
}
func (b *rawBuilder) Func(name string, proto, linkage uint32) uint32 {
	return b.add(KindFunc, name, false, int(linkage), proto)
}
func (b *rawBuilder) Var(name string, t, linkage uint32) uint32 {
	return b.add(KindVar, name, false, 0, t, linkage)
}

// mem is a struct or union member; bits != 0 makes it a bitfield.
type mem struct {
	name      string
	typ       uint32
	off, bits uint32
}

func (b *rawBuilder) composite(k Kind, name string, size uint32, ms []mem) uint32 {
	kflag := false
	for _, m := range ms {
		kflag = kflag || m.bits != 0
	}
	var extra []uint32
	for _, m := range ms {
		off := m.off
		if kflag {
			off |= m.bits << 24
		}
		extra = append(extra, b.str(m.name), m.typ, off)
	}
	return b.add(k, name, kflag, len(ms), size, extra...)
}

// setMember points member i of struct or union id at typ, for types that
// refer to each other.
func (b *rawBuilder) setMember(id uint32, i int, typ uint32) {
	b.words[b.offs[id-b.first]+3+3*i+1] = typ
}

func (b *rawBuilder) Struct(name string, size uint32, ms ...mem) uint32 {
	return b.composite(KindStruct, name, size, ms)
}
func (b *rawBuilder) Union(name string, size uint32, ms ...mem) uint32 {
	return b.composite(KindUnion, name, size, ms)
}

type enumVal struct {
	name string
	val  int64
}

func (b *rawBuilder) Enum(name string, size uint32, signed bool, vals ...enumVal) uint32 {
	var extra []uint32
	for _, v := range vals {
		extra = append(extra, b.str(v.name), uint32(v.val))
	}
	return b.add(KindEnum, name, signed, len(vals), size, extra...)
}

func (b *rawBuilder) Enum64(name string, size uint32, signed bool, vals ...enumVal) uint32 {
	var extra []uint32
	for _, v := range vals {
		extra = append(extra, b.str(v.name), uint32(v.val), uint32(uint64(v.val)>>32))
	}
	return b.add(KindEnum64, name, signed, len(vals), size, extra...)
}

type prm struct {
	name string
	typ  uint32
}

func (b *rawBuilder) Proto(ret uint32, ps ...prm) uint32 {
	var extra []uint32
	for _, p := range ps {
		extra = append(extra, b.str(p.name), p.typ)
	}
	return b.add(KindFuncProto, "", false, len(ps), ret, extra...)
}

type secVar struct{ typ, off, size uint32 }

func (b *rawBuilder) Datasec(name string, size uint32, vs ...secVar) uint32 {
	var extra []uint32
	for _, v := range vs {
		extra = append(extra, v.typ, v.off, v.size)
	}
	return b.add(KindDatasec, name, false, len(vs), size, extra...)
}

type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

// Bytes encodes the BTF blob in byte order bo.
func (b *rawBuilder) Bytes(bo byteOrder) []byte {
	typeLen := uint32(4 * len(b.words))
	out := make([]byte, 24, 24+int(typeLen)+len(b.strs))
	bo.PutUint16(out[0:], btfMagic)
	out[2] = 1
	bo.PutUint32(out[4:], 24)
	bo.PutUint32(out[8:], 0)
	bo.PutUint32(out[12:], typeLen)
	bo.PutUint32(out[16:], typeLen)
	bo.PutUint32(out[20:], uint32(len(b.strs)))
	for _, w := range b.words {
		out = bo.AppendUint32(out, w)
	}
	return append(out, b.strs...)
}

// BTF parses what was built, over base (nil for standalone BTF).
func (b *rawBuilder) BTF(t testing.TB, base *BTF) *BTF {
	t.Helper()
	out, err := Parse(b.Bytes(binary.LittleEndian), base)
	if err != nil {
		t.Fatalf("parse hand-made BTF: %v", err)
	}
	return out
}
