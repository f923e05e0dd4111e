package actors

import (
	"math/bits"
	"slices"

	"github.com/armistice-go/armistice/model"
)

// firstChunk is the most records the first chunk of a request's log
// holds; logChunk the most any chunk holds.
const (
	firstChunk = 64
	logChunk   = 1024
)

// recordLog is a request's append-only event log, kept in chunks so that
// appending never copies what is already there (a long answer in one
// slice was copied again at every growth: a third of the per-token CPU).
// Every chunk but the last is full. The first chunk grows like a slice up
// to firstChunk records, so a short answer costs no more than it needs;
// each later chunk is made at its full size, twice the records before it
// (64, 128, 256, 512) up to logChunk, then logChunk each: chunk k covers
// the indexes [2^(k+5), 2^(k+6)) until 1024, then [1024(k-4), 1024(k-3)).
// A paced answer's log so allocates about what it holds, at most twice,
// where a first chunk growing like a slice to 1,024 allocated every
// record two to four times over (TestALogAllocatesAboutWhatItHolds).
// Views handed to subscribers are capped sub-slices of one chunk: records
// are never written twice, so they stay valid.
type recordLog struct {
	chunks [][]model.Record
	n      int
}

// chunkOf returns the chunk that holds index i and i's offset in it.
func chunkOf(i int) (chunk, offset int) {
	switch {
	case i < firstChunk:
		return 0, i
	case i < logChunk:
		b := bits.Len(uint(i)) // 7 for [64, 128) ... 10 for [512, 1024)
		return b - 6, i - 1<<(b-1)
	}
	return 4 + i/logChunk, i % logChunk
}

// chunkSize is how many records chunk k holds when full.
func chunkSize(k int) int {
	switch {
	case k == 0:
		return firstChunk
	case k < 5:
		return firstChunk << (k - 1)
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
