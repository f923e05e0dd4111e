package client_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	stdhttp "net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/armistice-go/armistice/actors"
	armhttp "github.com/armistice-go/armistice/http"
	"github.com/armistice-go/armistice/http/client"
	"github.com/armistice-go/armistice/llm/embedded"
	"go.uber.org/goleak"
)

// TestMain checks that no goroutine outlives the tests, except proto.actor's
// dead-letter throttle timer, which ends by itself a second after the last
// dead letter (a stream closing as its request stops sends one).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/asynkron/protoactor-go/actor.NewDeadLetter.NewThrottle.func4.1"))
}

// waitLimit bounds every wait on the server in a test.
const waitLimit = 10 * time.Second

// serverOptions shape the real server a test runs.
type serverOptions struct {
	rate   float64 // embedded tokens per second; 0: unpaced
	tokens int     // embedded answer length
	engine func(*actors.Config)
	http   func(*armhttp.Config)
}

// seen is one HTTP exchange the recorder saw.
type seen struct {
	method, path   string
	idempotencyKey string
	lastEventID    string
	authorization  string
	body           string
	status         int
	retryAfter     string
}

// recorder wraps the real server's handler and remembers every exchange.
type recorder struct {
	next stdhttp.Handler
	mu   sync.Mutex
	log  []seen
}

type statusWriter struct {
	stdhttp.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = stdhttp.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

func (w *statusWriter) Flush() { w.ResponseWriter.(stdhttp.Flusher).Flush() }

func (w *statusWriter) Unwrap() stdhttp.ResponseWriter { return w.ResponseWriter }

func (r *recorder) ServeHTTP(w stdhttp.ResponseWriter, req *stdhttp.Request) {
	body, _ := io.ReadAll(req.Body)
	req.Body = io.NopCloser(bytes.NewReader(body))
	r.mu.Lock()
	i := len(r.log)
	r.log = append(r.log, seen{
		method: req.Method, path: req.URL.Path,
		idempotencyKey: req.Header.Get("Idempotency-Key"),
		lastEventID:    req.Header.Get("Last-Event-ID"),
		authorization:  req.Header.Get("Authorization"),
		body:           string(body),
	})
	r.mu.Unlock()
	sw := &statusWriter{ResponseWriter: w}
	r.next.ServeHTTP(sw, req)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log[i].status, r.log[i].retryAfter = sw.status, sw.Header().Get("Retry-After")
}

func (r *recorder) seen() []seen {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]seen(nil), r.log...)
}

// testServer is the real Armistice HTTP server on a loopback port.
type testServer struct {
	url string
	eng *actors.Engine
	rec *recorder
}

func startServer(t *testing.T, o serverOptions) *testServer {
	t.Helper()
	if o.tokens == 0 {
		o.tokens = 64
	}
	prov, err := embedded.New(embedded.Config{TokensPerSecond: o.rate, Tokens: o.tokens})
	if err != nil {
		t.Fatal(err)
	}
	ecfg := actors.DefaultConfig(prov)
	if o.engine != nil {
		o.engine(&ecfg)
	}
	eng, err := actors.New(ecfg)
	if err != nil {
		t.Fatal(err)
	}
	hcfg := armhttp.DefaultConfig()
	if o.http != nil {
		o.http(&hcfg)
	}
	srv, err := armhttp.New(eng, hcfg)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{next: srv}
	hs := &stdhttp.Server{Handler: rec}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() { hs.Serve(ln); close(served) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		srv.Shutdown(ctx, 0)
		hs.Close()
		<-served
		eng.Close()
	})
	return &testServer{url: "http://" + ln.Addr().String(), eng: eng, rec: rec}
}

// sleeps records the waits a client asked for, without waiting; then
// runs hook, if set, for the i-th wait (0-based).
type sleeps struct {
	mu    sync.Mutex
	waits []time.Duration
	hook  func(i int)
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	i := len(s.waits)
	s.waits = append(s.waits, d)
	s.mu.Unlock()
	if s.hook != nil {
		s.hook(i)
	}
	return ctx.Err()
}

func (s *sleeps) get() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.waits...)
}

// newClient returns a client of url whose waits go to sl and whose idle
// connections close with the test.
func newClient(t *testing.T, url string, sl *sleeps, opts ...client.Option) *client.Client {
	t.Helper()
	tr := &stdhttp.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return newClientWith(t, url, &stdhttp.Client{Transport: tr}, sl, opts...)
}

func newClientWith(t *testing.T, url string, hc *stdhttp.Client, sl *sleeps, opts ...client.Option) *client.Client {
	t.Helper()
	p := client.DefaultRetryPolicy()
	p.Rand = func() float64 { return 0 }
	if sl != nil {
		p.Sleep = sl.sleep
	}
	c, err := client.New(url, append([]client.Option{client.WithHTTPClient(hc), client.WithRetry(p)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// cutter is a transport that cuts the body of the first n event streams
// (a submit's included) after `after` bytes, as a dropped connection would.
type cutter struct {
	next  stdhttp.RoundTripper
	after int
	mu    sync.Mutex
	left  int
}

func (c *cutter) RoundTrip(req *stdhttp.Request) (*stdhttp.Response, error) {
	resp, err := c.next.RoundTrip(req)
	streams := strings.HasSuffix(req.URL.Path, "/events") || req.Method == stdhttp.MethodPost && req.URL.Path == "/v1/requests"
	if err != nil || !streams || resp.StatusCode != stdhttp.StatusOK {
		return resp, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.left > 0 {
		c.left--
		resp.Body = &cutBody{ReadCloser: resp.Body, left: c.after}
	}
	return resp, nil
}

var errCut = errors.New("test: connection cut")

type cutBody struct {
	io.ReadCloser
	left int
}

func (b *cutBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		b.ReadCloser.Close()
		return 0, errCut
	}
	if len(p) > b.left {
		p = p[:b.left]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= n
	return n, err
}

// collect reads a whole stream.
func collect(t *testing.T, events func(func(client.Event, error) bool)) ([]client.Event, error) {
	t.Helper()
	var out []client.Event
	for ev, err := range events {
		if err != nil {
			return out, err
		}
		out = append(out, ev)
	}
	return out, nil
}

// checkOnce checks that evs are seqs from, from+1, ... each once, ending
// with exactly one end event, and returns the text of the token events.
func checkOnce(t *testing.T, evs []client.Event, from uint64) string {
	t.Helper()
	var text strings.Builder
	ends := 0
	for i, ev := range evs {
		if ev.Seq != from+uint64(i) {
			t.Fatalf("event %d has seq %d, want %d", i, ev.Seq, from+uint64(i))
		}
		switch ev.Name {
		case "token":
			text.WriteString(ev.Text)
		case "end":
			ends++
			if i != len(evs)-1 {
				t.Fatalf("end event at %d of %d", i, len(evs))
			}
		}
	}
	if ends != 1 {
		t.Fatalf("%d end events, want 1", ends)
	}
	return text.String()
}
