package upstreamhttp_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/armistice-go/armistice/llm/upstreamhttp"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// waitLimit bounds every wait for something that should happen at once; it
// is never waited out when the code is right.
const waitLimit = 10 * time.Second

// newClient returns a client for cfg, closed when the test ends.
func newClient(t *testing.T, cfg upstreamhttp.Config) *upstreamhttp.Client {
	t.Helper()
	c, err := upstreamhttp.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// get sends GET url with c's HTTP client and returns the protocol of the
// response.
func get(ctx context.Context, c *upstreamhttp.Client, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := c.HTTPClient().Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.Proto, nil
}

// mustGet is get that fails the test on an error.
func mustGet(t *testing.T, c *upstreamhttp.Client, url string) string {
	t.Helper()
	proto, err := get(t.Context(), c, url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return proto
}

// probe is Probe with the test's context, bounded by waitLimit.
func probe(t *testing.T, c *upstreamhttp.Client, url string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitLimit)
	defer cancel()
	return c.Probe(ctx, url)
}

// detections records Config.OnDetect's calls.
type detections struct {
	mu    sync.Mutex
	calls []string // "origin protocol"
}

func (d *detections) record(origin, protocol string) {
	d.mu.Lock()
	d.calls = append(d.calls, origin+" "+protocol)
	d.mu.Unlock()
}

func (d *detections) get() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.calls...)
}

// recv waits for a value from ch, failing the test after waitLimit.
func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitLimit):
		t.Fatalf("timed out waiting for %s", what)
	}
	panic("unreachable")
}

// protoHandler answers with the request's protocol.
var protoHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, r.Proto) })

// probeAnswer is how a fakeUpstream treats a probe connection.
type probeAnswer int

const (
	// holdProbe keeps the probe connection open without a byte, until
	// Release or Close.
	holdProbe probeAnswer = iota
	// hangUpProbe closes the probe connection at once.
	hangUpProbe
)

// fakeUpstream is a plain-HTTP server speaking HTTP/1.1 only that treats
// the connections beginning with the HTTP/2 preface (probes) as answer
// says, and records the protocol of every request it serves.
type fakeUpstream struct {
	URL string

	ln     net.Listener
	srv    *http.Server
	answer probeAnswer
	conns  chan net.Conn // HTTP/1.1 connections for srv
	closed chan struct{}
	wg     sync.WaitGroup

	probes   chan []byte // the bytes of each probe's first 33, as they come
	requests chan string // the protocol of each request, as it comes

	mu       sync.Mutex
	raw      map[net.Conn]bool
	held     []net.Conn
	released bool
}

func newFakeUpstream(t *testing.T, answer probeAnswer) *fakeUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeUpstream{
		URL:      "http://" + ln.Addr().String(),
		ln:       ln,
		answer:   answer,
		conns:    make(chan net.Conn),
		closed:   make(chan struct{}),
		probes:   make(chan []byte, 64),
		requests: make(chan string, 64),
		raw:      make(map[net.Conn]bool),
	}
	f.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.requests <- r.Proto
		_, _ = io.WriteString(w, r.Proto)
	})}
	f.wg.Add(2)
	go func() {
		defer f.wg.Done()
		_ = f.srv.Serve(chanListener{f})
	}()
	go f.accept()
	t.Cleanup(f.Close)
	return f
}

func (f *fakeUpstream) accept() {
	defer f.wg.Done()
	for {
		conn, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.mu.Lock()
		f.raw[conn] = true
		f.mu.Unlock()
		f.wg.Add(1)
		go f.sniff(conn)
	}
}

// sniff tells a probe from an HTTP/1.1 client by its first bytes.
func (f *fakeUpstream) sniff(conn net.Conn) {
	defer f.wg.Done()
	br := bufio.NewReader(conn)
	head, err := br.Peek(4)
	if err != nil {
		conn.Close()
		return
	}
	if string(head) != "PRI " {
		select {
		case f.conns <- &peekedConn{Conn: conn, r: br}:
		case <-f.closed:
			conn.Close()
		}
		return
	}
	got := make([]byte, 33)
	n, _ := io.ReadFull(br, got)
	f.probes <- got[:n]
	if f.answer == hangUpProbe {
		conn.Close()
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.released {
		conn.Close()
		return
	}
	f.held = append(f.held, conn)
}

// Release closes the probe connections held, and those to come.
func (f *fakeUpstream) Release() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.released = true
	for _, c := range f.held {
		c.Close()
	}
	f.held = nil
}

// Close stops the server and waits for its goroutines.
func (f *fakeUpstream) Close() {
	select {
	case <-f.closed:
		return
	default:
	}
	close(f.closed)
	f.ln.Close()
	_ = f.srv.Close()
	f.Release()
	f.mu.Lock()
	for c := range f.raw {
		c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}

// chanListener hands srv the connections sniff passes on.
type chanListener struct{ f *fakeUpstream }

func (l chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.f.conns:
		return c, nil
	case <-l.f.closed:
		return nil, net.ErrClosed
	}
}
func (l chanListener) Close() error   { return nil }
func (l chanListener) Addr() net.Addr { return l.f.ln.Addr() }

// peekedConn is a connection whose first bytes were peeked.
type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *peekedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// startServer serves handler on ln, over HTTP/1.1 and, if h2c is set, h2c
// with prior knowledge, until the returned stop is called (it waits).
func startServer(ln net.Listener, handler http.Handler, h2c bool) (stop func()) {
	srv := &http.Server{Handler: handler}
	if h2c {
		var p http.Protocols
		p.SetHTTP1(true)
		p.SetUnencryptedHTTP2(true)
		srv.Protocols = &p
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	return func() {
		_ = srv.Close()
		<-done
	}
}
