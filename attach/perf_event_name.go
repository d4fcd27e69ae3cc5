package attach

import "golang.org/x/sys/unix"

// PerfEventName names a software or hardware perf event by its type and
// config ("software", "cpu-clock"), the reverse of SoftwareEvent and
// HardwareEvent. ok is false for other types and unknown configs.
func PerfEventName(typ uint32, config uint64) (kind, name string, ok bool) {
	table := softwareEvents
	switch typ {
	case unix.PERF_TYPE_SOFTWARE:
		kind = "software"
	case unix.PERF_TYPE_HARDWARE:
		kind, table = "hardware", hardwareEvents
	default:
		return "", "", false
	}
	for _, e := range table {
		if e.config == config {
			return kind, e.name, true
		}
	}
	return kind, "", false
}
