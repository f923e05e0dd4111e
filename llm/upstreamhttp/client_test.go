package upstreamhttp_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/armistice-go/armistice/llm/llmtest"
	"github.com/armistice-go/armistice/llm/upstreamhttp"
)

// In auto mode a plain-HTTP server that speaks h2c (llmtest's) gets the
// first request over HTTP/1.1, and every request after the probe's verdict
// over HTTP/2.
func TestAutoUsesH2CAfterTheProbe(t *testing.T) {
	up := llmtest.NewOpenAIServer(t, llmtest.Answer("hi"))
	var seen detections
	c := newClient(t, upstreamhttp.Config{OnDetect: seen.record})

	if got := c.Protocol(up.URL); got != "" {
		t.Fatalf("Protocol before any request = %q, want \"\"", got)
	}
	if proto := mustGet(t, c, up.URL+"/models"); proto != "HTTP/1.1" {
		t.Fatalf("the first request went over %s, want HTTP/1.1 (it must not wait for the probe)", proto)
	}
	verdict, err := probe(t, c, up.URL)
	if err != nil || verdict != upstreamhttp.ProtocolH2C {
		t.Fatalf("Probe = %q, %v; want h2c", verdict, err)
	}
	if got := c.Protocol(up.URL); got != upstreamhttp.ProtocolH2C {
		t.Fatalf("Protocol = %q, want h2c", got)
	}
	for range 3 {
		if proto := mustGet(t, c, up.URL+"/models"); proto != "HTTP/2.0" {
			t.Fatalf("a request after the verdict went over %s, want HTTP/2.0", proto)
		}
	}
	var protos []string
	for _, r := range up.Requests() {
		protos = append(protos, r.Proto)
	}
	if want := []string{"HTTP/1.1", "HTTP/2.0", "HTTP/2.0", "HTTP/2.0"}; !slices.Equal(protos, want) {
		t.Fatalf("the server saw %q, want %q (the probe is no request)", protos, want)
	}
	origin := "http://" + strings.TrimSuffix(strings.TrimPrefix(up.URL, "http://"), "/v1")
	if got := seen.get(); !slices.Equal(got, []string{origin + " h2c"}) {
		t.Fatalf("OnDetect calls %q, want one for %s", got, origin)
	}
}

// The probe writes exactly the HTTP/2 preface and an empty SETTINGS frame.
func TestProbeWritesThePrefaceAndSettings(t *testing.T) {
	up := newFakeUpstream(t, hangUpProbe)
	c := newClient(t, upstreamhttp.Config{})
	if _, err := probe(t, c, up.URL); err != nil {
		t.Fatal(err)
	}
	got := recv(t, up.probes, "the probe")
	want := []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
	if !bytes.Equal(got, want) {
		t.Fatalf("the probe wrote %q, want %q", got, want)
	}
}

// A server that speaks only HTTP/1.1 answers the probe with HTTP/1.1 text:
// the verdict is http1 and requests stay on HTTP/1.1. (Go's HTTP/1.1
// server hands the preface's "PRI *" to its handler, for h2c handlers to
// take over; here it answers it as any request.)
func TestHTTP1OnlyServerStaysOnHTTP1(t *testing.T) {
	var mu sync.Mutex
	var protos []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		protos = append(protos, r.Method+" "+r.Proto)
		mu.Unlock()
	}))
	defer srv.Close()
	var seen detections
	c := newClient(t, upstreamhttp.Config{OnDetect: seen.record})

	verdict, err := probe(t, c, srv.URL+"/v1")
	if err != nil || verdict != upstreamhttp.ProtocolHTTP1 {
		t.Fatalf("Probe = %q, %v; want http1", verdict, err)
	}
	for range 2 {
		if proto := mustGet(t, c, srv.URL); proto != "HTTP/1.1" {
			t.Fatalf("a request went over %s, want HTTP/1.1", proto)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(protos, []string{"PRI HTTP/2.0", "GET HTTP/1.1", "GET HTTP/1.1"}) {
		t.Fatalf("the server saw %q", protos)
	}
	if got := seen.get(); !slices.Equal(got, []string{"http://" + srv.Listener.Addr().String() + " http1"}) {
		t.Fatalf("OnDetect calls %q", got)
	}
}

// The first request to an origin never waits for the probe: against a
// server that takes the probe's connection and never answers (with a
// probe timeout of an hour), it completes over HTTP/1.1 while the probe is
// pending. Close then ends the probe and its waiters at once.
func TestFirstRequestDoesNotWaitForTheProbe(t *testing.T) {
	up := newFakeUpstream(t, holdProbe)
	var seen detections
	c := newClient(t, upstreamhttp.Config{ProbeTimeout: time.Hour, OnDetect: seen.record})

	if proto := mustGet(t, c, up.URL); proto != "HTTP/1.1" {
		t.Fatalf("the first request went over %s, want HTTP/1.1", proto)
	}
	recv(t, up.probes, "the probe's connection")
	if got := c.Protocol(up.URL); got != "" {
		t.Fatalf("Protocol while probing = %q, want \"\"", got)
	}
	// A second request goes on over HTTP/1.1 too, and joins no new probe.
	if proto := mustGet(t, c, up.URL); proto != "HTTP/1.1" {
		t.Fatalf("the second request went over %s, want HTTP/1.1", proto)
	}
	waiter := make(chan error, 1)
	go func() {
		_, err := c.Probe(context.Background(), up.URL)
		waiter <- err
	}()

	c.Close()
	if err := recv(t, waiter, "Probe to return after Close"); !errors.Is(err, upstreamhttp.ErrClosed) {
		t.Fatalf("Probe after Close: %v, want ErrClosed", err)
	}
	if got := seen.get(); len(got) != 0 {
		t.Fatalf("OnDetect calls %q; a probe ended by Close has no verdict", got)
	}
	if _, err := c.Probe(t.Context(), up.URL); !errors.Is(err, upstreamhttp.ErrClosed) {
		t.Fatalf("Probe on a closed client: %v, want ErrClosed", err)
	}
	if len(up.probes) != 0 {
		t.Fatalf("%d more probes reached the server", len(up.probes))
	}
}

// Concurrent first requests start one probe between them, and its verdict
// is reported once.
func TestConcurrentFirstRequestsStartOneProbe(t *testing.T) {
	up := newFakeUpstream(t, holdProbe)
	var seen detections
	c := newClient(t, upstreamhttp.Config{ProbeTimeout: time.Hour, OnDetect: seen.record})

	const n = 8
	errs := make(chan error, n)
	for range n {
		go func() {
			proto, err := get(t.Context(), c, up.URL)
			if err == nil && proto != "HTTP/1.1" {
				err = errors.New("went over " + proto)
			}
			errs <- err
		}()
	}
	for range n {
		recv(t, up.requests, "a request")
	}
	for range n {
		if err := recv(t, errs, "a response"); err != nil {
			t.Fatal(err)
		}
	}
	// Every request went through while the one probe was held.
	recv(t, up.probes, "the probe")
	up.Release()
	verdict, err := probe(t, c, up.URL)
	if err != nil || verdict != upstreamhttp.ProtocolHTTP1 {
		t.Fatalf("Probe = %q, %v; want http1", verdict, err)
	}
	c.Close() // waits for every probe
	if got := seen.get(); len(got) != 1 {
		t.Fatalf("OnDetect calls %q, want one", got)
	}
	if len(up.probes) != 0 {
		t.Fatalf("%d more probes reached the server", len(up.probes))
	}
}

// Concurrent Probe calls join one probe and get the same verdict.
func TestConcurrentProbesJoinOne(t *testing.T) {
	up := llmtest.NewOpenAIServer(t, llmtest.Answer("hi"))
	var seen detections
	c := newClient(t, upstreamhttp.Config{OnDetect: seen.record})
	const n = 8
	verdicts := make(chan string, n)
	for range n {
		go func() {
			v, err := c.Probe(t.Context(), up.URL)
			if err != nil {
				v = err.Error()
			}
			verdicts <- v
		}()
	}
	for range n {
		if v := recv(t, verdicts, "a verdict"); v != upstreamhttp.ProtocolH2C {
			t.Fatalf("Probe = %q, want h2c", v)
		}
	}
	if got := seen.get(); len(got) != 1 {
		t.Fatalf("OnDetect calls %q, want one", got)
	}
}

// A server that closes the probe's connection speaks HTTP/1.1.
func TestProbeClosedMeansHTTP1(t *testing.T) {
	up := newFakeUpstream(t, hangUpProbe)
	var seen detections
	c := newClient(t, upstreamhttp.Config{ProbeTimeout: time.Hour, OnDetect: seen.record})
	verdict, err := probe(t, c, up.URL)
	if err != nil || verdict != upstreamhttp.ProtocolHTTP1 {
		t.Fatalf("Probe = %q, %v; want http1", verdict, err)
	}
	if proto := mustGet(t, c, up.URL); proto != "HTTP/1.1" {
		t.Fatalf("a request went over %s", proto)
	}
	if got := seen.get(); len(got) != 1 || !strings.HasSuffix(got[0], " http1") {
		t.Fatalf("OnDetect calls %q", got)
	}
}

// A server silent for ProbeTimeout speaks HTTP/1.1. (The timeout is the
// point here, so it is short.)
func TestProbeTimeoutMeansHTTP1(t *testing.T) {
	up := newFakeUpstream(t, holdProbe)
	c := newClient(t, upstreamhttp.Config{ProbeTimeout: 50 * time.Millisecond})
	verdict, err := probe(t, c, up.URL)
	if err != nil || verdict != upstreamhttp.ProtocolHTTP1 {
		t.Fatalf("Probe = %q, %v; want http1", verdict, err)
	}
}

// A probe that cannot connect reaches no verdict: the next one probes
// again.
func TestUnreachableOriginHasNoVerdict(t *testing.T) {
	closed, err := llmtest.ClosedURL()
	if err != nil {
		t.Fatal(err)
	}
	var seen detections
	c := newClient(t, upstreamhttp.Config{OnDetect: seen.record})
	for range 2 {
		if v, err := probe(t, c, closed); !errors.Is(err, upstreamhttp.ErrUnreachable) || v != "" {
			t.Fatalf("Probe = %q, %v; want ErrUnreachable", v, err)
		}
		if got := c.Protocol(closed); got != "" {
			t.Fatalf("Protocol = %q after a failed probe, want \"\"", got)
		}
	}
	if got := seen.get(); len(got) != 0 {
		t.Fatalf("OnDetect calls %q", got)
	}
}

// An h2c request that fails before its response (another server, without
// h2c, now listens at the address) returns its error as it is and makes
// the client forget the verdict: the next request goes over HTTP/1.1 and
// probes again.
func TestH2CFailureForgetsTheVerdict(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	base := "http://" + addr
	stop := startServer(ln, protoHandler, true)
	var seen detections
	c := newClient(t, upstreamhttp.Config{OnDetect: seen.record})

	if v, err := probe(t, c, base); err != nil || v != upstreamhttp.ProtocolH2C {
		t.Fatalf("Probe = %q, %v; want h2c", v, err)
	}
	if proto := mustGet(t, c, base); proto != "HTTP/2.0" {
		t.Fatalf("went over %s, want HTTP/2.0", proto)
	}

	// The server restarts on the same port, HTTP/1.1 only.
	stop()
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("cannot listen again on %s: %v", addr, err)
	}
	stop = startServer(ln, protoHandler, false)
	defer stop()

	proto, err := get(t.Context(), c, base)
	if err == nil {
		t.Fatalf("an h2c request to an HTTP/1.1 server succeeded over %s", proto)
	}
	t.Logf("the h2c request failed as it should: %v", err) // unexpected EOF: the server closed on the frames
	if errors.Is(err, upstreamhttp.ErrClosed) || errors.Is(err, context.Canceled) {
		t.Fatalf("unexpected error %v", err)
	}
	if got := c.Protocol(base); got != "" {
		t.Fatalf("Protocol after the h2c failure = %q, want \"\" (forgotten)", got)
	}
	if proto := mustGet(t, c, base); proto != "HTTP/1.1" {
		t.Fatalf("the request after the failure went over %s, want HTTP/1.1", proto)
	}
	if v, err := probe(t, c, base); err != nil || v != upstreamhttp.ProtocolHTTP1 {
		t.Fatalf("the new probe = %q, %v; want http1", v, err)
	}
	if got, want := seen.get(), []string{base + " h2c", base + " http1"}; !slices.Equal(got, want) {
		t.Fatalf("OnDetect calls %q, want %q", got, want)
	}
}

// Cancelling an h2c request aborts it on the server and keeps the verdict:
// the caller's decision says nothing of the upstream.
func TestCancelledH2CRequestKeepsTheVerdict(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	arrived, gone := make(chan string, 1), make(chan struct{}, 1)
	stop := startServer(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/wait" {
			return
		}
		arrived <- r.Proto
		<-r.Context().Done()
		gone <- struct{}{}
	}), true)
	defer stop()
	var seen detections
	c := newClient(t, upstreamhttp.Config{OnDetect: seen.record})
	if v, err := probe(t, c, base); err != nil || v != upstreamhttp.ProtocolH2C {
		t.Fatalf("Probe = %q, %v; want h2c", v, err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		_, err := get(ctx, c, base+"/wait")
		errc <- err
	}()
	if proto := recv(t, arrived, "the request"); proto != "HTTP/2.0" {
		t.Fatalf("went over %s", proto)
	}
	cancel()
	if err := recv(t, errc, "the cancelled request"); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled request: %v, want context.Canceled", err)
	}
	recv(t, gone, "the server to see the request aborted")
	if got := c.Protocol(base); got != upstreamhttp.ProtocolH2C {
		t.Fatalf("Protocol after a cancelled request = %q, want h2c", got)
	}
	if proto := mustGet(t, c, base); proto != "HTTP/2.0" {
		t.Fatalf("the next request went over %s", proto)
	}
	if got := seen.get(); len(got) != 1 {
		t.Fatalf("OnDetect calls %q, want one", got)
	}
}

// An origin a proxy serves is not probed: its verdict is http1 at once.
func TestProxiedOriginIsNotProbed(t *testing.T) {
	up := newFakeUpstream(t, holdProbe) // a probe would wait an hour
	var seen detections
	c := newClient(t, upstreamhttp.Config{ProbeTimeout: time.Hour, OnDetect: seen.record})
	proxy, _ := url.Parse("http://proxy.invalid:3128")
	upstreamhttp.SetProxy(c, func(*http.Request) (*url.URL, error) { return proxy, nil })
	if v, err := probe(t, c, up.URL); err != nil || v != upstreamhttp.ProtocolHTTP1 {
		t.Fatalf("Probe = %q, %v; want http1", v, err)
	}
	if got := seen.get(); !slices.Equal(got, []string{up.URL + " http1"}) {
		t.Fatalf("OnDetect calls %q", got)
	}
	c.Close()
	if len(up.probes) != 0 {
		t.Fatal("the proxied origin was probed")
	}
}

// https goes over TLS with HTTP/2 when the server offers it (auto, h2c) or
// HTTP/1.1 (http1), never probed; plain HTTP in the fixed modes is never
// probed either.
func TestFixedProtocols(t *testing.T) {
	tlsServer := httptest.NewUnstartedServer(protoHandler)
	tlsServer.EnableHTTP2 = true
	tlsServer.StartTLS()
	defer tlsServer.Close()
	up := llmtest.NewOpenAIServer(t, llmtest.Answer("hi"))

	for _, tc := range []struct {
		mode, url, verdict, proto string
	}{
		{"auto", tlsServer.URL, upstreamhttp.ProtocolALPN, "HTTP/2.0"},
		{"http1", tlsServer.URL, upstreamhttp.ProtocolHTTP1, "HTTP/1.1"},
		{"h2c", tlsServer.URL, upstreamhttp.ProtocolH2, "HTTP/2.0"},
		{"http1", up.URL, upstreamhttp.ProtocolHTTP1, "HTTP/1.1"},
		{"h2c", up.URL, upstreamhttp.ProtocolH2C, "HTTP/2.0"},
	} {
		t.Run(tc.mode+"/"+strings.SplitN(tc.url, ":", 2)[0], func(t *testing.T) {
			var seen detections
			c := newClient(t, upstreamhttp.Config{Protocol: tc.mode, OnDetect: seen.record})
			// Trust the test server's certificate, as a system pool
			// trusts a provider's; nothing else of the client changes.
			upstreamhttp.SetTLSClientConfig(c, tlsServer.Client().Transport.(*http.Transport).TLSClientConfig.Clone())
			if got := c.Protocol(tc.url); got != tc.verdict {
				t.Fatalf("Protocol = %q, want %q", got, tc.verdict)
			}
			if v, err := c.Probe(t.Context(), tc.url); err != nil || v != tc.verdict {
				t.Fatalf("Probe = %q, %v; want %q", v, err, tc.verdict)
			}
			for range 2 {
				if proto := mustGet(t, c, tc.url); proto != tc.proto {
					t.Fatalf("went over %s, want %s", proto, tc.proto)
				}
			}
			if got := seen.get(); len(got) != 0 {
				t.Fatalf("OnDetect calls %q; nothing was probed", got)
			}
		})
	}
}

func TestProbeRefusesBadURLs(t *testing.T) {
	c := newClient(t, upstreamhttp.Config{})
	for _, u := range []string{"ftp://example.com", "http://", "::not a url", "/v1"} {
		if v, err := c.Probe(t.Context(), u); !errors.Is(err, upstreamhttp.ErrBadURL) {
			t.Errorf("Probe(%q) = %q, %v; want ErrBadURL", u, v, err)
		}
		if got := c.Protocol(u); got != "" {
			t.Errorf("Protocol(%q) = %q, want \"\"", u, got)
		}
	}
}

func TestValidateNamesTheField(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cfg   upstreamhttp.Config
		field string
	}{
		{"protocol", upstreamhttp.Config{Protocol: "h3"}, "Protocol"},
		{"idle", upstreamhttp.Config{MaxIdleConnsPerHost: -1}, "MaxIdleConnsPerHost"},
		{"timeout", upstreamhttp.Config{ProbeTimeout: -time.Second}, "ProbeTimeout"},
		{"read buffer", upstreamhttp.Config{ReadBufferSize: -1}, "ReadBufferSize"},
		{"write buffer", upstreamhttp.Config{WriteBufferSize: -1}, "WriteBufferSize"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if !errors.Is(err, upstreamhttp.ErrInvalidConfig) || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("Validate = %v, want ErrInvalidConfig naming %s", err, tc.field)
			}
			if c, err := upstreamhttp.New(tc.cfg); c != nil || !errors.Is(err, upstreamhttp.ErrInvalidConfig) {
				t.Fatalf("New = %v, %v", c, err)
			}
		})
	}
	for _, cfg := range []upstreamhttp.Config{{}, upstreamhttp.DefaultConfig(), {Protocol: "http1"}, {Protocol: "h2c"}} {
		if err := cfg.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v", cfg, err)
		}
	}
	d := upstreamhttp.DefaultConfig()
	if d.Protocol != "auto" || d.MaxIdleConnsPerHost != 64 || d.ProbeTimeout != 2*time.Second || d.ReadBufferSize != 2048 || d.WriteBufferSize != 1024 {
		t.Errorf("DefaultConfig = %+v", d)
	}
}

// TestTransportsUseSmallBuffers: every transport the client builds reads
// and writes through the configured buffers (2 KB and 1 KB by default,
// not net/http's 4 KB each): over HTTP/1.1 a streaming answer holds its
// connection's buffers for its whole life.
func TestTransportsUseSmallBuffers(t *testing.T) {
	for _, tc := range []struct {
		cfg         upstreamhttp.Config
		read, write int
	}{
		{upstreamhttp.Config{}, 2048, 1024},
		{upstreamhttp.Config{Protocol: "http1", ReadBufferSize: 8192, WriteBufferSize: 512}, 8192, 512},
		{upstreamhttp.Config{Protocol: "h2c"}, 2048, 1024},
	} {
		c, err := upstreamhttp.New(tc.cfg)
		if err != nil {
			t.Fatal(err)
		}
		for _, tr := range upstreamhttp.Transports(c) {
			if tr.ReadBufferSize != tc.read || tr.WriteBufferSize != tc.write {
				t.Errorf("%+v: a transport with buffers %d / %d, want %d / %d", tc.cfg, tr.ReadBufferSize, tr.WriteBufferSize, tc.read, tc.write)
			}
		}
		c.Close()
	}
}
