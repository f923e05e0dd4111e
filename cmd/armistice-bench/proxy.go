package main

import (
	"bytes"
	"context"
	"io"
	"net"
	stdhttp "net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"
)

// proxyName is the system name of the bare reverse proxy.
const proxyName = "proxy"

// proxySystem is the floor under any relay built on net/http: the
// standard library's httputil.ReverseProxy in front of the upstream,
// passing the Chat Completions stream through byte for byte (no
// decoding, no state, no request of its own to build), flushing every
// write; it reads the client's request whole before forwarding it, as
// every relay must to parse it (newProxyHandler says why it must). It
// pays exactly the second HTTP exchange a relay puts on the path: the
// client's connection to it, its connection to the upstream
// (the baseline's transport, on the scenario's protocol), and a goroutine
// copying one to the other. The ttft and idle scenarios measure it beside
// the relays, so that a relay's added cost can be read against what the
// extra hop alone costs on the same machine in the same run
// (docs/benchmarks.md, "The floor").
type proxySystem struct {
	c     *stdhttp.Client // the benchmark's client
	url   string          // the proxy's base, e.g. http://127.0.0.1:1234
	clock *clock

	srv  *stdhttp.Server
	tr   *stdhttp.Transport
	done sync.WaitGroup
}

func (e *env) newProxy(o relayOptions) (*proxySystem, error) {
	target, err := url.Parse(e.up.url)
	if err != nil {
		return nil, err
	}
	tr := newTransport(o.h2c)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &proxySystem{
		c: e.client, url: "http://" + ln.Addr().String(), clock: e.clock,
		srv: &stdhttp.Server{Handler: newProxyHandler(target, tr), ErrorLog: quietLog(), ReadHeaderTimeout: 10 * time.Second},
		tr:  tr,
	}
	p.done.Add(1)
	go func() {
		defer p.done.Done()
		_ = p.srv.Serve(ln)
	}()
	return p, nil
}

func (p *proxySystem) Name() string { return proxyName }

// Open posts the same streamed chat request as direct, through the proxy.
func (p *proxySystem) Open(ctx context.Context, sc script) (*stream, error) {
	return openChat(ctx, p.c, p.url, proxyName, p.clock, sc)
}

// Cancel is dropping the connection, as for direct.
func (p *proxySystem) Cancel(_ context.Context, st *stream) error {
	st.Close()
	return nil
}

// closeIdle closes its idle upstream connections.
func (p *proxySystem) closeIdle() { p.tr.CloseIdleConnections() }

func (p *proxySystem) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = p.srv.Shutdown(ctx)
	p.done.Wait()
	p.tr.CloseIdleConnections()
}

// maxProxyBody bounds the request the proxy reads before it forwards it.
const maxProxyBody = 1 << 20

// newProxyHandler is the proxy: it reads the client's request whole, as
// every relay here does (they parse it), then passes it to a
// ReverseProxy to target through tr. Passing the client's body through
// instead races on HTTP/1.1 (golang/go#40747): once the transport has sent
// the declared Content-Length it reads the body once more to check that
// nothing is left, and when the upstream has already answered and the
// proxy has started its response, the server has closed that body; the
// transport then drops the upstream connection with the answer on it, and
// about one stream in 10^4 ended in "unexpected EOF"
// (TestTheFloorReadsTheRequestWholeFirst).
func newProxyHandler(target *url.URL, tr stdhttp.RoundTripper) stdhttp.Handler {
	rp := &httputil.ReverseProxy{
		Rewrite:       func(r *httputil.ProxyRequest) { r.SetURL(target) },
		Transport:     tr,
		FlushInterval: -1, // flush after every write, as an SSE relay must
		ErrorLog:      quietLog(),
	}
	return stdhttp.HandlerFunc(func(w stdhttp.ResponseWriter, r *stdhttp.Request) {
		body, err := io.ReadAll(stdhttp.MaxBytesReader(w, r.Body, maxProxyBody))
		if err != nil {
			stdhttp.Error(w, "reading the request: "+err.Error(), stdhttp.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength, r.TransferEncoding = int64(len(body)), nil
		// The transport may resend it on a keep-alive connection the
		// upstream closed, as for any request whose body can be rewound.
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		rp.ServeHTTP(w, r)
	})
}
