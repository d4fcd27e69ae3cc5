//go:build linux

package jit

import (
	"fmt"

	"golang.org/x/sys/unix"
)

const execSupported = true

// mapExec copies text into fresh memory that is executable and not
// writable: it is mapped read-write, filled, then switched to
// read-execute, so that it is never writable and executable at once.
func mapExec(text []byte) ([]byte, error) {
	n := (len(text) + unix.Getpagesize() - 1) &^ (unix.Getpagesize() - 1)
	mem, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		return nil, fmt.Errorf("jit: map %d bytes: %w", n, err)
	}
	copy(mem, text)
	if err := unix.Mprotect(mem, unix.PROT_READ|unix.PROT_EXEC); err != nil {
		unix.Munmap(mem)
		return nil, fmt.Errorf("jit: make code executable: %w", err)
	}
	return mem, nil
}

func unmapExec(mem []byte) { unix.Munmap(mem) }
