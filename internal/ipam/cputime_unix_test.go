//go:build unix

package ipam

import (
	"syscall"
	"time"
)

// processCPU returns the CPU time (user + system, all threads, GC included)
// the test process has used. Benchmarks report it next to wall time
// because on a shared machine wall time includes time spent descheduled.
func processCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
