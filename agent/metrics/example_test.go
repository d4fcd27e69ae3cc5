package metrics_test

import (
	"fmt"

	"github.com/wagglebpf/waggle/agent/metrics"
)

// A configuration names the maps of an object that become metrics; their
// labels come from the keys' BTF members.
func ExampleParseConfig() {
	c, err := metrics.ParseConfig([]byte(`
objects:
  - path: biolatency.bpf.o
    metrics:
      - name: bio_latency_seconds
        type: histogram
        map: hists
        labels: [{member: dev, name: disk}]
        histogram: {kind: log2, multiplier: 1e-6}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	o := c.Objects[0]
	m := o.Metrics[0]
	fmt.Printf("%s: %s_%s, a %s of map %s, %s buckets\n", o.Name, c.PrefixOrDefault(), m.Name, m.Type, m.Map, m.Histogram.Kind)

	_, err = metrics.ParseConfig([]byte("objects: [{path: a.o, metrics: [{name: x, type: countr, map: m}]}]"))
	fmt.Println(err)
	// Output:
	// biolatency: waggle_bio_latency_seconds, a histogram of map hists, log2 buckets
	// invalid configuration: objects[0].metrics[0].type: "countr": expected counter, gauge or histogram
}
