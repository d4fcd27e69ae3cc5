package sema

import (
	"fmt"
	"runtime"
	"strconv"
	"strings"

	"github.com/wagglebpf/waggle/attach"
	"github.com/wagglebpf/waggle/lang/ast"
)

// maxUSDTArgs is how many arguments a USDT probe can have (sys/sdt.h
// goes up to STAP_PROBE12).
const maxUSDTArgs = 12

// expandUSDT resolves usdt:BINARY:[PROVIDER:]NAME into one instance per
// probe site: a provider:name pair may have several sites (the macro was
// used more than once, or inlined), each with its own argument
// specifications. Wildcards in the provider and name match every probe
// of the file; BINARY "*" means every file the -p process maps.
func (c *checker) expandUSDT(tmpl *Instance, parts []string) []*Instance {
	var binary, spec string
	switch len(parts) {
	case 2:
		binary, spec = parts[0], parts[1]
	case 3:
		binary, spec = parts[0], parts[1]+":"+parts[2]
	default:
		c.errorf(tmpl.Point, "usdt probes are written usdt:BINARY:[PROVIDER:]NAME")
		return nil
	}
	if binary == "" || strings.HasSuffix(spec, ":") || spec == "" {
		c.errorf(tmpl.Point, "usdt probes are written usdt:BINARY:[PROVIDER:]NAME")
		return nil
	}
	if binary == "*" && c.opts.PID == 0 {
		c.errorf(tmpl.Point, "usdt:*:%s needs a process to look in: give one with -p PID", spec)
		return nil
	}
	sites, err := attach.FindUSDT(binary, c.opts.PID, spec)
	if err != nil {
		c.errorf(tmpl.Point, "%v", err)
		return nil
	}
	out := make([]*Instance, 0, len(sites))
	for i := range sites {
		inst := *tmpl
		site := sites[i]
		inst.USDT = &site
		inst.Binary = site.Path
		inst.Symbol = site.Provider + ":" + site.Name
		inst.Name = site.String()
		out = append(out, &inst)
	}
	return out
}

// usdtArgIndex reads argN of a usdt probe, which may go past arg5.
func usdtArgIndex(name string) (int, bool) {
	digits, ok := strings.CutPrefix(name, "arg")
	if !ok || digits == "" || (len(digits) > 1 && digits[0] == '0') {
		return 0, false
	}
	n, err := strconv.Atoi(digits)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// usdtArg checks argN in a usdt probe: the site must have that argument,
// and its specification must be one waggle can read.
func (c *checker) usdtArg(e *ast.Ident, n int) *ast.Type {
	site := c.inst.USDT
	if site == nil {
		c.errorf(e, "%s: the usdt probe site is not known", e.Name)
		return nil
	}
	if n >= maxUSDTArgs {
		c.errorf(e, "there is no %s: usdt probes have at most %d arguments (arg0 to arg%d)", e.Name, maxUSDTArgs, maxUSDTArgs-1)
		return nil
	}
	if site.ArgsErr != nil {
		c.errorf(e, "%s: cannot read the arguments of usdt probe %s:%s: %v", e.Name, site.Provider, site.Name, site.ArgsErr)
		return nil
	}
	if n >= len(site.Args) {
		c.errorf(e, "usdt probe %s:%s has %s: there is no %s", site.Provider, site.Name, countArgs(len(site.Args)), e.Name)
		return nil
	}
	if err := USDTArgReadable(site.Args[n], site); err != nil {
		c.errorf(e, "%s (%s) of usdt probe %s:%s: %v", e.Name, site.Args[n].Spec, site.Provider, site.Name, err)
		return nil
	}
	// bpftrace's type for every argN; the value is sign-extended as the
	// note says.
	return ast.Uint64
}

func countArgs(n int) string {
	switch n {
	case 0:
		return "no arguments"
	case 1:
		return "1 argument (arg0)"
	}
	return fmt.Sprintf("%d arguments (arg0 to arg%d)", n, n-1)
}

// USDTArgReadable reports why a probe program cannot read argument a of
// site (nil when it can): registers must be in this architecture's
// struct pt_regs, which is the file's architecture.
func USDTArgReadable(a attach.USDTArg, site *attach.USDTProbe) error {
	if a.Bytes() != 1 && a.Bytes() != 2 && a.Bytes() != 4 && a.Bytes() != 8 {
		return fmt.Errorf("size %d is not 1, 2, 4 or 8", a.Bytes())
	}
	if a.Kind != attach.USDTArgConst && site.Arch != runtime.GOARCH {
		return fmt.Errorf("the file is for %s and waggle runs on %s, whose registers differ", site.Arch, runtime.GOARCH)
	}
	switch a.Kind {
	case attach.USDTArgConst:
		return nil
	case attach.USDTArgReg:
		return nil
	case attach.USDTArgMem:
		if (a.Reg == "rip" || a.Reg == "eip") && a.Symbol == "" {
			return fmt.Errorf("an address relative to %%%s without a symbol is not supported", a.Reg)
		}
		return nil
	}
	return fmt.Errorf("unknown argument kind %v", a.Kind)
}
