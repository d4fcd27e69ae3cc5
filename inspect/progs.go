package inspect

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cilium/ebpf"
	"github.com/wagglebpf/waggle/attach"
	"golang.org/x/sys/unix"
)

// ProgInfo describes one loaded BPF program.
type ProgInfo struct {
	ID   uint32 `json:"id"`
	Type string `json:"type"`
	Name string `json:"name"`
	// Tag is the kernel's hash of the program's instructions, in hex.
	Tag string `json:"tag"`
	// LoadedAt is when the program was loaded (zero if unknown).
	LoadedAt time.Time `json:"loaded_at"`
	UID      uint32    `json:"uid"`
	BTFID    uint32    `json:"btf_id,omitempty"`
	// Insns is the number of instruction slots after the kernel's
	// rewrites (what dump --xlated shows); a 64-bit load takes two.
	Insns int `json:"xlated_insns"`
	// VerifiedInsns is how many instructions the verifier processed.
	VerifiedInsns uint32 `json:"verified_insns"`
	JitedBytes    uint32 `json:"bytes_jited"`
	// Memlock is the memory the program is charged for, in bytes.
	Memlock uint64   `json:"bytes_memlock"`
	MapIDs  []uint32 `json:"map_ids"`
	// Pids are the processes holding a file descriptor to the program.
	Pids []Process `json:"pids,omitempty"`
	// Pinned are the program's paths under /sys/fs/bpf.
	Pinned []string `json:"pinned,omitempty"`
	// Attach are the places the program runs from.
	Attach []AttachPoint `json:"attach,omitempty"`
	// Run statistics, counted only while kernel.bpf_stats_enabled is on
	// (or a process holds BPF_ENABLE_STATS).
	RunCount        uint64 `json:"run_cnt,omitempty"`
	RunTimeNs       uint64 `json:"run_time_ns,omitempty"`
	RecursionMisses uint64 `json:"recursion_misses,omitempty"`
}

// MeanRunTime is the average time one run took, 0 without runs.
func (p *ProgInfo) MeanRunTime() time.Duration {
	if p.RunCount == 0 {
		return 0
	}
	return time.Duration(p.RunTimeNs / p.RunCount)
}

// ProgSelector picks programs the way bpftool's PROG argument does: by
// ID, name, tag or pin. The zero selector picks every program.
type ProgSelector struct {
	ID     uint32
	Name   string
	Tag    string
	Pinned string
}

// IsZero reports whether s selects every program.
func (s ProgSelector) IsZero() bool { return s == ProgSelector{} }

func (s ProgSelector) String() string {
	switch {
	case s.ID != 0:
		return "id " + strconv.FormatUint(uint64(s.ID), 10)
	case s.Name != "":
		return "name " + s.Name
	case s.Tag != "":
		return "tag " + s.Tag
	case s.Pinned != "":
		return "pinned " + s.Pinned
	}
	return "all programs"
}

// ParseProgSelector reads a program selector from the front of args:
// "ID", "id ID", "name NAME", "tag TAG", "pinned PATH" or a bare path
// starting with "/". It returns the words after it.
func ParseProgSelector(args []string) (ProgSelector, []string, error) {
	const forms = "ID, id ID, name NAME, tag TAG or pinned PATH"
	if len(args) == 0 {
		return ProgSelector{}, nil, errors.New("no program given: name one as " + forms)
	}
	kw := args[0]
	if id, ok := parseID(kw); ok {
		return ProgSelector{ID: id}, args[1:], nil
	}
	if strings.HasPrefix(kw, "/") {
		return ProgSelector{Pinned: kw}, args[1:], nil
	}
	switch kw {
	case "id", "name", "tag", "pinned":
	default:
		return ProgSelector{}, nil, fmt.Errorf("%q is not a program: name one as %s", attach.Shorten(kw), forms)
	}
	if len(args) < 2 || args[1] == "" {
		return ProgSelector{}, nil, fmt.Errorf("%q needs a value after it", kw)
	}
	v := args[1]
	var s ProgSelector
	switch kw {
	case "id":
		id, ok := parseID(v)
		if !ok {
			return ProgSelector{}, nil, fmt.Errorf("%q is not a program ID (a positive number, as waggle prog list shows)", attach.Shorten(v))
		}
		s.ID = id
	case "name":
		s.Name = v
	case "tag":
		t := strings.ToLower(v)
		if len(t) != 16 || strings.Trim(t, "0123456789abcdef") != "" {
			return ProgSelector{}, nil, fmt.Errorf("tag %q is not 16 hex digits (waggle prog list shows tags)", attach.Shorten(v))
		}
		s.Tag = t
	case "pinned":
		s.Pinned = v
	}
	return s, args[2:], nil
}

func parseID(s string) (uint32, bool) {
	n, err := strconv.ParseUint(s, 10, 32)
	return uint32(n), err == nil && n > 0
}

// ProgIDs lists the IDs of the programs sel picks, in ID order. A
// selector that matches nothing is an error that says so.
func ProgIDs(sel ProgSelector) ([]ebpf.ProgramID, error) {
	switch {
	case sel.ID != 0:
		p, err := openProg(ebpf.ProgramID(sel.ID))
		if err != nil {
			return nil, err
		}
		p.Close()
		return []ebpf.ProgramID{ebpf.ProgramID(sel.ID)}, nil
	case sel.Pinned != "":
		p, err := ebpf.LoadPinnedProgram(sel.Pinned, &ebpf.LoadPinOptions{ReadOnly: true})
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("nothing is pinned at %s: %w", sel.Pinned, ErrNoProgram)
			}
			return nil, fmt.Errorf("open the program pinned at %s: %w", sel.Pinned, err)
		}
		defer p.Close()
		info, err := p.Info()
		if err != nil {
			return nil, fmt.Errorf("read the program pinned at %s: %w", sel.Pinned, err)
		}
		id, _ := info.ID()
		return []ebpf.ProgramID{id}, nil
	}
	var ids []ebpf.ProgramID
	for id := ebpf.ProgramID(0); ; {
		next, err := ebpf.ProgramGetNextID(id)
		if errors.Is(err, os.ErrNotExist) {
			break
		}
		if err != nil {
			return nil, errPermission("listing BPF programs", err)
		}
		id = next
		if sel.IsZero() {
			ids = append(ids, id)
			continue
		}
		p, err := ebpf.NewProgramFromID(id)
		if err != nil {
			continue // unloaded since
		}
		info, err := p.Info()
		p.Close()
		if err == nil && (sel.Name != "" && info.Name == sel.Name || sel.Tag != "" && info.Tag == sel.Tag) {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 && !sel.IsZero() {
		return nil, fmt.Errorf("no loaded program has %s (waggle prog list shows them): %w", sel, ErrNoProgram)
	}
	return ids, nil
}

func openProg(id ebpf.ProgramID) (*ebpf.Program, error) {
	p, err := ebpf.NewProgramFromID(id)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("there is no BPF program with ID %d (waggle prog list shows them): %w", id, ErrNoProgram)
		}
		return nil, errPermission(fmt.Sprintf("opening program %d", id), err)
	}
	return p, nil
}

// Programs describes the programs sel picks, with the processes that hold
// them and their attach points, in ID order.
func Programs(sel ProgSelector) ([]ProgInfo, error) {
	ids, err := ProgIDs(sel)
	if err != nil {
		return nil, err
	}
	holders, err := Owners()
	if err != nil {
		return nil, err
	}
	attached := attachIndex(holders)
	pinned := pins()[KindProg]
	boot := bootTime()
	out := make([]ProgInfo, 0, len(ids))
	for _, id := range ids {
		p, err := ebpf.NewProgramFromID(id)
		if err != nil {
			if sel.ID != 0 || sel.Pinned != "" {
				return nil, fmt.Errorf("program %d: %w", id, err)
			}
			continue // unloaded since it was listed
		}
		pi, err := describeProg(p, boot)
		p.Close()
		if err != nil {
			return nil, fmt.Errorf("program %d: %w", id, err)
		}
		pi.Pids = holders.For(KindProg, pi.ID)
		pi.Attach = attached[pi.ID]
		pi.Pinned = pinned[pi.ID]
		out = append(out, *pi)
	}
	return out, nil
}

func describeProg(p *ebpf.Program, boot time.Time) (*ProgInfo, error) {
	info, err := p.Info()
	if err != nil {
		return nil, err
	}
	id, _ := info.ID()
	pi := &ProgInfo{
		ID:   uint32(id),
		Type: ProgramTypeName(info.Type),
		Name: info.Name,
		Tag:  info.Tag,
	}
	if lt, ok := info.LoadTime(); ok && !boot.IsZero() {
		pi.LoadedAt = boot.Add(lt)
	}
	pi.UID, _ = info.CreatedByUID()
	if b, ok := info.BTFID(); ok {
		pi.BTFID = uint32(b)
	}
	if n, err := info.TranslatedSize(); err == nil {
		pi.Insns = n / 8
	}
	pi.VerifiedInsns, _ = info.VerifiedInstructions()
	pi.JitedBytes, _ = info.JitedSize()
	pi.Memlock, _ = info.Memlock()
	maps, _ := info.MapIDs()
	pi.MapIDs = make([]uint32, len(maps))
	for i, m := range maps {
		pi.MapIDs[i] = uint32(m)
	}
	// The counters are there whether or not statistics are on now: they
	// keep what was counted while they were.
	if st, err := p.Stats(); err == nil {
		pi.RunCount = st.RunCount
		pi.RunTimeNs = uint64(st.Runtime)
		pi.RecursionMisses = st.RecursionMisses
	}
	return pi, nil
}

// bootTime is the wall-clock time the kernel's boot-time clock (which
// program load times are on) started; zero if it cannot be read.
func bootTime() time.Time {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return time.Time{}
	}
	return time.Now().Add(-time.Duration(ts.Nano()))
}

// attachIndex gathers every program's attach points: from links, from
// perf event file descriptors (programs attached without a link), and
// from the interfaces' XDP and tc hooks.
func attachIndex(holders *Holders) map[uint32][]AttachPoint {
	idx := map[uint32][]AttachPoint{}
	var r resolver
	infos, err := allLinkInfos()
	if err != nil {
		infos = nil // a kernel without links still has the rest
	}
	for _, info := range infos {
		p := uint32(info.Program)
		idx[p] = addAttachPoint(idx[p], r.linkAttachPoint(info))
	}
	for _, pa := range perfAttachments(holders, &r) {
		idx[pa.ProgID] = addAttachPoint(idx[pa.ProgID], pa.attachPoint())
	}
	if na, err := netAttachments(infos); err == nil {
		for _, a := range na {
			if a.LinkID == 0 { // links are already listed
				idx[a.ProgID] = addAttachPoint(idx[a.ProgID], a.attachPoint())
			}
		}
	}
	for id, list := range idx {
		sort.SliceStable(list, func(i, j int) bool { return list[i].String() < list[j].String() })
		idx[id] = list
	}
	return idx
}

// PinProgram pins the program sel picks (exactly one) at path on a BPF
// filesystem, mounting /sys/fs/bpf first when it is missing and waggle
// runs as root.
func PinProgram(sel ProgSelector, path string) error {
	ids, err := ProgIDs(sel)
	if err != nil {
		return err
	}
	if len(ids) > 1 {
		return fmt.Errorf("%d programs have %s; pin one by its ID (%s)", len(ids), sel, joinIDs(ids))
	}
	if err := prepareBPFFSPath(path); err != nil {
		return err
	}
	p, err := openProg(ids[0])
	if err != nil {
		return err
	}
	defer p.Close()
	if err := p.Pin(path); err != nil {
		return pinError(fmt.Sprintf("program %d", ids[0]), path, err)
	}
	return nil
}
