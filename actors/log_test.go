package actors

import (
	"fmt"
	"testing"

	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/model"
)

func TestRecordLogChunks(t *testing.T) {
	var l recordLog
	seq := uint64(0)
	for _, n := range []int{1, 3, 1020, 1, 2500, 700} { // crosses chunk ends inside one append and between appends
		recs := make([]model.Record, n)
		for i := range recs {
			seq++
			recs[i] = model.Record{Seq: seq}
		}
		l.append(recs)
	}
	if l.len() != int(seq) {
		t.Fatalf("len = %d, want %d", l.len(), seq)
	}
	for from := 0; from < l.len(); from += 37 {
		v := l.view(from, from+100)
		if len(v) == 0 || v[0].Seq != uint64(from+1) || cap(v) != len(v) {
			t.Fatalf("view(%d) = %d records from %d, cap %d", from, len(v), v[0].Seq, cap(v))
		}
		if end := (from/logChunk + 1) * logChunk; from+len(v) > end {
			t.Fatalf("view(%d) crosses the chunk end %d", from, end)
		}
		s := l.slice(from, from+2000)
		want := min(2000, l.len()-from)
		if len(s) != want || s[0].Seq != uint64(from+1) || s[len(s)-1].Seq != uint64(from+want) {
			t.Fatalf("slice(%d) = %d records", from, len(s))
		}
	}
	if v := l.view(l.len(), l.len()+5); v != nil {
		t.Fatalf("a view past the end = %v", v)
	}
	if len(l.chunks[0]) != logChunk || cap(l.chunks[len(l.chunks)-1]) != logChunk {
		t.Fatalf("chunks: first %d, last cap %d", len(l.chunks[0]), cap(l.chunks[len(l.chunks)-1]))
	}
}

// TestLongAnswerAcrossChunks: a subscriber reads a 5,000-token answer
// whole and in order, and resumes exactly at and around a chunk's end.
func TestLongAnswerAcrossChunks(t *testing.T) {
	scenario(t, nil, func(h *harness) {
		snap := h.submit(prompt("p"))
		s := h.script()
		for i := range 5000 {
			s.Token(fmt.Sprint(i % 10))
		}
		s.Finish(llm.FinishStop, nil)
		all := h.readAll(h.subscribe(snap.ID, 0))
		if len(all) != 5003 || text(all)[:10] != "0123456789" {
			t.Fatalf("read %d records", len(all))
		}
		for _, after := range []uint64{1023, 1024, 1025, 2048, 5002} {
			rest := h.readAll(h.subscribe(snap.ID, after))
			if len(rest) != int(5003-after) || rest[0].Seq != after+1 {
				t.Fatalf("resume after %d: %d records from %d", after, len(rest), rest[0].Seq)
			}
		}
	})
}
