package cheader

import (
	"slices"
	"strings"
)

// bpftool (since v7.5) dumps vmlinux.h in a stable order rather than in
// type ID order, so that the headers of two kernel builds can be diffed:
// anonymous enums first, then named enums, base types, named structs and
// unions, function prototypes named through typedefs, then everything
// else; within a rank by the name of what the type is or names, by its own
// name, by a hash of its shape, and finally by ID. The ranks and hashes
// below reproduce bpftool's so that the order is the same.

const maxRank = 10

// sortRank is bpftool's rank of a type; hasName tells whether a typedef or
// other named type leads to it.
func (b *BTF) sortRank(id uint32, hasName bool) int {
	for depth := 0; depth < 32; depth++ {
		if b.nameOff(id) != 0 {
			hasName = true
		}
		switch b.Kind(id) {
		case KindEnum, KindEnum64:
			if hasName {
				return 1
			}
			return 0
		case KindInt, KindFloat:
			return 2
		case KindStruct, KindUnion:
			if hasName {
				return 3
			}
			return maxRank
		case KindFuncProto:
			if hasName {
				return 4
			}
			return maxRank
		case KindArray:
			if !hasName {
				return maxRank
			}
			id, _, _ = b.arrayOf(id)
		case KindTypeTag, KindConst, KindPtr, KindVolatile, KindRestrict, KindTypedef, KindDeclTag:
			if !hasName {
				return maxRank
			}
			id = b.ref(id)
		default:
			return maxRank
		}
	}
	return maxRank
}

// sortName is the offset of the name a type sorts by: its own, or for a
// typedef, pointer or array the name of what it leads to; an anonymous
// enum sorts by its first enumerator.
func (b *BTF) sortName(id uint32) uint32 {
	fromRef := false
	for depth := 0; depth < 32; depth++ {
		switch b.Kind(id) {
		case KindEnum, KindEnum64:
			off := b.nameOff(id)
			if !fromRef && off == 0 && b.vlen(id) > 0 {
				off = b.extra(id)[0]
			}
			return off
		case KindArray:
			id, _, _ = b.arrayOf(id)
		case KindTypeTag, KindConst, KindPtr, KindVolatile, KindRestrict, KindTypedef, KindDeclTag:
			id = b.ref(id)
		default:
			return b.nameOff(id)
		}
		fromRef = true
	}
	return 0
}

func hashStep(h, v uint64) uint64 { return h*31 + v }

// strHash is libbpf's string hash (over signed chars, as on x86).
func strHash(s string) uint64 {
	var h uint64
	for i := 0; i < len(s); i++ {
		h = h*31 + uint64(int64(int8(s[i])))
	}
	return h
}

func (b *BTF) hashName(h uint64, off uint32) uint64 {
	if off == 0 {
		return h
	}
	return hashStep(h, strHash(b.str(off)))
}

// shapeHash tells apart types that sort equal by name: enumerator names,
// member names and the names of member types, array lengths.
func (b *BTF) shapeHash(id uint32, members bool, depth int) uint64 {
	if depth > 32 {
		return 0
	}
	h := b.hashName(0, b.nameOff(id))
	switch b.Kind(id) {
	case KindEnum:
		ex := b.extra(id)
		for i := 0; i < len(ex); i += 2 {
			h = b.hashName(h, ex[i])
		}
	case KindEnum64:
		ex := b.extra(id)
		for i := 0; i < len(ex); i += 3 {
			h = b.hashName(h, ex[i])
		}
	case KindStruct, KindUnion:
		if !members {
			break
		}
		for i, n := 0, int(b.vlen(id)); i < n; i++ {
			m := b.member(id, i)
			h = b.hashName(h, m.name)
			h = hashStep(h, b.shapeHash(m.typ, false, depth+1))
		}
	case KindTypeTag, KindConst, KindPtr, KindVolatile, KindRestrict, KindTypedef, KindDeclTag:
		h = hashStep(h, b.shapeHash(b.ref(id), members, depth+1))
	case KindArray:
		elem, _, n := b.arrayOf(id)
		h = hashStep(h, uint64(n))
		h = hashStep(h, b.shapeHash(elem, members, depth+1))
	}
	return h
}

// sortEntry is what the sort moves around. prefix packs the rank and the
// first seven bytes of the sort name, so that most comparisons are one
// integer comparison.
type sortEntry struct {
	prefix  uint64
	id      uint32
	sortOff uint32 // the sort name's offset in the string section
}

// sortNames holds, by type ID, what comparisons past the prefix need.
type sortNames struct {
	ownOff          uint32
	sortLen, ownLen uint16
}

func sortPrefix(rank int, name string) uint64 {
	p := uint64(rank) << 56
	for i := 0; i < 7 && i < len(name); i++ {
		p |= uint64(name[i]) << (48 - 8*i)
	}
	return p
}

// sortRoots orders ids (every type but void) as bpftool does.
func (d *dumper) sortRoots(ids []uint32) {
	b := d.b
	entries := make([]sortEntry, len(ids))
	aux := make([]sortNames, len(b.offs))
	for i, id := range ids {
		off := b.sortName(id)
		sn, own := b.str(off), b.Name(id)
		entries[i] = sortEntry{prefix: sortPrefix(b.sortRank(id, false), sn), id: id, sortOff: off}
		aux[id] = sortNames{ownOff: b.nameOff(id), sortLen: uint16(min(len(sn), 0xffff)), ownLen: uint16(min(len(own), 0xffff))}
	}
	strs := b.strs
	names := func(x, y sortEntry) int {
		if x.prefix != y.prefix {
			if x.prefix < y.prefix {
				return -1
			}
			return 1
		}
		ax, ay := &aux[x.id], &aux[y.id]
		if c := strings.Compare(strs[x.sortOff:x.sortOff+uint32(ax.sortLen)], strs[y.sortOff:y.sortOff+uint32(ay.sortLen)]); c != 0 {
			return c
		}
		return strings.Compare(strs[ax.ownOff:ax.ownOff+uint32(ax.ownLen)], strs[ay.ownOff:ay.ownOff+uint32(ay.ownLen)])
	}
	entries = parallelSort(entries, func(x, y sortEntry) int {
		if c := names(x, y); c != 0 {
			return c
		}
		return int(x.id) - int(y.id)
	})
	// Types equal by rank and names are ordered by the hash of their
	// shape, then by ID: hashed only where such runs occur.
	type hashed struct {
		hash uint64
		e    sortEntry
	}
	var buf []hashed
	for i := 0; i < len(entries); {
		j := i + 1
		for j < len(entries) && names(entries[i], entries[j]) == 0 {
			j++
		}
		if run := entries[i:j]; len(run) > 1 {
			buf = buf[:0]
			for _, e := range run {
				buf = append(buf, hashed{b.shapeHash(e.id, true, 0), e})
			}
			slices.SortStableFunc(buf, func(x, y hashed) int {
				switch {
				case x.hash < y.hash:
					return -1
				case x.hash > y.hash:
					return 1
				}
				return 0
			})
			for k := range buf {
				run[k] = buf[k].e
			}
		}
		i = j
	}
	for i, e := range entries {
		ids[i] = e.id
	}
}

// parallelSort sorts large slices in two halves at once, then merges them:
// the sort of a vmlinux's types is the largest single step of the dump,
// and a second core halves it. cmp must be a strict total order.
func parallelSort(s []sortEntry, cmp func(x, y sortEntry) int) []sortEntry {
	if len(s) < 1<<12 {
		slices.SortFunc(s, cmp)
		return s
	}
	mid := len(s) / 2
	done := make(chan struct{})
	go func() {
		slices.SortFunc(s[:mid], cmp)
		close(done)
	}()
	slices.SortFunc(s[mid:], cmp)
	<-done
	out := make([]sortEntry, 0, len(s))
	a, b := s[:mid], s[mid:]
	for len(a) > 0 && len(b) > 0 {
		if cmp(a[0], b[0]) <= 0 {
			out, a = append(out, a[0]), a[1:]
		} else {
			out, b = append(out, b[0]), b[1:]
		}
	}
	return append(append(out, a...), b...)
}
