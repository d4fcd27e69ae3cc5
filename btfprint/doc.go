// Package btfprint renders raw bytes as values of a BTF type.
//
// eBPF programs hand data to user space as plain bytes: ring-buffer and
// perf-buffer records, map keys and values. The object's BTF says what those
// bytes mean, so this package can print them without generated Go structs:
// one value as bpftrace-style text or as JSON ([Text], [JSON]), a stream of
// event records as aligned columns or NDJSON ([EventTable], [EventJSON]), and
// whole maps in bpftrace's map and histogram formats ([PrintMap]).
//
// Data is read in the host's byte order, because the producer is the kernel
// on the same machine. Short or malformed data and types that cannot be
// rendered produce errors, never panics: the bytes come from programs we did
// not write.
package btfprint
