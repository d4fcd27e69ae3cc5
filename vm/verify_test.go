package vm

import (
	"errors"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/wagglebpf/waggle/verifier"
)

func TestLoadVerified(t *testing.T) {
	// A tracepoint program returning the u64 at offset 104 of its context.
	insns := asm.Instructions{asm.LoadMem(asm.R0, asm.R1, 104, asm.DWord), asm.Return()}
	p, err := LoadVerified(insns, ebpf.TracePoint, nil, verifier.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rep := p.Verified()
	if rep == nil || !rep.Accepted || rep.ContextBytes != 112 {
		t.Fatalf("report %+v, want accepted with 112 context bytes", rep)
	}
	// A shorter context is zero-extended to what the verifier proved; the
	// program's writes to the caller's bytes stay visible (none here).
	mem := []byte{1, 2, 3}
	r0, err := p.Run(mem, RunOptions{})
	if err != nil || r0 != 0 || string(mem) != "\x01\x02\x03" {
		t.Errorf("short context: r0 %d, %v, mem %x", r0, err, mem)
	}
	full := make([]byte, 112)
	full[104] = 42
	if r0, err := p.Run(full, RunOptions{}); err != nil || r0 != 42 {
		t.Errorf("full context: r0 %d, %v", r0, err)
	}
	// Unverified, the same program faults on the short context: the
	// interpreter's checks are still there.
	u, err := LoadInstructions(insns)
	if err != nil {
		t.Fatal(err)
	}
	if u.Verified() != nil {
		t.Error("an unverified program has a report")
	}
	if _, err := u.Run(mem, RunOptions{}); !errors.Is(err, ErrOutOfBounds) {
		t.Errorf("unverified short context: %v, want an out-of-bounds error", err)
	}
}

func TestLoadVerifiedRejected(t *testing.T) {
	// An XDP program reading the packet without checking data_end.
	insns := asm.Instructions{
		asm.LoadMem(asm.R2, asm.R1, 0, asm.Word),
		asm.LoadMem(asm.R0, asm.R2, 0, asm.Byte),
		asm.Return(),
	}
	p, err := LoadVerified(insns, ebpf.XDP, nil, verifier.Options{})
	var ve *VerifyError
	if p != nil || !errors.As(err, &ve) {
		t.Fatalf("got %v, %v; want a *VerifyError", p, err)
	}
	var rej *verifier.Rejection
	if ve.Type != ebpf.XDP || ve.Report.Accepted || !errors.As(err, &rej) || rej.PC != 1 {
		t.Errorf("VerifyError %+v, rejection %+v", ve, rej)
	}
	if !strings.Contains(err.Error(), "rejected by the verifier as XDP: insn 1") {
		t.Errorf("message %q", err)
	}
	// Malformed input is not a rejection.
	if _, err := LoadVerified(nil, ebpf.XDP, nil, verifier.Options{}); err == nil || errors.As(err, &ve) {
		t.Errorf("empty program: %v", err)
	}
}

func TestCollectionVerifies(t *testing.T) {
	spec := loadFixture(t, "reject.bpf.o")
	_, err := LoadCollection(spec, CollectionOptions{})
	var ve *VerifyError
	if !errors.As(err, &ve) || ve.Program != "bad_deref" || ve.Section != "tracepoint/syscalls/sys_enter_openat" ||
		ve.Type != ebpf.TracePoint || !strings.Contains(ve.Report.Rejection.Reason, "NULL") {
		t.Fatalf("err = %v, want the verifier's rejection of bad_deref", err)
	}
	coll, err := LoadCollection(spec, CollectionOptions{SkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	if coll.Programs["bad_deref"].Verified() != nil {
		t.Error("SkipVerify: the program has a report")
	}
	// The interpreter stops what the verifier refused.
	if _, err := coll.Programs["bad_deref"].Run(make([]byte, 64), RunOptions{Helpers: coll.Helpers(HelperConfig{})}); !errors.Is(err, ErrOutOfBounds) {
		t.Errorf("unverified run: %v, want an out-of-bounds error", err)
	}

	coll, err = LoadCollection(loadFixture(t, "openat_perf.bpf.o"), CollectionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep := coll.Programs["trace_openat_perf"].Verified(); rep == nil || !rep.Accepted || rep.ContextBytes == 0 {
		t.Errorf("report %+v", rep)
	}
}
