// Package inspect answers what eBPF is loaded on this machine: programs,
// maps and links with the processes that hold them, their attach points,
// decoded map contents, BTF rendered as a C header, and the features the
// running kernel supports. It is the library behind `waggle prog`, `map`,
// `link`, `net`, `cgroup`, `perf`, `btf` and `feature`; it reads, it
// never prints.
package inspect
