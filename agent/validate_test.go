package agent

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/wagglebpf/waggle/agent/agentpb"
	"github.com/wagglebpf/waggle/objectrun"
)

func TestCheckStartFillsDefaults(t *testing.T) {
	st := &agentpb.Start{Program: []byte("x")}
	if err := checkStart(st, 10); err != nil {
		t.Fatal(err)
	}
	if st.Name != defaultName || st.Options == nil || st.Options.Object == nil {
		t.Errorf("defaults not filled in: %v", st)
	}
	o := ObjectOptions(st.Options)
	if o.Output != "text" || o.Freq != 99 || o.PerfPages != 64 {
		t.Errorf("run's defaults: %+v", o)
	}
}

func TestCheckStartRefuses(t *testing.T) {
	for _, tc := range []struct {
		st   *agentpb.Start
		want string
	}{
		{nil, "must begin with a Start"},
		{&agentpb.Start{}, "the program is empty"},
		{&agentpb.Start{Program: make([]byte, 11)}, "the program is 11 bytes, over the agent's limit of 10"},
		{&agentpb.Start{Program: []byte("x"), Name: strings.Repeat("n", 256)}, "program name is 256 bytes, longer than 255"},
		{&agentpb.Start{Program: []byte("x"), Name: "\xff"}, "not valid UTF-8"},
		{&agentpb.Start{Program: []byte("x"), Options: &agentpb.RunOptions{Pid: -1}}, "pid -1: must be a process ID"},
		{&agentpb.Start{Program: []byte("x"), Options: &agentpb.RunOptions{Object: &agentpb.ObjectOptions{Freq: ptr(uint64(0))}}}, "--freq 0: the sampling frequency must be at least 1 Hz"},
		{&agentpb.Start{Program: []byte("x"), Options: &agentpb.RunOptions{Object: &agentpb.ObjectOptions{Duration: durationpb.New(-time.Second)}}}, "--duration -1s: must not be negative"},
		{&agentpb.Start{Program: []byte("x"), Options: &agentpb.RunOptions{Object: &agentpb.ObjectOptions{Interval: &durationpb.Duration{Seconds: 1, Nanos: -1}}}}, "--interval: not a valid duration"},
		{&agentpb.Start{Program: []byte("x"), Options: &agentpb.RunOptions{Object: &agentpb.ObjectOptions{Set: make([]string, maxListLen+1)}}}, "--set is given 1025 times"},
		{&agentpb.Start{Program: []byte("x"), Options: &agentpb.RunOptions{Object: &agentpb.ObjectOptions{Iface: "eth0\n"}}}, "--iface \"eth0\\n\" holds a control character"},
		{&agentpb.Start{Program: []byte("x"), Options: &agentpb.RunOptions{Object: &agentpb.ObjectOptions{MetricsYaml: "metrics: [{name: x, type: nope, map: m}]"}}}, "--metrics: "},
		{&agentpb.Start{Program: []byte("x"), Options: &agentpb.RunOptions{Object: &agentpb.ObjectOptions{MetricsYaml: "scripts: []"}}}, "--metrics: "},
		{&agentpb.Start{Program: []byte("x"), Options: &agentpb.RunOptions{Object: &agentpb.ObjectOptions{MetricsYaml: strings.Repeat(" ", maxMetricsYAML+1)}}}, "more than 1048576"},
	} {
		err := checkStart(tc.st, 10)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.st, err, tc.want)
		}
	}
}

// FuzzRunRequest decodes a client's first message as the agent does and
// checks it: no input panics, every refusal is a sentence, and what the
// agent accepts, `waggle run` accepts too.
func FuzzRunRequest(f *testing.F) {
	for _, m := range []*agentpb.RunRequest{
		{Msg: &agentpb.RunRequest_Start{Start: &agentpb.Start{Program: []byte("\x7fELF"), Name: "a.bpf.o"}}},
		{Msg: &agentpb.RunRequest_Start{Start: &agentpb.Start{Program: []byte("x"), Kind: agentpb.ProgramKind_PROGRAM_KIND_COMPILED, Detach: true,
			Options: &agentpb.RunOptions{OutputFormat: "json", Pid: 42, Quiet: true, Object: &agentpb.ObjectOptions{
				Set: []string{"target_pid=1"}, Attach: []string{"p=sched:sched_switch"}, Only: []string{"p"}, Iface: "lo",
				Freq: ptr(uint64(49)), PerfPages: ptr(int32(8)), Duration: durationpb.New(time.Second), Interval: durationpb.New(time.Millisecond)}}}}},
		{Msg: &agentpb.RunRequest_Stop{Stop: &agentpb.Stop{}}},
	} {
		b, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var m agentpb.RunRequest
		if err := proto.Unmarshal(data, &m); err != nil {
			return
		}
		st := m.GetStart()
		err := checkStart(st, 1<<20)
		if err != nil {
			if msg := err.Error(); msg == "" || strings.ContainsAny(msg, "\n\x00") || len(msg) > 400 {
				t.Fatalf("refusal is not one short sentence: %q", msg)
			}
			return
		}
		o := ObjectOptions(st.Options)
		if err := o.Check(); err != nil {
			t.Fatalf("the agent accepted options that waggle run refuses: %v", err)
		}
	})
}

func TestRunOptionsRoundTrip(t *testing.T) {
	o := objectrun.Defaults()
	o.Output, o.PID, o.Verbose = "json", 42, true
	o.Sets, o.Attach, o.Only, o.Skip = []string{"a=1"}, []string{"p=t"}, []string{"p"}, []string{"q"}
	o.Iface, o.Cgroup, o.Freq, o.Period = "eth0", "/sys/fs/cgroup/x", 49, 1000
	o.Duration, o.Interval, o.EventType, o.PerCPU, o.PerfPages = time.Minute, time.Second, "struct event", true, 8
	ro, err := RunOptionsFor(o)
	if err != nil {
		t.Fatal(err)
	}
	// Through the wire and the agent's checks, as a Start travels.
	b, err := proto.Marshal(&agentpb.Start{Program: []byte("x"), Options: ro})
	if err != nil {
		t.Fatal(err)
	}
	var st agentpb.Start
	if err := proto.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	if err := checkStart(&st, 10); err != nil {
		t.Fatal(err)
	}
	if back := ObjectOptions(st.Options); !reflect.DeepEqual(back, o) {
		t.Errorf("options changed on the way:\n%+v\n%+v", back, o)
	}
	if back := ObjectOptions(mustRunOptions(t, objectrun.Defaults())); !reflect.DeepEqual(back, objectrun.Defaults()) {
		t.Errorf("defaults changed on the way: %+v", back)
	}

	for _, edit := range []func(*objectrun.Options){
		func(o *objectrun.Options) { o.CommandSet = true },
		func(o *objectrun.Options) { o.List = true },
		func(o *objectrun.Options) { o.PerfPages = 3 },
	} {
		o := objectrun.Defaults()
		edit(&o)
		if _, err := RunOptionsFor(o); err == nil {
			t.Errorf("%+v was accepted", o)
		}
	}
}

func mustRunOptions(t *testing.T, o objectrun.Options) *agentpb.RunOptions {
	t.Helper()
	ro, err := RunOptionsFor(o)
	if err != nil {
		t.Fatal(err)
	}
	return ro
}
