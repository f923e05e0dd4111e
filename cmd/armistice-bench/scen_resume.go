package main

import (
	"context"
	"strconv"
	"time"

	"github.com/armistice-go/armistice/actors"
)

type resumeResult struct {
	Records    int `json:"records"`
	Reconnects int `json:"reconnects_per_round"`
	Rounds     int `json:"rounds"`
	// FirstP50Ms/FirstP99Ms: from sending the GET with Last-Event-ID to
	// the first replayed record parsed by the client.
	FirstP50Ms figure `json:"first_p50_ms"`
	FirstP99Ms figure `json:"first_p99_ms"`
	// RestP50Ms: the whole replay, to the end record.
	RestP50Ms figure `json:"all_p50_ms"`
	// Gaps and Duplicates over every replay: a record missing or seen
	// twice, by seq and by token index.
	Gaps       int    `json:"gaps"`
	Duplicates int    `json:"duplicates"`
	Note       string `json:"note"`
}

func (b *bench) resume() (*resumeResult, error) {
	p := b.plan
	arm, err := b.env.newArmistice(relayOptions{engine: func(c *actors.Config) {
		c.Linger = 10 * time.Minute
	}})
	if err != nil {
		return nil, err
	}
	defer arm.Close()
	res := &resumeResult{Records: p.ResumeRecords, Reconnects: p.ResumeReconnects, Rounds: p.Rounds,
		Note: "Armistice only: neither direct nor the baseline can resume"}
	ctx := context.Background()
	// The log: state pending, state streaming, the tokens, the end.
	tokens := p.ResumeRecords - 3
	sc := script{Tokens: tokens}
	st, err := arm.Open(ctx, sc)
	if err != nil {
		return nil, err
	}
	t, err := read(st, tokens)
	st.Close()
	if err != nil || t.end != "completed" {
		return nil, errorf("resume: the first read ended %q: %v", t.end, err)
	}
	last, id := t.lastSeq, st.id
	if int(last) != p.ResumeRecords {
		return nil, errorf("resume: the log has %d records, want %d", last, p.ResumeRecords)
	}
	var f50, f99, r50 []float64
	for r := range p.Rounds {
		var firsts, rests []float64
		for i := range p.ResumeReconnects {
			// Cursors spread over the whole log (a prime stride).
			after := uint64((r*p.ResumeReconnects + i) * 7919 % (p.ResumeRecords - 1))
			start := b.env.clock.now()
			st, err := arm.Events(ctx, id, strconv.FormatUint(after, 10))
			if err != nil {
				return nil, err
			}
			ev, err := st.Next()
			if err != nil {
				st.Close()
				return nil, errorf("resume: first record: %v", err)
			}
			firsts = append(firsts, float64(ev.at-start)/1e6)
			t := newTally(tokens)
			t.lastSeq = after
			if ev.seq != after+1 {
				res.Gaps++
			}
			// Token indexes start at seq 3.
			if after >= 2 {
				t.next = int(after) - 2
			}
			t.add(ev)
			for ev.kind != evEnd {
				if ev, err = st.Next(); err != nil {
					break
				}
				t.add(ev)
			}
			st.Close()
			if err != nil || t.end != "completed" || t.lastSeq != last {
				res.Gaps++
			}
			t.finish()
			m, d := t.lost()
			res.Gaps += m
			res.Duplicates += d
			rests = append(rests, float64(t.endAt-start)/1e6)
		}
		fs, rs := sortedCopy(firsts), sortedCopy(rests)
		f50 = append(f50, round3(percentile(fs, 50)))
		f99 = append(f99, round3(percentile(fs, 99)))
		r50 = append(r50, round3(percentile(rs, 50)))
	}
	res.FirstP50Ms, res.FirstP99Ms, res.RestP50Ms = newFigure(f50), newFigure(f99), newFigure(r50)
	return res, nil
}
