// Package output prints what programs of the tracing language print,
// exactly as bpftrace does, in text and in bpftrace's -f json (one object a
// line, {"type": ..., "data": ...}).
//
// It reads bytes laid out as package layout describes, which is what the
// code generator writes: maps at exit and for print(@m) ([Printer.PrintMap],
// [Printer.Exit]), the records probes send through the ring buffer
// ([Printer.Record]: printf, time, print, exit and the rest), and the fixed
// messages of a tracing session ([Printer.AttachedProbes],
// [Printer.LostEvents]). printf's conversions are [Sprintf]; [CheckFormat]
// is their compile-time check.
//
// The reference is the current bpftrace (0.2x), which prints through C++
// streams: where its output differs from Debian's 0.17 or from C's printf,
// this package follows the current one, and the doc comments say where.
// Histograms are drawn by internal/histogram, shared with btfprint.
//
// Nothing here touches the kernel: reading a map for print(@m), clearing
// one, reading a file for cat() and running system() are the caller's, as
// the [Action] a record returns says.
package output
