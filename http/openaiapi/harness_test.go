package openaiapi

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	stdhttp "net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/armistice-go/armistice/actors"
	armhttp "github.com/armistice-go/armistice/http"
	"github.com/armistice-go/armistice/llm/scripted"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/rs/zerolog"
	"go.uber.org/goleak"
)

// proto.actor's dead-letter throttle waits out its period on a goroutine
// of its own after a dead letter; it is the library's, not a leak.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/asynkron/protoactor-go/actor.NewDeadLetter.NewThrottle.func4.1"))
}

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// waitLimit bounds every wait in these tests: a hang fails, it never
// blocks the run. Nothing waits on it when the code is right.
const waitLimit = 10 * time.Second

// The API keys of the test server.
const (
	keyA = "sk-tenant-a"
	keyB = "sk-tenant-b"
)

// env is one engine on a scripted provider behind one real HTTP server
// on a loopback port, with the OpenAI routes registered.
type env struct {
	t      *testing.T
	eng    *actors.Engine
	prov   *scripted.Provider
	srv    *armhttp.Server
	api    *api
	url    string
	client *stdhttp.Client
	// streamDone receives one value each time a streaming handler returns.
	streamDone chan struct{}
}

type envOption func(*actors.Config, *armhttp.Config, *Config)

func withConfig(f func(*Config)) envOption {
	return func(_ *actors.Config, _ *armhttp.Config, c *Config) { f(c) }
}

func withServer(f func(*armhttp.Config)) envOption {
	return func(_ *actors.Config, s *armhttp.Config, _ *Config) { f(s) }
}

// fixedID is the engine id of the n-th request of an env.
func fixedID(n int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", n) }

func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	prov := scripted.New()
	ecfg := actors.DefaultConfig(prov)
	ecfg.Logger = zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	var n atomic.Int64
	ecfg.NewID = func() string { return fixedID(int(n.Add(1))) }
	scfg := armhttp.DefaultConfig()
	scfg.APIKeys = map[string]string{keyA: "tenant-a", keyB: "tenant-b"}
	scfg.DefaultModel = "scripted"
	scfg.Logger = zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.ErrorLevel)
	ocfg := DefaultConfig()
	ocfg.Models = []string{"scripted", "scripted-mini"}
	ocfg.Heartbeat = 0 // streams are byte-exact; the heartbeat test turns it on
	ocfg.Logger = zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	for _, o := range opts {
		o(&ecfg, &scfg, &ocfg)
	}
	eng, err := actors.New(ecfg)
	if err != nil {
		t.Fatalf("actors.New: %v", err)
	}
	srv, err := armhttp.New(eng, scfg)
	if err != nil {
		eng.Close()
		t.Fatalf("armhttp.New: %v", err)
	}
	a, err := register(srv, ocfg)
	if err != nil {
		eng.Close()
		t.Fatalf("Register: %v", err)
	}
	e := &env{t: t, eng: eng, prov: prov, srv: srv, api: a, streamDone: make(chan struct{}, 64)}
	a.streamDone = func() { e.streamDone <- struct{}{} }
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		eng.Close()
		t.Fatalf("listen: %v", err)
	}
	e.url = "http://" + ln.Addr().String()
	transport := &stdhttp.Transport{MaxIdleConnsPerHost: 16}
	e.client = &stdhttp.Client{Transport: transport}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		if err := srv.Shutdown(ctx, 0); err != nil && !errors.Is(err, stdhttp.ErrServerClosed) {
			t.Errorf("shutdown: %v", err)
		}
		select {
		case <-served:
		case <-ctx.Done():
			t.Errorf("Serve did not return")
		}
		transport.CloseIdleConnections()
		eng.Close()
	})
	return e
}

// sdk is the official Go client pointed at the server with key.
func (e *env) sdk(key string) openai.Client {
	return openai.NewClient(
		option.WithBaseURL(e.url+"/v1/"),
		option.WithAPIKey(key),
		option.WithMaxRetries(0),
		option.WithHTTPClient(e.client),
	)
}

// ctx is a context bounded by waitLimit.
func (e *env) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	e.t.Cleanup(cancel)
	return ctx
}

// script waits for the next stream the provider opens.
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

// waitStreamDone waits until a streaming handler has returned.
func (e *env) waitStreamDone() {
	e.t.Helper()
	select {
	case <-e.streamDone:
	case <-time.After(waitLimit):
		e.t.Fatal("the stream handler did not return")
	}
}

// waitClosed waits until the upstream stream's context is cancelled or the
// stream closed.
func waitClosed(t *testing.T, s *scripted.Script) {
	t.Helper()
	select {
	case <-s.Done():
	case <-time.After(waitLimit):
		t.Fatal("the upstream call was not aborted")
	}
}

// do sends one raw request with key (none when empty); headers come in
// name, value pairs.
func (e *env) do(method, path, body, key string, headers ...string) (*stdhttp.Response, []byte) {
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
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
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

// rawResult is a whole raw response.
type rawResult struct {
	status int
	header stdhttp.Header
	body   []byte
	err    error
}

// start sends a raw request in the background and reads its whole body.
func (e *env) start(method, path, body, key string) <-chan rawResult {
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	out := make(chan rawResult, 1)
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := stdhttp.NewRequestWithContext(ctx, method, e.url+path, rd)
	if err != nil {
		cancel()
		e.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+key)
	go func() {
		defer cancel()
		resp, err := e.client.Do(req)
		if err != nil {
			out <- rawResult{err: err}
			return
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(resp.Body)
		out <- rawResult{status: resp.StatusCode, header: resp.Header, body: data, err: err}
	}()
	return out
}

func wait[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitLimit):
		t.Fatalf("nothing within %s", waitLimit)
		panic("unreachable")
	}
}

// wantError checks an error answer: status, OpenAI's exact shape, type,
// code and param.
func wantError(t *testing.T, resp *stdhttp.Response, data []byte, status int, typ, code, param string) errorFields {
	t.Helper()
	var raw map[string]map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatalf("error body %q: %v", data, err)
	}
	fields := raw["error"]
	if len(raw) != 1 || len(fields) != 4 {
		t.Fatalf("error body %s is not {\"error\":{message,type,param,code}}", data)
	}
	for _, k := range []string{"message", "type", "param", "code"} {
		if _, ok := fields[k]; !ok {
			t.Fatalf("error body %s lacks %q", data, k)
		}
	}
	var body errorJSON
	_ = json.Unmarshal(data, &body)
	got := body.Error
	deref := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	if resp.StatusCode != status || got.Type != typ || deref(got.Code) != code || deref(got.Param) != param || got.Message == "" {
		t.Fatalf("got %d %s", resp.StatusCode, data)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("error Content-Type = %q", ct)
	}
	return got
}

// wantAPIError checks an SDK error.
func wantAPIError(t *testing.T, err error, status int, typ, code string) *openai.Error {
	t.Helper()
	var ae *openai.Error
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) is not an *openai.Error", err, err)
	}
	if ae.StatusCode != status || ae.Type != typ || ae.Code != code || ae.Message == "" {
		t.Fatalf("got %d type=%q code=%q message=%q, want %d %s %s", ae.StatusCode, ae.Type, ae.Code, ae.Message, status, typ, code)
	}
	return ae
}

// contextWithCancel is e.ctx with its cancel function.
func contextWithCancel(e *env) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	e.t.Cleanup(cancel)
	return ctx, cancel
}

func withEngine(f func(*actors.Config)) envOption {
	return func(c *actors.Config, _ *armhttp.Config, _ *Config) { f(c) }
}

// async runs f beside the test: a streaming call whose headers come with
// the first output.
func async[T any](f func() T) <-chan T {
	ch := make(chan T, 1)
	go func() { ch <- f() }()
	return ch
}
