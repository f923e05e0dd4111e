package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// waitLimit bounds every wait in these tests: a hang fails, it never
// blocks the run. Nothing waits on it when the code is right.
const waitLimit = 10 * time.Second

// seedEnv is the local upstream and a baseline relay in front of it.
type seedEnv struct {
	t    *testing.T
	e    *env
	s    *seedSystem
	done chan string // worker ids, as workers return
}

func newSeedEnv(t *testing.T) *seedEnv {
	t.Helper()
	e, err := newEnv()
	if err != nil {
		t.Fatal(err)
	}
	s, err := e.newBaseline(relayOptions{})
	if err != nil {
		e.close()
		t.Fatal(err)
	}
	env := &seedEnv{t: t, e: e, s: s, done: make(chan string, 64)}
	s.srv.m.workerDone = func(id string) { env.done <- id }
	t.Cleanup(func() {
		s.Close()
		e.close()
	})
	return env
}

func (s *seedEnv) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	s.t.Cleanup(cancel)
	return ctx
}

// workerGone waits for the worker of request id to return.
func (s *seedEnv) workerGone(id string) {
	s.t.Helper()
	timeout := time.After(waitLimit)
	for {
		select {
		case got := <-s.done:
			if got == id {
				return
			}
		case <-timeout:
			s.t.Fatalf("the worker of %s did not return", id)
		}
	}
}

func TestBaselineStreamsEveryToken(t *testing.T) {
	s := newSeedEnv(t)
	for _, n := range []int{1, 20, 500} { // 500 > the channel's 64: the worker waits for the reader
		st, err := s.s.Open(s.ctx(), script{Tokens: n})
		if err != nil {
			t.Fatal(err)
		}
		tl, err := read(st, n)
		st.Close()
		if err != nil {
			t.Fatal(err)
		}
		missing, dups := tl.lost()
		if tl.end != "completed" || tl.tokens != n || missing != 0 || dups != 0 || tl.lastSeq != uint64(n+1) {
			t.Fatalf("%d tokens: end %q, %d tokens, %d missing, %d duplicated, last seq %d", n, tl.end, tl.tokens, missing, dups, tl.lastSeq)
		}
		s.workerGone(st.id)
	}
	if n := s.s.Registered(); n != 0 {
		t.Fatalf("%d requests left in the map after they were streamed", n)
	}
}

// A fast answer finished before the client attached is still there
// (catalogue item 10): the worker does not delete an unclaimed result.
func TestBaselineKeepsAnAnswerNobodyAttachedTo(t *testing.T) {
	s := newSeedEnv(t)
	id, err := s.s.Submit(s.ctx(), script{Tokens: 3})
	if err != nil {
		t.Fatal(err)
	}
	s.workerGone(id)
	st, err := s.s.Events(s.ctx(), id, "")
	if err != nil {
		t.Fatalf("attach after the answer finished: %v", err)
	}
	defer st.Close()
	tl, err := read(st, 3)
	if err != nil || tl.end != "completed" || tl.tokens != 3 {
		t.Fatalf("end %q after %d tokens: %v", tl.end, tl.tokens, err)
	}
}

// Fix 3, the last gasp: a cancel mid-stream still ends the stream with
// the cancelled status, and the upstream call is aborted.
func TestBaselineCancelMidStreamSendsTheFinalStatus(t *testing.T) {
	s := newSeedEnv(t)
	tag := tagSeq.Add(1)
	st, err := s.s.Open(s.ctx(), script{Tokens: 1000, Rate: 200, Tag: tag})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if ev, err := st.Next(); err != nil || ev.kind != evToken {
		t.Fatalf("first event %+v: %v", ev, err)
	}
	if err := s.s.Cancel(s.ctx(), st); err != nil {
		t.Fatal(err)
	}
	tl, err := read(st, 1000)
	if err != nil || tl.end != "cancelled" {
		t.Fatalf("after the cancel: end %q: %v", tl.end, err)
	}
	s.workerGone(st.id)
	if _, ok := s.e.up.Aborted(tag, waitLimit); !ok {
		t.Fatal("the upstream request was not aborted")
	}
	// Cancel is idempotent.
	if err := s.s.Cancel(s.ctx(), st); err != nil {
		t.Fatalf("second cancel: %v", err)
	}
}

// Fix 2: cancel, then stream, finds the cancelled request instead of
// "request not found".
func TestBaselineCancelThenStreamFindsTheResult(t *testing.T) {
	s := newSeedEnv(t)
	id, err := s.s.Submit(s.ctx(), script{Tokens: 1000, Rate: 100})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.s.Cancel(s.ctx(), &stream{id: id}); err != nil {
		t.Fatal(err)
	}
	s.workerGone(id)
	st, err := s.s.Events(s.ctx(), id, "")
	if err != nil {
		t.Fatalf("stream after cancel: %v", err)
	}
	defer st.Close()
	tl, err := read(st, 1000)
	if err != nil || tl.end != "cancelled" {
		t.Fatalf("end %q: %v", tl.end, err)
	}
}

// Fix 1: a client that leaves does not leave its worker blocked on a
// full channel; the disconnect cancels the request.
func TestBaselineDisconnectEndsTheWorker(t *testing.T) {
	s := newSeedEnv(t)
	st, err := s.s.Open(s.ctx(), script{Tokens: 1000, Rate: 500})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Next(); err != nil {
		t.Fatal(err)
	}
	st.Close()
	s.workerGone(st.id)
}

// A second attach is refused, never a panic (catalogue item 11); a
// cancel after completion says so.
func TestBaselineSecondAttachAndLateCancel(t *testing.T) {
	s := newSeedEnv(t)
	st, err := s.s.Open(s.ctx(), script{Tokens: 50, Rate: 200})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := s.s.Events(s.ctx(), st.id, ""); err == nil || !strings.Contains(err.Error(), "409") {
		t.Fatalf("second attach: %v, want 409", err)
	}
	if tl, err := read(st, 50); err != nil || tl.end != "completed" {
		t.Fatalf("end %q: %v", tl.end, err)
	}
	s.workerGone(st.id)
	// The entry is gone once streamed: 404; a request still in the map
	// after completing answers 409.
	req, _ := http.NewRequestWithContext(s.ctx(), http.MethodPost, s.s.base+"/v1/requests/"+st.id+"/cancel", nil)
	res, err := s.e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("cancel after completion and pickup: status %d, want 404", res.StatusCode)
	}
	id, err := s.s.Submit(s.ctx(), script{Tokens: 2})
	if err != nil {
		t.Fatal(err)
	}
	s.workerGone(id)
	err = s.s.Cancel(s.ctx(), &stream{id: id})
	if err == nil || !strings.Contains(err.Error(), "409") {
		t.Fatalf("cancel of a finished, unclaimed answer: %v, want 409", err)
	}
}

func TestScriptRoundTrip(t *testing.T) {
	for _, sc := range []script{{Tokens: 3}, {Tokens: 10, Rate: 50, Stamp: true}, {Tokens: 5, FailAfter: 2, Cut: true, Hold: true, Tag: 7}} {
		got, err := parseScript(sc.model())
		if err != nil || got != sc {
			t.Fatalf("parseScript(%q) = %+v, %v; want %+v", sc.model(), got, err, sc)
		}
	}
	if _, err := parseScript("gpt-4o"); err == nil {
		t.Fatal("a model that is not a script parsed")
	}
	var ev event
	if err := parseToken(&ev, []byte(" 12:345")); err != nil || ev.idx != 12 || ev.sent != 345 {
		t.Fatalf("parseToken: %+v, %v", ev, err)
	}
	if err := parseToken(&ev, []byte("x")); !errors.Is(err, errBadEvent) {
		t.Fatalf("parseToken(x): %v", err)
	}
}

func TestHistQuantiles(t *testing.T) {
	h := &hist{}
	for v := int64(1); v <= 1000; v++ {
		h.add(v * 1000)
	}
	for _, c := range []struct {
		q    float64
		want int64
	}{{0.5, 500_000}, {0.99, 990_000}} {
		got := h.quantile(c.q)
		if got > c.want || float64(got) < float64(c.want)*0.96 {
			t.Fatalf("quantile(%g) = %d, want within 4 %% below %d", c.q, got, c.want)
		}
	}
}
