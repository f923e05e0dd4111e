package actors

import "github.com/armistice-go/armistice/model"

// logChunk is how many records one chunk of a request's log holds.
const logChunk = 1024

// recordLog is a request's append-only event log, kept in chunks so that
// appending never copies what is already there (a long answer in one
// slice was copied again at every growth: a third of the per-token CPU).
// Every chunk but the last is full. The first chunk grows like a slice,
// so a short answer costs no more than before; later chunks are made at
// full size. Views handed to subscribers are capped sub-slices of one
// chunk: records are never written twice, so they stay valid.
type recordLog struct {
	chunks [][]model.Record
	n      int
}

func (l *recordLog) len() int { return l.n }

func (l *recordLog) append(recs []model.Record) {
	for len(recs) > 0 {
		last := len(l.chunks) - 1
		if last < 0 || len(l.chunks[last]) == logChunk {
			size := logChunk
			if last < 0 {
				size = min(len(recs), logChunk) // the first chunk grows as needed
			}
			l.chunks = append(l.chunks, make([]model.Record, 0, size))
			last++
		}
		room := logChunk - len(l.chunks[last])
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
	c := l.chunks[from/logChunk]
	lo := from % logChunk
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
