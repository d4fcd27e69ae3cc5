package attach

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// TracepointFormat is a tracepoint's record layout as the kernel describes
// it in tracefs (events/GROUP/NAME/format). A tracepoint BPF program gets a
// pointer to such a record, so this is what `args.FIELD` compiles against.
type TracepointFormat struct {
	// ID is the event's id, the perf_event_attr config of the tracepoint.
	ID uint32
	// Name is the event name ("sys_enter_openat"), without the group.
	Name string
	// Fields are the record's fields in the order the kernel lists them:
	// the common_* header first, then the event's own fields.
	Fields []TracepointField
}

// TracepointField is one field of a tracepoint record.
//
// The kernel writes each field as a C declaration plus its offset, size
// and signedness. The declaration is kept as written (Decl) and also
// split into what a compiler needs: the name, the C type without the name,
// and for arrays the element type, the element size and the length.
//
// Sizes come from the kernel and are authoritative: the syscalls:*
// events declare "int dfd" with size 8, for example, because the record
// stores every argument as a long.
type TracepointField struct {
	// Name is the field name, e.g. "filename".
	Name string
	// Decl is the declaration exactly as the format file writes it, e.g.
	// "char comm[16]" or "__data_loc char[] filename"; `-lv` prints it.
	Decl string
	// CType is Decl without the name: "const char *", "char[16]",
	// "__data_loc char[]", "unsigned long[6]", "struct foo".
	CType string
	// ElemType is the C type of one element: the array's element type for
	// arrays and __data_loc/__rel_loc fields ("char" for "char[16]" and for
	// "__data_loc char[]"), else CType itself.
	ElemType string
	// Offset and Size locate the field in the record, in bytes. For
	// __data_loc and __rel_loc fields they locate the 32-bit descriptor,
	// not the data.
	Offset, Size int
	// Signed is the kernel's "signed:" flag (integer fields only).
	Signed bool
	// Common marks the header fields every event shares (common_type,
	// common_pid, ...).
	Common bool
	// DataLoc marks a dynamic array (__data_loc): the field is a u32 whose
	// low 16 bits are the data's offset from the start of the record and
	// whose high 16 bits are its length in bytes. Strings such as
	// sched_process_exec's filename are stored this way.
	DataLoc bool
	// RelLoc marks a __rel_loc dynamic array: like DataLoc, except that
	// the offset counts from the end of the descriptor field.
	RelLoc bool
	// ArrayLen is the number of elements of a fixed-size array ("char
	// comm[16]" has 16), also when the kernel wrote the length as a
	// macro or expression ("char comm[TASK_COMM_LEN]") and ElemType has a
	// known size. It is 0 for scalars, flexible arrays ("char buf[]"),
	// dynamic arrays and arrays whose element size is unknown.
	ArrayLen int
	// ElemSize is the size in bytes of one element of ElemType: Size/ArrayLen
	// for fixed arrays, the element's size for dynamic and flexible arrays
	// when the type is a known C scalar (0 when it is not), Size otherwise.
	ElemSize int
}

// IsArray reports whether the field is an array of any kind: fixed,
// flexible or dynamic (__data_loc, __rel_loc).
func (f TracepointField) IsArray() bool {
	return f.DataLoc || f.RelLoc || strings.HasSuffix(f.CType, "]")
}

// Field returns the field called name.
func (f *TracepointFormat) Field(name string) (TracepointField, bool) {
	for _, fl := range f.Fields {
		if fl.Name == name {
			return fl, true
		}
	}
	return TracepointField{}, false
}

// ParseTracepointFormat parses the text of a tracefs format file:
//
//	name: sys_enter_openat
//	ID: 782
//	format:
//		field:unsigned short common_type;	offset:0;	size:2;	signed:0;
//		...
//
//	print fmt: "..."
//
// Keys it does not know, on field lines or elsewhere, are ignored so that
// newer kernels keep parsing; a missing name, ID or format section, or a
// field without a name, type, offset or size, is an error naming the line.
func ParseTracepointFormat(data []byte) (*TracepointFormat, error) {
	var (
		f                       TracepointFormat
		haveName, haveID, inFmt bool
	)
	sc := bufio.NewScanner(bytes.NewReader(data))
	// print fmt lines of some events run to several KiB; fields stay short.
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		fail := func(format string, args ...any) (*TracepointFormat, error) {
			return nil, fmt.Errorf("tracepoint format line %d: %s", n, fmt.Sprintf(format, args...))
		}
		switch {
		case line == "":
		case strings.HasPrefix(line, "print fmt:"):
			// The rest is the printk format; its strings may contain
			// anything, "field:" included, so nothing after it is read.
			return f.finish(haveName, haveID, inFmt)
		case inFmt && (strings.HasPrefix(line, "field:") || strings.HasPrefix(line, "field special:")):
			fl, err := parseTracepointField(line)
			if err != nil {
				return fail("%v", err)
			}
			f.Fields = append(f.Fields, fl)
		case strings.HasPrefix(line, "name:"):
			f.Name = strings.TrimSpace(strings.TrimPrefix(line, "name:"))
			if f.Name == "" {
				return fail("empty name")
			}
			haveName = true
		case strings.HasPrefix(line, "ID:"):
			v := strings.TrimSpace(strings.TrimPrefix(line, "ID:"))
			id, err := strconv.ParseUint(v, 10, 32)
			if err != nil {
				return fail("bad ID %q", v)
			}
			f.ID, haveID = uint32(id), true
		case line == "format:":
			inFmt = true
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("tracepoint format: %w", err)
	}
	return f.finish(haveName, haveID, inFmt)
}

func (f *TracepointFormat) finish(haveName, haveID, inFmt bool) (*TracepointFormat, error) {
	switch {
	case !haveName:
		return nil, errors.New("tracepoint format: no \"name:\" line")
	case !haveID:
		return nil, fmt.Errorf("tracepoint format of %s: no \"ID:\" line", f.Name)
	case !inFmt:
		return nil, fmt.Errorf("tracepoint format of %s: no \"format:\" section", f.Name)
	}
	return f, nil
}

// parseTracepointField parses one field line, already trimmed:
//
//	field:const char * filename;	offset:24;	size:8;	signed:0;
//
// "field special:" is what kernels before 2.6.32 wrote for some fields.
func parseTracepointField(line string) (TracepointField, error) {
	var fl TracepointField
	var haveOffset, haveSize bool
	for i, part := range strings.Split(line, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		key, val, ok := strings.Cut(part, ":")
		if !ok {
			return fl, fmt.Errorf("%q is not KEY:VALUE", part)
		}
		val = strings.TrimSpace(val)
		if i == 0 {
			if key != "field" && key != "field special" {
				return fl, fmt.Errorf("field line starts with %q", key)
			}
			if err := fl.parseDecl(val); err != nil {
				return fl, err
			}
			continue
		}
		switch key {
		case "offset", "size":
			v, err := strconv.ParseUint(val, 10, 31)
			if err != nil {
				return fl, fmt.Errorf("field %s: bad %s %q", fl.Name, key, val)
			}
			if key == "offset" {
				fl.Offset, haveOffset = int(v), true
			} else {
				fl.Size, haveSize = int(v), true
			}
		case "signed":
			switch val {
			case "0":
			case "1":
				fl.Signed = true
			default:
				return fl, fmt.Errorf("field %s: bad signed %q", fl.Name, val)
			}
		}
	}
	if fl.Name == "" {
		return fl, errors.New("field line without a declaration")
	}
	if !haveOffset || !haveSize {
		return fl, fmt.Errorf("field %s: missing offset or size", fl.Name)
	}
	fl.sizeElements()
	return fl, nil
}

// parseDecl splits a C declaration such as "unsigned long args[6]" or
// "__data_loc char[] filename" into name, type and element type.
func (fl *TracepointField) parseDecl(decl string) error {
	fl.Decl = decl
	d := decl
	// Array dimensions follow the name: "char comm[16]", "u8 x[2][4]",
	// "char comm[TASK_COMM_LEN]", "char buf[]". Peel them off from the end.
	var dims []string // outermost last until reversed below
	for strings.HasSuffix(d, "]") {
		i := strings.LastIndexByte(d, '[')
		if i < 0 {
			return fmt.Errorf("declaration %q: unbalanced ']'", decl)
		}
		dims = append(dims, d[i:])
		d = strings.TrimRight(d[:i], " \t")
	}
	slices.Reverse(dims)
	start := len(d)
	for start > 0 && isIdentByte(d[start-1]) {
		start--
	}
	name := d[start:]
	if name == "" || name[0] >= '0' && name[0] <= '9' {
		return fmt.Errorf("declaration %q: no field name", decl)
	}
	typ := strings.TrimSpace(d[:start])
	if typ == "" {
		return fmt.Errorf("declaration %q: no type", decl)
	}
	fl.Name = name
	fl.CType = typ + strings.Join(dims, "")
	fl.Common = strings.HasPrefix(name, "common_")

	elem := typ
	if rest, ok := cutWord(typ, "__data_loc"); ok {
		fl.DataLoc, elem = true, rest
	} else if rest, ok := cutWord(typ, "__rel_loc"); ok {
		fl.RelLoc, elem = true, rest
	}
	if fl.DataLoc || fl.RelLoc {
		// "__data_loc char[]": the element type is what the brackets hold.
		if i := strings.IndexByte(elem, '['); i >= 0 {
			elem = strings.TrimSpace(elem[:i])
		}
		if elem == "" {
			return fmt.Errorf("declaration %q: no element type", decl)
		}
		fl.ElemType = elem
		return nil
	}
	if len(dims) > 0 {
		// An array of arrays has arrays as elements, as in C.
		fl.ElemType = typ + strings.Join(dims[1:], "")
		fl.ArrayLen = -1 // resolved by sizeElements once Size is known
		inner := strings.TrimSpace(dims[0][1 : len(dims[0])-1])
		if n, err := strconv.ParseUint(inner, 10, 31); err == nil {
			fl.ArrayLen = int(n)
		} else if inner == "" {
			fl.ArrayLen = 0
		}
		return nil
	}
	fl.ElemType = typ
	return nil
}

// sizeElements fills ArrayLen and ElemSize once the field's size is known.
func (fl *TracepointField) sizeElements() {
	known := cScalarSize(fl.ElemType)
	switch {
	case fl.DataLoc || fl.RelLoc:
		fl.ArrayLen, fl.ElemSize = 0, known
	case !strings.HasSuffix(fl.CType, "]"):
		fl.ElemSize = fl.Size
	case fl.ArrayLen > 0:
		// A size that is no multiple of the length leaves the element
		// size unknown rather than guessed.
		if fl.Size%fl.ArrayLen == 0 {
			fl.ElemSize = fl.Size / fl.ArrayLen
		}
	case fl.ArrayLen == 0: // flexible array member, "char buf[]"
		fl.ElemSize = known
	default: // length written as a macro or expression
		fl.ArrayLen, fl.ElemSize = 0, known
		if known > 0 && fl.Size%known == 0 {
			fl.ArrayLen = fl.Size / known
		}
	}
}

// cScalarSize is the size of the C scalar types that tracepoint formats
// use as array elements, or 0 for types it does not know (typedefs of the
// kernel's own, structs). Sizes of long and pointers are this program's,
// which matches the kernel's except for 32-bit programs on 64-bit kernels.
func cScalarSize(typ string) int {
	t := strings.Join(strings.Fields(typ), " ")
	for _, q := range []string{"const ", "volatile "} {
		t = strings.TrimPrefix(t, q)
	}
	if strings.HasSuffix(t, "*") {
		return strconv.IntSize / 8
	}
	switch t {
	case "char", "signed char", "unsigned char", "bool", "_Bool",
		"u8", "s8", "__u8", "__s8", "uint8_t", "int8_t":
		return 1
	case "short", "short int", "signed short", "unsigned short", "unsigned short int",
		"u16", "s16", "__u16", "__s16", "uint16_t", "int16_t", "__le16", "__be16":
		return 2
	case "int", "signed int", "signed", "unsigned int", "unsigned",
		"u32", "s32", "__u32", "__s32", "uint32_t", "int32_t", "__le32", "__be32",
		"pid_t", "uid_t", "gid_t", "dev_t":
		return 4
	case "long long", "long long int", "unsigned long long", "unsigned long long int",
		"u64", "s64", "__u64", "__s64", "uint64_t", "int64_t", "__le64", "__be64", "loff_t":
		return 8
	case "long", "long int", "signed long", "unsigned long", "unsigned long int",
		"size_t", "ssize_t":
		return strconv.IntSize / 8
	}
	return 0
}

// cutWord removes word and the blank after it from the front of s.
func cutWord(s, word string) (string, bool) {
	rest, ok := strings.CutPrefix(s, word)
	if !ok || rest == "" || rest[0] != ' ' && rest[0] != '\t' {
		return s, false
	}
	return strings.TrimSpace(rest), true
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// TracepointNotFoundError reports a tracepoint that the kernel does not
// have. It matches fs.ErrNotExist with errors.Is.
type TracepointNotFoundError struct {
	Group, Name string
}

func (e *TracepointNotFoundError) Error() string {
	return fmt.Sprintf("tracepoint %s:%s does not exist", e.Group, e.Name)
}

// Unwrap lets errors.Is(err, fs.ErrNotExist) recognise the error.
func (e *TracepointNotFoundError) Unwrap() error { return fs.ErrNotExist }

// ReadTracepointFormat reads and parses the format of tracepoint
// GROUP:NAME from tracefs. tracefs must be mounted (see EnsureTracefs);
// the function does not mount it, so that listing and compiling never
// change the system behind the caller's back. A tracepoint that does not
// exist gives a *TracepointNotFoundError.
func ReadTracepointFormat(group, name string) (*TracepointFormat, error) {
	if err := checkTracepointName(group, name); err != nil {
		return nil, err
	}
	dir, err := tracefsDir()
	if err != nil {
		return nil, fmt.Errorf("tracepoint %s:%s: %w", group, name, err)
	}
	path := filepath.Join(dir, "events", group, name, "format")
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, &TracepointNotFoundError{Group: group, Name: name}
	case errors.Is(err, fs.ErrPermission):
		return nil, fmt.Errorf("tracepoint %s:%s: %w (tracefs is readable by root only)", group, name, err)
	case err != nil:
		return nil, fmt.Errorf("tracepoint %s:%s: %w", group, name, err)
	}
	f, err := ParseTracepointFormat(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// checkTracepointName refuses names that would leave the events directory
// or that tracefs could never hold, so that the path built from them means
// what the user wrote.
func checkTracepointName(group, name string) error {
	for _, s := range []string{group, name} {
		if s == "" || s == "." || s == ".." || strings.ContainsAny(s, "/\x00") {
			return fmt.Errorf("tracepoint %q: invalid name %q", group+":"+name, s)
		}
	}
	return nil
}

// tracefsDir returns the directory where tracefs is mounted: TracefsPath,
// or the older debugfs location when only that one is tracefs.
func tracefsDir() (string, error) {
	for _, dir := range []string{TracefsPath, "/sys/kernel/debug/tracing"} {
		if isTracefs(dir) {
			return dir, nil
		}
	}
	return "", fmt.Errorf("tracefs is not mounted (waggle mounts it when run as root; or: mount -t tracefs nodev %s)", TracefsPath)
}

func isTracefs(dir string) bool {
	var st unix.Statfs_t
	return unix.Statfs(dir, &st) == nil && st.Type == unix.TRACEFS_MAGIC
}
