package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// chatChildEnv makes the test binary run `armistice chat` (through run, as
// main does) with the JSON list of arguments it holds, instead of the tests
// (see TestChatProcessCancelsOnSIGINT).
const chatChildEnv = "ARMISTICE_CHAT_TEST_CHILD_ARGS"

func init() {
	v, ok := os.LookupEnv(chatChildEnv)
	if !ok {
		return
	}
	var args []string
	if err := json.Unmarshal([]byte(v), &args); err != nil {
		fmt.Fprintln(os.Stderr, "chat child:", err)
		os.Exit(3)
	}
	os.Exit(run(append([]string{"chat"}, args...), os.Stdout, os.Stderr))
}

// waitLimit bounds every wait in these tests: a hang fails instead of blocking.
const waitLimit = 10 * time.Second

const fakeID = "req-1"

// fakeRec is one record of the fake request's log; its seq is its index + 1.
type fakeRec struct {
	kind string // state, token, end
	data map[string]any
}

// connPlan says how the fake answers one events request.
type connPlan struct {
	hangup    bool   // close the TCP connection without an answer
	status    int    // answer with this status and an error body
	code      string // the error code for status
	noContent bool   // answer 204
	after     int    // with drop, eof or partial: records to send first
	drop      bool   // then abort the connection
	eof       bool   // then end the response cleanly
	partial   bool   // then write half of the next event and abort
	replay    bool   // send every record twice
	skipSeq   int    // never send the record with this seq
	rewind    int    // start this many records before the client's cursor
}

type submitSeen struct {
	body        map[string]any
	contentType string
	auth        string
}

type connSeen struct {
	lastEventID string
	accept      string
	auth        string
}

// fakeServer implements the chat side of the server's HTTP contract for one
// request, fakeID, with faults on demand. Every change of its state closes
// changed, which both its event streams and waitFor watch.
type fakeServer struct {
	t    *testing.T
	ts   *httptest.Server
	quit chan struct{}

	mu      sync.Mutex
	changed chan struct{}

	// Behaviour; set before the client starts.
	log             []fakeRec
	plans           map[int]connPlan // by events request, from 0
	defaultPlan     connPlan         // for events requests without a plan
	submitStatus    []int            // by submit, from 0; past the end 202
	retryAfter      string           // on 429
	holdSubmit      chan struct{}    // when set, submits wait for it to close
	cancelKeepsOpen bool             // cancel answers 200 but ends nothing

	fakeSeen // what it saw
}

// fakeSeen is what the fake server saw.
type fakeSeen struct {
	submits   []submitSeen
	conns     []connSeen
	cancels   []string // the Authorization header of each cancel
	snapshots []string // the Authorization header of each snapshot GET
	sent      int      // records written to event streams, all in all
}

// url is the server's address. Tests set the fake's knobs, then take its
// url to start the client: taking the lock here publishes the knobs to the
// handlers, which read them under the lock.
func (f *fakeServer) url() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ts.URL
}

// seen is a copy of what the fake saw so far.
func (f *fakeServer) seen() fakeSeen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return fakeSeen{
		submits:   slices.Clone(f.submits),
		conns:     slices.Clone(f.conns),
		cancels:   slices.Clone(f.cancels),
		snapshots: slices.Clone(f.snapshots),
		sent:      f.sent,
	}
}

func newFakeServer(t *testing.T) *fakeServer {
	t.Helper()
	f := &fakeServer{t: t, quit: make(chan struct{}), changed: make(chan struct{}), plans: map[int]connPlan{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/requests", f.handleSubmit)
	mux.HandleFunc("GET /v1/requests/{id}/events", f.handleEvents)
	mux.HandleFunc("POST /v1/requests/{id}/cancel", f.handleCancel)
	mux.HandleFunc("GET /v1/requests/{id}", f.handleSnapshot)
	// Connection: close keeps each request on its own connection, so the
	// client's transport never replays a GET on its own and every events
	// request the client makes is one plan here.
	f.ts = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(f.ts.Close)
	t.Cleanup(func() { close(f.quit) }) // runs first: handlers stop waiting
	return f
}

// update changes the fake's state under its lock and wakes its watchers.
func (f *fakeServer) update(change func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change()
	close(f.changed)
	f.changed = make(chan struct{})
}

// waitFor waits until cond holds (it runs under the lock), or fails the test.
func (f *fakeServer) waitFor(what string, cond func() bool) {
	f.t.Helper()
	timeout := time.NewTimer(waitLimit)
	defer timeout.Stop()
	for {
		f.mu.Lock()
		ok, changed := cond(), f.changed
		f.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-changed:
		case <-timeout.C:
			f.t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func (f *fakeServer) add(kind string, data map[string]any) {
	f.update(func() { f.log = append(f.log, fakeRec{kind, data}) })
}

func (f *fakeServer) state(s string) { f.add("state", map[string]any{"state": s}) }
func (f *fakeServer) token(s string) { f.add("token", map[string]any{"text": s}) }

func (f *fakeServer) end(status, reason, message string) {
	f.update(func() { f.appendEnd(status, reason, message) })
}

// appendEnd appends the end record; the caller holds the lock.
func (f *fakeServer) appendEnd(status, reason, message string) {
	state := "done"
	if status == "cancelled" {
		state = "cancelled"
	}
	data := map[string]any{"state": state, "status": status, "reason": reason, "tokens": f.tokensLocked()}
	if message != "" {
		data["message"] = message
	}
	f.log = append(f.log, fakeRec{"end", data})
}

func (f *fakeServer) tokensLocked() int {
	n := 0
	for _, r := range f.log {
		if r.kind == "token" {
			n++
		}
	}
	return n
}

func (f *fakeServer) endedLocked() bool {
	return len(f.log) > 0 && f.log[len(f.log)-1].kind == "end"
}

// snapshotLocked is the request as GET /v1/requests/{id} shows it.
func (f *fakeServer) snapshotLocked() map[string]any {
	snap := map[string]any{"id": fakeID, "state": "pending", "tokens": f.tokensLocked()}
	for _, r := range f.log {
		for _, k := range []string{"state", "status", "reason", "message"} {
			if v, ok := r.data[k]; ok {
				snap[k] = v
			}
		}
	}
	return snap
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": message}})
}

func (f *fakeServer) handleSubmit(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_json", err.Error())
		return
	}
	var n int
	var hold chan struct{}
	f.update(func() {
		n = len(f.submits)
		f.submits = append(f.submits, submitSeen{body, r.Header.Get("Content-Type"), r.Header.Get("Authorization")})
		hold = f.holdSubmit
	})
	if hold != nil {
		select {
		case <-hold:
		case <-r.Context().Done():
			return
		case <-f.quit:
			return
		}
	}
	f.mu.Lock()
	status := http.StatusAccepted
	if n < len(f.submitStatus) {
		status = f.submitStatus[n]
	}
	retryAfter := f.retryAfter
	f.mu.Unlock()
	switch status {
	case http.StatusAccepted:
		writeJSON(w, status, map[string]any{"id": fakeID, "state": "pending"})
	case http.StatusTooManyRequests:
		w.Header().Set("Retry-After", retryAfter)
		writeError(w, status, "rate_limited", "too many requests")
	default:
		writeError(w, status, fmt.Sprintf("code_%d", status), fmt.Sprintf("message %d", status))
	}
}

func (f *fakeServer) handleEvents(w http.ResponseWriter, r *http.Request) {
	var n int
	var plan connPlan
	f.update(func() {
		n = len(f.conns)
		f.conns = append(f.conns, connSeen{r.Header.Get("Last-Event-ID"), r.Header.Get("Accept"), r.Header.Get("Authorization")})
		var ok bool
		if plan, ok = f.plans[n]; !ok {
			plan = f.defaultPlan
		}
	})
	switch {
	case r.PathValue("id") != fakeID:
		writeError(w, http.StatusNotFound, "not_found", "no such request")
		return
	case plan.hangup:
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			f.t.Errorf("hijack: %v", err)
			return
		}
		conn.Close()
		return
	case plan.status != 0:
		writeError(w, plan.status, plan.code, "planned failure")
		return
	}
	cursor := 0
	if v := r.Header.Get("Last-Event-ID"); v != "" {
		var err error
		if cursor, err = strconv.Atoi(v); err != nil {
			writeError(w, http.StatusBadRequest, "invalid_last_event_id", err.Error())
			return
		}
	}
	f.mu.Lock()
	atEnd := f.endedLocked() && cursor >= len(f.log)
	f.mu.Unlock()
	if plan.noContent || atEnd {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	cursor = max(cursor-plan.rewind, 0)

	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	sent := 0
	flush := func(records int) {
		_ = rc.Flush()
		if records > 0 {
			f.update(func() { f.sent += records })
		}
	}
	stopping := plan.drop || plan.eof || plan.partial
	for {
		f.mu.Lock()
		recs := slices.Clone(f.log[cursor:])
		f.mu.Unlock()
		batch := 0
		for _, rec := range recs {
			cursor++
			if stopping && sent == plan.after {
				if plan.partial {
					fmt.Fprintf(w, "id: %d\nevent: %s\ndata: ", cursor, rec.kind)
				}
				flush(batch)
				if plan.eof {
					return
				}
				panic(http.ErrAbortHandler)
			}
			if cursor == plan.skipSeq {
				continue
			}
			data := map[string]any{"seq": cursor}
			for k, v := range rec.data {
				data[k] = v
			}
			b, _ := json.Marshal(data)
			for range 1 + btoi(plan.replay) {
				fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", cursor, rec.kind, b)
			}
			sent++
			batch++
			if rec.kind == "end" {
				flush(batch)
				return
			}
		}
		fmt.Fprint(w, ": ping\n\n") // a heartbeat the client must ignore
		flush(batch)
		f.mu.Lock()
		more, changed := len(f.log) > cursor, f.changed
		f.mu.Unlock()
		if more {
			continue
		}
		select {
		case <-changed:
		case <-r.Context().Done():
			return
		case <-f.quit:
			return
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (f *fakeServer) handleCancel(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("id") != fakeID {
		writeError(w, http.StatusNotFound, "not_found", "no such request")
		return
	}
	var status int
	var snap map[string]any
	f.update(func() {
		f.cancels = append(f.cancels, r.Header.Get("Authorization"))
		switch {
		case f.endedLocked():
			status = http.StatusConflict
		case f.cancelKeepsOpen:
			status = http.StatusOK
		default:
			f.appendEnd("cancelled", "client_cancel", "")
			status = http.StatusOK
		}
		snap = f.snapshotLocked()
	})
	if status == http.StatusConflict {
		writeError(w, status, "already_finished", "the request has finished")
		return
	}
	writeJSON(w, status, snap)
}

func (f *fakeServer) handleSnapshot(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("id") != fakeID {
		writeError(w, http.StatusNotFound, "not_found", "no such request")
		return
	}
	var snap map[string]any
	f.update(func() {
		f.snapshots = append(f.snapshots, r.Header.Get("Authorization"))
		snap = f.snapshotLocked()
	})
	writeJSON(w, http.StatusOK, snap)
}

func (f *fakeServer) lastEventIDs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []string
	for _, c := range f.conns {
		ids = append(ids, c.lastEventID)
	}
	return ids
}

// sleepLog is a chatConfig.sleep that records the delays asked for and
// returns at once.
type sleepLog struct {
	mu     sync.Mutex
	delays []time.Duration
}

func (l *sleepLog) sleep(ctx context.Context, d time.Duration, _ <-chan struct{}) error {
	l.mu.Lock()
	l.delays = append(l.delays, d)
	l.mu.Unlock()
	return ctx.Err()
}

func (l *sleepLog) get() []time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.delays)
}

// testChatConfig is the default configuration without jitter, real sleeps or
// the real environment. With the jitter's random part at 0 every wait is
// half the backoff, so the backoff is doubled to keep the waits at 100ms
// doubling up to 5s.
func testChatConfig() (chatConfig, *sleepLog) {
	l := &sleepLog{}
	cfg := defaultChatConfig()
	cfg.rand = func() float64 { return 0 }
	cfg.backoffInitial, cfg.backoffMax = 2*cfg.backoffInitial, 2*cfg.backoffMax
	cfg.sleep = l.sleep
	cfg.getenv = func(string) string { return "" }
	return cfg, l
}

type chatResult struct {
	code           int
	stdout, stderr string
}

// syncBuffer is a bytes.Buffer that tests can watch while chat writes to it.
type syncBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	changed chan struct{}
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{changed: make(chan struct{})} }

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	close(s.changed)
	s.changed = make(chan struct{})
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor waits until the buffer contains want, or fails the test.
func (s *syncBuffer) waitFor(t *testing.T, want string) {
	t.Helper()
	timeout := time.NewTimer(waitLimit)
	defer timeout.Stop()
	for {
		s.mu.Lock()
		ok, changed := strings.Contains(s.b.String(), want), s.changed
		s.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-changed:
		case <-timeout.C:
			t.Fatalf("timed out waiting for %q in %q", want, s.String())
		}
	}
}

// chatRun is chat running in a goroutine.
type chatRun struct {
	stdout, stderr *syncBuffer
	code           chan int
}

// startChat runs chat in a goroutine, under a context that ends after waitLimit.
func startChat(t *testing.T, cfg chatConfig, signals <-chan os.Signal, args ...string) *chatRun {
	t.Helper()
	return startChatContext(t, t.Context(), cfg, signals, args...)
}

func startChatContext(t *testing.T, ctx context.Context, cfg chatConfig, signals <-chan os.Signal, args ...string) *chatRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, waitLimit)
	run := &chatRun{newSyncBuffer(), newSyncBuffer(), make(chan int, 1)}
	go func() {
		defer cancel()
		run.code <- runChatWith(ctx, cfg, args, run.stdout, run.stderr, signals)
	}()
	return run
}

// wait waits for chat to return.
func (r *chatRun) wait(t *testing.T) chatResult {
	t.Helper()
	select {
	case code := <-r.code:
		return chatResult{code, r.stdout.String(), r.stderr.String()}
	case <-time.After(waitLimit + time.Second):
		t.Fatal("chat did not return")
		return chatResult{}
	}
}

// runTestChat runs chat against f to its end.
func runTestChat(t *testing.T, f *fakeServer, cfg chatConfig, args ...string) chatResult {
	t.Helper()
	return startChat(t, cfg, nil, append([]string{"--server", f.url()}, args...)...).wait(t)
}

func (r chatResult) check(t *testing.T, code int, stdout, stderr string) {
	t.Helper()
	if r.code != code || r.stdout != stdout || r.stderr != stderr {
		t.Fatalf("got exit %d, stdout %q, stderr %q\nwant exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr, code, stdout, stderr)
	}
}

// answer fills f's log with a whole answer of the given tokens.
func (f *fakeServer) answer(tokens ...string) {
	f.state("pending")
	f.state("streaming")
	for _, tok := range tokens {
		f.token(tok)
	}
	f.end("completed", "stop", "")
}

func TestChatStreamsAnAnswer(t *testing.T) {
	f := newFakeServer(t)
	f.answer("Hello", ", ", "world!")
	cfg, sleeps := testChatConfig()
	res := runTestChat(t, f, cfg, "--model", "m1", "--max-tokens", "7", "Say", "hi")
	res.check(t, 0, "Hello, world!\n", "[req-1: completed/stop, 3 tokens]\n")

	want := map[string]any{"prompt": "Say hi", "model": "m1", "max_tokens": float64(7)}
	seen := f.seen()
	if len(seen.submits) != 1 || !mapsEqual(seen.submits[0].body, want) || seen.submits[0].contentType != "application/json" || seen.submits[0].auth != "" {
		t.Errorf("submits = %+v, want one with body %v, JSON, no Authorization", seen.submits, want)
	}
	if len(seen.conns) != 1 || seen.conns[0] != (connSeen{accept: "text/event-stream"}) {
		t.Errorf("events requests = %+v, want one, without Last-Event-ID", seen.conns)
	}
	if len(seen.cancels) != 0 || len(sleeps.get()) != 0 {
		t.Errorf("cancels %d, sleeps %v; want none", len(seen.cancels), sleeps.get())
	}
}

func mapsEqual(a, b map[string]any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

func TestChatEndsOtherThanCompleted(t *testing.T) {
	for _, tc := range []struct {
		name                    string
		status, reason, message string
		wantStderr              string
	}{
		{"failed", "failed", "upstream_error", "provider said 500", "[req-1: failed/upstream_error, 2 tokens: provider said 500]\n"},
		{"cancelled elsewhere", "cancelled", "client_cancel", "", "[req-1: cancelled/client_cancel, 2 tokens]\n"},
		{"shutdown", "failed", "shutdown", "", "[req-1: failed/shutdown, 2 tokens]\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeServer(t)
			f.state("pending")
			f.state("streaming")
			f.token("par")
			f.token("tial")
			f.end(tc.status, tc.reason, tc.message)
			cfg, _ := testChatConfig()
			runTestChat(t, f, cfg, "p").check(t, 1, "partial\n", tc.wantStderr)
		})
	}
}

func TestChatNoTextNoNewline(t *testing.T) {
	f := newFakeServer(t)
	f.state("pending")
	f.end("failed", "queue_timeout", "no slot within the queue timeout")
	cfg, _ := testChatConfig()
	runTestChat(t, f, cfg, "p").check(t, 1, "", "[req-1: failed/queue_timeout, 0 tokens: no slot within the queue timeout]\n")
}

func TestChatResumesAfterADrop(t *testing.T) {
	for _, tc := range []struct {
		name string
		plan connPlan
	}{
		{"connection aborted", connPlan{drop: true, after: 4}},
		{"clean EOF without end", connPlan{eof: true, after: 4}},
		{"half an event, then aborted", connPlan{partial: true, after: 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeServer(t)
			f.answer("one ", "two ", "three ", "four")
			f.plans[0] = tc.plan
			cfg, sleeps := testChatConfig()
			runTestChat(t, f, cfg, "p").check(t, 0, "one two three four\n", "\n[reconnecting...]\n[req-1: completed/stop, 4 tokens]\n")
			if got, want := f.lastEventIDs(), []string{"", "4"}; !slices.Equal(got, want) {
				t.Errorf("Last-Event-IDs = %q, want %q", got, want)
			}
			if got, want := sleeps.get(), []time.Duration{100 * time.Millisecond}; !slices.Equal(got, want) {
				t.Errorf("sleeps = %v, want %v", got, want)
			}
		})
	}
}

func TestChatResumesAfterSeveralFailuresInARow(t *testing.T) {
	f := newFakeServer(t)
	f.answer("a", "b", "c", "d", "e")
	f.plans[0] = connPlan{drop: true, after: 3}          // pending, streaming, a
	f.plans[1] = connPlan{hangup: true}                  // no answer at all
	f.plans[2] = connPlan{status: 503, code: "draining"} // a 5xx
	f.plans[3] = connPlan{eof: true, after: 1}           // b
	f.plans[4] = connPlan{drop: true, after: 0}          // headers, then nothing
	f.plans[5] = connPlan{rewind: 2, replay: true}       // repeats a and b, then every record twice
	cfg, sleeps := testChatConfig()
	res := runTestChat(t, f, cfg, "p")
	// A note after text on the line starts a line of its own.
	res.check(t, 0, "abcde\n", "\n[reconnecting...]\n[reconnecting...]\n[reconnecting...]\n\n[reconnecting...]\n[reconnecting...]\n[req-1: completed/stop, 5 tokens]\n")
	if got, want := f.lastEventIDs(), []string{"", "3", "3", "3", "4", "4"}; !slices.Equal(got, want) {
		t.Errorf("Last-Event-IDs = %q, want %q", got, want)
	}
	// The backoff doubles per failure in a row and starts over after a
	// connection that delivered records.
	ms := time.Millisecond
	if got, want := sleeps.get(), []time.Duration{100 * ms, 200 * ms, 400 * ms, 100 * ms, 200 * ms}; !slices.Equal(got, want) {
		t.Errorf("sleeps = %v, want %v", got, want)
	}
}

func TestChatResumesBeforeTheFirstRecord(t *testing.T) {
	f := newFakeServer(t)
	f.answer("x")
	f.plans[0] = connPlan{hangup: true}
	cfg, _ := testChatConfig()
	runTestChat(t, f, cfg, "p").check(t, 0, "x\n", "[reconnecting...]\n[req-1: completed/stop, 1 tokens]\n")
	if got, want := f.lastEventIDs(), []string{"", ""}; !slices.Equal(got, want) {
		t.Errorf("Last-Event-IDs = %q, want %q (none before the first record)", got, want)
	}
}

func TestChatGivesUpAfterMaxAttempts(t *testing.T) {
	f := newFakeServer(t)
	f.answer("never")
	f.defaultPlan = connPlan{hangup: true}
	cfg, sleeps := testChatConfig()
	res := runTestChat(t, f, cfg, "p")
	if res.code != 1 || res.stdout != "" || !strings.Contains(res.stderr, "armistice: client: gave up retrying: stream req-1 after 10 attempts: ") {
		t.Fatalf("got %+v", res)
	}
	if n := strings.Count(res.stderr, "[reconnecting...]"); n != 9 {
		t.Errorf("%d reconnecting notes, want 9", n)
	}
	seen := f.seen()
	if len(seen.conns) != 10 {
		t.Errorf("%d events requests, want 10", len(seen.conns))
	}
	ms := time.Millisecond
	want := []time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, 1600 * ms, 3200 * ms, 5000 * ms, 5000 * ms, 5000 * ms}
	if got := sleeps.get(); !slices.Equal(got, want) {
		t.Errorf("sleeps = %v, want %v", got, want)
	}
}

func TestChatRealBackoffTimer(t *testing.T) {
	f := newFakeServer(t)
	f.answer("x", "y")
	f.plans[0] = connPlan{drop: true, after: 3}
	f.plans[1] = connPlan{status: 502, code: "bad_gateway"}
	cfg := defaultChatConfig()
	cfg.backoffInitial, cfg.backoffMax = time.Millisecond, 2*time.Millisecond
	cfg.getenv = func(string) string { return "" }
	runTestChat(t, f, cfg, "p").check(t, 0, "xy\n", "\n[reconnecting...]\n[reconnecting...]\n[req-1: completed/stop, 2 tokens]\n")
}

func TestChatNoContentOnResumeReportsTheSnapshot(t *testing.T) {
	f := newFakeServer(t)
	f.answer("only")
	f.plans[0] = connPlan{drop: true, after: 3}
	f.plans[1] = connPlan{noContent: true}
	cfg, _ := testChatConfig()
	runTestChat(t, f, cfg, "--key", "k1", "p").check(t, 0, "only\n", "\n[reconnecting...]\n[req-1: completed/stop, 1 tokens]\n")
	seen := f.seen()
	if !slices.Equal(seen.snapshots, []string{"Bearer k1"}) {
		t.Errorf("snapshot requests = %q, want one with the key", seen.snapshots)
	}
}

func TestChatNotFoundOnResume(t *testing.T) {
	f := newFakeServer(t)
	f.answer("gone", "soon")
	f.plans[0] = connPlan{drop: true, after: 3}
	f.plans[1] = connPlan{status: 404, code: "not_found"}
	cfg, _ := testChatConfig()
	runTestChat(t, f, cfg, "p").check(t, 1, "gone\n", "\n[reconnecting...]\narmistice: request req-1: planned failure (not_found)\n")
}

func TestChatSeqGapIsAnError(t *testing.T) {
	f := newFakeServer(t)
	f.answer("a", "b", "c")
	f.plans[0] = connPlan{skipSeq: 4}
	cfg, _ := testChatConfig()
	runTestChat(t, f, cfg, "p").check(t, 1, "a\n", "armistice: client: protocol error: the stream skipped records 4 to 4\n")
}

func TestChatRetriesSubmitOn429(t *testing.T) {
	f := newFakeServer(t)
	f.answer("ok")
	f.submitStatus = []int{429, 429}
	f.retryAfter = "2"
	cfg, sleeps := testChatConfig()
	note := "[too many requests (rate_limited); retrying in 2s]\n"
	runTestChat(t, f, cfg, "p").check(t, 0, "ok\n", note+note+"[req-1: completed/stop, 1 tokens]\n")
	seen := f.seen()
	if len(seen.submits) != 3 {
		t.Errorf("%d submits, want 3", len(seen.submits))
	}
	if got, want := sleeps.get(), []time.Duration{2 * time.Second, 2 * time.Second}; !slices.Equal(got, want) {
		t.Errorf("sleeps = %v, want %v", got, want)
	}
}

func TestChatSubmit429WaitsAtMostAMinute(t *testing.T) {
	f := newFakeServer(t)
	f.answer("ok")
	f.submitStatus = []int{429}
	f.retryAfter = "3600"
	cfg, sleeps := testChatConfig()
	res := runTestChat(t, f, cfg, "p")
	if res.code != 0 || !slices.Equal(sleeps.get(), []time.Duration{time.Minute}) {
		t.Fatalf("got %+v, sleeps %v", res, sleeps.get())
	}
}

func TestChatSubmit429WithoutRetryAfterBacksOff(t *testing.T) {
	f := newFakeServer(t)
	f.answer("ok")
	f.submitStatus = []int{429, 429}
	cfg, sleeps := testChatConfig()
	if res := runTestChat(t, f, cfg, "p"); res.code != 0 {
		t.Fatalf("got %+v", res)
	}
	if got, want := sleeps.get(), []time.Duration{100 * time.Millisecond, 200 * time.Millisecond}; !slices.Equal(got, want) {
		t.Errorf("sleeps = %v, want %v", got, want)
	}
}

func TestChatSubmit429GivesUp(t *testing.T) {
	f := newFakeServer(t)
	f.submitStatus = []int{429, 429, 429, 429, 429}
	f.retryAfter = "0" // no wait asked for: the backoff applies
	cfg, _ := testChatConfig()
	res := runTestChat(t, f, cfg, "p")
	if res.code != 1 || !strings.HasSuffix(res.stderr, "retrying in 400ms]\narmistice: too many requests (rate_limited)\n") {
		t.Fatalf("got %+v", res)
	}
	seen := f.seen()
	if len(seen.submits) != 4 || len(seen.conns) != 0 {
		t.Errorf("%d submits and %d events requests, want 4 and 0", len(seen.submits), len(seen.conns))
	}
}

func TestChatSubmitErrors(t *testing.T) {
	for _, status := range []int{400, 401, 413, 415, 503} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			f := newFakeServer(t)
			f.submitStatus = []int{status}
			cfg, _ := testChatConfig()
			want := fmt.Sprintf("armistice: message %d (code_%d)\n", status, status)
			runTestChat(t, f, cfg, "p").check(t, 1, "", want)
			seen := f.seen()
			if len(seen.submits) != 1 {
				t.Errorf("%d submits, want 1", len(seen.submits))
			}
		})
	}
}

func TestChatSubmitConnectionFails(t *testing.T) {
	// Every connection is closed unanswered. (A closed server's port would
	// do as well, were it not that another test process may take it.)
	var mu sync.Mutex
	posts := 0
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		posts++
		mu.Unlock()
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			conn.Close()
		}
	}))
	t.Cleanup(ts.Close)
	cfg, _ := testChatConfig()
	res := startChat(t, cfg, nil, "--server", ts.URL, "p").wait(t)
	// The submit is retried (its Idempotency-Key makes that safe), with a
	// note for each wait, then given up with the connection's error.
	if res.code != 1 || strings.Count(res.stderr, "retrying in") != cfg.submitRetries || !strings.Contains(res.stderr, "\narmistice: submit: ") {
		t.Fatalf("got %+v", res)
	}
	mu.Lock()
	defer mu.Unlock()
	if posts != 1+cfg.submitRetries {
		t.Errorf("%d submits, want %d (the first and its retries)", posts, 1+cfg.submitRetries)
	}
}

func TestChatKeyIsABearerTokenAndNeverPrinted(t *testing.T) {
	const secret = "sk-very-secret"
	f := newFakeServer(t)
	f.state("pending")
	f.state("streaming")
	f.token("hi") // the end comes with the cancel
	f.plans[0] = connPlan{drop: true, after: 2}
	cfg, _ := testChatConfig()
	server := f.url() + "/"
	cfg.getenv = func(k string) string {
		return map[string]string{"ARMISTICE_API_KEY": secret, "ARMISTICE_SERVER": server}[k]
	}
	signals := make(chan os.Signal, 1)
	signals <- os.Interrupt // to see the key on a cancel call too
	res := startChat(t, cfg, signals, "p").wait(t)
	if res.code != 1 || res.stdout != "hi\n" || !strings.HasSuffix(res.stderr, "[req-1: cancelled/client_cancel, 1 tokens]\n") {
		t.Errorf("got %+v", res)
	}
	if strings.Contains(res.stdout+res.stderr, secret) {
		t.Errorf("the key was printed: %+v", res)
	}
	var auths []string
	seen := f.seen()
	for _, s := range seen.submits {
		auths = append(auths, s.auth)
	}
	for _, c := range seen.conns {
		auths = append(auths, c.auth)
	}
	auths = append(auths, seen.cancels...)
	if len(auths) < 4 {
		t.Fatalf("saw %d requests, want submit, cancel and two events requests: %+v", len(auths), res)
	}
	for _, a := range auths {
		if a != "Bearer "+secret {
			t.Errorf("Authorization = %q, want the key as a Bearer token", a)
		}
	}
	if !mapsEqual(seen.submits[0].body, map[string]any{"prompt": "p"}) {
		t.Errorf("submit body = %v, want only the prompt", seen.submits[0].body)
	}
}

func TestChatFlagKeyWinsAndUnauthorizedIsReported(t *testing.T) {
	f := newFakeServer(t)
	f.submitStatus = []int{401}
	cfg, _ := testChatConfig()
	cfg.getenv = func(k string) string { return map[string]string{"ARMISTICE_API_KEY": "from-env"}[k] }
	runTestChat(t, f, cfg, "--key", "wrong-key", "p").check(t, 1, "", "armistice: message 401 (code_401)\n")
	seen := f.seen()
	if seen.submits[0].auth != "Bearer wrong-key" {
		t.Errorf("Authorization = %q, want the --key one", seen.submits[0].auth)
	}
}

func TestChatUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
	}{
		{nil, 2},
		{[]string{"  "}, 2},
		{[]string{"--nope", "p"}, 2},
		{[]string{"--max-tokens", "-1", "p"}, 2},
		{[]string{"--max-tokens", "many", "p"}, 2},
		{[]string{"--server", "ftp://host", "p"}, 2},
		{[]string{"--server", "127.0.0.1:8080", "p"}, 2},
		{[]string{"--key"}, 2},
		{[]string{"-h"}, 0},
		{[]string{"--help"}, 0},
	} {
		cfg, _ := testChatConfig()
		var out, errOut bytes.Buffer
		code := runChatWith(t.Context(), cfg, tc.args, &out, &errOut, nil)
		usage, other := &errOut, &out // a usage error: on stderr
		if tc.code == 0 {
			usage, other = &out, &errOut // help: on stdout
		}
		if code != tc.code || other.Len() != 0 || !strings.Contains(usage.String(), "usage: armistice chat") {
			t.Errorf("chat %q: exit %d, stdout %q, stderr %q; want exit %d and the usage", tc.args, code, out.String(), errOut.String(), tc.code)
		}
	}
}

func TestChatFirstSignalCancels(t *testing.T) {
	f := newFakeServer(t)
	f.state("pending")
	f.state("streaming")
	f.token("Hel")
	f.token("lo")
	cfg, _ := testChatConfig()
	signals := make(chan os.Signal)
	res := startChat(t, cfg, signals, "--server", f.url(), "p")
	res.stdout.waitFor(t, "Hello")
	signals <- os.Interrupt
	// The answer's line is unfinished: the note starts a line of its own.
	res.wait(t).check(t, 1, "Hello\n", "\n[cancelling; interrupt again to quit]\n[req-1: cancelled/client_cancel, 2 tokens]\n")
	seen := f.seen()
	if len(seen.cancels) != 1 {
		t.Errorf("%d cancels, want 1", len(seen.cancels))
	}
}

// TestChatCancellingNoteOnItsOwnLine: an interrupt that arrives while the
// answer's last line is unfinished puts "[cancelling…]" on a line of its own
// on a terminal that shows stdout and stderr together, not glued to the
// partial text; at the start of a line it adds no blank line.
func TestChatCancellingNoteOnItsOwnLine(t *testing.T) {
	for _, tc := range []struct {
		name     string
		tokens   []string
		shown    string // what must be on stdout before the interrupt
		stdout   string
		terminal string // stdout and stderr interleaved, as a terminal shows them
	}{
		{
			name:     "mid-line",
			tokens:   []string{"Hel", "lo"},
			shown:    "Hello",
			stdout:   "Hello\n",
			terminal: "Hello\n[cancelling; interrupt again to quit]\n\n[req-1: cancelled/client_cancel, 2 tokens]\n",
		},
		{
			name:     "at the start of a line",
			tokens:   []string{"Hel", "lo\n"},
			shown:    "Hello\n",
			stdout:   "Hello\n",
			terminal: "Hello\n[cancelling; interrupt again to quit]\n[req-1: cancelled/client_cancel, 2 tokens]\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeServer(t)
			f.state("pending")
			f.state("streaming")
			for _, tok := range tc.tokens {
				f.token(tok)
			}
			cfg, _ := testChatConfig()
			signals := make(chan os.Signal)
			stdout, terminal := newSyncBuffer(), newSyncBuffer()
			code := make(chan int, 1)
			ctx, cancel := context.WithTimeout(t.Context(), waitLimit)
			defer cancel()
			// The interrupt goes only once the session has finished the
			// write (it flushes after updating its line state): a note
			// racing a write may add a blank line, by design, and the
			// MultiWriter's two writes could even let it land between
			// stdout's copy and the terminal's. Waiting on stdout alone
			// made this test fail about once in a few hundred runs.
			flushed := newSyncBuffer()
			out := &flushingWriter{Writer: io.MultiWriter(stdout, terminal), flushed: flushed}
			go func() {
				code <- runChatWith(ctx, cfg, []string{"--server", f.url(), "p"}, out, terminal, signals)
			}()
			flushed.waitFor(t, tc.shown)
			signals <- os.Interrupt
			var got int
			select {
			case got = <-code:
			case <-time.After(waitLimit + time.Second):
				t.Fatal("chat did not return")
			}
			if got != 1 || stdout.String() != tc.stdout || terminal.String() != tc.terminal {
				t.Fatalf("got exit %d, stdout %q, terminal %q\nwant exit 1, stdout %q, terminal %q", got, stdout.String(), terminal.String(), tc.stdout, tc.terminal)
			}
		})
	}
}

// flushingWriter is stdout with a Flush, which the session calls once a
// write is complete; flushed then gets what was written since the last.
type flushingWriter struct {
	io.Writer
	pending []byte
	flushed *syncBuffer
}

func (w *flushingWriter) Write(p []byte) (int, error) {
	n, err := w.Writer.Write(p)
	w.pending = append(w.pending, p[:n]...)
	return n, err
}

func (w *flushingWriter) Flush() error {
	_, _ = w.flushed.Write(w.pending)
	w.pending = w.pending[:0]
	return nil
}

func TestChatSecondSignalQuits(t *testing.T) {
	f := newFakeServer(t)
	f.state("pending")
	f.state("streaming")
	f.token("Hel")
	f.token("lo")
	f.cancelKeepsOpen = true // the end never comes
	cfg, _ := testChatConfig()
	signals := make(chan os.Signal)
	res := startChat(t, cfg, signals, "--server", f.url(), "p")
	res.stdout.waitFor(t, "Hello")
	signals <- os.Interrupt
	f.waitFor("the cancel", func() bool { return len(f.cancels) == 1 })
	signals <- syscall.SIGTERM
	res.wait(t).check(t, 130, "Hello\n", "\n[cancelling; interrupt again to quit]\n[interrupted]\n")
}

func TestChatSecondSignalInterruptsTheBackoff(t *testing.T) {
	f := newFakeServer(t)
	f.state("pending")
	f.defaultPlan = connPlan{hangup: true}
	cfg, _ := testChatConfig()
	cfg.sleep = nil // real, hour-long timers
	cfg.backoffInitial, cfg.backoffMax = time.Hour, time.Hour
	signals := make(chan os.Signal)
	res := startChat(t, cfg, signals, "--server", f.url(), "p")
	f.waitFor("the first events request", func() bool { return len(f.conns) == 1 })
	signals <- os.Interrupt // cancels, and cuts one backoff short
	f.waitFor("a reconnect and the cancel", func() bool { return len(f.conns) == 2 && len(f.cancels) == 1 })
	signals <- os.Interrupt
	r := res.wait(t)
	if r.code != 130 || !strings.HasSuffix(r.stderr, "[interrupted]\n") {
		t.Fatalf("got %+v", r)
	}
}

func TestChatSignalBeforeTheSubmitIsAnswered(t *testing.T) {
	f := newFakeServer(t)
	f.state("pending")
	f.holdSubmit = make(chan struct{})
	cfg, _ := testChatConfig()
	signals := make(chan os.Signal)
	res := startChat(t, cfg, signals, "--server", f.url(), "p")
	f.waitFor("the submit", func() bool { return len(f.submits) == 1 })
	signals <- os.Interrupt
	close(f.holdSubmit)
	res.wait(t).check(t, 1, "", "[cancelling; interrupt again to quit]\n[req-1: cancelled/client_cancel, 0 tokens]\n")
	seen := f.seen()
	if len(seen.cancels) != 1 {
		t.Errorf("%d cancels, want 1", len(seen.cancels))
	}
}

func TestChatSignalAndNoIDEverComes(t *testing.T) {
	for _, tc := range []struct {
		name       string
		status     int
		retryAfter string
	}{
		{"the submit fails", 503, ""},
		{"the submit is rate limited", 429, "3600"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeServer(t)
			f.holdSubmit = make(chan struct{})
			f.submitStatus = []int{tc.status}
			f.retryAfter = tc.retryAfter
			cfg, _ := testChatConfig()
			cfg.sleep = nil // a real timer, which the interrupt must end
			signals := make(chan os.Signal)
			res := startChat(t, cfg, signals, "--server", f.url(), "p")
			f.waitFor("the submit", func() bool { return len(f.submits) == 1 })
			signals <- os.Interrupt
			res.stderr.waitFor(t, "[cancelling") // the interrupt is taken
			close(f.holdSubmit)
			r := res.wait(t)
			seen := f.seen()
			if r.code != 130 || !strings.HasSuffix(r.stderr, "[interrupted]\n") || len(seen.submits) != 1 || len(seen.cancels) != 0 {
				t.Fatalf("got %+v, %d submits, %d cancels", r, len(seen.submits), len(seen.cancels))
			}
		})
	}
}

func TestChatInterruptDuringA429Wait(t *testing.T) {
	f := newFakeServer(t)
	f.submitStatus = []int{429}
	f.retryAfter = "3600"
	cfg, _ := testChatConfig()
	cfg.sleep = nil
	signals := make(chan os.Signal)
	res := startChat(t, cfg, signals, "--server", f.url(), "p")
	f.waitFor("the submit", func() bool { return len(f.submits) == 1 })
	signals <- os.Interrupt
	r := res.wait(t)
	seen := f.seen()
	if r.code != 130 || len(seen.submits) != 1 {
		t.Fatalf("got %+v, %d submits", r, len(seen.submits))
	}
}

func TestChatContextEnds(t *testing.T) {
	f := newFakeServer(t)
	f.state("pending")
	f.token("partial")
	cfg, _ := testChatConfig()
	ctx, cancel := context.WithCancel(t.Context())
	res := startChatContext(t, ctx, cfg, nil, "--server", f.url(), "p")
	res.stdout.waitFor(t, "partial")
	cancel()
	r := res.wait(t)
	seen := f.seen()
	if r.code != 1 || !strings.Contains(r.stderr, "context canceled") || len(seen.conns) != 1 {
		t.Fatalf("got %+v, %d events requests", r, len(seen.conns))
	}
}

// TestChatProcessCancelsOnSIGINT runs chat as a process (this test binary,
// re-executed) and interrupts it with a real SIGINT.
func TestChatProcessCancelsOnSIGINT(t *testing.T) {
	f := newFakeServer(t)
	f.state("pending")
	f.state("streaming")
	f.token("one ")
	f.token("two ")
	args, err := json.Marshal([]string{"--server", f.url(), "count"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*waitLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0])
	cmd.Env = append(os.Environ(), chatChildEnv+"="+string(args), "ARMISTICE_API_KEY=", "ARMISTICE_SERVER=")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = waitLimit
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() { cancel(); <-exited }) // kills the child if the test fails first

	f.waitFor("the child to receive the tokens", func() bool { return f.sent == 4 })
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	f.waitFor("the cancel", func() bool { return len(f.cancels) == 1 })
	select {
	case <-exited:
	case <-ctx.Done():
		t.Fatal("the child did not exit")
	}
	var exitErr *exec.ExitError
	if !errors.As(waitErr, &exitErr) || exitErr.ExitCode() != 1 {
		t.Fatalf("child: %v, want exit status 1; stderr %q", waitErr, stderr.String())
	}
	if got, want := stdout.String(), "one two \n"; got != want {
		t.Errorf("stdout = %q, want %q", got, want)
	}
	if !strings.HasSuffix(stderr.String(), "[req-1: cancelled/client_cancel, 2 tokens]\n") {
		t.Errorf("stderr = %q, want the cancelled status line last", stderr.String())
	}
}
