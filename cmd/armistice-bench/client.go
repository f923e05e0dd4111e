package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/armistice-go/armistice/http/client"
)

// newClient returns the benchmark's HTTP client: HTTP/1.1 on loopback, a
// connection per concurrent stream, idle connections kept for reuse.
func newClient() *http.Client {
	return &http.Client{Transport: newTransport(false)}
}

// newTransport returns a transport without proxy or compression whose
// pool keeps every idle connection; h2c makes it speak HTTP/2 without TLS
// (prior knowledge), multiplexing streams over a few connections.
func newTransport(h2c bool) *http.Transport {
	t := &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          0,
		MaxIdleConnsPerHost:   1 << 16,
		IdleConnTimeout:       90 * time.Second,
		DisableCompression:    true,
		ResponseHeaderTimeout: 60 * time.Second,
	}
	if h2c {
		var p http.Protocols
		p.SetUnencryptedHTTP2(true)
		t.Protocols = &p
		t.HTTP2 = &http.HTTP2Config{StrictMaxConcurrentRequests: false}
	}
	return t
}

// system is one of the three ways the same work is done.
type system interface {
	Name() string
	// Open starts an answer for sc and returns its event stream once the
	// response headers arrived. ctx bounds the whole stream.
	Open(ctx context.Context, sc script) (*stream, error)
	// Cancel asks for the stream's request to be cancelled.
	Cancel(ctx context.Context, st *stream) error
}

const (
	fmtNative = iota // Armistice's and the baseline's SSE: id, event, data
	fmtOpenAI        // Chat Completions chunks
)

// event is one parsed SSE event.
type event struct {
	kind   eventKind
	seq    uint64 // native formats: the id line
	idx    int    // token: its index in the answer
	sent   int64  // token: the upstream's send time (clock ns), 0 if not stamped
	status string // end: completed, cancelled, failed
	reason string // end (native formats): its reason, e.g. node_lost
	at     int64  // clock ns when parsed
}

type eventKind uint8

const (
	evOther eventKind = iota
	evToken
	evState
	evEnd
)

// stream is an open answer.
type stream struct {
	id     string // the relay's request id ("" for direct)
	cancel context.CancelFunc
	body   io.ReadCloser
	r      *bufio.Reader
	format int
	clock  *clock
	ended  bool
}

// Close drops the connection (a client disconnect when the answer is
// still running).
func (s *stream) Close() {
	s.cancel()
	_ = s.body.Close()
}

var errBadEvent = errors.New("malformed event")

// Next returns the next event; io.EOF after the end event.
func (s *stream) Next() (event, error) {
	if s.ended {
		return event{}, io.EOF
	}
	var ev event
	var have bool
	for {
		line, err := s.r.ReadSlice('\n')
		if err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				return ev, errBadEvent
			}
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return ev, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			if !have {
				continue
			}
			ev.at = s.clock.now()
			if ev.kind == evEnd {
				s.ended = true
			}
			return ev, nil
		}
		switch {
		case line[0] == ':':
		case bytes.HasPrefix(line, []byte("id: ")):
			n, err := strconv.ParseUint(string(line[4:]), 10, 64)
			if err != nil {
				return ev, errBadEvent
			}
			ev.seq, have = n, true
		case bytes.HasPrefix(line, []byte("event: ")):
			have = true
			switch string(line[7:]) {
			case "token":
				ev.kind = evToken
			case "state":
				ev.kind = evState
			case "end":
				ev.kind = evEnd
			}
		case bytes.HasPrefix(line, []byte("data: ")):
			have = true
			if err := s.data(&ev, line[6:]); err != nil {
				return ev, err
			}
		}
	}
}

var (
	textKey    = []byte(`"text":"`)
	contentKey = []byte(`"content":"`)
	statusKey  = []byte(`"status":"`)
	reasonKey  = []byte(`"reason":"`)
	finishKey  = []byte(`"finish_reason":"`)
	errorKey   = []byte(`{"error"`)
)

func (s *stream) data(ev *event, d []byte) error {
	if s.format == fmtOpenAI {
		switch {
		case string(d) == "[DONE]":
			ev.kind, ev.status = evEnd, "completed"
			return nil
		case bytes.HasPrefix(d, errorKey):
			ev.kind, ev.status = evEnd, "failed"
			return nil
		case bytes.Contains(d, finishKey):
			ev.kind = evState
			return nil
		}
		i := bytes.Index(d, contentKey)
		if i < 0 {
			return nil
		}
		text := d[i+len(contentKey):]
		j := bytes.IndexByte(text, '"')
		if j <= 0 {
			return nil // the role chunk's empty content
		}
		ev.kind = evToken
		return parseToken(ev, text[:j])
	}
	switch ev.kind {
	case evToken:
		i := bytes.Index(d, textKey)
		if i < 0 {
			return errBadEvent
		}
		text := d[i+len(textKey):]
		j := bytes.IndexByte(text, '"')
		if j < 0 {
			return errBadEvent
		}
		return parseToken(ev, text[:j])
	case evEnd:
		i := bytes.Index(d, statusKey)
		if i < 0 {
			return errBadEvent
		}
		st := d[i+len(statusKey):]
		j := bytes.IndexByte(st, '"')
		if j < 0 {
			return errBadEvent
		}
		ev.status = string(st[:j])
		if i := bytes.Index(d, reasonKey); i >= 0 {
			r := d[i+len(reasonKey):]
			if j := bytes.IndexByte(r, '"'); j >= 0 {
				ev.reason = string(r[:j])
			}
		}
	}
	return nil
}

// parseToken reads the upstream's token text: " <index>" or
// " <index>:<send time>".
func parseToken(ev *event, t []byte) error {
	if len(t) < 2 || t[0] != ' ' {
		return errBadEvent
	}
	t = t[1:]
	n, i := 0, 0
	for ; i < len(t) && t[i] >= '0' && t[i] <= '9'; i++ {
		n = n*10 + int(t[i]-'0')
	}
	if i == 0 {
		return errBadEvent
	}
	ev.idx = n
	if i < len(t) {
		if t[i] != ':' {
			return errBadEvent
		}
		var ts int64
		for _, c := range t[i+1:] {
			if c < '0' || c > '9' {
				return errBadEvent
			}
			ts = ts*10 + int64(c-'0')
		}
		ev.sent = ts
	}
	return nil
}

// Drain reads to the end event and returns it.
func (s *stream) Drain() (event, error) {
	for {
		ev, err := s.Next()
		if err != nil {
			return ev, err
		}
		if ev.kind == evEnd {
			return ev, nil
		}
	}
}

// direct: the client reads the upstream itself.
type direct struct {
	c     *http.Client
	url   string
	clock *clock
}

func (d *direct) Name() string { return "direct" }

func (d *direct) Open(ctx context.Context, sc script) (*stream, error) {
	return openChat(ctx, d.c, d.url, "direct", d.clock, sc)
}

// openChat posts a streamed Chat Completions request (with usage) to
// base+"/v1/chat/completions" and returns its chunk stream once the
// response headers arrived: one round trip.
func openChat(ctx context.Context, c *http.Client, base, name string, clk *clock, sc script) (*stream, error) {
	body := `{"model":"` + sc.model() + `","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`
	ctx, cancel := context.WithCancel(ctx)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/chat/completions", strings.NewReader(body))
	if err != nil {
		cancel()
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := c.Do(req)
	if err != nil {
		cancel()
		return nil, err
	}
	if res.StatusCode != http.StatusOK {
		data, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
		res.Body.Close()
		cancel()
		return nil, fmt.Errorf("%s: status %d: %s", name, res.StatusCode, bytes.TrimSpace(data))
	}
	return &stream{cancel: cancel, body: res.Body, r: bufio.NewReader(res.Body), format: fmtOpenAI, clock: clk}, nil
}

// Cancel for direct is what a client can do: drop the connection.
func (d *direct) Cancel(_ context.Context, st *stream) error {
	st.Close()
	return nil
}

// chatName is the system name of Armistice reached through its
// OpenAI-compatible route.
const chatName = "armistice_chat"

// chatAPI is Armistice's OpenAI-compatible route (package
// http/openaiapi): POST /v1/chat/completions with stream true, one round
// trip like direct, against the native API's submit then events. A chat
// completion is foreground: dropping the connection cancels it.
type chatAPI struct {
	c     *http.Client
	url   string // the server's base, e.g. http://127.0.0.1:1234
	clock *clock
}

func (a *chatAPI) Name() string { return chatName }

func (a *chatAPI) Open(ctx context.Context, sc script) (*stream, error) {
	return openChat(ctx, a.c, a.url, chatName, a.clock, sc)
}

// Cancel for a chat completion is dropping the connection.
func (a *chatAPI) Cancel(_ context.Context, st *stream) error {
	st.Close()
	return nil
}

// oneTripName is the system name of Armistice's native API in one round
// trip.
const oneTripName = "armistice_1rt"

// oneTripAPI is Armistice's native submit asked for its event stream
// (POST /v1/requests with Accept: text/event-stream): one round trip like
// direct, answered with the request's events from its first, and the
// request named in Location.
type oneTripAPI struct {
	*relay
}

func (a *oneTripAPI) Name() string { return oneTripName }

func (a *oneTripAPI) Open(ctx context.Context, sc script) (*stream, error) {
	body, err := json.Marshal(client.Request{Prompt: "hi", Model: sc.model(), OnDisconnect: a.onDisconnect})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.base+"/v1/requests", bytes.NewReader(body))
	if err != nil {
		cancel()
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	res, err := a.c.Do(req)
	if err != nil {
		cancel()
		return nil, err
	}
	id := strings.TrimPrefix(res.Header.Get("Location"), "/v1/requests/")
	if res.StatusCode != http.StatusOK || id == "" {
		data, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
		res.Body.Close()
		cancel()
		return nil, fmt.Errorf("%s: status %d, Location %q: %s", oneTripName, res.StatusCode, id, bytes.TrimSpace(data))
	}
	return &stream{id: id, cancel: cancel, body: res.Body, r: bufio.NewReader(res.Body), format: fmtNative, clock: a.clock}, nil
}

// relay is a system with the native API shape: POST /v1/requests, GET
// .../events, POST .../cancel; Armistice and the baseline serve the same
// paths. Submit and cancel go through package http/client, without
// retries (a refusal is a result here); the event stream is read by this
// benchmark's own SSE reader, the same for every system, so that the
// instrument does not differ between the things it compares.
type relay struct {
	name  string
	c     *http.Client
	base  string // e.g. http://127.0.0.1:1234
	clock *clock
	// onDisconnect, when set, is sent as the submit's on_disconnect.
	onDisconnect string

	api *client.Client
}

func newRelay(name string, c *http.Client, base string, clk *clock) (*relay, error) {
	api, err := client.New(base, client.WithHTTPClient(c), client.WithRetry(client.RetryPolicy{MaxAttempts: 1, SubmitRetries: -1}))
	if err != nil {
		return nil, err
	}
	return &relay{name: name, c: c, base: base, clock: clk, api: api}, nil
}

func (r *relay) Name() string { return r.name }

func (r *relay) Open(ctx context.Context, sc script) (*stream, error) {
	id, err := r.Submit(ctx, sc)
	if err != nil {
		return nil, err
	}
	return r.Events(ctx, id, "")
}

// Submit creates a request and returns its id.
func (r *relay) Submit(ctx context.Context, sc script) (string, error) {
	snap, err := r.api.Submit(ctx, client.Request{Prompt: "hi", Model: sc.model(), OnDisconnect: r.onDisconnect})
	if err != nil {
		return "", fmt.Errorf("%s: submit: %w", r.name, err)
	}
	return snap.ID, nil
}

// SubmitHere creates a request with a plain POST and no Idempotency-Key,
// so that a cluster node admits it itself (a keyed submit, as the Go
// client sends, is admitted on the node its key hashes to).
func (r *relay) SubmitHere(ctx context.Context, sc script) (string, error) {
	body, err := json.Marshal(client.Request{Prompt: "hi", Model: sc.model(), OnDisconnect: r.onDisconnect})
	if err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.base+"/v1/requests", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := r.c.Do(req)
	if err != nil {
		return "", fmt.Errorf("%s: submit: %w", r.name, err)
	}
	defer res.Body.Close()
	var snap struct{ ID string }
	if err := json.NewDecoder(res.Body).Decode(&snap); err != nil || res.StatusCode != http.StatusAccepted || snap.ID == "" {
		return "", fmt.Errorf("%s: submit: status %d: %v", r.name, res.StatusCode, err)
	}
	return snap.ID, nil
}

// eventsPath is the path of a request's event stream.
func eventsPath(id string) string { return "/v1/requests/" + id + "/events" }

// Events opens the request's event stream, from lastEventID when set.
func (r *relay) Events(ctx context.Context, id, lastEventID string) (*stream, error) {
	ctx, cancel := context.WithCancel(ctx)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.base+eventsPath(id), nil)
	if err != nil {
		cancel()
		return nil, err
	}
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	res, err := r.c.Do(req)
	if err != nil {
		cancel()
		return nil, err
	}
	if res.StatusCode != http.StatusOK {
		data, _ := io.ReadAll(res.Body)
		res.Body.Close()
		cancel()
		return nil, fmt.Errorf("%s: events: status %d: %s", r.name, res.StatusCode, bytes.TrimSpace(data))
	}
	return &stream{id: id, cancel: cancel, body: res.Body, r: bufio.NewReader(res.Body), format: fmtNative, clock: r.clock}, nil
}

func (r *relay) Cancel(ctx context.Context, st *stream) error {
	if _, err := r.api.Cancel(ctx, st.id); err != nil {
		return fmt.Errorf("%s: cancel: %w", r.name, err)
	}
	return nil
}
