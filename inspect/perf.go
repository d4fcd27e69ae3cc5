package inspect

import (
	"fmt"
	"sort"
)

// PerfAttachment is a program attached to a tracepoint, kprobe, uprobe or
// raw tracepoint through a file descriptor of some process, as
// BPF_TASK_FD_QUERY reports it (bpftool perf list).
type PerfAttachment struct {
	PID      int    `json:"pid"`
	Comm     string `json:"comm"`
	FD       int    `json:"fd"`
	ProgID   uint32 `json:"prog_id"`
	ProgName string `json:"prog_name,omitempty"`
	// Kind is tracepoint, raw_tracepoint, kprobe, kretprobe, uprobe or
	// uretprobe.
	Kind string `json:"kind"`
	// Target is the tracepoint, the kernel function (or address) and
	// offset, or the probed file and offset.
	Target string `json:"target"`
	// LinkID is the link that holds the attachment, when the process
	// made it through one.
	LinkID uint32 `json:"link_id,omitempty"`
}

func (pa PerfAttachment) attachPoint() AttachPoint {
	a := AttachPoint{Kind: pa.Kind, Target: pa.Target}
	if pa.LinkID != 0 {
		a.LinkIDs = []uint32{pa.LinkID}
	} else {
		a.PerfFDs = []FD{{Process{pa.PID, pa.Comm}, pa.FD}}
	}
	return a
}

// perfAttachments asks the kernel about every perf event file descriptor
// holders found. Descriptors without a program, and perf_event programs
// (which BPF_TASK_FD_QUERY does not describe), are skipped.
func perfAttachments(holders *Holders, r *resolver) []PerfAttachment {
	var out []PerfAttachment
	for _, f := range holders.PerfEvents {
		q, err := taskFDQuery(f.PID, f.FD)
		if err != nil || q.progID == 0 {
			continue
		}
		out = append(out, PerfAttachment{PID: f.PID, Comm: f.Comm, FD: f.FD, ProgID: q.progID, Kind: fdTypeName(q.fdType), Target: q.target(r)})
	}
	return out
}

func fdTypeName(t uint32) string {
	if int(t) < len(fdTypeNames) {
		return fdTypeNames[t]
	}
	return fmt.Sprintf("fd type %d", t)
}

// target is the attach point as the other listings spell it.
func (q taskFD) target(r *resolver) string {
	switch q.fdType {
	case fdTypeTracepoint:
		return r.tracepoint(q.name)
	case fdTypeKprobe, fdTypeKretprobe:
		return kprobeTarget(q.name, q.probeOffset, q.probeAddr)
	case fdTypeUprobe, fdTypeUretprobe:
		return fmt.Sprintf("%s+%#x", q.name, q.probeOffset)
	}
	return q.name
}

// PerfAttachments lists the programs attached through perf event file
// descriptors (tracepoints, kprobes, uprobes) and raw tracepoint links,
// with the process holding each, ordered by pid and fd.
func PerfAttachments() ([]PerfAttachment, error) {
	if err := canInspect("listing perf event programs"); err != nil {
		return nil, err
	}
	holders, err := Owners()
	if err != nil {
		return nil, err
	}
	var r resolver
	out := perfAttachments(holders, &r)
	// Raw tracepoints are attached through links (BPF_RAW_TRACEPOINT_OPEN
	// returns one); the link's holders are the processes to show.
	// The kernel answers BPF_TASK_FD_QUERY for those link descriptors.
	for _, l := range holders.linkFDs {
		q, err := taskFDQuery(l.PID, l.FD.FD)
		if err != nil || q.progID == 0 || q.fdType != fdTypeRawTracepoint {
			continue
		}
		out = append(out, PerfAttachment{PID: l.PID, Comm: l.Comm, FD: l.FD.FD, ProgID: q.progID, Kind: fdTypeName(q.fdType), Target: q.target(&r), LinkID: l.id})
	}
	names := progNames{}
	for i := range out {
		out[i].ProgName = names.name(out[i].ProgID)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].PID != out[j].PID {
			return out[i].PID < out[j].PID
		}
		return out[i].FD < out[j].FD
	})
	return out, nil
}
