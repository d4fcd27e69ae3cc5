package codegen

import (
	"strings"

	"github.com/cilium/ebpf/asm"
	"github.com/wagglebpf/waggle/internal/disasm"
	"github.com/wagglebpf/waggle/lang/layout"
)

// checkHelper follows a helper call with bpftrace's -k check: when it
// returned an error (a negative number in R0), a record says which call
// of the script failed and how, and the program goes on. Without -k it
// emits nothing. Nothing but R0 is live after a helper call, and the
// record's call clobbers only R0-R5.
func (g *gen) checkHelper(fn asm.BuiltinFunc) {
	if !g.opts.HelperErrors {
		return
	}
	idx := len(g.prog.HelperErrors)
	g.prog.HelperErrors = append(g.prog.HelperErrors, HelperError{Helper: helperName(fn), Span: g.cur})
	ok := g.newLabel("helperok")
	size := layout.RecordHeader + 8
	off := g.stack.alloc(size)
	g.emit(
		asm.JSGE.Imm(asm.R0, 0, ok),
		stImm(asm.RFP, off, int64(layout.RecordHelperError)),
		stImm(asm.RFP, off+8, int64(idx)),
		asm.StoreMem(asm.RFP, off+layout.RecordHeader, asm.R0, asm.DWord),
	)
	g.output(off, size)
	g.place(ok)
}

// helperName is a helper's name as bpftrace prints it, the kernel's
// without "bpf_": probe_read_user_str.
func helperName(fn asm.BuiltinFunc) string {
	return strings.TrimPrefix(disasm.HelperName(int32(fn)), "bpf_")
}
