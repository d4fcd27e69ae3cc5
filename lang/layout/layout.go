// Package layout fixes how values of the tracing language are laid out in
// bytes: in map keys and values, and in the records probes send to user
// space. The code generator writes these bytes and the output package reads
// them, so both follow this one description.
//
// Integers are 8 bytes wide in maps and records (as bpftrace stores them),
// whatever their checked width; booleans too. Strings are their full
// buffer, NUL-padded to a multiple of 8 bytes. A tuple is its elements in order, each at an offset
// aligned to 8 bytes, the whole rounded up to 8. All integers are in the
// host's byte order.
package layout

import "github.com/wagglebpf/waggle/lang/ast"

// Size is the number of bytes a value of type t occupies in a map key,
// map value or record.
func Size(t *ast.Type) int {
	switch t.Kind {
	case ast.KindInt, ast.KindBool, ast.KindPtr, ast.KindKsym, ast.KindTimestamp, ast.KindText, ast.KindCgroupPath:
		return 8
	case ast.KindUsym:
		// The address, then the pid of the process it was taken in.
		return 16
	case ast.KindString:
		// Rounded up so that strings are whole 8-byte words: programs copy
		// them a word at a time.
		return align8(t.Size)
	case ast.KindBuffer:
		// The number of bytes read in 8 bytes, then Size bytes of room
		// for them: buf() takes a length known only at run time.
		return BufferHeader + align8(t.Size)
	case ast.KindInet, ast.KindMac, ast.KindArray, ast.KindRecord:
		return t.Size
	case ast.KindTuple:
		n := 0
		for _, e := range t.Elems {
			n = align8(n) + Size(e)
		}
		return align8(n)
	case ast.KindCount, ast.KindSum:
		return 8
	case ast.KindMin, ast.KindMax, ast.KindAvg, ast.KindStats:
		return 16
	case ast.KindHist, ast.KindLHist:
		return 8
	case ast.KindStack:
		// The stack id, then the pid (ustack's process; 0 for kstack).
		return 16
	}
	return 0
}

// BufferHeader is the size of the length that starts a buf() value.
const BufferHeader = 8

// InetSize is the size of an ntop() value: the address family (AFInet or
// AFInet6) in 8 bytes, then 16 bytes of address, of which IPv4 uses 4.
const InetSize = 24

// Address families of ntop() values: Linux's numbers, the same on every
// architecture.
const (
	AFInet  = 2
	AFInet6 = 10
)

// JoinArgs and JoinArgSize bound join(): at most 16 strings of up to 1024
// bytes each, as bpftrace's join_argnum and join_argsize.
const (
	JoinArgs    = 16
	JoinArgSize = 1024
)

// Offsets are the byte offsets of a tuple's elements.
func Offsets(t *ast.Type) []int {
	offs := make([]int, len(t.Elems))
	n := 0
	for i, e := range t.Elems {
		n = align8(n)
		offs[i] = n
		n += Size(e)
	}
	return offs
}

func align8(n int) int { return (n + 7) &^ 7 }

// Aggregation values, one per CPU in per-CPU maps:
//
//	count     u64 count
//	sum       s64/u64 total
//	min, max  s64/u64 value, u64 set (0 until the first value on that CPU)
//	avg       s64 total (u64 if the type is not Signed), u64 count
//	stats     as avg (min and max are not kept, as in bpftrace)
//	hist      u64 count in the bucket; the bucket index is the last 8 bytes
//	          of the key (HistKey), numbered as Log2Buckets says
//	lhist     as hist, buckets numbered: 0 below min; i in 1..n for
//	          [min+(i-1)*step, min+i*step); n+1 for max and above, where
//	          n = ceil((max-min)/step)
//
// Hist and lhist maps append an 8-byte bucket index to the user's key, as
// bpftrace does, so that one map entry is one bucket.
const (
	// HistKey is the size of the bucket index appended to hist/lhist keys.
	HistKey = 8
)

// Log2 buckets, bpftrace's numbering: bucket 0 holds negative values,
// bucket 1 holds 0, bucket k+1 (k >= 1) holds [2^(k-1), 2^k); 1 is in
// bucket 2.
const Log2Buckets = 66

// Records sent through the ring buffer start with an 8-byte kind, then
// (for printf and the like) an 8-byte index into the program's table of
// formats, then the arguments laid out as a tuple.
type RecordKind uint64

// Record kinds.
const (
	RecordPrintf      RecordKind = iota + 1 // u64 format index, args tuple
	RecordExit                              // u64 exit code
	RecordPrint                             // u64 map index[, u64 top, u64 div]: print(@map[, top, div]); without them, 0 and 0
	RecordClear                             // u64 map index: clear(@map)
	RecordZero                              // u64 map index: zero(@map)
	RecordTime                              // u64 format index: time(fmt)
	RecordPrintValue                        // u64 value index, value: print(expr)
	RecordCat                               // u64 format index, args tuple: cat()
	RecordSystem                            // u64 format index, args tuple: system()
	RecordJoin                              // u64 format index (the separator), then JoinArgs strings of JoinArgSize bytes: join()
	RecordHelperError                       // u64 helper-error index, i64 return value: a helper failed (-k)
)

// RecordHeader is the size of kind + index.
const RecordHeader = 16
