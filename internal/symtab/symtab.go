// Package symtab turns addresses into symbols and back, for the tracing
// language's kstack, ustack, ksym, usym, kaddr and uaddr: kernel addresses
// through /proc/kallsyms, user-space addresses through the ELF symbol
// tables of the files a process has mapped. It also prints stacks in
// bpftrace's three formats (FormatStack).
//
// User-space symbolisation keeps what it has read: parsed ELF files are
// shared across processes (keyed by device, inode and modification time),
// and a process's mappings are kept from the first lookup (or an explicit
// Snapshot, or Keep while it exits) on, so addresses captured from a
// process that has exited by the time they are printed still resolve.
package symtab

// Symbol is a named address: a kernel or user-space function (or object).
type Symbol struct {
	// Name is the symbol's name as the symbol table spells it.
	Name string
	// Module is the kernel module ("" for the kernel image, "bpf" for BPF
	// programs) or the path of the mapped file, as /proc/PID/maps lists it.
	Module string
	// Addr is the symbol's start address: for kernel symbols, as
	// /proc/kallsyms lists it; for user-space ones, in the address space
	// of the process (or, from UserAddress without a pid, in the file's
	// own virtual addresses).
	Addr uint64
	// Size is the symbol's size from the ELF symbol table (0 if unknown;
	// kallsyms has no sizes).
	Size uint64
}
