package actors

import (
	"fmt"
	"runtime"
	"testing"
	"unsafe"

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
		if k, off := chunkOf(from); from+len(v) > from-off+chunkSize(k) {
			t.Fatalf("view(%d) crosses the end of chunk %d", from, k)
		}
		if end := firstChunk + ((from-firstChunk)/logChunk+1)*logChunk; from >= firstChunk && from+len(v) > end {
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
	for k, c := range l.chunks {
		if k < len(l.chunks)-1 && len(c) != chunkSize(k) || k > 0 && cap(c) != chunkSize(k) {
			t.Fatalf("chunk %d: %d records, cap %d, want %d", k, len(c), cap(c), chunkSize(k))
		}
	}
	for i := range l.len() { // chunkOf walks the chunks in order
		k, off := chunkOf(i)
		if l.chunks[k][off].Seq != uint64(i+1) {
			t.Fatalf("chunkOf(%d) = %d, %d holds seq %d", i, k, off, l.chunks[k][off].Seq)
		}
	}
}

// TestALogAllocatesAboutWhatItHolds: a log appended a record at a time (a
// paced answer) allocates the records it holds, the first chunk's growth
// and at most one chunk it has not filled yet. A first chunk that grew
// like a slice to 1,024 records allocated 1,023 records' worth for a
// 300-token answer, and its garbage was a quarter of a paced token's
// bytes under load; later chunks that doubled (64, 128, 256, 512, then
// 1,024) allocated up to twice what a paced answer holds, 575 records for
// 300, and under load a stream made its next chunk of up to 1,024 records
// in the measured window (docs/benchmarks.md).
func TestALogAllocatesAboutWhatItHolds(t *testing.T) {
	one := []model.Record{{Kind: model.KindToken, Text: "x"}}
	size := uint64(unsafe.Sizeof(model.Record{}))
	for _, n := range []int{10, 100, 300, 700, 1000, 3000} {
		var l recordLog
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range n {
			l.append(one)
		}
		runtime.ReadMemStats(&after)
		// The records, the first chunk's growth (a slice's: about as
		// much again), one chunk of 8 KB not filled yet, and the list of
		// chunks.
		limit := (uint64(n)+2*firstChunk)*size + 8192 + 64*uint64(n/100+2)
		if got := after.TotalAlloc - before.TotalAlloc; got > limit {
			t.Errorf("a log of %d records allocated %d bytes (%.2f records each), want at most %d", n, got, float64(got)/float64(size)/float64(n), limit)
		}
	}
}

// A later chunk fills its size class: no allocation rounds it up by more
// than a record.
func TestALogChunkFillsItsSizeClass(t *testing.T) {
	size := int(unsafe.Sizeof(model.Record{}))
	if bytes := logChunk * size; bytes > 8192 || bytes+size <= 8192 {
		t.Errorf("a chunk of %d records is %d bytes, want the most records in 8 KB", logChunk, bytes)
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
		for _, after := range []uint64{63, 64, 65, uint64(firstChunk + logChunk - 1), uint64(firstChunk + logChunk), uint64(firstChunk + logChunk + 1), uint64(min(firstChunk+10*logChunk, 4000)), 5002} {
			rest := h.readAll(h.subscribe(snap.ID, after))
			if len(rest) != int(5003-after) || rest[0].Seq != after+1 {
				t.Fatalf("resume after %d: %d records from %d", after, len(rest), rest[0].Seq)
			}
		}
	})
}
