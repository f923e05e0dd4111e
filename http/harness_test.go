package http

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"net"
	stdhttp "net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/armistice-go/armistice/actors"
	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/llm/scripted"
	"github.com/armistice-go/armistice/model"
	"github.com/rs/zerolog"
	"github.com/tmaxmax/go-sse"
	"go.uber.org/goleak"
)

// proto.actor's dead-letter throttle waits out its period on a goroutine
// of its own after a dead letter; it is the library's, not a leak.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/asynkron/protoactor-go/actor.NewDeadLetter.NewThrottle.func4.1"))
}

// waitLimit bounds every wait in these tests: a hang fails, it never
// blocks the run. Nothing waits on it when the code is right.
const waitLimit = 10 * time.Second

// env is one engine behind one real HTTP server on a loopback port.
type env struct {
	t      *testing.T
	eng    *actors.Engine
	prov   *scripted.Provider
	srv    *Server
	url    string
	served chan error
	obs    *signalObserver
	client *stdhttp.Client
	key    string
}

// signalObserver is the server's metrics plus a signal for each removed
// request actor, so tests can wait for expiry without polling.
type signalObserver struct {
	*Metrics
	removed chan model.State
}

func (o *signalObserver) Removed(last model.State) {
	o.Metrics.Removed(last)
	select {
	case o.removed <- last:
	default:
	}
}

type envOption func(*actors.Config, *Config)

func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	prov := scripted.New()
	metrics := NewMetrics()
	obs := &signalObserver{Metrics: metrics, removed: make(chan model.State, 64)}
	ecfg := actors.DefaultConfig(prov)
	ecfg.Observer = obs
	ecfg.Logger = zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	n := 0
	ecfg.NewID = func() string { n++; return fmt.Sprintf("req-%d", n) }
	scfg := DefaultConfig()
	scfg.Metrics = metrics
	scfg.DefaultModel = "scripted"
	scfg.Logger = zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.ErrorLevel)
	for _, o := range opts {
		o(&ecfg, &scfg)
	}
	eng, err := actors.New(ecfg)
	if err != nil {
		t.Fatalf("actors.New: %v", err)
	}
	srv, err := New(eng, scfg)
	if err != nil {
		eng.Close()
		t.Fatalf("New: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		eng.Close()
		t.Fatalf("listen: %v", err)
	}
	transport := &stdhttp.Transport{MaxIdleConnsPerHost: 16}
	e := &env{t: t, eng: eng, prov: prov, srv: srv, url: "http://" + ln.Addr().String(), served: make(chan error, 1),
		obs: obs, client: &stdhttp.Client{Transport: transport}}
	go func() { e.served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		_ = srv.http.Close()
		<-e.served
		transport.CloseIdleConnections()
		eng.Close()
	})
	return e
}

func withEngine(f func(*actors.Config)) envOption { return func(e *actors.Config, _ *Config) { f(e) } }
func withServer(f func(*Config)) envOption        { return func(_ *actors.Config, s *Config) { f(s) } }

// withProvider replaces the scripted provider (which then stays unused).
func withProvider(p llm.Provider) envOption {
	return func(e *actors.Config, _ *Config) { e.Provider = p }
}

// do sends one request; headers come in name, value pairs.
func (e *env) do(method, path, body string, headers ...string) (*stdhttp.Response, []byte) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := stdhttp.NewRequestWithContext(ctx, method, e.url+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if e.key != "" {
		req.Header.Set("Authorization", "Bearer "+e.key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
		} else {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("%s %s: reading: %v", method, path, err)
	}
	return resp, data
}

// submit posts a prompt and returns the snapshot; it fails on anything
// but 202.
func (e *env) submit(body string) SnapshotJSON {
	e.t.Helper()
	resp, data := e.do("POST", "/v1/requests", body)
	if resp.StatusCode != stdhttp.StatusAccepted {
		e.t.Fatalf("submit: %d %s", resp.StatusCode, data)
	}
	var snap SnapshotJSON
	if err := json.Unmarshal(data, &snap); err != nil {
		e.t.Fatalf("submit: %v in %s", err, data)
	}
	if got := resp.Header.Get("Location"); got != "/v1/requests/"+snap.ID {
		e.t.Fatalf("Location = %q for id %q", got, snap.ID)
	}
	return snap
}

func (e *env) script() *scripted.Script {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	s, err := e.prov.Next(ctx)
	if err != nil {
		e.t.Fatalf("no stream opened: %v", err)
	}
	return s
}

func (e *env) status(id string) (int, SnapshotJSON) {
	e.t.Helper()
	resp, data := e.do("GET", "/v1/requests/"+id, "")
	var snap SnapshotJSON
	if resp.StatusCode == stdhttp.StatusOK {
		if err := json.Unmarshal(data, &snap); err != nil {
			e.t.Fatalf("status: %v in %s", err, data)
		}
	}
	return resp.StatusCode, snap
}

// wantError checks an error answer's status and code.
func wantError(t *testing.T, resp *stdhttp.Response, data []byte, status int, code string) errorBody {
	t.Helper()
	var body errorBody
	if err := json.Unmarshal(data, &body); err != nil {
		t.Fatalf("error body %q: %v", data, err)
	}
	if resp.StatusCode != status || body.Error.Code != code || body.Error.Message == "" {
		t.Fatalf("got %d %s (%q), want %d %s", resp.StatusCode, body.Error.Code, body.Error.Message, status, code)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("error Content-Type = %q", ct)
	}
	return body
}

// event is one parsed SSE event.
type event struct {
	ID   uint64
	Type string
	Data map[string]any
}

func (ev event) text() string { s, _ := ev.Data["text"].(string); return s }

// stream is a client reading an event stream with a real SSE parser.
type stream struct {
	t      *testing.T
	resp   *stdhttp.Response
	cancel context.CancelFunc
	next   func() (sse.Event, error, bool)
	stop   func()
	got    []event
}

// open starts reading /events; headers come in name, value pairs. It
// returns the response for non-200 answers (body read, stream nil).
func (e *env) open(id, query string, headers ...string) (*stream, *stdhttp.Response, []byte) {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	path := e.url + "/v1/requests/" + id + "/events"
	if query != "" {
		path += "?" + query
	}
	req, _ := stdhttp.NewRequestWithContext(ctx, "GET", path, nil)
	return e.openRequest(req, cancel, headers...)
}

// openSubmit posts body to /v1/requests asking for the event stream as
// the answer; like open, it returns the response of a non-200 answer.
func (e *env) openSubmit(body string, headers ...string) (*stream, *stdhttp.Response, []byte) {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := stdhttp.NewRequestWithContext(ctx, "POST", e.url+"/v1/requests", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	return e.openRequest(req, cancel, headers...)
}

func (e *env) openRequest(req *stdhttp.Request, cancel context.CancelFunc, headers ...string) (*stream, *stdhttp.Response, []byte) {
	e.t.Helper()
	req.Header.Set("Accept", "text/event-stream")
	if e.key != "" {
		req.Header.Set("Authorization", "Bearer "+e.key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := e.client.Do(req)
	if err != nil {
		cancel()
		e.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	if resp.StatusCode != stdhttp.StatusOK {
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		return nil, resp, data
	}
	for name, want := range map[string]string{"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"} {
		if got := resp.Header.Get(name); got != want {
			e.t.Fatalf("%s = %q, want %q", name, got, want)
		}
	}
	next, stop := iter.Pull2(iter.Seq2[sse.Event, error](sse.Read(resp.Body, nil)))
	s := &stream{t: e.t, resp: resp, cancel: cancel, next: next, stop: stop}
	e.t.Cleanup(s.close)
	return s, resp, nil
}

func (e *env) mustOpen(id, query string, headers ...string) *stream {
	e.t.Helper()
	s, resp, data := e.open(id, query, headers...)
	if s == nil {
		e.t.Fatalf("GET events: %d %s", resp.StatusCode, data)
	}
	return s
}

// read returns the next event; ok is false at the end of the response.
func (s *stream) read() (event, bool) {
	s.t.Helper()
	type result struct {
		ev  sse.Event
		err error
		ok  bool
	}
	ch := make(chan result, 1)
	go func() {
		ev, err, ok := s.next()
		ch <- result{ev, err, ok}
	}()
	var r result
	select {
	case r = <-ch:
	case <-time.After(waitLimit):
		s.t.Fatalf("no event within %s", waitLimit)
	}
	if !r.ok || r.err != nil {
		return event{}, false
	}
	id, err := strconv.ParseUint(r.ev.LastEventID, 10, 64)
	if err != nil {
		s.t.Fatalf("event id %q: %v", r.ev.LastEventID, err)
	}
	ev := event{ID: id, Type: r.ev.Type}
	if err := json.Unmarshal([]byte(r.ev.Data), &ev.Data); err != nil {
		s.t.Fatalf("event data %q: %v", r.ev.Data, err)
	}
	if seq, _ := ev.Data["seq"].(float64); uint64(seq) != id {
		s.t.Fatalf("event id %d but data seq %v", id, ev.Data["seq"])
	}
	s.got = append(s.got, ev)
	return ev, true
}

// readN reads n events.
func (s *stream) readN(n int) []event {
	s.t.Helper()
	out := make([]event, 0, n)
	for range n {
		ev, ok := s.read()
		if !ok {
			s.t.Fatalf("stream ended after %d of %d events", len(out), n)
		}
		out = append(out, ev)
	}
	return out
}

// readToEnd reads until the end event and checks that the response then
// ends.
func (s *stream) readToEnd() []event {
	s.t.Helper()
	var out []event
	for {
		ev, ok := s.read()
		if !ok {
			s.t.Fatalf("stream ended without an end event after %v", out)
		}
		out = append(out, ev)
		if ev.Type == "end" {
			if extra, ok := s.read(); ok {
				s.t.Fatalf("event after end: %+v", extra)
			}
			return out
		}
	}
}

// close drops the connection.
func (s *stream) close() {
	s.cancel()
	s.stop()
	s.resp.Body.Close()
}

// checkSeqs fails unless events run from first with no gap or duplicate.
func checkSeqs(t *testing.T, evs []event, first uint64) {
	t.Helper()
	for i, ev := range evs {
		if ev.ID != first+uint64(i) {
			t.Fatalf("event %d has seq %d, want %d (events %v)", i, ev.ID, first+uint64(i), evs)
		}
	}
}

func joinText(evs []event) string {
	var b strings.Builder
	for _, ev := range evs {
		if ev.Type == "token" {
			b.WriteString(ev.text())
		}
	}
	return b.String()
}

func endOf(t *testing.T, evs []event) map[string]any {
	t.Helper()
	if len(evs) == 0 || evs[len(evs)-1].Type != "end" {
		t.Fatalf("no end event in %v", evs)
	}
	return evs[len(evs)-1].Data
}

func wantEnd(t *testing.T, evs []event, state, status, reason string) {
	t.Helper()
	end := endOf(t, evs)
	if end["state"] != state || end["status"] != status || end["reason"] != reason {
		t.Fatalf("end = %v, want %s/%s/%s", end, state, status, reason)
	}
}

// waitRemoved waits until n request actors have stopped.
func (e *env) waitRemoved(n int) {
	e.t.Helper()
	for range n {
		select {
		case <-e.obs.removed:
		case <-time.After(waitLimit):
			e.t.Fatalf("request actor not removed within %s", waitLimit)
		}
	}
}
