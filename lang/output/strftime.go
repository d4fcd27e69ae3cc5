package output

import (
	"strconv"
	"strings"
	"time"
)

// Strftime formats t as C's strftime(3) does in the C locale, which is what
// bpftrace's time() calls: %a %A %b %B %c %C %d %D %e %F %g %G %h %H %I %j
// %k %l %m %M %n %p %P %r %R %s %S %t %T %u %U %V %w %W %x %X %y %Y %z %Z
// and %%, with glibc's flags '-' (no padding), '_' (spaces), '0' (zeros),
// '^' (upper case) and '#' (swapped case), a field width, and the E and O
// modifiers (which the C locale ignores). An unknown conversion is copied
// as written, as glibc does.
func Strftime(format string, t time.Time) string {
	return strftime(format, t, false)
}

// strftime is Strftime, with bpftrace's extension for strftime() when ext
// is set: %f, the microseconds, six digits.
func strftime(format string, t time.Time, ext bool) string {
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		start := i
		var pad byte // 0: the conversion's own; '-', '_', '0'
		var upper, swap bool
	flags:
		for i+1 < len(format) {
			switch format[i+1] {
			case '-', '_', '0':
				pad = format[i+1]
			case '^':
				upper = true
			case '#':
				swap = true
			default:
				break flags
			}
			i++
		}
		width := -1
		for i+1 < len(format) && isDigit(format[i+1]) {
			if width < 0 {
				width = 0
			}
			if width < maxWidth {
				width = width*10 + int(format[i+1]-'0')
			}
			i++
		}
		for i+1 < len(format) && (format[i+1] == 'E' || format[i+1] == 'O') {
			i++
		}
		if i+1 >= len(format) {
			b.WriteString(format[start:])
			break
		}
		i++
		s, ok := strftimeConv(format[i], t)
		if ext && format[i] == 'f' {
			s, ok = num(t.Nanosecond()/1000, 6), true
		}
		if !ok {
			b.WriteString(format[start : i+1])
			continue
		}
		b.WriteString(s.render(pad, width, upper, swap))
	}
	return b.String()
}

// field is one converted value: its text, and how it pads by default.
type field struct {
	text    string
	numeric bool // pads with zeros (or spaces under '_'); text pads with spaces
	padWith byte // the conversion's own padding: '0', ' ', or 0 for none
	width   int  // the conversion's own width
	swapUp  bool // '#' makes this field upper case (names); else lower (%p)
}

func num(v, width int) field {
	return field{text: strconv.Itoa(v), numeric: true, padWith: '0', width: width}
}
func spaced(v, width int) field {
	return field{text: strconv.Itoa(v), numeric: true, padWith: ' ', width: width}
}
func str(s string) field { return field{text: s, swapUp: true} }

// render applies the flags and width of the conversion.
func (f field) render(pad byte, width int, upper, swap bool) string {
	text := f.text
	switch {
	case upper:
		text = strings.ToUpper(text)
	case swap && f.swapUp:
		text = strings.ToUpper(text)
	case swap:
		text = strings.ToLower(text)
	}
	w := f.width
	if width >= 0 {
		w = width
	}
	fill := f.padWith
	switch pad {
	case '-':
		// No padding of the conversion's own; an explicit width still
		// pads, with spaces, as glibc does.
		if width < 0 {
			return text
		}
		fill = ' '
	case '_':
		fill = ' '
	case '0':
		fill = '0'
	}
	if fill == 0 {
		fill = ' '
	}
	if f.numeric {
		// Numbers pad after their sign.
		neg := strings.HasPrefix(text, "-")
		digits := strings.TrimPrefix(text, "-")
		if neg {
			w--
		}
		if n := w - len(digits); n > 0 {
			digits = strings.Repeat(string(fill), n) + digits
		}
		if neg {
			return "-" + digits
		}
		return digits
	}
	if n := w - len(text); n > 0 {
		text = strings.Repeat(string(fill), n) + text
	}
	return text
}

// strftimeConv converts one conversion character.
func strftimeConv(c byte, t time.Time) (field, bool) {
	hour12 := t.Hour() % 12
	if hour12 == 0 {
		hour12 = 12
	}
	isoYear, isoWeek := t.ISOWeek()
	switch c {
	case 'a':
		return str(t.Weekday().String()[:3]), true
	case 'A':
		return str(t.Weekday().String()), true
	case 'b', 'h':
		return str(t.Month().String()[:3]), true
	case 'B':
		return str(t.Month().String()), true
	case 'c':
		return str(Strftime("%a %b %e %H:%M:%S %Y", t)), true
	case 'C':
		return num(floorDiv(t.Year(), 100), 2), true
	case 'd':
		return num(t.Day(), 2), true
	case 'D':
		return str(Strftime("%m/%d/%y", t)), true
	case 'e':
		return spaced(t.Day(), 2), true
	case 'F':
		return str(Strftime("%Y-%m-%d", t)), true
	case 'g':
		return num(floorMod(isoYear, 100), 2), true
	case 'G':
		return num(isoYear, 1), true
	case 'H':
		return num(t.Hour(), 2), true
	case 'I':
		return num(hour12, 2), true
	case 'j':
		return num(t.YearDay(), 3), true
	case 'k':
		return spaced(t.Hour(), 2), true
	case 'l':
		return spaced(hour12, 2), true
	case 'm':
		return num(int(t.Month()), 2), true
	case 'M':
		return num(t.Minute(), 2), true
	case 'n':
		return field{text: "\n"}, true
	case 'p':
		if t.Hour() < 12 {
			return str("AM"), true
		}
		return str("PM"), true
	case 'P':
		// '#' lowers %p and raises %P in glibc; %P is already lower.
		if t.Hour() < 12 {
			return field{text: "am"}, true
		}
		return field{text: "pm"}, true
	case 'r':
		return str(Strftime("%I:%M:%S %p", t)), true
	case 'R':
		return str(Strftime("%H:%M", t)), true
	case 's':
		return num(int(t.Unix()), 1), true
	case 'S':
		return num(t.Second(), 2), true
	case 't':
		return field{text: "\t"}, true
	case 'T':
		return str(Strftime("%H:%M:%S", t)), true
	case 'u':
		wd := int(t.Weekday())
		if wd == 0 {
			wd = 7
		}
		return num(wd, 1), true
	case 'U':
		return num((t.YearDay()+6-int(t.Weekday()))/7, 2), true
	case 'V':
		return num(isoWeek, 2), true
	case 'w':
		return num(int(t.Weekday()), 1), true
	case 'W':
		return num((t.YearDay()+6-(int(t.Weekday())+6)%7)/7, 2), true
	case 'x':
		return str(Strftime("%m/%d/%y", t)), true
	case 'X':
		return str(Strftime("%H:%M:%S", t)), true
	case 'y':
		return num(floorMod(t.Year(), 100), 2), true
	case 'Y':
		return num(t.Year(), 1), true
	case 'z':
		_, off := t.Zone()
		sign := byte('+')
		if off < 0 {
			sign, off = '-', -off
		}
		return field{text: string(sign) + pad2(off/3600) + pad2(off%3600/60)}, true
	case 'Z':
		name, _ := t.Zone()
		return str(name), true
	case '%':
		return field{text: "%"}, true
	}
	return field{}, false
}

func pad2(v int) string {
	if v < 10 {
		return "0" + strconv.Itoa(v)
	}
	return strconv.Itoa(v)
}

func floorDiv(a, b int) int {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func floorMod(a, b int) int { return a - floorDiv(a, b)*b }
