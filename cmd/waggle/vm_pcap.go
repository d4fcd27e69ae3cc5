package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/cilium/ebpf"
	"github.com/spf13/cobra"
	"github.com/wagglebpf/waggle/internal/pcap"
	"github.com/wagglebpf/waggle/vm"
)

type vmTestFlags struct {
	pcap     string
	prog     string
	typ      string
	output   string
	maxSteps uint64
	noVerify bool
}

func newVMTestCommand() *cobra.Command {
	var f vmTestFlags
	cmd := &cobra.Command{
		Use:   "test PROGRAM.o|BYTECODE --pcap FILE",
		Short: "Run a packet program over every packet of a capture and count its verdicts",
		Long: `Run an XDP, socket-filter or tc program in waggle's user-space interpreter over
every packet of a pcap or pcapng file, and print how many packets got each verdict.
No root and no network interface are needed.

The program type comes from --type, else from the ELF section name (xdp, socket, tc,
classifier, ...); raw bytecode needs --type. XDP programs get a struct xdp_md with
ingress_ifindex 1; socket filters and tc programs get a struct __sk_buff over the
packet, which the legacy LD_ABS/LD_IND loads read as in the kernel.

Only Ethernet captures (LINKTYPE_ETHERNET) can be run: packets of other link types
(raw IP, Linux cooked captures, loopback) are counted as errors. A program fault on
one packet is counted and does not stop the others; the first error of each kind
is printed.

The program is checked by waggle's static verifier first (see waggle verify), as a
program of the type it runs as; a rejected program is not run unless --no-verify is
given, which leaves only the interpreter's run-time checks.`,
		Example: `  waggle vm test filter.bpf.o --pcap trace.pcap
  waggle vm test drop.bin --type xdp --pcap trace.pcapng -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runVMTest(args[0], &f, cmd.OutOrStdout())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.pcap, "pcap", "", "capture file (pcap or pcapng) whose packets are run")
	fl.StringVar(&f.prog, "prog", "", "program to run from an ELF object")
	fl.StringVar(&f.typ, "type", "", "program type: xdp, socket or tc (default: from the ELF section)")
	fl.StringVarP(&f.output, "output", "o", "text", "output format: text or json")
	fl.Uint64Var(&f.maxSteps, "max-steps", 0, "instruction budget per packet (0: the VM's default)")
	fl.BoolVar(&f.noVerify, "no-verify", false, "run without waggle's verifier, with only the interpreter's run-time checks")
	return cmd
}

// vmTestResult is the outcome of a run over a capture; it is also the
// JSON object that -o json prints.
type vmTestResult struct {
	Program    string           `json:"program"`
	Type       string           `json:"type"`
	Capture    string           `json:"capture"`
	Packets    int              `json:"packets"`
	Verdicts   map[string]int   `json:"verdicts"`
	BytesKept  *int             `json:"bytes_kept,omitempty"` // socket filters
	BytesTotal *int             `json:"bytes_total,omitempty"`
	Errors     int              `json:"errors"`
	ErrorKinds []vmTestErrorSum `json:"error_kinds"`

	order map[string]int64 // verdict name -> sort key
}

// vmTestErrorSum counts one kind of error and keeps its first message.
type vmTestErrorSum struct {
	Kind  string `json:"kind"`
	Count int    `json:"count"`
	First string `json:"first"`
}

func (r *vmTestResult) verdict(name string, key int64) {
	r.Verdicts[name]++
	r.order[name] = key
}

func (r *vmTestResult) fail(index int, kind string, err error) {
	r.Errors++
	for i := range r.ErrorKinds {
		if r.ErrorKinds[i].Kind == kind {
			r.ErrorKinds[i].Count++
			return
		}
	}
	r.ErrorKinds = append(r.ErrorKinds, vmTestErrorSum{Kind: kind, Count: 1, First: fmt.Sprintf("packet %d: %v", index, err)})
}

// errorKind names the cause of a run error.
func errorKind(err error) string {
	for _, e := range []error{vm.ErrOutOfBounds, vm.ErrMisaligned, vm.ErrBudget, vm.ErrCallDepth,
		vm.ErrUnknownHelper, vm.ErrFellOff, vm.ErrNotSupported} {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	return "other"
}

func tcActName(v int32) string {
	names := map[int32]string{
		vm.TCActUnspec: "TC_ACT_UNSPEC", vm.TCActOK: "TC_ACT_OK", vm.TCActReclassify: "TC_ACT_RECLASSIFY",
		vm.TCActShot: "TC_ACT_SHOT", vm.TCActPipe: "TC_ACT_PIPE", vm.TCActStolen: "TC_ACT_STOLEN",
		vm.TCActQueued: "TC_ACT_QUEUED", vm.TCActRepeat: "TC_ACT_REPEAT", vm.TCActRedirect: "TC_ACT_REDIRECT",
	}
	if n, ok := names[v]; ok {
		return n
	}
	return fmt.Sprintf("TC_ACT_UNKNOWN(%d)", v)
}

func runVMTest(path string, f *vmTestFlags, out io.Writer) error {
	if f.output != "text" && f.output != "json" {
		return fmt.Errorf("-o %s: expected text or json", f.output)
	}
	if f.pcap == "" {
		return errors.New("--pcap FILE is required")
	}
	src, err := openVMSource(path, f.prog)
	if err != nil {
		return err
	}
	kind := inputRaw
	if src.prog != nil {
		kind = vmInputOf(src.progType(), src.section())
	}
	switch f.typ {
	case "":
		if kind == inputRaw {
			if src.prog == nil {
				return fmt.Errorf("%s: raw bytecode has no section to tell its type: pass --type xdp, socket or tc", path)
			}
			return fmt.Errorf("%s: section %q is not an XDP, socket-filter or tc program: pass --type xdp, socket or tc", path, src.section())
		}
	case "xdp":
		kind = inputXDP
	case "socket":
		kind = inputSocket
	case "tc":
		kind = inputTC
	default:
		return fmt.Errorf("--type %s: expected xdp, socket or tc", f.typ)
	}
	// Verify the program as the type whose context it is given.
	g := vmGate{noVerify: f.noVerify}
	if vmInputOf(src.progType(), "") != kind {
		g.typ = map[vmInput]ebpf.ProgramType{inputXDP: ebpf.XDP, inputSocket: ebpf.SocketFilter, inputTC: ebpf.SchedCLS}[kind]
	}
	coll, prog, err := src.load(g)
	if err != nil {
		return err
	}
	file, err := os.Open(f.pcap)
	if err != nil {
		return err
	}
	defer file.Close()
	rd, err := pcap.Open(file)
	if err != nil {
		return fmt.Errorf("%s: %w", f.pcap, err)
	}

	res := &vmTestResult{Program: path, Type: kind.String(), Capture: f.pcap, Verdicts: map[string]int{},
		ErrorKinds: []vmTestErrorSum{}, order: map[string]int64{}}
	if kind == inputSocket {
		res.BytesKept, res.BytesTotal = new(int), new(int)
	}
	helpers := vm.MapHelpers()
	for id, h := range vm.KernelHelpers(vm.HelperConfig{}) {
		helpers[id] = h
	}
	var before map[string]map[string][]byte
	if coll != nil {
		before = snapshotVMMaps(coll)
	}
	opts := vm.RunOptions{Helpers: helpers, MaxSteps: f.maxSteps}
	for {
		pkt, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: %w", f.pcap, err)
		}
		res.Packets++
		idx := res.Packets
		if pkt.LinkType != pcap.LinkTypeEthernet {
			res.fail(idx, "unsupported link type", fmt.Errorf("link type %s: only Ethernet captures can be run", pcap.LinkTypeName(pkt.LinkType)))
			continue
		}
		ctx, err := vmPacketContext(kind, pkt.Data)
		if err != nil {
			res.fail(idx, "context", err)
			continue
		}
		for id, h := range ctx.Helpers() {
			helpers[id] = h
		}
		r0, err := ctx.Run(prog, opts)
		if err != nil {
			res.fail(idx, errorKind(err), err)
			continue
		}
		switch kind {
		case inputXDP:
			a := vm.XDPVerdict(r0)
			res.verdict(a.String(), int64(a))
		case inputTC:
			v := int32(uint32(r0))
			res.verdict(tcActName(v), int64(v))
		case inputSocket:
			n := vm.SocketFilterVerdict(r0, len(pkt.Data))
			*res.BytesTotal += len(pkt.Data)
			*res.BytesKept += n
			if n == 0 {
				res.verdict("dropped", 1)
			} else {
				res.verdict("kept", 0)
			}
		}
	}
	if f.output == "json" {
		enc := json.NewEncoder(out)
		return enc.Encode(res)
	}
	printVMTest(out, res)
	if coll != nil {
		return printChangedVMMaps(out, coll, before)
	}
	return nil
}

func printVMTest(out io.Writer, res *vmTestResult) {
	fmt.Fprintf(out, "packets: %d\n", res.Packets)
	names := make([]string, 0, len(res.Verdicts))
	width := 12
	for n := range res.Verdicts {
		names = append(names, n)
		width = max(width, len(n)+1)
	}
	sort.Slice(names, func(i, j int) bool { return res.order[names[i]] < res.order[names[j]] })
	for _, n := range names {
		fmt.Fprintf(out, "%-*s %5d\n", width, n, res.Verdicts[n])
	}
	if res.BytesKept != nil {
		fmt.Fprintf(out, "bytes kept: %d of %d\n", *res.BytesKept, *res.BytesTotal)
	}
	if res.Errors > 0 {
		fmt.Fprintf(out, "errors: %d\n", res.Errors)
		for _, e := range res.ErrorKinds {
			fmt.Fprintf(out, "  %d %s, first: %s\n", e.Count, e.Kind, e.First)
		}
	}
}
