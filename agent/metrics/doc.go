// Package metrics exports BPF maps as Prometheus metrics, read when
// Prometheus scrapes and never in between. It is the metrics side of
// `waggle agent --metrics ADDR` and the whole of `waggle export CONFIG`.
//
// An [Exporter] is a prometheus.Collector holding sources, which come and
// go while it serves:
//
//   - [ScriptSource]: the maps of a running tracing-language script, each
//     one a metric named after it;
//   - [ObjectSource]: maps of a clang-built object, chosen and described
//     by a configuration ([Config], [ObjectConfig]) whose labels come from
//     the keys' BTF;
//   - [ProgramSource]: the kernel's run count and run time of programs.
//
// Every scrape also reports the exporter's health: how long reading took
// (PREFIX_exporter_scrape_duration_seconds), errors by source
// (PREFIX_exporter_scrape_errors_total), maps and series read
// (PREFIX_exporter_maps, PREFIX_exporter_series). A map that cannot be
// read is counted and left out; the rest of the scrape goes on.
//
// # Script maps
//
// A script map @name is exported as PREFIX_name (waggle_opens for @opens
// with the default prefix "waggle"); the anonymous map @ is PREFIX_map.
// Map names are identifiers, so nothing else changes. Two maps whose
// names would collide (@x as a histogram exports x_bucket, x_count and
// x_sum) are refused when the source is made.
//
//	count(), sum()          counter
//	min(), max(), avg()     gauge (avg: the average, as bpftrace prints it)
//	integers and bools      gauge
//	stats()                 summary without quantiles: _count and _sum
//	hist(), lhist()         histogram
//	anything else           gauge of 1 with the value in a label "value"
//
// Keys become labels, one per element of a tuple key. Labels are named
// after the expressions the script indexes the map with ([KeyLabels]):
// @opens[comm] gives comm, @bytes[pid, str(args.filename)] pid and
// filename, @x[$fd] fd, @s[kstack] kstack, @k[ksym(ip)] ksym. A part with
// no name of its own (a literal, arithmetic), named differently in two
// places, or named as Prometheus reserves (le in histograms, names
// starting with __), is key0, key1... by its position. Label values are
// what bpftrace prints: strings, symbols (ksym, usym), addresses, cgroup
// paths; a stack is one line, its frames innermost first joined by ';'.
// Keys that print alike (two addresses in one function) are combined as
// their aggregation combines values, since Prometheus takes one sample
// per label set.
//
// Histograms keep bpftrace's buckets, every one of them, each labelled
// with the largest value it holds: Prometheus counts a value in every
// bucket whose le is at least the value, and values are integers, so the
// bucket bpftrace prints as [2, 4) is le="3". A hist() has 66 buckets:
// le="-1" for negative values, "0", "1", then 2^k-1 up to 2^64-1. An
// lhist(x, min, max, step) has le=min-1 for values below min, then
// min+step-1, min+2*step-1, ..., and +Inf for max and above. hist() and
// lhist() keep no sum of the values, so _sum is NaN. Bounds are float64,
// as every Prometheus number, so past 2^53 they are rounded (2^60-1 is
// exported as 2^60).
//
// # Object configuration
//
// `waggle export` reads a YAML file (see testdata/example.yaml):
//
//	listen: 127.0.0.1:9435      # --listen overrides; this is the default
//	prefix: waggle              # the default; "" for none
//	program_stats: true         # run counts and run time of every program
//	objects:
//	  - name: tcp               # default: the file name without .bpf.o
//	    path: tcp.bpf.o         # relative to the configuration file
//	    set: {targ_port: 443}   # globals, as waggle run --set
//	    only: [...]             # skip, attach, iface, cgroup, pid, freq, period: as waggle run
//	    metrics:
//	      - name: connects_total
//	        help: Connections by address.
//	        type: counter       # counter, gauge or histogram
//	        map: connects
//	        labels:             # left out: every member of the key
//	          - member: daddr   # the key's BTF member
//	            name: address   # default: the member's name
//	            decoder: ipv4
//	        value: count        # a member of a struct value
//	scripts:
//	  - path: opens.bt          # or program: 'tracepoint:... { ... }'
//	    params: ["1234"]        # $1, $2...
//	    labels: {"@opens": [command]}
//
// Unknown keys are errors. A map must be a hash, array, per-CPU or LRU
// map declared with BTF key and value types (__type(key, ...)); key and
// value layouts are read from that BTF, never written by hand. Labels
// left out make every member of a struct key a label (a key that is not
// a struct is one label, "key"); "labels: []" makes none. Entries whose
// labels are alike, because members were left out or decode alike, are
// added up (histograms bucket by bucket). The value is the whole value,
// or with value: a member of a struct value; per-CPU values are summed.
// Entries of array maps whose value is all zero are left out, as unused.
//
// Decoders turn a key member into a label value:
//
//	(none)    enums by enumerator name, char arrays as strings, numbers in decimal
//	number    an integer or enum in decimal
//	string    a char array up to its NUL
//	hex       an integer as 0x...
//	ksym      a kernel address as its function's name (from /proc/kallsyms)
//	syscall   a system call number as its name on this architecture
//	errno     an error number (negative or not) as its name: ENOENT
//	ipv4      4 bytes as stored (network order): 10.0.0.1
//	ipv6      16 bytes: 2001:db8::1
//	ip        4 or 16 bytes, by the member's size
//	cgroup    a cgroup v2 id as its path under the hierarchy: /system.slice/x.service
//	static    through values: {0: read, 1: write}; by number, or an
//	          enumerator's name; values not in the table stay as they print
//
// A histogram's buckets are an array of counts in the value (bcc and
// libbpf-tools' struct hist { u32 slots[N]; }, found by the member name
// slots, or named with slots:), or, with bucket: naming a key member,
// one entry per bucket whose key holds the bucket's index (ebpf_exporter's
// layout; the value is the count). Bucket i's bound is, by kind:
//
//	log2     2^(i+1)-1: bucket 0 holds 0 and 1, bucket i [2^i, 2^(i+1)), as log2l() fills them
//	linear   min+(i+1)*step-1: bucket i holds [min+i*step, min+(i+1)*step)
//	exp      start*factor^i (defaults 1 and 2): bucket i holds values up to it
//	fixed    bounds[i]
//
// times multiplier (1e-6 turns microseconds into seconds). There are as
// many buckets as buckets: says, else as the array has, else as the
// highest index seen needs; counts past the last bucket are in +Inf
// alone. The layouts keep no sum, so _sum is NaN.
//
// # Program statistics
//
// With program_stats, the exporter turns the kernel's statistics on
// while it runs ([EnableStats]; kernel.bpf_stats_enabled=1 does the same)
// and exports PREFIX_program_runs_total, PREFIX_program_run_seconds_total
// and PREFIX_program_recursion_misses_total labelled by id, name, type
// and object, and PREFIX_bpf_stats_enabled.
package metrics
