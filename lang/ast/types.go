package ast

import (
	"fmt"
	"strings"

	"github.com/cilium/ebpf/btf"
)

// Kind classifies a Type.
type Kind int

// Type kinds. The aggregation kinds are the values of maps assigned with
// count(), sum() and friends; they exist only as map values.
const (
	KindNone      Kind = iota // no value (a statement-only call like printf)
	KindInt                   // Size 1, 2, 4 or 8 bytes; Signed
	KindBool                  //
	KindString                // Size is the buffer length including the NUL
	KindTuple                 // Elems
	KindPtr                   // Elem; User for user-space pointers
	KindRecord                // a C struct or union (BTF), Name
	KindArray                 // Elem, Len
	KindCount                 // aggregation: count()
	KindSum                   // sum(x)
	KindAvg                   // avg(x)
	KindMin                   // min(x)
	KindMax                   // max(x)
	KindStats                 // stats(x)
	KindHist                  // hist(x)
	KindLHist                 // lhist(x, min, max, step)
	KindStack                 // kstack / ustack
	KindKsym                  // a kernel address printed as a symbol
	KindUsym                  // a user address printed as a symbol
	KindTimestamp             // strftime value
	KindBuffer                // buf()
	KindInet                  // ntop()
	KindMac                   // macaddr()
	// KindText is an 8-byte number printed as text from the user-space
	// table Name names: "strerror", "syscall_name".
	KindText
	// KindCgroupPath is a cgroup id (8 bytes) printed as its path; Name is
	// the hierarchy filter of cgroup_path(id, filter).
	KindCgroupPath
)

// Type is the checked type of an expression or map.
type Type struct {
	Kind   Kind
	Size   int  // bytes; for KindString the maximum length including NUL
	Signed bool // KindInt, and the value of sum/min/max aggregations
	Elems  []*Type
	Elem   *Type
	Len    int
	User   bool   // KindPtr: points into user memory
	Name   string // KindRecord: "struct sock"; KindNone: "void" as a pointer target
	// BTF is the C type behind a KindRecord (a *btf.Struct or *btf.Union, or
	// a *btf.Fwd not yet resolved) and behind integers read from C (a
	// *btf.Enum, for printing). Nil for the language's own types.
	BTF btf.Type
	// LHist parameters.
	Min, Max, Step int64
	// Cast marks an integer produced by an explicit cast, which bpftrace
	// prints as written.
	Cast bool
}

// Common types.
var (
	None   = &Type{Kind: KindNone}
	Bool   = &Type{Kind: KindBool, Size: 1}
	Int64  = &Type{Kind: KindInt, Size: 8, Signed: true}
	Uint64 = &Type{Kind: KindInt, Size: 8}
	Int32  = &Type{Kind: KindInt, Size: 4, Signed: true}
	Uint32 = &Type{Kind: KindInt, Size: 4}
	Uint16 = &Type{Kind: KindInt, Size: 2}
	Uint8  = &Type{Kind: KindInt, Size: 1}
	Int8   = &Type{Kind: KindInt, Size: 1, Signed: true}
	Int16  = &Type{Kind: KindInt, Size: 2, Signed: true}
	// Void is what a void pointer points to.
	Void = &Type{Kind: KindNone, Name: "void"}
)

// String returns a type name in bpftrace's words ("uint64", "string[64]",
// "(int64,string[16])", "hist_t").
func (t *Type) String() string {
	if t == nil {
		return "<unknown>"
	}
	switch t.Kind {
	case KindNone:
		if t.Name != "" {
			return t.Name
		}
		return "none"
	case KindInt:
		if t.Signed {
			return fmt.Sprintf("int%d", t.Size*8)
		}
		return fmt.Sprintf("uint%d", t.Size*8)
	case KindBool:
		return "bool"
	case KindString:
		return fmt.Sprintf("string[%d]", t.Size)
	case KindTuple:
		parts := make([]string, len(t.Elems))
		for i, e := range t.Elems {
			parts[i] = e.String()
		}
		return "(" + strings.Join(parts, ",") + ")"
	case KindPtr:
		return t.Elem.String() + " *"
	case KindRecord:
		return t.Name
	case KindArray:
		return fmt.Sprintf("%s[%d]", t.Elem, t.Len)
	case KindCount:
		return "count_t"
	case KindSum:
		return "sum_t"
	case KindAvg:
		return "avg_t"
	case KindMin:
		return "min_t"
	case KindMax:
		return "max_t"
	case KindStats:
		return "stats_t"
	case KindHist:
		return "hist_t"
	case KindLHist:
		return "lhist_t"
	case KindStack:
		return "stack"
	case KindKsym:
		return "ksym_t"
	case KindUsym:
		return "usym_t"
	case KindTimestamp:
		return "timestamp"
	case KindBuffer:
		return fmt.Sprintf("buffer[%d]", t.Size)
	case KindInet:
		return "inet"
	case KindMac:
		return "mac_address"
	case KindText:
		return t.Name + "_t"
	case KindCgroupPath:
		return "cgroup_path_t"
	}
	return "?"
}

// IsAggregation reports whether t is the value of an aggregating function.
func (t *Type) IsAggregation() bool {
	switch t.Kind {
	case KindCount, KindSum, KindAvg, KindMin, KindMax, KindStats, KindHist, KindLHist:
		return true
	}
	return false
}

// Equal reports whether two types are the same for map key and value
// consistency (string lengths and integer widths may differ: they widen).
func (t *Type) Equal(u *Type) bool {
	if t == nil || u == nil {
		return t == u
	}
	if t.Kind != u.Kind {
		return false
	}
	switch t.Kind {
	case KindTuple:
		if len(t.Elems) != len(u.Elems) {
			return false
		}
		for i := range t.Elems {
			if !t.Elems[i].Equal(u.Elems[i]) {
				return false
			}
		}
	case KindPtr, KindArray:
		return t.Elem.Equal(u.Elem) && t.Len == u.Len
	case KindRecord, KindText, KindTimestamp, KindCgroupPath:
		// Records by struct, the others by the table, format or filter
		// that prints them.
		return t.Name == u.Name
	case KindLHist:
		return t.Min == u.Min && t.Max == u.Max && t.Step == u.Step
	}
	return true
}

// IsUnsigned64 reports whether arithmetic on t follows unsigned 64-bit
// rules: unsigned 64-bit integers and pointers. Narrower unsigned integers
// are zero-extended into 64-bit registers, where signed rules give the same
// answers, as C's integer promotions do.
func (t *Type) IsUnsigned64() bool {
	return t != nil && (t.Kind == KindInt && !t.Signed && t.Size == 8 || t.Kind == KindPtr)
}

// Widened is t as it is stored in maps, tuples and records: integers of
// every width as 64 bits of the same signedness, other types unchanged.
func (t *Type) Widened() *Type {
	if t.Kind == KindInt && t.Size != 8 {
		if t.Signed {
			return Int64
		}
		return Uint64
	}
	return t
}
