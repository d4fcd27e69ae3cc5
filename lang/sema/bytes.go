package sema

import (
	"net/netip"
	"strings"

	"github.com/wagglebpf/waggle/lang/ast"
	"github.com/wagglebpf/waggle/lang/layout"
)

// The functions of this file make values that user space renders from raw
// bytes or numbers: strftime, buf, ntop, pton, macaddr, strerror,
// syscall_name, join, and the address-space markers kptr and uptr.

// MacSize is the size of a macaddr() value.
const MacSize = 6

// Names of the integer-like values that print through a user-space table
// (KindText values).
const (
	StrerrorName    = "strerror"
	SyscallNameName = "syscall_name"
)

// isByteArray reports whether t is an array of bytes of n bytes (n 0 for
// any length): a C char or u8 array, or a fixed string from a tracepoint
// (string literals are ruled out before).
func isByteArray(t *ast.Type, n int) bool {
	switch {
	case t.Kind == ast.KindArray && t.Elem != nil && t.Elem.Kind == ast.KindInt && t.Elem.Size == 1:
	case t.Kind == ast.KindString:
	default:
		return false
	}
	return n == 0 || t.Size == n
}

// bytesCall checks the functions of this file.
func (c *checker) bytesCall(e *ast.Call) *ast.Type {
	switch e.Func {
	case "buf", "ntop", "macaddr", "strerror", "syscall_name", "kptr", "uptr":
		// Their arguments are addresses, arrays and numbers, never text
		// written in the script.
		for _, a := range e.Args {
			if l, ok := a.(*ast.StrLit); ok {
				c.errorf(l, "%s() does not take a string literal", e.Func)
				return nil
			}
		}
	}
	nargs := func(lo, hi int) bool {
		if len(e.Args) >= lo && len(e.Args) <= hi {
			return true
		}
		if lo == hi {
			c.errorf(e, "%s() takes %d argument%s", e.Func, lo, plural(lo))
		} else {
			c.errorf(e, "%s() takes %d or %d arguments", e.Func, lo, hi)
		}
		return false
	}
	switch e.Func {
	case "strftime":
		if !nargs(2, 2) {
			return nil
		}
		f, ok := e.Args[0].(*ast.StrLit)
		if !ok {
			c.errorf(e.Args[0], "strftime()'s format must be a string literal")
			return nil
		}
		c.expr(f)
		t := c.expr(e.Args[1])
		if t == nil {
			return nil
		}
		if !isInt(t) {
			c.errorf(e.Args[1], "strftime() expects an integer timestamp in nanoseconds, not %s", t)
			return nil
		}
		// The format travels in the type: the value is the 8-byte time.
		return &ast.Type{Kind: ast.KindTimestamp, Size: 8, Name: f.Value}
	case "buf":
		return c.bufCall(e, nargs)
	case "ntop":
		if !nargs(1, 2) {
			return nil
		}
		addr := e.Args[len(e.Args)-1]
		if len(e.Args) == 2 {
			t := c.expr(e.Args[0])
			if t == nil {
				return nil
			}
			if !isInt(t) {
				c.errorf(e.Args[0], "ntop()'s address family must be an integer (AF_INET 2 or AF_INET6 10), not %s", t)
				return nil
			}
		}
		t := c.expr(addr)
		if t == nil {
			return nil
		}
		if t.Kind != ast.KindInt && !isByteArray(t, 4) && !isByteArray(t, 16) {
			c.errorf(addr, "ntop() expects an integer or a 4- or 16-byte array, not %s", t)
			return nil
		}
		return &ast.Type{Kind: ast.KindInet, Size: layout.InetSize}
	case "pton":
		if !nargs(1, 1) {
			return nil
		}
		s, ok := e.Args[0].(*ast.StrLit)
		if !ok {
			c.errorf(e.Args[0], "pton() expects a string literal")
			return nil
		}
		c.expr(s)
		b, ok := Pton(s.Value)
		if !ok {
			c.errorf(e.Args[0], "pton() expects a valid IPv4/IPv6 address, got %s", s.Value)
			return nil
		}
		return &ast.Type{Kind: ast.KindArray, Size: len(b), Len: len(b), Elem: ast.Uint8}
	case "macaddr":
		if !nargs(1, 1) {
			return nil
		}
		t := c.expr(e.Args[0])
		if t == nil {
			return nil
		}
		switch {
		case t.Kind == ast.KindPtr || t.Kind == ast.KindInt:
		case isByteArray(t, 0) && t.Size >= MacSize:
		default:
			c.errorf(e.Args[0], "macaddr() expects a pointer or an array of at least 6 bytes, not %s", t)
			return nil
		}
		return &ast.Type{Kind: ast.KindMac, Size: MacSize}
	case "strerror", "syscall_name":
		if !nargs(1, 1) {
			return nil
		}
		t := c.expr(e.Args[0])
		if t == nil {
			return nil
		}
		if !isInt(t) {
			c.errorf(e.Args[0], "%s() expects an integer, not %s", e.Func, t)
			return nil
		}
		return &ast.Type{Kind: ast.KindText, Size: 8, Name: e.Func}
	case "kptr", "uptr":
		if !nargs(1, 1) {
			return nil
		}
		t := c.expr(e.Args[0])
		if t == nil {
			return nil
		}
		if t.Kind != ast.KindPtr && t.Kind != ast.KindInt {
			c.errorf(e.Args[0], "%s() expects a pointer or an address, not %s", e.Func, t)
			return nil
		}
		// The same type in the other address space.
		marked := *t
		marked.User = e.Func == "uptr"
		return &marked
	case "join":
		if !nargs(1, 2) {
			return nil
		}
		t := c.expr(e.Args[0])
		if t == nil {
			return nil
		}
		if t.Kind != ast.KindPtr && t.Kind != ast.KindInt {
			c.errorf(e.Args[0], "join() expects an array of strings (char *[]), like args.argv, not %s", t)
			return nil
		}
		if len(e.Args) == 2 {
			s, ok := e.Args[1].(*ast.StrLit)
			if !ok {
				c.errorf(e.Args[1], "join()'s separator must be a string literal")
				return nil
			}
			c.expr(s)
		}
		return ast.None
	}
	c.errorf(e, "unknown function %s()", e.Func)
	return nil
}

// bufCall checks buf(p, n), buf(array) and buf(array, n).
func (c *checker) bufCall(e *ast.Call, nargs func(lo, hi int) bool) *ast.Type {
	if !nargs(1, 2) {
		return nil
	}
	t := c.expr(e.Args[0])
	if t == nil {
		return nil
	}
	maxLen := c.info.Config.MaxStrlen
	size := maxLen
	switch {
	case t.Kind == ast.KindPtr || t.Kind == ast.KindInt:
		if len(e.Args) == 1 {
			c.errorf(e, "buf() of a pointer needs a length: buf(p, n)")
			return nil
		}
	case t.Kind == ast.KindArray || t.Kind == ast.KindString:
		size = min(t.Size, maxLen)
	default:
		c.errorf(e.Args[0], "buf() expects a pointer or an array, not %s", t)
		return nil
	}
	if len(e.Args) == 2 {
		nt := c.expr(e.Args[1])
		if nt == nil {
			return nil
		}
		if !isInt(nt) {
			c.errorf(e.Args[1], "buf()'s length must be an integer, not %s", nt)
			return nil
		}
		if v, ok := constInt(e.Args[1]); ok {
			if v < 1 {
				c.errorf(e.Args[1], "buf()'s length must be at least 1, not %d", v)
				return nil
			}
			// Longer than max_strlen is cut to it, as bpftrace does.
			size = int(min(v, int64(size)))
		}
	}
	if size < 1 {
		c.errorf(e.Args[0], "buf() of an empty array")
		return nil
	}
	return &ast.Type{Kind: ast.KindBuffer, Size: size}
}

// Pton converts an IPv4 or IPv6 address in text to its 4 or 16 bytes in
// network order, as pton() does while compiling: the family is IPv6 when
// the text has a ':', IPv4 otherwise.
func Pton(s string) ([]byte, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return nil, false
	}
	if strings.Contains(s, ":") {
		b := a.As16()
		return b[:], true
	}
	if !a.Is4() {
		return nil, false
	}
	b := a.As4()
	return b[:], true
}
