package cheader

// The hand-made BTF of the golden tests: one case per group of constructs
// the C header has to get right. Cases bpftool v7.1 (Debian's) renders the
// same way are also checked against it when it is installed; the others
// name what the older bpftool does not do.

type goldenCase struct {
	name  string
	build func(b *rawBuilder)
	// newer says why bpftool v7.1 cannot serve as the oracle (empty when
	// it can).
	newer string
}

var goldenCases = []goldenCase{
	{name: "basic", build: func(b *rawBuilder) {
		i := b.Int("int", 4, encSigned)
		ui := b.Int("unsigned int", 4, 0)
		c := b.Int("char", 1, encSigned)
		u32 := b.Typedef("u32", ui)
		pc := b.Ptr(c)
		pcc := b.Ptr(b.Const(c))
		cpc := b.Const(pc)
		vi := b.Volatile(i)
		rpc := b.Restrict(pc)
		arr := b.Array(c, i, 16)
		pv := b.Ptr(0)
		ppc := b.Ptr(pc)
		b.Struct("basic", 72,
			mem{"a", u32, 0, 0},
			mem{"name", arr, 32, 0},
			mem{"s", pcc, 192, 0},
			mem{"cp", cpc, 256, 0},
			mem{"v", vi, 320, 0},
			mem{"r", rpc, 384, 0},
			mem{"vp", pv, 448, 0},
			mem{"argv", ppc, 512, 0},
		)
		b.Union("word", 8, mem{"u", b.Int("long unsigned int", 8, 0), 0, 0}, mem{"b", b.Array(c, i, 8), 0, 0})
	}},
	{name: "forward", build: func(b *rawBuilder) {
		i := b.Int("int", 4, encSigned)
		// struct list { struct list *next, *prev; };
		list := b.Struct("list", 16, mem{"next", 0, 0, 0}, mem{"prev", 0, 64, 0})
		pl := b.Ptr(list)
		b.setMember(list, 0, pl)
		b.setMember(list, 1, pl)
		// struct a { struct b *pb; }; struct b { struct a a; struct c *pc; };
		// struct c is only declared.
		sa := b.Struct("a", 8, mem{"pb", 0, 0, 0})
		sb := b.Struct("b", 16, mem{"a", sa, 0, 0}, mem{"pc", b.Ptr(b.Fwd("c", false)), 64, 0})
		b.setMember(sa, 0, b.Ptr(sb))
		// typedef struct node node_t; struct node { node_t *next; int v; };
		node := b.Struct("node", 16, mem{"next", 0, 0, 0}, mem{"v", i, 64, 0})
		b.setMember(node, 0, b.Ptr(b.Typedef("node_t", node)))
		// union u { struct b b; int x; }; union fu; (declared only)
		b.Union("u", 16, mem{"b", sb, 0, 0}, mem{"x", i, 0, 0})
		b.Fwd("fu", true)
		// struct p { struct q *q; }; struct q { struct p *p; };
		sp := b.Struct("p", 8, mem{"q", 0, 0, 0})
		sq := b.Struct("q", 8, mem{"p", b.Ptr(sp), 0, 0})
		b.setMember(sp, 0, b.Ptr(sq))
	}},
	{name: "anonymous", build: func(b *rawBuilder) {
		i := b.Int("int", 4, encSigned)
		s := b.Int("short int", 2, encSigned)
		parts := b.Struct("", 4, mem{"lo", s, 0, 0}, mem{"hi", s, 16, 0})
		un := b.Union("", 4, mem{"i", i, 0, 0}, mem{"parts", parts, 0, 0})
		en := b.Enum("", 4, false, enumVal{"OA", 0}, enumVal{"OB", 1})
		inner := b.Struct("", 4, mem{"x", i, 0, 0})
		b.Struct("outer", 24,
			mem{"kind", i, 0, 0},
			mem{"", un, 32, 0},
			mem{"e", en, 64, 0},
			mem{"p", b.Ptr(inner), 128, 0},
		)
		b.Enum("", 4, false, enumVal{"TOP_A", 1}, enumVal{"TOP_B", 2})
		b.Typedef("anon_t", b.Struct("", 4, mem{"a", i, 0, 0}))
		b.Typedef("anon_u", b.Union("", 8, mem{"l", b.Int("long int", 8, encSigned), 0, 0}))
	}},
	{name: "layout", build: func(b *rawBuilder) {
		ui := b.Int("unsigned int", 4, 0)
		i := b.Int("int", 4, encSigned)
		c := b.Int("char", 1, encSigned)
		l := b.Int("long int", 8, encSigned)
		ull := b.Int("long long unsigned int", 8, 0)
		// Bitfields with a hole between them and a 40-bit one.
		b.Struct("flags", 16,
			mem{"a", ui, 0, 1},
			mem{"b", ui, 1, 3},
			mem{"c", ui, 8, 4},
			mem{"x", i, 32, 0},
			mem{"big", ull, 64, 40},
			mem{"last", c, 112, 0},
		)
		// Packed: an int right after a char.
		b.Struct("packed", 5, mem{"c", c, 0, 0}, mem{"i", i, 8, 0})
		// Natural layout: nothing to pad.
		b.Struct("natural", 24, mem{"c", c, 0, 0}, mem{"l", l, 64, 0}, mem{"d", c, 128, 0})
		// Holes that natural alignment does not explain, and tail
		// padding up to a cache line.
		b.Struct("gaps", 64, mem{"a", i, 0, 0}, mem{"b", i, 96, 0}, mem{"c", c, 136, 0})
		// A member aligned beyond its type: a long at 16 bytes after a char.
		b.Struct("overaligned", 32, mem{"c", c, 0, 0}, mem{"l", l, 128, 0})
		// A packed struct embedded in another, then a bitfield-only
		// union and an empty struct.
		pk := b.Struct("inner_packed", 6, mem{"s", b.Int("short int", 2, encSigned), 0, 0}, mem{"i", i, 16, 0})
		b.Struct("holder", 8, mem{"c", c, 0, 0}, mem{"p", pk, 8, 0})
		b.Union("bits", 4, mem{"lo", ui, 0, 4}, mem{"all", ui, 0, 32})
		b.Struct("empty", 0)
	}},
	{name: "functions", build: func(b *rawBuilder) {
		i := b.Int("int", 4, encSigned)
		c := b.Int("char", 1, encSigned)
		pv := b.Ptr(0)
		// typedef int (*cb_t)(void *, int);
		cbT := b.Typedef("cb_t", b.Ptr(b.Proto(i, prm{"", pv}, prm{"", i})))
		// typedef void fn_t(int);
		fnT := b.Typedef("fn_t", b.Proto(0, prm{"n", i}))
		ops := b.Struct("ops", 56,
			mem{"start", 0, 0, 0},
			mem{"table", b.Array(b.Ptr(b.Proto(i, prm{"", i})), i, 4), 64, 0},
			mem{"name", b.Ptr(b.Proto(b.Ptr(c))), 320, 0},
			mem{"vf", b.Ptr(b.Proto(i, prm{"fmt", b.Ptr(b.Const(c))}, prm{"", 0})), 384, 0},
		)
		b.setMember(ops, 0, b.Ptr(b.Proto(0, prm{"o", b.Ptr(ops)})))
		// int (*(*getter)(int))(char); int (*pa)[4]; int m[2][3]; fn_t *f; cb_t cb;
		inner := b.Ptr(b.Proto(i, prm{"", c}))
		getter := b.Ptr(b.Proto(inner, prm{"", i}))
		pa := b.Ptr(b.Array(i, i, 4))
		m := b.Array(b.Array(i, i, 3), i, 2)
		b.Struct("decls", 56,
			mem{"getter", getter, 0, 0},
			mem{"pa", pa, 64, 0},
			mem{"m", m, 128, 0},
			mem{"f", b.Ptr(fnT), 320, 0},
			mem{"cb", cbT, 384, 0},
		)
		// A prototype with a single void parameter is written (void).
		b.Typedef("noargs_t", b.Ptr(b.Proto(i, prm{"", 0})))
	}},
	{name: "enums", build: func(b *rawBuilder) {
		color := b.Enum("color", 4, false, enumVal{"RED", 0}, enumVal{"GREEN", 5}, enumVal{"BLUE", 0x7fffffff})
		b.Enum("sign", 4, true, enumVal{"NEG", -1}, enumVal{"POS", 1})
		b.Enum64("big", 8, false, enumVal{"BIG", -0x100000000})
		b.Enum64("sbig", 8, true, enumVal{"SNEG", -5000000000}, enumVal{"SPOS", 5000000000})
		opaque := b.Enum("opaque", 4, false)
		b.Struct("painted", 16, mem{"c", color, 0, 0}, mem{"o", b.Ptr(opaque), 64, 0})
	}},
	{name: "sized_enums", newer: "one- and eight-byte enums get mode attributes only since libbpf 1.2", build: func(b *rawBuilder) {
		b.Enum("tiny", 1, false, enumVal{"T0", 0}, enumVal{"T1", 1})
		b.Enum("wide", 8, false, enumVal{"W", 1})
		b.Enum64("wide64", 8, false, enumVal{"W64", 2})
		b.Enum64("huge64", 8, false, enumVal{"H64", 1 << 40})
	}},
	{name: "names", build: func(b *rawBuilder) {
		i := b.Int("int", 4, encSigned)
		l := b.Int("long int", 8, encSigned)
		d1 := b.Struct("dup", 4, mem{"a", i, 0, 0})
		d2 := b.Struct("dup", 8, mem{"b", l, 0, 0})
		b.Struct("both", 16, mem{"one", d1, 0, 0}, mem{"two", d2, 64, 0})
		b.Typedef("thing", i)
		b.Enum("e1", 4, false, enumVal{"thing", 1}, enumVal{"X", 2})
		b.Enum("e2", 4, false, enumVal{"X", 3})
		b.Typedef("thing", l)
		// A union and a struct share the tag namespace too.
		b.Union("dup", 4, mem{"u", i, 0, 0})
	}},
	{name: "tags", build: func(b *rawBuilder) {
		i := b.Int("int", 4, encSigned)
		up := b.Ptr(b.TypeTag("user", i, false))
		rcu := b.Ptr(b.TypeTag("rcu", b.TypeTag("percpu", i, false), false))
		s := b.Struct("tagged", 16, mem{"up", up, 0, 0}, mem{"rcu", rcu, 64, 0})
		b.DeclTag("whole", s, -1)
		b.DeclTag("member", s, 0)
	}},
	{name: "attr_tags", newer: "type tags with the kind flag set are attributes only since libbpf 1.6", build: func(b *rawBuilder) {
		i := b.Int("int", 4, encSigned)
		b.Struct("arena", 8, mem{"p", b.Ptr(b.TypeTag("address_space(1)", i, true)), 0, 0})
	}},
	{name: "kfuncs", newer: "kfunc prototypes are written only since bpftool v7.4", build: func(b *rawBuilder) {
		i := b.Int("int", 4, encSigned)
		task := b.Struct("task", 4, mem{"pid", i, 0, 0})
		pt := b.Ptr(task)
		fb := b.Func("bpf_b", b.Proto(i, prm{"n", i}), 1)
		fa := b.Func("bpf_a", b.Proto(pt, prm{"t", pt}), 1)
		plain := b.Func("not_a_kfunc", b.Proto(0), 1)
		b.DeclTag("bpf_kfunc", fb, -1)
		b.DeclTag("bpf_kfunc", fa, -1)
		b.DeclTag("bpf_fastcall", fa, -1)
		b.DeclTag("bpf_kfunc", plain, 0)
	}},
	{name: "builtins", build: func(b *rawBuilder) {
		c := b.Int("char", 1, encSigned)
		b.Typedef("__builtin_va_list", b.Ptr(c))
		b.Typedef("__gnuc_va_list", 0)
		d := b.Float("double", 8)
		bo := b.Int("_Bool", 1, encBool)
		u128 := b.Int("__int128 unsigned", 16, 0)
		p8 := b.Int("__Poly8_t", 1, 0)
		b.Struct("mixed", 48, mem{"d", d, 0, 0}, mem{"flag", bo, 64, 0}, mem{"p", p8, 72, 0}, mem{"wide", u128, 128, 0}, mem{"pd", b.Ptr(d), 256, 0})
	}},
	{name: "datasec", build: func(b *rawBuilder) {
		i := b.Int("int", 4, encSigned)
		v := b.Var("counter", i, 1)
		sv := b.Var("hidden", i, 0)
		f := b.Func("main_prog", b.Proto(i, prm{"ctx", b.Ptr(0)}), 1)
		b.Datasec(".bss", 8, secVar{v, 0, 4}, secVar{sv, 4, 4})
		_ = f
	}},
}
