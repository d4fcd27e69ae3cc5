//go:build !linux

package jit

import "errors"

const execSupported = false

func mapExec(text []byte) ([]byte, error) {
	return nil, errors.New("jit: executable memory is not supported on this system")
}

func unmapExec(mem []byte) {}
