package metrics

// Join exports several sources as one, under one name: the agent exports
// a session's script maps and its programs' statistics as the session.
// The parts' own names are not used.
func Join(name string, parts ...Source) Source {
	j := &joined{name: name, parts: parts}
	for _, p := range parts {
		j.fams = append(j.fams, p.families())
		j.counts = append(j.counts, len(j.fams[len(j.fams)-1]))
	}
	return j
}

type joined struct {
	name   string
	parts  []Source
	fams   [][]family
	counts []int
}

func (j *joined) Name() string { return j.name }

func (j *joined) families() []family {
	var out []family
	for _, f := range j.fams {
		out = append(out, f...)
	}
	return out
}

func (j *joined) collect(em *emitter) {
	first := em.first
	for i, p := range j.parts {
		p.collect(em)
		em.first += j.counts[i]
	}
	em.first = first
}
