package feature

import "github.com/cilium/ebpf/features"

// instructions asks which instruction set levels and verifier abilities
// the kernel has, by loading programs that need them.
func (p *prober) instructions() []Answer {
	levels := []struct {
		name  string
		probe func() error
		what  string
	}{
		{"v2", features.HaveV2ISA, "the v2 instructions (jlt, jle, jslt, jsle)"},
		{"v3", features.HaveV3ISA, "the v3 instructions (32-bit jumps)"},
		{"v4", features.HaveV4ISA, "the v4 instructions (sign extension, gotol, bswap, signed division)"},
	}
	// isa is the highest level whose levels below all load.
	isa := Answer{Name: "isa", Status: Yes, Value: "v1"}
	var out []Answer
	climbing := true
	for _, l := range levels {
		a := p.classify("isa_"+l.name, l.probe(), "the verifier does not accept "+l.what)
		out = append(out, a)
		switch {
		case !climbing:
		case a.Status == Yes:
			isa.Value = l.name
		case a.Status == Unknown:
			isa.Status, isa.Reason, climbing = Unknown, "isa_"+l.name+" is unknown: "+a.Reason, false
		default:
			climbing = false
		}
	}
	out = append([]Answer{isa}, out...)
	out = append(out,
		p.classify("bounded_loops", features.HaveBoundedLoops(), "the verifier rejects loops (Linux 5.3 accepts bounded ones)"),
		p.classify("large_programs", features.HaveLargeInstructions(), "programs are limited to 4096 instructions (Linux 5.2 raised the limit to a million)"),
	)
	return out
}
