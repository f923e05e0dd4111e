package main

import (
	"bufio"
	"bytes"
	"math"
	"math/bits"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
)

// figure is one measured quantity over repeated rounds: the median of the
// rounds' values and their spread.
type figure struct {
	Median float64   `json:"median"`
	Min    float64   `json:"min"`
	Max    float64   `json:"max"`
	Rounds []float64 `json:"rounds"`
}

func newFigure(rounds []float64) figure {
	if len(rounds) == 0 {
		return figure{Rounds: []float64{}}
	}
	s := slices.Clone(rounds)
	slices.Sort(s)
	// The median of an even count is a mean: keep it to the rounds'
	// precision (at most 3 decimals).
	return figure{Median: round3(median(s)), Min: s[0], Max: s[len(s)-1], Rounds: rounds}
}

// median of sorted values.
func median(s []float64) float64 {
	n := len(s)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// percentile of sorted values, nearest rank.
func percentile(s []float64, p float64) float64 {
	if len(s) == 0 {
		return 0
	}
	k := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(k, len(s)-1))]
}

func sortedCopy(v []float64) []float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s
}

// hist is a concurrent log-linear histogram of nanosecond values: 32
// sub-buckets per power of two (about 3 % resolution), lock-free adds.
type hist struct {
	counts [64 * histSub]atomic.Uint64
	n      atomic.Uint64
	maxV   atomic.Int64
}

const histSub = 32

func histIndex(v int64) int {
	if v < histSub {
		return int(max(v, 0))
	}
	e := bits.Len64(uint64(v)) - 1 // 2^e <= v
	shift := e - 5                 // keep 5 bits below the top one
	sub := int(uint64(v)>>shift) - histSub
	return (e-4)*histSub + sub
}

// histValue is the lower bound of bucket i.
func histValue(i int) int64 {
	if i < histSub {
		return int64(i)
	}
	e := i/histSub + 4
	sub := i % histSub
	return int64(histSub+sub) << (e - 5)
}

func (h *hist) add(v int64) {
	h.counts[histIndex(v)].Add(1)
	h.n.Add(1)
	for {
		m := h.maxV.Load()
		if v <= m || h.maxV.CompareAndSwap(m, v) {
			return
		}
	}
}

// quantile returns the value at fraction q (0..1), as the bucket's lower
// bound.
func (h *hist) quantile(q float64) int64 {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(n)))
	rank = max(rank, 1)
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			return histValue(i)
		}
	}
	return h.maxV.Load()
}

// memSample is the process's memory after a full GC.
type memSample struct {
	RSS        int64 // bytes, VmRSS
	HeapInuse  int64
	HeapAlloc  int64
	StackInuse int64
	Goroutines int
}

// settle runs the GC twice and returns freed memory to the OS, so that
// RSS reflects what is live.
func settle() { settleN(2) }

// settleN runs n GCs: each halves the stack of a goroutine that uses less
// than a quarter of it, so a long idle wait (many GCs) is settleN(8).
func settleN(n int) {
	for range n {
		runtime.GC()
	}
	debug.FreeOSMemory()
}

func sampleMem() memSample {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memSample{
		RSS:        procStatus("VmRSS"),
		HeapInuse:  int64(ms.HeapInuse),
		HeapAlloc:  int64(ms.HeapAlloc),
		StackInuse: int64(ms.StackInuse),
		Goroutines: runtime.NumGoroutine(),
	}
}

// procStatus reads a "kB" field of /proc/self/status, in bytes (0 when
// it cannot be read).
func procStatus(field string) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			f := strings.Fields(rest)
			if len(f) == 0 {
				return 0
			}
			n, _ := strconv.ParseInt(f[0], 10, 64)
			return n << 10
		}
	}
	return 0
}

// resetPeakRSS resets VmHWM to the current RSS (Linux ≥ 4.0); it reports
// whether that worked.
func resetPeakRSS() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// cpuSeconds is the process's user+system CPU time.
func cpuSeconds() float64 {
	cpu, _ := usage()
	return cpu
}

// usage is the process's user+system CPU time and how many times its
// threads gave up a core, voluntarily (a futex or epoll wait: a goroutine
// hand-off that found no work left to run) or not, read together.
func usage() (cpu, switches float64) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	return tv(ru.Utime) + tv(ru.Stime), float64(ru.Nvcsw + ru.Nivcsw)
}

func tv(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }

func round2(v float64) float64 { return math.Round(v*100) / 100 }
func round1(v float64) float64 { return math.Round(v*10) / 10 }
func round3(v float64) float64 { return math.Round(v*1000) / 1000 }
