package cheader

import (
	"bufio"
	"io"
	"strconv"
	"unicode/utf8"
)

// WriteRaw lists the types one per entry, as bpftool's `btf dump ...
// format raw` does: `[1] INT 'long unsigned int' size=8 bits_offset=0
// nr_bits=64 encoding=(none)`, members, enumerators and parameters on
// tab-indented lines below their type. With asJSON the listing is
// bpftool's JSON document instead: {"types":[{"id":1,"kind":"INT",...}]}.
// Split BTF lists only its own types. ids, when given, limits the listing
// to those types.
func (b *BTF) WriteRaw(w io.Writer, asJSON bool, ids ...uint32) error {
	r := &rawWriter{b: b, w: bufio.NewWriterSize(w, 256<<10), json: asJSON}
	if asJSON {
		r.w.WriteString(`{"types":[`)
	}
	if len(ids) > 0 {
		for _, id := range ids {
			if id == 0 || id >= uint32(len(b.offs)) {
				return errOutOfRange(b, id)
			}
			r.typ(id)
		}
	} else {
		for id := b.first; id < uint32(len(b.offs)); id++ {
			r.typ(id)
		}
	}
	if asJSON {
		r.w.WriteString("]}\n")
	}
	return r.w.Flush()
}

// rawWriter writes one listing; text and JSON share the walk over each
// kind's fields.
type rawWriter struct {
	b     *BTF
	w     *bufio.Writer
	json  bool
	first bool // no field written yet in the current JSON object
	items bool // written at least one type
	num   []byte
}

func (r *rawWriter) name(off uint32) string {
	if off == 0 {
		return "(anon)"
	}
	return r.b.str(off)
}

// field writes ` key=value` in text, `"key":value` in JSON.
func (r *rawWriter) field(key string, text func()) {
	if r.json {
		if !r.first {
			r.w.WriteByte(',')
		}
		r.first = false
		r.jsonString(key)
		r.w.WriteByte(':')
	} else {
		r.w.WriteByte(' ')
		r.w.WriteString(key)
		r.w.WriteByte('=')
	}
	text()
}

func (r *rawWriter) uintField(key string, v uint64) {
	r.field(key, func() { r.uint(v) })
}

func (r *rawWriter) intField(key string, v int64) {
	r.field(key, func() { r.int(v) })
}

// wordField writes a string value: bare in text, quoted in JSON.
func (r *rawWriter) wordField(key, v string) {
	r.field(key, func() {
		if r.json {
			r.jsonString(v)
		} else {
			r.w.WriteString(v)
		}
	})
}

func (r *rawWriter) uint(v uint64) {
	r.num = strconv.AppendUint(r.num[:0], v, 10)
	r.w.Write(r.num)
}

func (r *rawWriter) int(v int64) {
	r.num = strconv.AppendInt(r.num[:0], v, 10)
	r.w.Write(r.num)
}

// jsonString quotes s as bpftool's JSON writer does: only quotes,
// backslashes and control characters are escaped.
func (r *rawWriter) jsonString(s string) {
	r.w.WriteByte('"')
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			r.w.WriteByte('\\')
			r.w.WriteByte(c)
		case c == '\n':
			r.w.WriteString(`\n`)
		case c == '\t':
			r.w.WriteString(`\t`)
		case c == '\r':
			r.w.WriteString(`\r`)
		case c == '\b':
			r.w.WriteString(`\b`)
		case c == '\f':
			r.w.WriteString(`\f`)
		case c < 0x20:
			r.w.WriteString(`\u00`)
			r.w.WriteByte("0123456789abcdef"[c>>4])
			r.w.WriteByte("0123456789abcdef"[c&15])
		case c < utf8.RuneSelf:
			r.w.WriteByte(c)
		default:
			// Invalid UTF-8 would make the document unreadable.
			ru, n := utf8.DecodeRuneInString(s[i:])
			if ru == utf8.RuneError && n == 1 {
				r.w.WriteString(`\ufffd`)
			} else {
				r.w.WriteString(s[i : i+n])
			}
			i += n
			continue
		}
		i++
	}
	r.w.WriteByte('"')
}

// open starts the entry of one member, enumerator, parameter or variable:
// a tab-indented line in text, an object in a JSON array.
func (r *rawWriter) openItem(i int) {
	if r.json {
		if i > 0 {
			r.w.WriteByte(',')
		}
		r.w.WriteByte('{')
		r.first = true
	} else {
		r.w.WriteString("\n\t")
	}
}

func (r *rawWriter) closeItem() {
	if r.json {
		r.w.WriteByte('}')
	}
}

// openList starts the JSON array of a type's members (nothing in text).
func (r *rawWriter) openList(key string) {
	if r.json {
		r.w.WriteString(`,"`)
		r.w.WriteString(key)
		r.w.WriteString(`":[`)
	}
}

func (r *rawWriter) closeList() {
	if r.json {
		r.w.WriteByte(']')
	}
}

// itemName writes a member's name: 'name' in text, "name":"..." in JSON.
func (r *rawWriter) itemName(off uint32) {
	if r.json {
		r.field("name", func() { r.jsonString(r.name(off)) })
		return
	}
	r.w.WriteByte('\'')
	r.w.WriteString(r.name(off))
	r.w.WriteByte('\'')
}

var intEncodings = map[uint32]string{0: "(none)", 1: "SIGNED", 2: "CHAR", 4: "BOOL"}

func (r *rawWriter) typ(id uint32) {
	b := r.b
	k := b.Kind(id)
	if r.json {
		if r.items {
			r.w.WriteByte(',')
		}
		r.w.WriteByte('{')
		r.first = true
		r.uintField("id", uint64(id))
		r.wordField("kind", k.String())
		r.wordField("name", r.name(b.nameOff(id)))
	} else {
		r.w.WriteByte('[')
		r.uint(uint64(id))
		r.w.WriteString("] ")
		r.w.WriteString(k.String())
		r.w.WriteString(" '")
		r.w.WriteString(r.name(b.nameOff(id)))
		r.w.WriteByte('\'')
	}
	r.items = true
	ex := b.extra(id)
	switch k {
	case KindInt:
		v := ex[0]
		enc, ok := intEncodings[v>>24&0x0f]
		if !ok {
			enc = "UNKN"
		}
		r.uintField("size", uint64(b.size(id)))
		r.uintField("bits_offset", uint64(v>>16&0xff))
		r.uintField("nr_bits", uint64(v&0xff))
		r.wordField("encoding", enc)
	case KindPtr, KindConst, KindVolatile, KindRestrict, KindTypedef, KindTypeTag:
		r.uintField("type_id", uint64(b.ref(id)))
	case KindArray:
		r.uintField("type_id", uint64(ex[0]))
		r.uintField("index_type_id", uint64(ex[1]))
		r.uintField("nr_elems", uint64(ex[2]))
	case KindStruct, KindUnion:
		r.uintField("size", uint64(b.size(id)))
		r.uintField("vlen", uint64(b.vlen(id)))
		r.openList("members")
		for i, n := 0, int(b.vlen(id)); i < n; i++ {
			m := b.member(id, i)
			r.openItem(i)
			r.itemName(m.name)
			r.uintField("type_id", uint64(m.typ))
			r.uintField("bits_offset", uint64(m.bitOff))
			if m.bits != 0 {
				r.uintField("bitfield_size", uint64(m.bits))
			}
			r.closeItem()
		}
		r.closeList()
	case KindEnum, KindEnum64:
		signed := b.kflag(id)
		enc := "UNSIGNED"
		if signed {
			enc = "SIGNED"
		}
		r.wordField("encoding", enc)
		r.uintField("size", uint64(b.size(id)))
		r.uintField("vlen", uint64(b.vlen(id)))
		r.openList("values")
		for i, n := 0, int(b.vlen(id)); i < n; i++ {
			var nameOff uint32
			var v uint64
			if k == KindEnum64 {
				nameOff, v = ex[3*i], uint64(ex[3*i+2])<<32|uint64(ex[3*i+1])
			} else if signed {
				nameOff, v = ex[2*i], uint64(int64(int32(ex[2*i+1])))
			} else {
				nameOff, v = ex[2*i], uint64(ex[2*i+1])
			}
			r.openItem(i)
			r.itemName(nameOff)
			r.field("val", func() {
				if signed {
					r.int(int64(v))
				} else {
					r.uint(v)
				}
				if k == KindEnum64 && !r.json {
					if signed {
						r.w.WriteString("LL")
					} else {
						r.w.WriteString("ULL")
					}
				}
			})
			r.closeItem()
		}
		r.closeList()
	case KindFwd:
		kind := "struct"
		if b.kflag(id) {
			kind = "union"
		}
		r.wordField("fwd_kind", kind)
	case KindFunc:
		r.uintField("type_id", uint64(b.ref(id)))
		r.wordField("linkage", linkage(b.vlen(id)))
	case KindFuncProto:
		r.uintField("ret_type_id", uint64(b.ref(id)))
		r.uintField("vlen", uint64(b.vlen(id)))
		r.openList("params")
		for i, n := 0, int(b.vlen(id)); i < n; i++ {
			name, typ := b.param(id, i)
			r.openItem(i)
			r.itemName(name)
			r.uintField("type_id", uint64(typ))
			r.closeItem()
		}
		r.closeList()
	case KindVar:
		if r.json {
			r.uintField("type_id", uint64(b.ref(id)))
		} else {
			// bpftool's one comma in the listing.
			r.w.WriteString(" type_id=")
			r.uint(uint64(b.ref(id)))
			r.w.WriteByte(',')
		}
		r.wordField("linkage", linkage(ex[0]))
	case KindDatasec:
		r.uintField("size", uint64(b.size(id)))
		r.uintField("vlen", uint64(b.vlen(id)))
		r.openList("vars")
		for i, n := 0, int(b.vlen(id)); i < n; i++ {
			typ := ex[3*i]
			r.openItem(i)
			if r.json {
				r.uintField("type_id", uint64(typ))
			} else {
				r.w.WriteString("type_id=")
				r.uint(uint64(typ))
			}
			r.uintField("offset", uint64(ex[3*i+1]))
			r.uintField("size", uint64(ex[3*i+2]))
			if !r.json {
				r.w.WriteString(" (")
				r.w.WriteString(b.Kind(typ).String())
				r.w.WriteString(" '")
				r.w.WriteString(r.name(b.nameOff(typ)))
				r.w.WriteString("')")
			}
			r.closeItem()
		}
		r.closeList()
	case KindFloat:
		r.uintField("size", uint64(b.size(id)))
	case KindDeclTag:
		r.uintField("type_id", uint64(b.ref(id)))
		r.intField("component_idx", int64(int32(ex[0])))
	}
	if r.json {
		r.w.WriteByte('}')
	} else {
		r.w.WriteByte('\n')
	}
}

// linkage names a FUNC's or VAR's linkage; both number them alike.
func linkage(v uint32) string {
	switch v {
	case 0:
		return "static"
	case 1:
		return "global"
	case 2:
		return "extern"
	}
	return "(unknown)"
}
