package attach

import "unicode/utf8"

// MaxEcho is how many bytes of a user's value an error message repeats.
const MaxEcho = 64

// Shorten returns s, or its first MaxEcho bytes (cut at a character
// boundary) followed by "..." when it is longer: an error that echoes a
// 120 KB --attach value must not be 120 KB long itself.
func Shorten(s string) string {
	if len(s) <= MaxEcho {
		return s
	}
	n := MaxEcho
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}
