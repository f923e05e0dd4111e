// Package parked finds a parked goroutine by a function on its stack and
// lists the functions under it, for tests that guard how deep a
// long-lived handler parks: its goroutine keeps a stack sized by that
// depth (the garbage collector halves a stack only while less than a
// quarter of it is in use).
package parked

import (
	"runtime"
	"strings"
)

// Below returns, for the first goroutine whose stack holds a call of
// marker (a function name as tracebacks print it, such as
// "github.com/armistice-go/armistice/http.Pump"), the functions called
// between bottom and marker, innermost first, both excluded; ok is false
// when no goroutine holds marker above bottom.
func Below(marker, bottom string) (frames []string, ok bool) {
	for _, g := range strings.Split(stacks(), "\n\n") {
		fns := functions(g)
		top := indexOf(fns, marker)
		end := indexOf(fns, bottom)
		if top >= 0 && end > top {
			return fns[top+1 : end], true
		}
	}
	return nil, false
}

// functions lists the functions of one goroutine's traceback, innermost
// first, without their arguments.
func functions(g string) []string {
	var out []string
	for _, line := range strings.Split(g, "\n") {
		if line == "" || strings.HasPrefix(line, "\t") || strings.HasPrefix(line, "goroutine ") || strings.HasPrefix(line, "created by ") {
			continue
		}
		if i := strings.LastIndex(line, "("); i > 0 {
			line = line[:i]
		}
		out = append(out, line)
	}
	return out
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// Holding returns the functions of the first goroutine whose stack holds a
// call of every one of markers, innermost first; ok is false when no
// goroutine does.
func Holding(markers ...string) (frames []string, ok bool) {
	for _, g := range strings.Split(stacks(), "\n\n") {
		fns := functions(g)
		all := true
		for _, m := range markers {
			if indexOf(fns, m) < 0 {
				all = false
				break
			}
		}
		if all {
			return fns, true
		}
	}
	return nil, false
}

// stacks is every goroutine's traceback.
func stacks() string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return string(buf[:n])
		}
		buf = make([]byte, 2*len(buf))
	}
}
