package cheader

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// Options choose what WriteC writes.
type Options struct {
	// Roots, when set, limits the header to these types and the types they
	// need, as bpftool does for a map's key and value; kfunc prototypes
	// are left out. Empty means every type.
	Roots []uint32
	// Unsorted emits types in ID order, as bpftool did before v7.5 and
	// does with its "unsorted" keyword. By default types are sorted by
	// kind and name so that the header of two kernel builds differs only
	// where their types do.
	Unsorted bool
	// NoAccessIndex leaves out the preserve_access_index pragma that makes
	// every struct and union access a CO-RE relocation (a user of the
	// header can also define BPF_NO_PRESERVE_ACCESS_INDEX).
	NoAccessIndex bool
	// NoKfuncs leaves out the prototypes of the kernel's kfuncs.
	NoKfuncs bool
}

// maxDepth bounds every recursion over the type graph. Real C types nest a
// few dozen levels at most; deeper means a cycle in malformed BTF.
const maxDepth = 512

// maxPadBits bounds the padding written for one gap in a struct (512 KiB);
// a larger hole means a malformed size or offset, not a real layout.
const maxPadBits = 1 << 22

// The per-type states of ordering and emission, as in libbpf's btf_dump.
const (
	notOrdered uint8 = iota
	ordering
	ordered
)

const (
	notEmitted uint8 = iota
	emitting
	emitted
)

type typeState struct {
	order, emit  uint8
	fwdEmitted   bool
	nameResolved bool
	renamed      bool // d.cached holds the type's unique name
	referenced   bool
}

// dumper holds the state of one WriteC call.
type dumper struct {
	b       *BTF
	w       *bufio.Writer
	states  []typeState
	aligns  []uint8 // alignOf's results plus one; 0 when not known yet
	cached  map[uint32]string
	tnames  map[string]int // struct, union and enum tags
	inames  map[string]int // typedef names and enumerators
	queue   []uint32
	stack   []uint32
	num     []byte
	depth   int
	err     error
	ptrBits int64
}

// WriteC writes the BTF as a C header, as bpftool's `btf dump ... format
// c` does: every type (or opts.Roots and what they need) in an order that
// compiles, inside an include guard, with CO-RE's preserve_access_index
// pragma and the kernel's kfunc prototypes.
func (b *BTF) WriteC(w io.Writer, opts Options) error {
	bw := bufio.NewWriterSize(w, 256<<10)
	d := &dumper{
		b:       b,
		w:       bw,
		states:  make([]typeState, len(b.offs)),
		aligns:  make([]uint8, len(b.offs)),
		cached:  map[uint32]string{},
		tnames:  make(map[string]int, len(b.offs)/4),
		inames:  make(map[string]int, len(b.offs)/2),
		ptrBits: int64(b.ptrSize) * 8,
	}
	for _, id := range opts.Roots {
		if id == 0 || id >= uint32(len(b.offs)) {
			return errOutOfRange(b, id)
		}
	}
	d.states[0] = typeState{order: ordered, emit: emitted}
	d.markReferenced()

	bw.WriteString("#ifndef __VMLINUX_H__\n#define __VMLINUX_H__\n\n")
	if !opts.NoAccessIndex {
		bw.WriteString("#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n" +
			"#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)\n" +
			"#endif\n\n")
	}
	bw.WriteString("#ifndef __ksym\n#define __ksym __attribute__((section(\".ksyms\")))\n#endif\n\n" +
		"#ifndef __weak\n#define __weak __attribute__((weak))\n#endif\n\n" +
		"#ifndef __bpf_fastcall\n#if __has_attribute(bpf_fastcall)\n" +
		"#define __bpf_fastcall __attribute__((bpf_fastcall))\n#else\n#define __bpf_fastcall\n#endif\n#endif\n\n")

	switch {
	case len(opts.Roots) > 0:
		for _, id := range opts.Roots {
			if err := d.dumpType(id); err != nil {
				return err
			}
		}
	default:
		order := d.rootOrder(opts.Unsorted)
		for _, id := range order {
			if err := d.dumpType(id); err != nil {
				return err
			}
		}
		if !opts.NoKfuncs {
			d.dumpKfuncs()
		}
	}
	if d.err != nil {
		return d.err
	}
	if !opts.NoAccessIndex {
		bw.WriteString("#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n#pragma clang attribute pop\n#endif\n\n")
	}
	bw.WriteString("#endif /* __VMLINUX_H__ */\n")
	return bw.Flush()
}

// rootOrder is the order in which types are dumped: ID order, or bpftool's
// stable order by kind and name.
func (d *dumper) rootOrder(unsorted bool) []uint32 {
	n := uint32(len(d.b.offs))
	ids := make([]uint32, 0, n)
	for id := uint32(1); id < n; id++ {
		switch d.b.Kind(id) {
		case KindInt, KindFloat, KindFunc, KindVar, KindDatasec, KindDeclTag:
			// Dumping these writes nothing, wherever they come; they
			// need not be sorted.
			if !unsorted {
				continue
			}
		}
		ids = append(ids, id)
	}
	if !unsorted {
		d.sortRoots(ids)
	}
	return ids
}

// markReferenced flags the types some other type refers to: an anonymous
// enum nobody refers to is a top-level declaration of constants.
func (d *dumper) markReferenced() {
	b := d.b
	for id := uint32(1); id < uint32(len(b.offs)); id++ {
		switch b.Kind(id) {
		case KindVolatile, KindConst, KindRestrict, KindPtr, KindTypedef, KindFunc,
			KindVar, KindDeclTag, KindTypeTag:
			d.states[b.ref(id)].referenced = true
		case KindArray:
			elem, index, _ := b.arrayOf(id)
			d.states[elem].referenced = true
			d.states[index].referenced = true
		case KindStruct, KindUnion:
			ex := b.extra(id)
			for i := 0; i+2 < len(ex); i += 3 {
				d.states[ex[i+1]].referenced = true
			}
		case KindFuncProto:
			ex := b.extra(id)
			for i := 0; i+1 < len(ex); i += 2 {
				d.states[ex[i+1]].referenced = true
			}
		case KindDatasec:
			ex := b.extra(id)
			for i := 0; i+2 < len(ex); i += 3 {
				d.states[ex[i]].referenced = true
			}
		}
	}
}

// dumpType writes type id and every type it needs that is not written yet.
func (d *dumper) dumpType(id uint32) error {
	d.queue = d.queue[:0]
	if _, err := d.orderType(id, false); err != nil {
		return err
	}
	for _, q := range d.queue {
		d.emitType(q, 0)
	}
	return d.err
}

// enter counts one more level of recursion into type id; past maxDepth
// it sets d.err and reports false. The caller decrements d.depth.
func (d *dumper) enter(id uint32) bool {
	if d.depth >= maxDepth {
		if d.err == nil {
			d.err = fmt.Errorf("type [%d] nests more than %d levels deep (a cycle in the BTF?)", id, maxDepth)
		}
		return false
	}
	d.depth++
	return true
}

// orderType sorts the definitions type id needs topologically into
// d.queue. It reports whether the link to id is strong (id must be
// complete before its user) or weak (a forward declaration will do,
// because a pointer and a named type are on the way).
func (d *dumper) orderType(id uint32, throughPtr bool) (bool, error) {
	st := &d.states[id]
	if st.order == ordered {
		return true, nil
	}
	b := d.b
	k := b.Kind(id)
	if st.order == ordering {
		if (k == KindStruct || k == KindUnion) && throughPtr && b.nameOff(id) != 0 {
			return false, nil
		}
		return false, fmt.Errorf("type [%d] (%s %q) is part of a type cycle that C cannot express", id, k, b.Name(id))
	}
	if !d.enter(id) {
		return false, d.err
	}
	strong, err := d.orderKind(id, k, throughPtr)
	d.depth--
	return strong, err
}

func (d *dumper) orderKind(id uint32, k Kind, throughPtr bool) (bool, error) {
	b := d.b
	st := &d.states[id]
	switch k {
	case KindInt, KindFloat:
		st.order = ordered
		return false, nil
	case KindPtr:
		strong, err := d.orderType(b.ref(id), true)
		d.states[id].order = ordered
		return strong, err
	case KindArray:
		elem, _, _ := b.arrayOf(id)
		return d.orderType(elem, false)
	case KindStruct, KindUnion:
		// Named and reached through a pointer: a forward declaration
		// will do. Anonymous ones are defined inline, so they count
		// as embedded.
		if throughPtr && b.nameOff(id) != 0 {
			return false, nil
		}
		st.order = ordering
		for i, n := 0, int(b.vlen(id)); i < n; i++ {
			if _, err := d.orderType(b.member(id, i).typ, false); err != nil {
				return false, err
			}
		}
		if b.nameOff(id) != 0 {
			d.queue = append(d.queue, id)
		}
		d.states[id].order = ordered
		return true, nil
	case KindEnum, KindEnum64, KindFwd:
		if b.nameOff(id) != 0 || !st.referenced {
			d.queue = append(d.queue, id)
		}
		st.order = ordered
		return true, nil
	case KindTypedef:
		strong, err := d.orderType(b.ref(id), throughPtr)
		if err != nil {
			return false, err
		}
		if throughPtr && !strong {
			return false, nil
		}
		d.queue = append(d.queue, id)
		d.states[id].order = ordered
		return true, nil
	case KindVolatile, KindConst, KindRestrict, KindTypeTag:
		return d.orderType(b.ref(id), throughPtr)
	case KindFuncProto:
		strong, err := d.orderType(b.ref(id), throughPtr)
		if err != nil {
			return false, err
		}
		for i, n := 0, int(b.vlen(id)); i < n; i++ {
			_, typ := b.param(id, i)
			s, err := d.orderType(typ, throughPtr)
			if err != nil {
				return false, err
			}
			strong = strong || s
		}
		return strong, nil
	default: // FUNC, VAR, DATASEC, DECL_TAG: not C type definitions
		st.order = ordered
		return false, nil
	}
}

// isBlocked reports the typedefs never to emit: __builtin_va_list is the
// compiler's own, and redefining it breaks the build.
func (d *dumper) isBlocked(id uint32) bool {
	return d.b.nameOff(id) != 0 && d.b.Name(id) == "__builtin_va_list"
}

// emitType writes the definition of type id, and first the forward
// declarations its members need. cont is the named struct or union being
// defined around it (0 at the top level).
func (d *dumper) emitType(id, cont uint32) {
	st := &d.states[id]
	if st.emit == emitted || d.err != nil {
		return
	}
	if !d.enter(id) {
		return
	}
	d.emitKind(id, cont, st)
	d.depth--
}

func (d *dumper) emitKind(id, cont uint32, st *typeState) {
	b := d.b
	k := b.Kind(id)
	topLevel := cont == 0

	if st.emit == emitting {
		if st.fwdEmitted {
			return
		}
		switch k {
		case KindStruct, KindUnion:
			// A reference from inside the struct itself needs no
			// declaration; an anonymous loop cannot be declared.
			if id == cont || b.nameOff(id) == 0 {
				return
			}
			d.emitStructFwd(id)
			d.w.WriteString(";\n\n")
			st.fwdEmitted = true
		case KindTypedef:
			// Emitted now for users through pointers; the type it
			// names is completed later.
			if !d.isBlocked(id) {
				d.emitTypedefDef(id, 0)
				d.w.WriteString(";\n\n")
			}
			st.fwdEmitted = true
		}
		return
	}

	switch k {
	case KindInt:
		d.emitMissingAlias(id)
		st.emit = emitted
	case KindEnum, KindEnum64:
		if topLevel {
			d.emitEnumDef(id, 0)
			d.w.WriteString(";\n\n")
		}
		st.emit = emitted
	case KindPtr, KindVolatile, KindConst, KindRestrict, KindTypeTag:
		d.emitType(b.ref(id), cont)
	case KindArray:
		elem, _, _ := b.arrayOf(id)
		d.emitType(elem, cont)
	case KindFwd:
		d.emitFwdDef(id)
		d.w.WriteString(";\n\n")
		st.emit = emitted
	case KindTypedef:
		st.emit = emitting
		d.emitType(b.ref(id), id)
		if st := &d.states[id]; !st.fwdEmitted && !d.isBlocked(id) {
			d.emitTypedefDef(id, 0)
			d.w.WriteString(";\n\n")
		}
		d.states[id].emit = emitted
	case KindStruct, KindUnion:
		st.emit = emitting
		// A definition spells out its members' types, which then need
		// their own declarations first; so does an anonymous struct,
		// defined inline wherever it is used.
		anon := b.nameOff(id) == 0
		if topLevel || anon {
			newCont := id
			if anon {
				newCont = cont
			}
			for i, n := 0, int(b.vlen(id)); i < n; i++ {
				d.emitType(b.member(id, i).typ, newCont)
			}
		} else if st := &d.states[id]; !st.fwdEmitted && id != cont {
			d.emitStructFwd(id)
			d.w.WriteString(";\n\n")
			st.fwdEmitted = true
		}
		if topLevel {
			d.emitStructDef(id, 0)
			d.w.WriteString(";\n\n")
			d.states[id].emit = emitted
		} else {
			d.states[id].emit = notEmitted
		}
	case KindFuncProto:
		d.emitType(b.ref(id), cont)
		for i, n := 0, int(b.vlen(id)); i < n; i++ {
			_, typ := b.param(id, i)
			d.emitType(typ, cont)
		}
	}
}

// alignOf is the alignment of type id in bytes, as libbpf computes it: a
// struct whose members are not naturally placed must have been packed, so
// its alignment is 1. 0 means the type has no alignment (void, functions).
func (d *dumper) alignOf(id uint32, depth int) int64 {
	if depth > maxDepth {
		return 0
	}
	if a := d.aligns[id]; a != 0 {
		return int64(a - 1)
	}
	a := d.computeAlign(id, depth)
	d.aligns[id] = uint8(min(a, 254) + 1)
	return a
}

func (d *dumper) computeAlign(id uint32, depth int) int64 {
	b := d.b
	switch b.Kind(id) {
	case KindInt, KindEnum, KindEnum64, KindFloat:
		return min(int64(b.ptrSize), int64(b.size(id)))
	case KindPtr:
		return int64(b.ptrSize)
	case KindTypedef, KindVolatile, KindConst, KindRestrict, KindTypeTag:
		return d.alignOf(b.ref(id), depth+1)
	case KindArray:
		elem, _, _ := b.arrayOf(id)
		return d.alignOf(elem, depth+1)
	case KindStruct, KindUnion:
		maxAlign := int64(1)
		for i, n := 0, int(b.vlen(id)); i < n; i++ {
			m := b.member(id, i)
			a := d.alignOf(m.typ, depth+1)
			if a <= 0 {
				return 0
			}
			maxAlign = max(maxAlign, a)
			if m.bits == 0 && int64(m.bitOff)%(8*a) != 0 {
				return 1
			}
		}
		if int64(b.size(id))%maxAlign != 0 {
			return 1
		}
		return maxAlign
	}
	return 0
}

// isPacked infers __attribute__((packed)) from a struct's layout: a member
// off its natural alignment, or a size that is not a multiple of the
// struct's alignment.
func (d *dumper) isPacked(id uint32) bool {
	b := d.b
	maxAlign := int64(1)
	for i, n := 0, int(b.vlen(id)); i < n; i++ {
		m := b.member(id, i)
		a := d.alignOf(m.typ, 0)
		if a != 0 && m.bits == 0 && int64(m.bitOff)%(8*a) != 0 {
			return true
		}
		maxAlign = max(maxAlign, a)
	}
	return int64(b.size(id))%maxAlign != 0
}

// resolveSize is the size of type id in bytes, -1 if it has none.
func (d *dumper) resolveSize(id uint32) int64 {
	b := d.b
	nelems := int64(1)
	for i := 0; i < 32 && id != 0; i++ {
		switch b.Kind(id) {
		case KindInt, KindStruct, KindUnion, KindEnum, KindEnum64, KindDatasec, KindFloat:
			return nelems * int64(b.size(id))
		case KindPtr:
			return nelems * int64(b.ptrSize)
		case KindTypedef, KindVolatile, KindConst, KindRestrict, KindVar, KindDeclTag, KindTypeTag:
			id = b.ref(id)
		case KindArray:
			elem, _, n := b.arrayOf(id)
			if nelems > 0 && int64(n) > (1<<32-1)/nelems {
				return -1
			}
			nelems *= int64(n)
			id = elem
		default:
			return -1
		}
	}
	return -1
}

var pfxTabs = strings.Repeat("\t", 13)

func (d *dumper) pfx(lvl int) {
	d.w.WriteString(pfxTabs[:min(max(lvl, 0), len(pfxTabs))])
}

func (d *dumper) writeInt(v int64) {
	d.num = strconv.AppendInt(d.num[:0], v, 10)
	d.w.Write(d.num)
}

func (d *dumper) writeUint(v uint64) {
	d.num = strconv.AppendUint(d.num[:0], v, 10)
	d.w.Write(d.num)
}

// emitBitPadding fills the gap between two members (in bits) with unnamed
// bitfields so that the compiler places the next member where BTF says,
// relying on natural alignment where it can, as libbpf does.
func (d *dumper) emitBitPadding(cur, next, nextAlign int64, inBitfield bool, lvl int) {
	if cur >= next {
		return
	}
	if next-cur > maxPadBits {
		d.err = fmt.Errorf("a struct has a %d-byte hole between members, which no real layout has (malformed BTF?)", (next-cur)/8)
		return
	}
	pads := [4]struct {
		name string
		bits int64
	}{{"long", d.ptrBits}, {"int", 32}, {"short", 16}, {"char", 8}}
	var (
		newOff, padBits int64
		padType         string
	)
	for _, p := range pads {
		padBits, padType = p.bits, p.name
		newOff = roundUp(cur, padBits)
		if newOff <= next {
			break
		}
	}
	if newOff > cur && newOff <= next {
		// An explicit `type: 0` is needed when the next member sits on
		// the boundary but would not be aligned to it naturally, or when
		// a `type: N` would fit in the hole and be ignored; inside a run
		// of bitfields the exact bit count is written.
		if inBitfield ||
			(newOff == next && roundUp(cur, nextAlign*8) != newOff) ||
			(newOff != next && next-newOff <= newOff-cur) {
			d.w.WriteByte('\n')
			d.pfx(lvl)
			d.w.WriteString(padType)
			d.w.WriteString(": ")
			if inBitfield {
				d.writeInt(newOff - cur)
			} else {
				d.w.WriteByte('0')
			}
			d.w.WriteByte(';')
		}
		cur = newOff
	}
	for cur != next {
		bits := min(next-cur, padBits)
		if bits == padBits {
			d.padLine(lvl, padType, padBits)
			cur += bits
			continue
		}
		for i := len(pads) - 1; i >= 0; i-- {
			if pads[i].bits < bits {
				continue
			}
			padType, padBits = pads[i].name, pads[i].bits
			d.padLine(lvl, padType, bits)
			cur += bits
			break
		}
	}
}

func (d *dumper) padLine(lvl int, typ string, bits int64) {
	d.w.WriteByte('\n')
	d.pfx(lvl)
	d.w.WriteString(typ)
	d.w.WriteString(": ")
	d.writeInt(bits)
	d.w.WriteByte(';')
}

func roundUp(x, to int64) int64 {
	if to <= 0 {
		return x
	}
	return (x + to - 1) / to * to
}

func (d *dumper) structKeyword(id uint32) string {
	if d.b.Kind(id) == KindUnion {
		return "union"
	}
	return "struct"
}

func (d *dumper) emitStructFwd(id uint32) {
	d.w.WriteString(d.structKeyword(id))
	if d.b.nameOff(id) != 0 {
		d.w.WriteByte(' ')
		d.w.WriteString(d.typeName(id))
	}
}

func (d *dumper) emitStructDef(id uint32, lvl int) {
	if !d.enter(id) {
		return
	}
	d.emitStructBody(id, lvl)
	d.depth--
}

func (d *dumper) emitStructBody(id uint32, lvl int) {
	b := d.b
	isStruct := b.Kind(id) == KindStruct
	align := d.alignOf(id, 0)
	packed := isStruct && d.isPacked(id)
	vlen := int(b.vlen(id))

	d.emitStructFwd(id)
	d.w.WriteString(" {")
	var off int64
	prevBitfield := false
	for i := 0; i < vlen && d.err == nil; i++ {
		m := b.member(id, i)
		mAlign := int64(1)
		if !packed {
			mAlign = d.alignOf(m.typ, 0)
		}
		inBitfield := prevBitfield && m.bits != 0
		d.emitBitPadding(off, int64(m.bitOff), mAlign, inBitfield, lvl+1)
		d.w.WriteByte('\n')
		d.pfx(lvl + 1)
		d.emitTypeDecl(m.typ, b.str(m.name), lvl+1)
		if m.bits != 0 {
			d.w.WriteString(": ")
			d.writeUint(uint64(m.bits))
			off = int64(m.bitOff) + int64(m.bits)
			prevBitfield = true
		} else {
			off = int64(m.bitOff) + max(0, d.resolveSize(m.typ))*8
			prevBitfield = false
		}
		d.w.WriteByte(';')
	}
	if isStruct {
		d.emitBitPadding(off, int64(b.size(id))*8, align, false, lvl+1)
	}
	if vlen > 0 || b.size(id) > 0 {
		d.w.WriteByte('\n')
		d.pfx(lvl)
	}
	d.w.WriteByte('}')
	if packed {
		d.w.WriteString(" __attribute__((packed))")
	}
}

// missingAliases are base types that GCC's Arm SIMD code names but C
// compilers do not define.
var missingAliases = map[string]string{
	"__Poly8_t":   "unsigned char",
	"__Poly16_t":  "unsigned short",
	"__Poly64_t":  "unsigned long long",
	"__Poly128_t": "unsigned __int128",
}

func (d *dumper) emitMissingAlias(id uint32) {
	name := d.typeName(id)
	if alias, ok := missingAliases[name]; ok {
		d.w.WriteString("typedef ")
		d.w.WriteString(alias)
		d.w.WriteByte(' ')
		d.w.WriteString(name)
		d.w.WriteString(";\n\n")
	}
}

func (d *dumper) emitEnumDef(id uint32, lvl int) {
	b := d.b
	d.w.WriteString("enum")
	if b.nameOff(id) != 0 {
		d.w.WriteByte(' ')
		d.w.WriteString(d.typeName(id))
	}
	vlen := int(b.vlen(id))
	if vlen == 0 {
		return
	}
	d.w.WriteString(" {")
	signed := b.kflag(id)
	ex := b.extra(id)
	is64 := b.Kind(id) == KindEnum64
	for i := 0; i < vlen; i++ {
		var nameOff uint32
		var val uint64
		if is64 {
			nameOff, val = ex[3*i], uint64(ex[3*i+2])<<32|uint64(ex[3*i+1])
		} else {
			nameOff, val = ex[2*i], uint64(ex[2*i+1])
		}
		name := b.str(nameOff)
		d.w.WriteByte('\n')
		d.pfx(lvl + 1)
		d.w.WriteString(name)
		// Enumerators share the namespace of typedefs.
		if dup := d.nameDups(d.inames, name); dup > 1 {
			d.w.WriteString("___")
			d.writeInt(int64(dup))
		}
		d.w.WriteString(" = ")
		switch {
		case is64 && signed:
			d.writeInt(int64(val))
			d.w.WriteString("LL")
		case is64:
			d.writeUint(val)
			d.w.WriteString("ULL")
		case signed:
			d.writeInt(int64(int32(uint32(val))))
		default:
			d.writeUint(val)
		}
		d.w.WriteByte(',')
	}
	d.w.WriteByte('\n')
	d.pfx(lvl)
	d.w.WriteByte('}')

	// Enums of unusual sizes need a mode attribute to keep their size.
	switch size := b.size(id); {
	case size == 1:
		d.w.WriteString(" __attribute__((mode(byte)))")
	case size == 8 && b.ptrSize == 8:
		needsWord := true
		if is64 {
			for i := 0; i < vlen; i++ {
				if ex[3*i+2] != 0 {
					needsWord = false
					break
				}
			}
		}
		if needsWord {
			d.w.WriteString(" __attribute__((mode(word)))")
		}
	}
}

func (d *dumper) emitEnumFwd(id uint32) {
	d.w.WriteString("enum ")
	d.w.WriteString(d.typeName(id))
}

func (d *dumper) emitFwdDef(id uint32) {
	if d.b.kflag(id) {
		d.w.WriteString("union ")
	} else {
		d.w.WriteString("struct ")
	}
	d.w.WriteString(d.typeName(id))
}

func (d *dumper) emitTypedefDef(id uint32, lvl int) {
	name := d.identName(id)
	// Old GCCs describe __gnuc_va_list as a typedef of void.
	if d.b.ref(id) == 0 && name == "__gnuc_va_list" {
		d.w.WriteString("typedef __builtin_va_list __gnuc_va_list")
		return
	}
	d.w.WriteString("typedef ")
	d.emitTypeDecl(d.b.ref(id), name, lvl)
}

// emitTypeDecl writes the declaration of fname with type id in C syntax:
// the chain of pointers, modifiers, arrays and function prototypes down to
// a named or anonymous base type is pushed on a stack, then written back
// out inside out.
func (d *dumper) emitTypeDecl(id uint32, fname string, lvl int) {
	if !d.enter(id) {
		return
	}
	d.emitDecl(id, fname, lvl)
	d.depth--
}

func (d *dumper) emitDecl(id uint32, fname string, lvl int) {
	b := d.b
	start := len(d.stack)
chain:
	for n := 0; ; n++ {
		if n > maxDepth {
			d.err = fmt.Errorf("type [%d] has a chain of more than %d pointers and modifiers (a cycle in the BTF?)", id, maxDepth)
			d.stack = d.stack[:start]
			return
		}
		d.stack = append(d.stack, id)
		if id == 0 {
			break
		}
		switch b.Kind(id) {
		case KindPtr, KindVolatile, KindConst, KindRestrict, KindFuncProto, KindTypeTag:
			id = b.ref(id)
		case KindArray:
			id, _, _ = b.arrayOf(id)
		default:
			break chain
		}
	}
	decls := d.stack[start:]
	d.emitTypeChain(&decls, fname, lvl)
	d.stack = d.stack[:start]
}

func isModifier(k Kind) bool {
	return k == KindVolatile || k == KindConst || k == KindRestrict || k == KindTypeTag
}

// emitMods writes the const/volatile/restrict on top of the stack, which
// in C precede the type they qualify.
func (d *dumper) emitMods(decls *[]uint32) {
	s := *decls
	for len(s) > 0 {
		switch d.b.Kind(s[len(s)-1]) {
		case KindVolatile:
			d.w.WriteString("volatile ")
		case KindConst:
			d.w.WriteString("const ")
		case KindRestrict:
			d.w.WriteString("restrict ")
		default:
			*decls = s
			return
		}
		s = s[:len(s)-1]
	}
	*decls = s
}

// dropMods discards modifiers C has no place for (GCC puts const on arrays
// of const and volatile on noreturn function pointers).
func (d *dumper) dropMods(decls *[]uint32) {
	s := *decls
	for len(s) > 0 && isModifier(d.b.Kind(s[len(s)-1])) {
		s = s[:len(s)-1]
	}
	*decls = s
}

func (d *dumper) emitName(name string, lastWasPtr bool) {
	if name != "" && !lastWasPtr {
		d.w.WriteByte(' ')
	}
	d.w.WriteString(name)
}

func (d *dumper) emitTypeChain(decls *[]uint32, fname string, lvl int) {
	b := d.b
	// Whether the last thing written was a '*', so that `int ***` is
	// written without spaces between the stars.
	lastWasPtr := true
	for len(*decls) > 0 {
		s := *decls
		id := s[len(s)-1]
		*decls = s[:len(s)-1]
		if id == 0 {
			d.emitMods(decls)
			d.w.WriteString("void")
			lastWasPtr = false
			continue
		}
		k := b.Kind(id)
		switch k {
		case KindInt, KindFloat:
			d.emitMods(decls)
			d.w.WriteString(b.Name(id))
		case KindStruct, KindUnion:
			d.emitMods(decls)
			if b.nameOff(id) == 0 {
				d.emitStructDef(id, lvl)
			} else {
				d.emitStructFwd(id)
			}
		case KindEnum, KindEnum64:
			d.emitMods(decls)
			if b.nameOff(id) == 0 {
				d.emitEnumDef(id, lvl)
			} else {
				d.emitEnumFwd(id)
			}
		case KindFwd:
			d.emitMods(decls)
			d.emitFwdDef(id)
		case KindTypedef:
			d.emitMods(decls)
			d.w.WriteString(d.identName(id))
		case KindPtr:
			if lastWasPtr {
				d.w.WriteByte('*')
			} else {
				d.w.WriteString(" *")
			}
		case KindVolatile:
			d.w.WriteString(" volatile")
		case KindConst:
			d.w.WriteString(" const")
		case KindRestrict:
			d.w.WriteString(" restrict")
		case KindTypeTag:
			d.emitMods(decls)
			if b.kflag(id) {
				d.w.WriteString(" __attribute__((")
				d.w.WriteString(b.Name(id))
				d.w.WriteString("))")
			} else {
				d.w.WriteString(" __attribute__((btf_type_tag(\"")
				d.w.WriteString(b.Name(id))
				d.w.WriteString("\")))")
			}
		case KindArray:
			_, _, n := b.arrayOf(id)
			d.dropMods(decls)
			if len(*decls) == 0 {
				d.emitName(fname, lastWasPtr)
				d.w.WriteByte('[')
				d.writeUint(uint64(n))
				d.w.WriteByte(']')
				return
			}
			next := (*decls)[len(*decls)-1]
			multidim := b.Kind(next) == KindArray && next != 0
			if fname != "" && !lastWasPtr {
				d.w.WriteByte(' ')
			}
			if !multidim {
				d.w.WriteByte('(')
			}
			d.emitTypeChain(decls, fname, lvl)
			if !multidim {
				d.w.WriteByte(')')
			}
			d.w.WriteByte('[')
			d.writeUint(uint64(n))
			d.w.WriteByte(']')
			return
		case KindFuncProto:
			d.dropMods(decls)
			if len(*decls) > 0 {
				d.w.WriteString(" (")
				d.emitTypeChain(decls, fname, lvl)
				d.w.WriteByte(')')
			} else {
				d.emitName(fname, lastWasPtr)
			}
			d.w.WriteByte('(')
			vlen := int(b.vlen(id))
			if vlen == 0 || (vlen == 1 && d.paramType(id, 0) == 0) {
				d.w.WriteString("void)")
				return
			}
			for i := 0; i < vlen; i++ {
				if i > 0 {
					d.w.WriteString(", ")
				}
				name, typ := b.param(id, i)
				// A last parameter of type void is the ellipsis.
				if i == vlen-1 && typ == 0 {
					d.w.WriteString("...")
					break
				}
				d.emitTypeDecl(typ, b.str(name), lvl)
			}
			d.w.WriteByte(')')
			return
		default:
			// FUNC, VAR, DATASEC or DECL_TAG where a type belongs:
			// malformed BTF, written as void so the output stays C.
			d.w.WriteString("void")
		}
		lastWasPtr = k == KindPtr
	}
	d.emitName(fname, lastWasPtr)
}

func (d *dumper) paramType(id uint32, i int) uint32 {
	_, typ := d.b.param(id, i)
	return typ
}

// nameDups counts one more use of name in a namespace and returns the
// count: the second struct called foo becomes foo___2.
func (d *dumper) nameDups(names map[string]int, name string) int {
	n := names[name] + 1
	names[name] = n
	return n
}

func (d *dumper) resolveName(id uint32, names map[string]int) string {
	b := d.b
	if b.nameOff(id) == 0 {
		return ""
	}
	st := &d.states[id]
	name := b.Name(id)
	if st.nameResolved {
		if st.renamed {
			return d.cached[id]
		}
		return name
	}
	st.nameResolved = true
	// Forward declarations keep their name: they may stand for any of
	// the definitions of that name.
	if k := b.Kind(id); k == KindFwd || (k == KindEnum && b.vlen(id) == 0) {
		return name
	}
	if dup := d.nameDups(names, name); dup > 1 {
		c := name + "___" + strconv.Itoa(dup)
		d.cached[id] = c
		st.renamed = true
		return c
	}
	return name
}

// typeName is the name of a struct, union or enum tag, made unique.
func (d *dumper) typeName(id uint32) string { return d.resolveName(id, d.tnames) }

// identName is the name of a typedef, made unique among identifiers.
func (d *dumper) identName(id uint32) string { return d.resolveName(id, d.inames) }

// dumpKfuncs writes the prototypes of the functions tagged bpf_kfunc, in
// name order, as bpftool does since v7.4.
func (d *dumper) dumpKfuncs() {
	b := d.b
	var kfuncs []uint32
	fastcall := map[uint32]bool{}
	for id := uint32(1); id < uint32(len(b.offs)); id++ {
		if b.Kind(id) != KindDeclTag || int32(b.extra(id)[0]) != -1 {
			continue
		}
		fn := b.ref(id)
		if b.Kind(fn) != KindFunc {
			continue
		}
		switch b.Name(id) {
		case "bpf_kfunc":
			kfuncs = append(kfuncs, fn)
		case "bpf_fastcall":
			fastcall[fn] = true
		}
	}
	slices.SortStableFunc(kfuncs, func(x, y uint32) int { return strings.Compare(b.Name(x), b.Name(y)) })
	d.w.WriteString("\n/* BPF kfuncs */\n#ifndef BPF_NO_KFUNC_PROTOTYPES\n")
	for _, fn := range kfuncs {
		d.w.WriteString("extern ")
		if fastcall[fn] {
			d.w.WriteString("__bpf_fastcall ")
		}
		d.emitTypeDecl(b.ref(fn), b.Name(fn), 0)
		d.w.WriteString(" __weak __ksym;\n")
	}
	d.w.WriteString("#endif\n\n")
}
