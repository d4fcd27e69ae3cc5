// Package ast declares the syntax tree of waggle's tracing language, the
// bpftrace language: probes with attach points, predicates and blocks of
// statements over expressions.
//
// The parser (lang/parser) builds the tree; the checker (lang/sema) fills in
// each expression's Type; the code generator (lang/codegen) reads both.
package ast

import (
	"fmt"
	"strings"
)

// Pos is a position in a source file: a byte offset and 1-based line and
// column (columns count bytes).
type Pos struct {
	Offset, Line, Col int
}

func (p Pos) String() string { return fmt.Sprintf("%d:%d", p.Line, p.Col) }

// IsValid reports whether p was set.
func (p Pos) IsValid() bool { return p.Line > 0 }

// Span is the source range a node covers: Start inclusive, End exclusive.
type Span struct {
	Start, End Pos
}

// Node is anything in the tree.
type Node interface {
	Pos() Span
}

// Pos returns the span itself; nodes embed Span to implement Node.
func (s Span) Pos() Span { return s }

// Program is one parsed script.
type Program struct {
	Span
	// File names the source in messages ("-e" for one-liners, "stdin").
	File   string
	Source []byte
	// Includes are the #include lines, kept to be tolerated.
	Includes []string
	// CDefs are C definitions (struct, union, enum, #define) as written.
	CDefs  []*CDef
	Config []*ConfigItem
	// Maps are explicit declarations: let @m = hash(1024);
	Maps   []*MapDecl
	Macros []*Macro
	Probes []*Probe
}

// Macro is `macro name(params) { body }`: lang/sema pastes the body where
// the macro is called, with the arguments in place of the parameters.
type Macro struct {
	Span
	Name    string
	NamePos Span
	Params  []*MacroParam
	Body    *Block
	// Value is the body's last expression when no ';' follows it: the
	// value of a call. It is not in Body.Stmts.
	Value Expr
}

// MacroParam is one parameter: "$x" (a scratch variable of the caller, or a
// value), "@m" (a map of the caller) or "x" (an expression).
type MacroParam struct {
	Span
	Name string
}

// CDef is a C definition in the script, kept as text for the C parser.
type CDef struct {
	Span
	Text string
}

// ConfigItem is one `name = value` of a config block.
type ConfigItem struct {
	Span
	Name  string
	Value Expr
}

// MapDecl is `let @name = kind(args...)`, e.g. hash(1024), lruhash(100),
// percpuhash(10), percpulruhash(10), percpuarray(1).
type MapDecl struct {
	Span
	Name string // with the '@'
	Kind string
	Args []Expr
}

// Probe is one or more attach points sharing a predicate and a body.
type Probe struct {
	Span
	Attach []*AttachPoint
	Pred   Expr // nil when absent
	Body   *Block
}

// AttachPoint is one probe specification as written, e.g.
// "tracepoint:syscalls:sys_enter_*", "uprobe:/bin/bash:readline", "BEGIN",
// "interval:s:1". Parts are the ':'-separated fields after the provider;
// a quoted field keeps its ':' characters.
type AttachPoint struct {
	Span
	Raw      string
	Provider string // as written; lang/sema resolves short forms
	Parts    []string
}

func (a *AttachPoint) String() string { return a.Raw }

// Stmt is a statement.
type Stmt interface {
	Node
	stmtNode()
}

// Block is a { ... } list of statements with its own scope.
type Block struct {
	Span
	Stmts []Stmt
}

// ExprStmt is an expression evaluated for its effect (a call, @x++).
type ExprStmt struct {
	Span
	X Expr
}

// AssignStmt is `target op value`; Op is "=" or a compound form like "+=".
// Target is a *MapExpr or a *VarExpr.
type AssignStmt struct {
	Span
	Target Expr
	Op     string
	Value  Expr
}

// VarDecl is `let $name [: type] [= value]`.
type VarDecl struct {
	Span
	Name  string // with the '$'
	Type  *TypeExpr
	Value Expr // nil when absent
}

// IfStmt is `if (cond) { ... } [else ...]`; Else is nil, a *Block or an *IfStmt.
type IfStmt struct {
	Span
	Cond Expr
	Then *Block
	Else Stmt
}

// WhileStmt is `while (cond) { ... }`.
type WhileStmt struct {
	Span
	Cond Expr
	Body *Block
}

// UnrollStmt is `unroll (n) { ... }`.
type UnrollStmt struct {
	Span
	Count Expr
	Body  *Block
}

// ForStmt is `for ($kv : @map) { ... }` (Map set) or
// `for ($i : lo..hi) { ... }` (Lo and Hi set).
type ForStmt struct {
	Span
	Var    string
	VarPos Span // where Var is written
	Map    *MapExpr
	Lo, Hi Expr
	Body   *Block
}

// BlockExpr is statements then a value, as a macro call expands to; Value
// is nil when the block has none.
type BlockExpr struct {
	Span
	typed
	Stmts []Stmt
	Value Expr
}

// JumpStmt is return, break or continue.
type JumpStmt struct {
	Span
	Kind string // "return", "break", "continue"
	// Value is the operand of `return expr` (bpftrace's test probes and
	// functions return a value); nil otherwise.
	Value Expr
}

func (*Block) stmtNode()      {}
func (*ExprStmt) stmtNode()   {}
func (*AssignStmt) stmtNode() {}
func (*VarDecl) stmtNode()    {}
func (*IfStmt) stmtNode()     {}
func (*WhileStmt) stmtNode()  {}
func (*UnrollStmt) stmtNode() {}
func (*ForStmt) stmtNode()    {}
func (*JumpStmt) stmtNode()   {}

// Expr is an expression. Type is nil until lang/sema has checked it.
type Expr interface {
	Node
	Type() *Type
	SetType(*Type)
}

// typed is embedded by every expression to carry its checked type.
type typed struct{ T *Type }

func (t *typed) Type() *Type      { return t.T }
func (t *typed) SetType(ty *Type) { t.T = ty }

// IntLit is an integer literal. Text is as written (1_000, 0x10, 5ms);
// Value has any duration suffix applied, in nanoseconds (5ms = 5000000).
// There are no negative literals: unary minus applies to them.
type IntLit struct {
	Span
	typed
	Text  string
	Value uint64
}

// StrLit is a string literal with escapes resolved.
type StrLit struct {
	Span
	typed
	Value string
}

// BoolLit is true or false.
type BoolLit struct {
	Span
	typed
	Value bool
}

// VarExpr is a scratch variable, $name.
type VarExpr struct {
	Span
	typed
	Name string // with the '$'
}

// MapExpr is a map access: @name, @name[k], @name[k1, k2], or bare @.
// Keys is nil for a map without a key.
type MapExpr struct {
	Span
	typed
	Name string // "@name", or "@" for the bare map
	Keys []Expr
}

// PosParam is a positional parameter: $1 ... $N, or $# (Count).
type PosParam struct {
	Span
	typed
	Index int
	Count bool
}

// Ident is a bare identifier: a builtin (pid, comm, args, retval, arg0),
// a probe-relative name, or an enum constant.
type Ident struct {
	Span
	typed
	Name string
}

// Call is a function call, e.g. printf("%d\n", pid), count(), hist(x).
type Call struct {
	Span
	typed
	Func string
	Args []Expr
}

// Unary is a prefix or postfix operator: ! ~ - * & ++ --.
type Unary struct {
	Span
	typed
	Op      string
	X       Expr
	Postfix bool
}

// Binary is an infix operator: arithmetic, bitwise, comparison, && and ||.
type Binary struct {
	Span
	typed
	Op   string
	X, Y Expr
}

// Ternary is cond ? then : else; Then is nil for the `x ?: y` form.
type Ternary struct {
	Span
	typed
	Cond, Then, Else Expr
}

// FieldExpr is x.field or x->field.
type FieldExpr struct {
	Span
	typed
	X     Expr
	Field string
	Arrow bool
}

// IndexExpr is x[i] on an array or pointer.
type IndexExpr struct {
	Span
	typed
	X, Index Expr
}

// TupleIndex is t.N on a tuple.
type TupleIndex struct {
	Span
	typed
	X     Expr
	Index int
}

// TupleExpr is (a, b, ...). bpftrace also writes a one-element tuple with
// a trailing comma, (a,), and the empty tuple as ().
type TupleExpr struct {
	Span
	typed
	Elems []Expr
}

// CastExpr is (type)x.
type CastExpr struct {
	Span
	typed
	To *TypeExpr
	X  Expr
}

// SizeofExpr is sizeof(type) or sizeof(expr); exactly one is set.
type SizeofExpr struct {
	Span
	typed
	OfType *TypeExpr
	OfExpr Expr
}

// OffsetofExpr is offsetof(struct T, field[.field...]) or, with OfExpr set
// instead of Of, offsetof(expr, field...) on the type of an expression
// (offsetof(*curtask, comm)).
type OffsetofExpr struct {
	Span
	typed
	Of     *TypeExpr
	OfExpr Expr
	Field  []string
}

// TypeExpr is a type as written: "uint32", "int8", "string", "struct sock *",
// "char[16]".
type TypeExpr struct {
	Span
	Name string // "uint64", "struct task_struct", "int"
	Ptr  int    // levels of '*'
	// Array is the element count for name[N]; 0 when not an array, and
	// ArrayUnsized for name[] (a cast whose length comes from the value).
	Array int
}

// ArrayUnsized is TypeExpr.Array for an array type written without a
// length, as in the cast (uint8[])x.
const ArrayUnsized = -1

func (t *TypeExpr) String() string {
	s := t.Name
	if t.Ptr > 0 {
		s += " " + strings.Repeat("*", t.Ptr)
	}
	switch {
	case t.Array > 0:
		s += fmt.Sprintf("[%d]", t.Array)
	case t.Array == ArrayUnsized:
		s += "[]"
	}
	return s
}
