package jit

// UsesProofs reports whether c makes some accesses without checks because
// the verifier proved them, for the tests of package jit_test.
func UsesProofs(c *Code) bool { return c.exec.asm.UsesProofs }
