package main

import "strings"

// tally checks one stream's events as they are read: every token index
// exactly once and in order, and (native formats) every seq exactly once.
type tally struct {
	want    int
	next    int // the token index expected next
	tokens  int
	missing int
	dups    int
	lastSeq uint64
	seqGaps int
	seqDups int
	firstAt int64 // clock ns of the first token
	end     string
	endAt   int64
}

func newTally(want int) *tally { return &tally{want: want} }

// add accounts for one event.
func (t *tally) add(ev event) {
	if ev.seq != 0 {
		switch {
		case t.lastSeq == 0 || ev.seq == t.lastSeq+1:
		case ev.seq <= t.lastSeq:
			t.seqDups++
		default:
			t.seqGaps += int(ev.seq - t.lastSeq - 1)
		}
		if ev.seq > t.lastSeq {
			t.lastSeq = ev.seq
		}
	}
	switch ev.kind {
	case evToken:
		if t.tokens == 0 {
			t.firstAt = ev.at
		}
		t.tokens++
		switch {
		case ev.idx == t.next:
			t.next++
		case ev.idx < t.next:
			t.dups++
		default:
			t.missing += ev.idx - t.next
			t.next = ev.idx + 1
		}
	case evEnd:
		t.end, t.endAt = ev.status, ev.at
	}
}

// finish accounts for tokens never seen by the end of a completed stream.
func (t *tally) finish() {
	if t.end == "completed" && t.next < t.want {
		t.missing += t.want - t.next
		t.next = t.want
	}
}

// lost is the number of tokens missing or duplicated, in tokens and seqs.
func (t *tally) lost() (missing, dups int) {
	return t.missing + t.seqGaps, t.dups + t.seqDups
}

// read reads st to its end, tallying every event; it returns the tally
// and the first error (io.EOF is not one).
func read(st *stream, want int) (*tally, error) {
	t := newTally(want)
	for {
		ev, err := st.Next()
		if err != nil {
			t.finish()
			return t, err
		}
		t.add(ev)
		if ev.kind == evEnd {
			t.finish()
			return t, nil
		}
	}
}

// shortErr is an error's message without the request's id or address, so
// that equal failures count together.
func shortErr(err error) string {
	msg := err.Error()
	for _, cut := range []string{"127.0.0.1:", "/requests/"} {
		if i := strings.Index(msg, cut); i >= 0 {
			j := i + len(cut)
			for j < len(msg) && msg[j] != ' ' && msg[j] != '"' && msg[j] != ':' {
				j++
			}
			msg = msg[:i+len(cut)] + "…" + msg[j:]
		}
	}
	if len(msg) > 120 {
		msg = msg[:120] + "…"
	}
	return msg
}
