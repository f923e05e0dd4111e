package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// script tells the local upstream how to answer one request. It travels as
// the request's model name ("b/n=20/r=50/..."), so it passes unchanged
// through both relays and the real provider.
type script struct {
	// Tokens is the number of content chunks.
	Tokens int
	// Rate is tokens per second; 0 sends as fast as the reader takes them.
	Rate float64
	// FailAfter, when positive, ends the answer after that many tokens:
	// with an error event (Cut false) or by cutting the connection.
	FailAfter int
	Cut       bool
	// Hold keeps the answer silent (after the role chunk) until the
	// upstream's Release.
	Hold bool
	// Stamp puts the send time into each token, for latency.
	Stamp bool
	// Tag names the request, so the upstream can report when it saw the
	// request's context end (cancel latency).
	Tag int64
}

func (s script) model() string {
	var b strings.Builder
	b.WriteString("b/n=")
	b.WriteString(strconv.Itoa(s.Tokens))
	if s.Rate > 0 {
		b.WriteString("/r=")
		b.WriteString(strconv.FormatFloat(s.Rate, 'f', -1, 64))
	}
	if s.FailAfter > 0 {
		b.WriteString("/f=")
		b.WriteString(strconv.Itoa(s.FailAfter))
		if s.Cut {
			b.WriteString("/c=1")
		}
	}
	if s.Hold {
		b.WriteString("/h=1")
	}
	if s.Stamp {
		b.WriteString("/s=1")
	}
	if s.Tag != 0 {
		b.WriteString("/t=")
		b.WriteString(strconv.FormatInt(s.Tag, 10))
	}
	return b.String()
}

func parseScript(m string) (script, error) {
	var s script
	parts := strings.Split(m, "/")
	if len(parts) == 0 || parts[0] != "b" {
		return s, fmt.Errorf("not a bench script: %q", m)
	}
	for _, p := range parts[1:] {
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			return s, fmt.Errorf("bad script item %q", p)
		}
		var err error
		switch k {
		case "n":
			s.Tokens, err = strconv.Atoi(v)
		case "r":
			s.Rate, err = strconv.ParseFloat(v, 64)
		case "f":
			s.FailAfter, err = strconv.Atoi(v)
		case "c":
			s.Cut = v == "1"
		case "h":
			s.Hold = v == "1"
		case "s":
			s.Stamp = v == "1"
		case "t":
			s.Tag, err = strconv.ParseInt(v, 10, 64)
		default:
			err = fmt.Errorf("unknown key")
		}
		if err != nil {
			return s, fmt.Errorf("bad script item %q: %w", p, err)
		}
	}
	return s, nil
}

// upstream is a local server speaking the Chat Completions streaming wire
// format (what api.openai.com, vLLM or llama.cpp send). Each answer is one
// handler goroutine that renders its chunks by hand into one buffer and
// flushes each chunk, paced by one timer: cheap enough for thousands of
// paced streams next to the system under test.
type upstream struct {
	clock *clock
	srv   *http.Server
	ln    net.Listener
	url   string

	mu      sync.Mutex
	release chan struct{}
	aborted map[int64]int64 // tag → clock time the request's context ended
	noted   chan struct{}   // closed and replaced at each new entry of aborted

	held   atomic.Int64 // answers waiting in Hold
	served sync.WaitGroup
}

// newUpstream listens on 127.0.0.1; h2c also accepts HTTP/2 without TLS
// (prior knowledge), which the relays use when asked to.
func newUpstream(c *clock) (*upstream, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	u := &upstream{clock: c, ln: ln, url: "http://" + ln.Addr().String(),
		release: make(chan struct{}), aborted: map[int64]int64{}, noted: make(chan struct{})}
	var protos http.Protocols
	protos.SetHTTP1(true)
	protos.SetUnencryptedHTTP2(true)
	u.srv = &http.Server{
		Handler:           http.HandlerFunc(u.serve),
		ReadHeaderTimeout: 30 * time.Second,
		Protocols:         &protos,
		HTTP2:             &http.HTTP2Config{MaxConcurrentStreams: 1000},
		ErrorLog:          quietLog(),
	}
	u.served.Add(1)
	go func() {
		defer u.served.Done()
		_ = u.srv.Serve(ln)
	}()
	return u, nil
}

func (u *upstream) close() {
	u.mu.Lock()
	close(u.release)
	u.release = make(chan struct{})
	u.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := u.srv.Shutdown(ctx); err != nil {
		_ = u.srv.Close()
	}
	u.served.Wait()
}

// Release lets every held answer go on.
func (u *upstream) Release() {
	u.mu.Lock()
	close(u.release)
	u.release = make(chan struct{})
	u.mu.Unlock()
}

func (u *upstream) holdChan() chan struct{} {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.release
}

// Aborted waits at most d for the request tagged tag to see its context
// end, and returns when that happened (clock nanoseconds), forgetting it.
func (u *upstream) Aborted(tag int64, d time.Duration) (int64, bool) {
	timeout := time.NewTimer(d)
	defer timeout.Stop()
	for {
		u.mu.Lock()
		t, ok := u.aborted[tag]
		delete(u.aborted, tag)
		noted := u.noted
		u.mu.Unlock()
		if ok {
			return t, true
		}
		select {
		case <-noted:
		case <-timeout.C:
			return 0, false
		}
	}
}

func (u *upstream) noteAbort(tag int64) {
	if tag == 0 {
		return
	}
	at := u.clock.now()
	u.mu.Lock()
	if _, ok := u.aborted[tag]; !ok {
		u.aborted[tag] = at
		close(u.noted)
		u.noted = make(chan struct{})
	}
	u.mu.Unlock()
}

type upstreamBody struct {
	Model  string `json:"model"`
	Stream bool   `json:"stream"`
}

const (
	chunkHead = `data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":"bench","choices":[{"index":0,"delta":{"content":"`
	chunkTail = `"},"logprobs":null,"finish_reason":null}],"usage":null}` + "\n\n"
	roleChunk = `data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":"bench","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}],"usage":null}` + "\n\n"
	stopChunk = `data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":"bench","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null}` + "\n\n"
	errChunk  = `data: {"error":{"message":"bench: scripted upstream failure","type":"server_error","param":null,"code":null}}` + "\n\n"
	doneChunk = "data: [DONE]\n\n"
)

func (u *upstream) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/chat/completions") {
		http.Error(w, `{"error":{"message":"not found"}}`, http.StatusNotFound)
		return
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return
	}
	var body upstreamBody
	if err := json.Unmarshal(data, &body); err != nil || !body.Stream {
		http.Error(w, `{"error":{"message":"bad request"}}`, http.StatusBadRequest)
		return
	}
	sc, err := parseScript(body.Model)
	if err != nil {
		http.Error(w, `{"error":{"message":"bad model"}}`, http.StatusBadRequest)
		return
	}
	ctx := r.Context()
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)

	buf := make([]byte, 0, 256)
	send := func(b []byte) bool {
		_, err := w.Write(b)
		if err == nil {
			err = rc.Flush()
		}
		if err != nil && sc.Tag != 0 {
			// A write can fail before the server noticed the close and
			// ended the context; the handler then returns (unregistering
			// the AfterFunc below), so note the abort here too.
			u.noteAbort(sc.Tag)
		}
		return err == nil
	}
	// The request's context ends when the client goes away (HTTP/1.1:
	// the connection closes; HTTP/2: the stream is reset). Note it the
	// moment it happens; a normal return unregisters first.
	if sc.Tag != 0 {
		stop := context.AfterFunc(ctx, func() { u.noteAbort(sc.Tag) })
		defer func() {
			// The handler can see ctx.Done and return before the context
			// gets round to starting the AfterFunc; stop then wins and
			// the func never runs, so note the abort here instead.
			if stop() && ctx.Err() != nil {
				u.noteAbort(sc.Tag)
			}
		}()
	}
	if !send(append(buf[:0], roleChunk...)) {
		return
	}
	if sc.Hold {
		hold := u.holdChan()
		u.held.Add(1)
		select {
		case <-hold:
			u.held.Add(-1)
		case <-ctx.Done():
			u.held.Add(-1)
			return
		}
	}
	var timer *time.Timer
	var period time.Duration
	start, startClock := time.Now(), u.clock.now()
	if sc.Rate > 0 {
		period = time.Duration(float64(time.Second) / sc.Rate)
		timer = time.NewTimer(period)
		defer timer.Stop()
	}
	for i := range sc.Tokens {
		if sc.FailAfter > 0 && i == sc.FailAfter {
			if sc.Cut {
				panic(http.ErrAbortHandler) // the connection closes mid-body
			}
			send(append(buf[:0], errChunk...))
			return
		}
		if timer != nil && i > 0 {
			if d := time.Until(start.Add(time.Duration(i) * period)); d > 0 {
				timer.Reset(d)
				select {
				case <-timer.C:
				case <-ctx.Done():
					return
				}
			}
		}
		b := append(buf[:0], chunkHead...)
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(i), 10)
		if sc.Stamp {
			// A paced token carries the time it was due, so an upstream
			// held back by a slow reader counts as delay too.
			at := u.clock.now()
			if period > 0 {
				at = startClock + int64(i)*int64(period)
			}
			b = append(b, ':')
			b = strconv.AppendInt(b, at, 10)
		}
		b = append(b, chunkTail...)
		buf = b
		if !send(b) {
			return
		}
	}
	b := append(buf[:0], stopChunk...)
	b = append(b, `data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":"bench","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":`...)
	b = strconv.AppendInt(b, int64(sc.Tokens), 10)
	b = append(b, `,"total_tokens":`...)
	b = strconv.AppendInt(b, int64(sc.Tokens+1), 10)
	b = append(b, "}}\n\n"...)
	b = append(b, doneChunk...)
	send(b)
}

// clock is the benchmark's one time base: nanoseconds since its start,
// monotonic, shared by the upstream (send times) and the clients (receive
// times) of the same process.
type clock struct{ epoch time.Time }

func newClock() *clock { return &clock{epoch: time.Now()} }

func (c *clock) now() int64 { return int64(time.Since(c.epoch)) }
