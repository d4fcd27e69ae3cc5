package btfprint

import (
	"errors"
	"fmt"
	"math/big"

	"github.com/cilium/ebpf/btf"
)

// Member is one part of a value that a reader can pick by name: a named
// member of a struct or union (members of anonymous nested structs and
// unions count as the parent's, as C names them), or a whole value
// ([Whole]). Exporters use it to turn the members of map keys into labels
// and the members of map values into numbers (agent/metrics).
type Member struct {
	// Name is the member's name; empty for a whole value.
	Name string
	// Type is the member's BTF type.
	Type btf.Type
	m    member
}

// Members lists the named members of a struct or union, in order.
func Members(t btf.Type) ([]Member, error) {
	var ms []btf.Member
	switch u := btf.UnderlyingType(t).(type) {
	case *btf.Struct:
		ms = u.Members
	case *btf.Union:
		ms = u.Members
	default:
		return nil, fmt.Errorf("btfprint: %s has no members", typeString(t))
	}
	out, err := FlatMembers(ms, 0)
	if err != nil {
		return nil, fmt.Errorf("btfprint: %s: %w", typeString(t), err)
	}
	return out, nil
}

// FlatMembers lists the named members of a struct's or union's member
// list, anonymous struct and union members merged in and unnamed padding
// bitfields left out, as the printers show them; depth is how deep the
// record is nested already, counted against the printers' limit.
func FlatMembers(ms []btf.Member, depth int) ([]Member, error) {
	flat, err := flatten(ms, 0, depth, nil)
	if err != nil {
		return nil, err
	}
	out := make([]Member, len(flat))
	for i, m := range flat {
		out[i] = Member{Name: m.name, Type: m.typ, m: m}
	}
	return out, nil
}

// BitOffset is the member's offset from the start of its record, in bits.
func (m Member) BitOffset() uint64 { return m.m.off }

// BitfieldSize is the member's width in bits if it is a bitfield, else 0.
func (m Member) BitfieldSize() uint64 { return m.m.bits }

// Whole is a whole value of type t as a Member, read from offset 0.
func Whole(t btf.Type) Member {
	return Member{Type: t, m: member{typ: t}}
}

// Size is the number of bytes the member takes; a bitfield rounds up.
func (m Member) Size() (int, error) {
	if m.m.bits != 0 {
		return int((m.m.bits + 7) / 8), nil
	}
	return btf.Sizeof(m.Type)
}

func (m Member) decode(record []byte) (value, error) {
	if m.m.typ == nil {
		return value{}, errors.New("btfprint: no type")
	}
	if m.m.bits == 0 && m.m.off == 0 && m.Name == "" {
		return decodeTop(m.Type, record)
	}
	v, err := decodeMember(m.m, record, 0)
	if err != nil {
		return value{}, fmt.Errorf("btfprint: .%s: %w", m.Name, err)
	}
	return v, nil
}

// Bytes returns the member's bytes within record; bitfields have none of
// their own.
func (m Member) Bytes(record []byte) ([]byte, error) {
	if m.m.bits != 0 || m.m.off%8 != 0 {
		return nil, fmt.Errorf("btfprint: .%s is a bitfield", m.Name)
	}
	size, err := btf.Sizeof(m.Type)
	if err != nil {
		return nil, fmt.Errorf("btfprint: .%s: %w", m.Name, err)
	}
	start := m.m.off / 8
	if start+uint64(size) > uint64(len(record)) {
		return nil, fmt.Errorf("btfprint: .%s: %w", m.Name, shortData(int(min(start+uint64(size), 1<<31)), len(record)))
	}
	return record[start : start+uint64(size)], nil
}

// Text renders the member within record as [Text] renders values.
func (m Member) Text(record []byte) (string, error) {
	v, err := m.decode(record)
	if err != nil {
		return "", err
	}
	return string(v.appendText(nil)), nil
}

// Integer reads an integer, enum, bool or pointer member as 64 bits, with
// whether its type is signed (then the bits are sign-extended).
func (m Member) Integer(record []byte) (v uint64, signed bool, err error) {
	d, err := m.decode(record)
	if err != nil {
		return 0, false, err
	}
	switch d.kind {
	case kindUint, kindBool, kindPointer:
		return d.u, false, nil
	case kindInt:
		return uint64(d.i), true, nil
	case kindEnum:
		return d.u, d.signed, nil
	}
	return 0, false, fmt.Errorf("btfprint: %s is not an integer", describe(m))
}

// Number reads a number member (integer, enum, bool, pointer or float) as
// a float64, which is exact up to 2^53.
func (m Member) Number(record []byte) (float64, error) {
	d, err := m.decode(record)
	if err != nil {
		return 0, err
	}
	return number(d, m)
}

func number(d value, m Member) (float64, error) {
	switch d.kind {
	case kindUint, kindBool, kindPointer:
		return float64(d.u), nil
	case kindInt:
		return float64(d.i), nil
	case kindEnum:
		if d.signed {
			return float64(d.i), nil
		}
		return float64(d.u), nil
	case kindFloat:
		return d.f, nil
	case kindBig:
		f, _ := new(big.Float).SetInt(d.big).Float64()
		return f, nil
	}
	return 0, fmt.Errorf("btfprint: %s is not a number", describe(m))
}

// Counts reads an array of integers (the slots of a bcc-style struct
// hist) as counts; a negative element counts 0.
func (m Member) Counts(record []byte) ([]uint64, error) {
	d, err := m.decode(record)
	if err != nil {
		return nil, err
	}
	if d.kind != kindArray {
		return nil, fmt.Errorf("btfprint: %s is not an array of integers", describe(m))
	}
	out := make([]uint64, len(d.elems))
	for i, e := range d.elems {
		switch e.kind {
		case kindUint:
			out[i] = e.u
		case kindInt:
			out[i] = uint64(max(e.i, 0))
		default:
			return nil, fmt.Errorf("btfprint: %s is not an array of integers", describe(m))
		}
	}
	return out, nil
}

func describe(m Member) string {
	if m.Name == "" {
		return typeString(m.Type)
	}
	return "." + m.Name + " (" + typeString(m.Type) + ")"
}

// SumCPUs adds up the per-CPU values of a per-CPU map entry as [PrintMap]
// does: integers add (wrapping at their width), structs and arrays member
// by member, and everything else is CPU 0's.
func SumCPUs(t btf.Type, cpus [][]byte) ([]byte, error) {
	if len(cpus) == 0 {
		return nil, errors.New("btfprint: no values to add")
	}
	size, err := btf.Sizeof(t)
	if err != nil {
		return nil, fmt.Errorf("btfprint: %s: %w", typeString(t), err)
	}
	for _, v := range cpus {
		if len(v) < size {
			return nil, fmt.Errorf("btfprint: %s: %w", typeString(t), shortData(size, len(v)))
		}
	}
	if len(cpus) == 1 {
		return cpus[0][:size], nil
	}
	return sumValues(t, cpus, size)
}
