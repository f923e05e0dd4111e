package actors

import (
	"slices"
	"unsafe"

	"github.com/armistice-go/armistice/model"
)

// firstChunk is the most records the first chunk of a request's log
// holds; every later chunk holds logChunk, as many records as fill 8 KB
// (146 of 56 bytes: one size class, nothing rounded up).
const (
	firstChunk = 64
	logChunk   = 8192 / int(unsafe.Sizeof(model.Record{}))
)

// recordLog is a request's append-only event log, kept in chunks so that
// appending never copies what is already there (a long answer in one
// slice was copied again at every growth: a third of the per-token CPU).
// Every chunk but the last is full. The first chunk grows like a slice up
// to firstChunk records, so a short answer costs no more than it needs;
// each later chunk is made at its full size, logChunk records: chunk k
// covers the indexes [64+146(k-1), 64+146k). A paced answer's log so
// allocates what it holds and at most one chunk not yet filled
// (TestALogAllocatesAboutWhatItHolds). Chunks that doubled up to 1,024
// records allocated up to twice what a paced answer holds, and under load
// a stream made its next chunk, up to 56 KB, inside the benchmark's
// measured window: the log was 75–140 B of a paced token's allocation,
// where its records are 56 (docs/benchmarks.md).
// Views handed to subscribers are capped sub-slices of one chunk: records
// are never written twice, so they stay valid.
type recordLog struct {
	chunks [][]model.Record
	n      int
}

// chunkOf returns the chunk that holds index i and i's offset in it.
func chunkOf(i int) (chunk, offset int) {
	if i < firstChunk {
		return 0, i
	}
	i -= firstChunk
	return 1 + i/logChunk, i % logChunk
}

// chunkSize is how many records chunk k holds when full.
func chunkSize(k int) int {
	if k == 0 {
		return firstChunk
	}
	return logChunk
}

func (l *recordLog) len() int { return l.n }

// spare returns the free end of the last chunk, with room for at least
// one record and length 0: a step builds a token's records there
// (model.Tokens.Into) and append then only counts them. Past the end of
// every view (views are capped), so nothing handed out sees it. Nil
// before the first append.
func (l *recordLog) spare() []model.Record {
	last := len(l.chunks) - 1
	if last < 0 {
		return nil
	}
	c, size := l.chunks[last], chunkSize(last)
	switch {
	case len(c) == size: // full: the next chunk starts here
		next := make([]model.Record, 0, chunkSize(last+1))
		l.chunks = append(l.chunks, next)
		return next
	case len(c) == cap(c): // the first chunk, growing as append grows it
		c = slices.Grow(c, min(len(c), size-len(c)))
		l.chunks[last] = c
	}
	return c[len(c):len(c):min(cap(c), size)]
}

func (l *recordLog) append(recs []model.Record) {
	if last := len(l.chunks) - 1; last >= 0 && len(recs) > 0 {
		// Built in place (spare): count them.
		c := l.chunks[last]
		if n := len(c); len(recs) <= min(cap(c), chunkSize(last))-n && &c[:n+1][n] == &recs[0] {
			l.chunks[last] = c[:n+len(recs)]
			l.n += len(recs)
			return
		}
	}
	for len(recs) > 0 {
		last := len(l.chunks) - 1
		if last < 0 || len(l.chunks[last]) == chunkSize(last) {
			size := chunkSize(last + 1)
			if last < 0 {
				size = min(len(recs), firstChunk) // the first chunk grows as needed
			}
			l.chunks = append(l.chunks, make([]model.Record, 0, size))
			last++
		}
		room := chunkSize(last) - len(l.chunks[last])
		k := min(room, len(recs))
		l.chunks[last] = append(l.chunks[last], recs[:k]...)
		l.n += k
		recs = recs[k:]
	}
}

// view returns the records from from up to to, or fewer: the view ends
// at the end of from's chunk. It shares the log's memory and is capped,
// so appends never show through it.
func (l *recordLog) view(from, to int) []model.Record {
	if from >= to || from >= l.n {
		return nil
	}
	k, lo := chunkOf(from)
	c := l.chunks[k]
	hi := min(len(c), lo+(to-from))
	return c[lo:hi:hi]
}

// slice returns the records from from to to as one slice: a view when
// they lie in one chunk, else a copy.
func (l *recordLog) slice(from, to int) []model.Record {
	to = min(to, l.n)
	if v := l.view(from, to); len(v) == to-from {
		return v
	}
	out := make([]model.Record, 0, to-from)
	for from < to {
		v := l.view(from, to)
		out = append(out, v...)
		from += len(v)
	}
	return out
}

// each calls f on every record, in order.
func (l *recordLog) each(f func(*model.Record)) {
	for _, c := range l.chunks {
		for i := range c {
			f(&c[i])
		}
	}
}
