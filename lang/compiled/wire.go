package compiled

// The JSON document of format version 1. Types are referred to by their
// 1-based index in Types (0: none); a type refers only to types before
// it, so that a document cannot describe a cycle. Instructions are
// referred to by their index in the program, not by byte offset, except
// in Sources, which keep codegen's raw offsets.

type document struct {
	File         text             `json:"file"`
	Source       text             `json:"source"`
	Params       []text           `json:"params,omitempty"`
	NamedArgs    []namedArg       `json:"named_args,omitempty"`
	PID          int              `json:"pid,omitempty"`
	Unsafe       bool             `json:"unsafe,omitempty"`
	HelperErrors bool             `json:"helper_errors,omitempty"`
	Config       wireConfig       `json:"config"`
	Assumes      wireAssumptions  `json:"assumes"`
	KernelMaps   []wireMapSpec    `json:"kernel_maps"`
	Programs     []wireProgram    `json:"programs"`
	Probes       []wireProbe      `json:"probes"`
	Formats      []wireFormat     `json:"formats,omitempty"`
	Maps         []wireMap        `json:"maps,omitempty"`
	Values       []int            `json:"values,omitempty"`
	HelperCalls  []wireHelperCall `json:"helper_calls,omitempty"`
	Types        []wireType       `json:"types,omitempty"`
	// BTF holds the C types of records printed whole and the function
	// info of programs with subprograms, as raw little-endian BTF.
	BTF []byte `json:"btf,omitempty"`
}

type namedArg struct {
	Name  text `json:"name"`
	Value text `json:"value"`
}

type wireConfig struct {
	MaxStrlen        int  `json:"max_strlen"`
	MaxMapKeys       int  `json:"max_map_keys"`
	PrintMapsOnExit  bool `json:"print_maps_on_exit"`
	MissingProbesErr bool `json:"missing_probes_error"`
}

// span is a source range: start offset, line, column, end offset, line,
// column.
type span [6]int

type wireMapSpec struct {
	Name       text   `json:"name"`
	Type       uint32 `json:"type"` // the kernel's bpf_map_type
	KeySize    uint32 `json:"key_size,omitempty"`
	ValueSize  uint32 `json:"value_size,omitempty"`
	MaxEntries uint32 `json:"max_entries,omitempty"`
	Flags      uint32 `json:"flags,omitempty"`
}

type wireProgram struct {
	Name       text   `json:"name"`
	Type       uint32 `json:"type"` // the kernel's bpf_prog_type
	AttachType uint32 `json:"attach_type,omitempty"`
	AttachTo   text   `json:"attach_to,omitempty"`
	License    text   `json:"license"`
	// Code is the instructions in the kernel's encoding, little-endian,
	// with jump offsets and map and function references unresolved: the
	// loader resolves them from Symbols and References.
	Code       []byte      `json:"code"`
	Symbols    []insnName  `json:"symbols,omitempty"`
	References []insnName  `json:"references,omitempty"`
	Relocs     []wireReloc `json:"relocs,omitempty"`
	Funcs      []insnBTF   `json:"funcs,omitempty"`
}

// insnName names instruction Insn (a label, or what it refers to).
type insnName struct {
	Insn int  `json:"insn"`
	Name text `json:"name"`
}

// insnBTF gives instruction Insn a BTF function (the start of a function).
type insnBTF struct {
	Insn int    `json:"insn"`
	BTF  uint32 `json:"btf"`
}

// wireReloc is a CO-RE relocation: the offset of Path in Root.
type wireReloc struct {
	Insn  int    `json:"insn"`
	Root  text   `json:"root"` // "struct task_struct"
	Path  []text `json:"path"`
	Local int    `json:"local"`
}

type wirePoint struct {
	At       span   `json:"at"`
	Raw      text   `json:"raw"`
	Provider text   `json:"provider"`
	Parts    []text `json:"parts,omitempty"`
}

type wireProbe struct {
	Program text      `json:"program"`
	Kind    string    `json:"kind"` // "BEGIN", "tracepoint", ...
	Name    text      `json:"name"`
	At      span      `json:"at"` // the whole probe
	Point   wirePoint `json:"point"`
	// The instance's attach point, resolved.
	Group     text       `json:"group,omitempty"`
	Event     text       `json:"event,omitempty"`
	Func      text       `json:"func,omitempty"`
	Offset    uint64     `json:"offset,omitempty"`
	Binary    text       `json:"binary,omitempty"`
	Symbol    text       `json:"symbol,omitempty"`
	PerfEvent text       `json:"perf_event,omitempty"`
	Period    uint64     `json:"period,omitempty"`
	Freq      uint64     `json:"freq,omitempty"`
	OneCPU    bool       `json:"one_cpu,omitempty"`
	USDT      *wireUSDT  `json:"usdt,omitempty"`
	Target    wireTarget `json:"target"`
	Sources   []wireSpan `json:"sources,omitempty"`
}

type wireSpan struct {
	Offset int  `json:"offset"` // raw instruction offset
	At     span `json:"at"`
}

type wireUSDT struct {
	Path            text   `json:"path"`
	Provider        text   `json:"provider"`
	Name            text   `json:"name"`
	PC              uint64 `json:"pc"`
	Offset          uint64 `json:"offset"`
	Base            uint64 `json:"base,omitempty"`
	Semaphore       uint64 `json:"semaphore,omitempty"`
	SemaphoreOffset uint64 `json:"semaphore_offset,omitempty"`
	Arch            string `json:"arch"`
	ArgSpec         text   `json:"arg_spec,omitempty"`
}

type wireTarget struct {
	Kind         string `json:"kind"` // attach's names: "tracepoint", "uprobe", ...
	Section      text   `json:"section,omitempty"`
	Group        text   `json:"group,omitempty"`
	Name         text   `json:"name,omitempty"`
	Offset       uint64 `json:"offset,omitempty"`
	UprobeBinary text   `json:"uprobe_binary,omitempty"`
	UprobeSymbol text   `json:"uprobe_symbol,omitempty"`
	UprobeOffset uint64 `json:"uprobe_offset,omitempty"`
	PerfEvent    text   `json:"perf_event,omitempty"`
	Period       uint64 `json:"period,omitempty"`
	Frequency    uint64 `json:"frequency,omitempty"`
	OneCPU       bool   `json:"one_cpu,omitempty"`
}

type wireFormat struct {
	Text text  `json:"text"`
	Args []int `json:"args,omitempty"`
}

type wireMap struct {
	Name    text `json:"name"`
	BPFName text `json:"kernel_map"`
	Key     int  `json:"key,omitempty"`
	Value   int  `json:"value"`
	PerCPU  bool `json:"per_cpu,omitempty"`
	Cell    bool `json:"cell,omitempty"`
}

type wireHelperCall struct {
	Helper text `json:"helper"`
	At     span `json:"at"`
}

// wireType is an ast.Type. Elem and Elems are type references.
type wireType struct {
	Kind   string `json:"kind"`
	Size   int    `json:"size,omitempty"`
	Signed bool   `json:"signed,omitempty"`
	Elems  []int  `json:"elems,omitempty"`
	Elem   int    `json:"elem,omitempty"`
	Len    int    `json:"len,omitempty"`
	User   bool   `json:"user,omitempty"`
	Name   text   `json:"name,omitempty"`
	BTF    uint32 `json:"btf,omitempty"` // type ID in the document's BTF
	Min    int64  `json:"min,omitempty"`
	Max    int64  `json:"max,omitempty"`
	Step   int64  `json:"step,omitempty"`
	Cast   bool   `json:"cast,omitempty"`
}

type wireAssumptions struct {
	Arch          string           `json:"arch"`
	Kernel        text             `json:"kernel,omitempty"`
	NCPUs         int              `json:"ncpus,omitempty"`
	RingBuf       bool             `json:"ring_buffer,omitempty"`
	Tracepoints   []wireTracepoint `json:"tracepoints,omitempty"`
	KernelSymbols []wireSymbol     `json:"kernel_symbols,omitempty"`
	UserSymbols   []wireSymbol     `json:"user_symbols,omitempty"`
	Enums         []wireEnum       `json:"enums,omitempty"`
	Sizes         []wireTypeSize   `json:"sizes,omitempty"`
	Records       []wireRecord     `json:"records,omitempty"`
	USDT          []wireUSDTSite   `json:"usdt,omitempty"`
}

type wireTracepoint struct {
	Group  text          `json:"group"`
	Event  text          `json:"event"`
	Fields []wireTPField `json:"fields"`
}

type wireTPField struct {
	Name    text `json:"name"`
	Offset  int  `json:"offset"`
	Size    int  `json:"size"`
	Signed  bool `json:"signed,omitempty"`
	DataLoc bool `json:"data_loc,omitempty"`
	RelLoc  bool `json:"rel_loc,omitempty"`
}

type wireSymbol struct {
	Name text   `json:"name"`
	Addr uint64 `json:"addr"`
}

type wireEnum struct {
	Name  text  `json:"name"`
	Value int64 `json:"value"`
}

type wireTypeSize struct {
	Type  text   `json:"type"`
	Path  []text `json:"path,omitempty"`
	Value int64  `json:"value"`
}

type wireRecord struct {
	Type    text         `json:"type"`
	Size    int          `json:"size"`
	Members []wireMember `json:"members"`
}

type wireMember struct {
	Path      text `json:"path"`
	BitOffset int  `json:"bit_offset"`
	BitSize   int  `json:"bit_size,omitempty"`
	Size      int  `json:"size"`
}

type wireUSDTSite struct {
	Path            text   `json:"path"`
	Provider        text   `json:"provider"`
	Name            text   `json:"name"`
	Offset          uint64 `json:"offset"`
	SemaphoreOffset uint64 `json:"semaphore_offset,omitempty"`
	ArgSpec         text   `json:"arg_spec,omitempty"`
}
