package http

import (
	"bufio"
	"context"
	"fmt"
	stdhttp "net/http"
	"strings"
	"testing"
	"time"

	"github.com/armistice-go/armistice/actors"
	"github.com/armistice-go/armistice/llm"
	"go.uber.org/goleak"
)

func TestStreamsAnAnswerToTheEnd(t *testing.T) {
	e := newEnv(t)
	snap := e.submit(`{"prompt":"hello","max_tokens":5,"metadata":{"user":"u1"}}`)
	s := e.script()
	if got := s.Request(); got.Messages[0].Content != "hello" || got.MaxTokens != 5 {
		t.Fatalf("provider got %+v", got)
	}
	st := e.mustOpen(snap.ID, "")
	s.Token("Hello")
	s.Token(", \"world\"\n<&>\u2028")
	s.Finish(llm.FinishStop, &llm.Usage{PromptTokens: 3, CompletionTokens: 2})
	evs := st.readToEnd()
	checkSeqs(t, evs, 1)
	if evs[0].Type != "state" || evs[0].Data["state"] != "pending" || evs[1].Type != "state" || evs[1].Data["state"] != "streaming" {
		t.Fatalf("stream must open with pending, streaming: %v", evs)
	}
	if got := joinText(evs); got != "Hello, \"world\"\n<&>\u2028" {
		t.Fatalf("text = %q", got)
	}
	wantEnd(t, evs, "done", "completed", "stop")
	end := endOf(t, evs)
	if end["tokens"] != 2.0 || end["usage"].(map[string]any)["completion_tokens"] != 2.0 {
		t.Fatalf("end = %v", end)
	}
	code, after := e.status(snap.ID)
	if code != 200 || after.State.String() != "done" || after.Status.String() != "completed" || after.LastSeq != 5 ||
		after.Metadata["user"] != "u1" || after.Model != "scripted" || after.FinishedAt.IsZero() {
		t.Fatalf("status = %d %+v", code, after)
	}
}

// Seed problem 1: a client that leaves mid-stream blocks nothing. The
// request runs on, its handler returns, and no goroutine is left behind.
func TestDisconnectLeavesNoGoroutine(t *testing.T) {
	e := newEnv(t)
	done := make(chan struct{}, 4)
	e.srv.streamDone = func() { done <- struct{}{} }
	baseline := goleak.IgnoreCurrent()

	snap := e.submit(`{"prompt":"hello"}`)
	s := e.script()
	st := e.mustOpen(snap.ID, "")
	s.Token("a")
	st.readN(3)
	st.close()
	select {
	case <-done:
	case <-time.After(waitLimit):
		t.Fatal("the stream handler did not return after the client left")
	}
	for range 200 { // the producer never waits for the gone reader
		if !s.Token("x") {
			t.Fatal("the producer stopped taking tokens")
		}
	}
	s.Finish(llm.FinishStop, nil)
	st2 := e.mustOpen(snap.ID, "", "Last-Event-ID", "3")
	evs := st2.readToEnd()
	checkSeqs(t, evs, 4)
	wantEnd(t, evs, "done", "completed", "stop")
	<-done
	if _, snap := e.status(snap.ID); snap.Subscribers != 0 || snap.Tokens != 201 {
		t.Fatalf("snapshot = %+v", snap)
	}
	e.client.CloseIdleConnections()
	goleak.VerifyNone(t, baseline)
}

// Seed problem 2: cancel, then stream: the stream finds the request and
// ends with the cancelled end record, never "not found".
func TestCancelThenStreamGetsTheCancelledEnd(t *testing.T) {
	e := newEnv(t)
	snap := e.submit(`{"prompt":"hello"}`)
	s := e.script()
	s.Token("partial")
	resp, data := e.do("POST", "/v1/requests/"+snap.ID+"/cancel", "")
	if resp.StatusCode != 200 || !strings.Contains(string(data), `"state":"cancelled"`) {
		t.Fatalf("cancel: %d %s", resp.StatusCode, data)
	}
	<-s.Done() // the upstream call was aborted
	evs := e.mustOpen(snap.ID, "").readToEnd()
	checkSeqs(t, evs, 1)
	wantEnd(t, evs, "cancelled", "cancelled", "client_cancel")
}

// Seed problem 3: a cancel mid-stream reaches the attached client as the
// cancelled end record, before its connection closes.
func TestCancelMidStreamDeliversTheEndBeforeClose(t *testing.T) {
	e := newEnv(t)
	snap := e.submit(`{"prompt":"hello"}`)
	s := e.script()
	st := e.mustOpen(snap.ID, "")
	s.Token("one")
	st.readN(3)
	resp, _ := e.do("POST", "/v1/requests/"+snap.ID+"/cancel", "")
	if resp.StatusCode != 200 {
		t.Fatalf("cancel: %d", resp.StatusCode)
	}
	evs := st.readToEnd()
	wantEnd(t, evs, "cancelled", "cancelled", "client_cancel")
	checkSeqs(t, st.got, 1)
}

func TestResumeHasNoGapAndNoDuplicate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		query   string
		headers []string
		from    uint64
	}{
		{"Last-Event-ID", "", []string{"Last-Event-ID", "4"}, 5},
		{"after", "after=4", nil, 5},
		{"browser reconnect keeps after=0 in the URL", "after=0", []string{"Last-Event-ID", "4"}, 5},
		{"after larger than Last-Event-ID", "after=6", []string{"Last-Event-ID", "2"}, 7},
		{"from the start", "after=0", nil, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			snap := e.submit(`{"prompt":"hello"}`)
			s := e.script()
			first := e.mustOpen(snap.ID, "")
			for i := range 3 {
				s.Token(fmt.Sprintf("t%d ", i))
			}
			first.readN(4)
			first.close()
			for i := 3; i < 8; i++ {
				s.Token(fmt.Sprintf("t%d ", i))
			}
			s.Finish(llm.FinishStop, nil)
			evs := e.mustOpen(snap.ID, tc.query, tc.headers...).readToEnd()
			checkSeqs(t, evs, tc.from)
			all := append(first.got[:min(int(tc.from)-1, len(first.got))], evs...)
			if int(tc.from)-1 > len(first.got) {
				return // the gap is what the cursor asked for
			}
			checkSeqs(t, all, 1)
			if got := joinText(all); got != "t0 t1 t2 t3 t4 t5 t6 t7 " {
				t.Fatalf("text = %q", got)
			}
		})
	}
}

func TestResumeAtOrPastTheEndAnswers204(t *testing.T) {
	e := newEnv(t)
	snap := e.submit(`{"prompt":"hello"}`)
	s := e.script()
	s.Token("x")
	s.Finish(llm.FinishStop, nil)
	evs := e.mustOpen(snap.ID, "").readToEnd()
	last := evs[len(evs)-1].ID
	for _, h := range [][]string{{"Last-Event-ID", fmt.Sprint(last)}, {"X-Ignored", "1"}} {
		q := ""
		if h[0] == "X-Ignored" {
			q = fmt.Sprintf("after=%d", last)
		}
		st, resp, data := e.open(snap.ID, q, h...)
		if st != nil || resp.StatusCode != stdhttp.StatusNoContent || len(data) != 0 {
			t.Fatalf("resume at the end: %d %q", resp.StatusCode, data)
		}
	}
	// Past the end of a finished log is the end too.
	if st, resp, _ := e.open(snap.ID, fmt.Sprintf("after=%d", last+5)); st != nil || resp.StatusCode != stdhttp.StatusNoContent {
		t.Fatalf("resume past the end: %d", resp.StatusCode)
	}
	// Ahead of a log that is still growing is a client bug.
	running := e.submit(`{"prompt":"still running"}`)
	e.script()
	_, resp, data := e.open(running.ID, "after=3")
	wantError(t, resp, data, 400, CodeInvalidCursor)
}

func TestTwoStreamsOfOneRequest(t *testing.T) {
	e := newEnv(t)
	snap := e.submit(`{"prompt":"hello"}`)
	s := e.script()
	a := e.mustOpen(snap.ID, "")
	b := e.mustOpen(snap.ID, "")
	a.readN(2)
	b.readN(2)
	if _, snap := e.status(snap.ID); snap.Subscribers != 2 {
		t.Fatalf("subscribers = %d, want 2", snap.Subscribers)
	}
	for i := range 50 {
		s.Token(fmt.Sprintf("%d,", i))
	}
	s.Finish(llm.FinishLength, nil)
	ea, eb := a.readToEnd(), b.readToEnd()
	checkSeqs(t, a.got, 1)
	checkSeqs(t, b.got, 1)
	if joinText(a.got) != joinText(b.got) || len(a.got) != 53 {
		t.Fatalf("streams differ: %d vs %d events", len(a.got), len(b.got))
	}
	wantEnd(t, ea, "done", "completed", "length")
	wantEnd(t, eb, "done", "completed", "length")
}

func TestHeartbeatOnAnIdleStream(t *testing.T) {
	e := newEnv(t, withServer(func(c *Config) { c.Heartbeat = 20 * time.Millisecond }))
	snap := e.submit(`{"prompt":"hello"}`)
	s := e.script()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	req, _ := stdhttp.NewRequestWithContext(ctx, "GET", e.url+"/v1/requests/"+snap.ID+"/events", nil)
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := bufio.NewScanner(resp.Body)
	var pings int
	for pings < 2 && lines.Scan() {
		if lines.Text() == ": ping" {
			pings++
		}
	}
	if pings < 2 {
		t.Fatalf("no heartbeats: %v", lines.Err())
	}
	// The stream still carries records after the pings.
	s.Token("late")
	for lines.Scan() {
		if strings.Contains(lines.Text(), `"text":"late"`) {
			return
		}
	}
	t.Fatalf("token after heartbeats not seen: %v", lines.Err())
}

func TestQueuedRequestShowsItsPositionAndStartsLater(t *testing.T) {
	e := newEnv(t, withEngine(func(c *actors.Config) { c.MaxActive = 1 }))
	first := e.submit(`{"prompt":"one"}`)
	s1 := e.script()
	second := e.submit(`{"prompt":"two"}`)
	if second.State.String() != "pending" || second.QueuePosition != 1 {
		t.Fatalf("second = %+v, want pending at position 1", second)
	}
	third := e.submit(`{"prompt":"three"}`)
	if third.QueuePosition != 2 {
		t.Fatalf("third at position %d, want 2", third.QueuePosition)
	}
	st := e.mustOpen(second.ID, "")
	if evs := st.readN(1); evs[0].Data["state"] != "pending" {
		t.Fatalf("first event = %v", evs)
	}
	s1.Finish(llm.FinishStop, nil)
	s2 := e.script()
	s2.Token("two")
	s2.Finish(llm.FinishStop, nil)
	evs := st.readToEnd()
	wantEnd(t, evs, "done", "completed", "stop")
	e.script() // the third is admitted once the second's slot is free
	if _, snap := e.status(third.ID); snap.QueuePosition != 0 || snap.State.String() != "streaming" {
		t.Fatalf("third = %+v", snap)
	}
	if _, snap := e.status(first.ID); snap.Status.String() != "completed" {
		t.Fatalf("first = %+v", snap)
	}
}

// Graceful shutdown: readiness drops, submits are refused, running
// streams get grace, and every attached client gets its end event.
func TestShutdownDeliversEveryEnd(t *testing.T) {
	e := newEnv(t, withEngine(func(c *actors.Config) { c.MaxActive = 2 }))
	draining := make(chan struct{})
	e.srv.onDraining = func() { close(draining) }

	finishing := e.submit(`{"prompt":"finishes in the grace period"}`)
	sFinishing := e.script()
	stuck := e.submit(`{"prompt":"never finishes"}`)
	e.script()
	queued := e.submit(`{"prompt":"still queued"}`)
	streams := map[string]*stream{}
	for _, id := range []string{finishing.ID, stuck.ID, queued.ID} {
		streams[id] = e.mustOpen(id, "")
		streams[id].readN(1)
	}
	shutdown := make(chan error, 1)
	go func() { shutdown <- e.srv.Shutdown(context.Background(), 500*time.Millisecond) }()
	<-draining

	resp, data := e.do("GET", "/readyz", "")
	if resp.StatusCode != 503 {
		t.Fatalf("readyz while draining: %d %s", resp.StatusCode, data)
	}
	resp, data = e.do("POST", "/v1/requests", `{"prompt":"late"}`)
	wantError(t, resp, data, 503, CodeShuttingDown)
	sFinishing.Token("made it")
	sFinishing.Finish(llm.FinishStop, nil)

	wantEnd(t, streams[finishing.ID].readToEnd(), "done", "completed", "stop")
	wantEnd(t, streams[stuck.ID].readToEnd(), "done", "failed", "shutdown")
	wantEnd(t, streams[queued.ID].readToEnd(), "done", "failed", "shutdown")
	select {
	case err := <-shutdown:
		if err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("Shutdown did not return")
	}
	if err := <-e.served; err != stdhttp.ErrServerClosed {
		t.Fatalf("Serve returned %v", err)
	}
	e.served <- stdhttp.ErrServerClosed // for the cleanup
}

// on_disconnect=cancel: when the last stream goes and nobody comes back
// within DetachGrace, the request is cancelled and its upstream aborted.
func TestDisconnectCancelsWhenAsked(t *testing.T) {
	e := newEnv(t, withEngine(func(c *actors.Config) { c.DetachGrace = 50 * time.Millisecond }))
	snap := e.submit(`{"prompt":"hello","on_disconnect":"cancel"}`)
	s := e.script()
	st := e.mustOpen(snap.ID, "")
	s.Token("a")
	st.readN(3)
	st.close()
	select {
	case <-s.Done():
	case <-time.After(waitLimit):
		t.Fatal("the upstream call was not aborted after the client left")
	}
	evs := e.mustOpen(snap.ID, "", "Last-Event-ID", "3").readToEnd()
	wantEnd(t, evs, "cancelled", "cancelled", "client_disconnected")
}
