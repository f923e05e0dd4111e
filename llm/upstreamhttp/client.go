package upstreamhttp

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// Client picks the protocol of each upstream request; see the package
// documentation. Its methods are safe for concurrent use.
type Client struct {
	cfg Config
	// base carries https requests (HTTP/2 by ALPN, else HTTP/1.1) and, in
	// auto mode, plain-HTTP requests over HTTP/1.1; in the http1 and h2c
	// modes it carries everything, restricted to the mode's protocols.
	base *http.Transport
	// h2c carries, in auto mode only, plain-HTTP requests to origins whose
	// verdict is h2c. Nil in the other modes.
	h2c *http.Transport
	hc  *http.Client

	// ctx is done once Close is called: it ends the running probes.
	ctx    context.Context
	cancel context.CancelFunc
	probes sync.WaitGroup

	mu      sync.Mutex
	closed  bool
	origins map[string]*origin // auto mode: by "http://host:port"
}

// origin is what the client knows of one plain-HTTP origin in auto mode.
type origin struct {
	// verdict is ProtocolH2C or ProtocolHTTP1, "" while unknown.
	verdict string
	// gen counts the verdicts reached, so that a failure on an old h2c
	// verdict does not forget a newer one.
	gen uint64
	// probe is the running probe, nil if none.
	probe *probeRun
}

// probeRun is one probe: its result, once done is closed.
type probeRun struct {
	done    chan struct{}
	verdict string
	err     error
}

// New returns a client for cfg, with its zero fields defaulted. It starts
// no goroutine: a probe starts with the first plain-HTTP request (or Probe)
// to an origin in auto mode.
func New(cfg Config) (*Client, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, base: newTransport(cfg), origins: make(map[string]*origin)}
	var p http.Protocols
	switch cfg.Protocol {
	case ProtocolHTTP1:
		p.SetHTTP1(true)
		c.base.Protocols = &p
	case ProtocolH2C:
		p.SetHTTP2(true)
		p.SetUnencryptedHTTP2(true)
		c.base.Protocols = &p
	case ProtocolAuto:
		c.h2c = newTransport(cfg)
		p.SetUnencryptedHTTP2(true)
		c.h2c.Protocols = &p
	}
	c.hc = &http.Client{Transport: roundTripper{c}}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c, nil
}

// newTransport returns a clone of http.DefaultTransport (a fresh transport
// with the environment's proxy if it was replaced by another kind) keeping
// cfg's idle connections.
func newTransport(cfg Config) *http.Transport {
	t, ok := http.DefaultTransport.(*http.Transport)
	if ok {
		t = t.Clone()
	} else {
		t = &http.Transport{Proxy: http.ProxyFromEnvironment, ForceAttemptHTTP2: true}
	}
	t.MaxIdleConnsPerHost = cfg.MaxIdleConnsPerHost
	t.ReadBufferSize, t.WriteBufferSize = cfg.ReadBufferSize, cfg.WriteBufferSize
	return t
}

// HTTPClient returns the client to give providers (as their
// Config.HTTPClient). It is the same client on every call; it has no
// timeout, since answers stream for as long as they last.
func (c *Client) HTTPClient() *http.Client { return c.hc }

// Probe returns the protocol requests to baseURL's origin use, probing a
// plain-HTTP origin in auto mode if its verdict is unknown (or joining the
// probe that runs) and waiting for the verdict, ctx's end or Close. It is
// meant for eager detection when a server starts; requests never need it.
//
// It returns ProtocolH2C or ProtocolHTTP1 for a plain-HTTP origin in auto
// mode, ProtocolALPN for an https one; in the other modes, ProtocolHTTP1,
// or ProtocolH2C (http) and ProtocolH2 (https), without any probe. Its
// errors wrap ErrBadURL, ErrUnreachable (no verdict: the next request
// probes again), ErrClosed, or are ctx's error.
func (c *Client) Probe(ctx context.Context, baseURL string) (string, error) {
	u, key, err := parseOrigin(baseURL)
	if err != nil {
		return "", err
	}
	if v := c.fixed(u); v != "" {
		return v, nil
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return "", ErrClosed
	}
	o := c.originLocked(key)
	if v := o.verdict; v != "" {
		c.mu.Unlock()
		return v, nil
	}
	var detected string
	if o.probe == nil {
		detected = c.startLocked(key, o, &http.Request{URL: u})
	}
	run := o.probe
	c.mu.Unlock()
	if detected != "" {
		c.notify(key, detected)
		return detected, nil
	}
	select {
	case <-run.done:
		return run.verdict, run.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// Protocol returns the protocol requests to baseURL's origin use now (see
// Probe), or "" if it is unknown or being probed, or baseURL is not a
// usable URL. It never probes.
func (c *Client) Protocol(baseURL string) string {
	u, key, err := parseOrigin(baseURL)
	if err != nil {
		return ""
	}
	if v := c.fixed(u); v != "" {
		return v
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if o := c.origins[key]; o != nil {
		return o.verdict
	}
	return ""
}

// Close ends the running probes (closing their connections) and waits for
// them, then closes the idle connections. Requests made later still work,
// by the verdicts known, but start no probe. Close is idempotent.
func (c *Client) Close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	c.probes.Wait()
	c.closeIdle()
}

func (c *Client) closeIdle() {
	c.base.CloseIdleConnections()
	if c.h2c != nil {
		c.h2c.CloseIdleConnections()
	}
}

// fixed returns the protocol of u's origin when it needs no verdict: every
// origin outside auto mode, and https in auto mode. "" for a plain-HTTP
// origin in auto mode.
func (c *Client) fixed(u *url.URL) string {
	https := u.Scheme == "https"
	switch {
	case c.cfg.Protocol == ProtocolHTTP1:
		return ProtocolHTTP1
	case c.cfg.Protocol == ProtocolH2C && https:
		return ProtocolH2
	case c.cfg.Protocol == ProtocolH2C:
		return ProtocolH2C
	case https:
		return ProtocolALPN
	}
	return ""
}

// originLocked returns key's record, making it if need be. c.mu is held.
func (c *Client) originLocked(key string) *origin {
	o := c.origins[key]
	if o == nil {
		o = &origin{}
		c.origins[key] = o
	}
	return o
}

// startLocked starts the probe of o, whose verdict is unknown and which has
// no probe running. For an origin reached through a proxy it probes nothing
// and returns the verdict, ProtocolHTTP1, which the caller reports with
// notify once c.mu is released; otherwise "". After Close it does nothing.
// c.mu is held.
func (c *Client) startLocked(key string, o *origin, req *http.Request) string {
	if c.closed {
		return ""
	}
	if c.base.Proxy != nil {
		if proxy, err := c.base.Proxy(req); proxy != nil || err != nil {
			o.verdict, o.gen = ProtocolHTTP1, o.gen+1
			return ProtocolHTTP1
		}
	}
	run := &probeRun{done: make(chan struct{})}
	o.probe = run
	c.probes.Add(1)
	go c.runProbe(key, run)
	return ""
}

// runProbe probes key's origin, records the verdict and reports it.
func (c *Client) runProbe(key string, run *probeRun) {
	defer c.probes.Done()
	verdict, err := detect(c.ctx, strings.TrimPrefix(key, "http://"), c.cfg.ProbeTimeout)
	if c.ctx.Err() != nil {
		verdict, err = "", ErrClosed
	}
	if err != nil {
		verdict = ""
	}
	c.mu.Lock()
	o := c.originLocked(key)
	o.probe = nil
	if verdict != "" {
		o.verdict, o.gen = verdict, o.gen+1
	}
	run.verdict, run.err = verdict, err
	c.mu.Unlock()
	// Waiters in Probe return after OnDetect has heard of the verdict.
	if verdict != "" {
		c.notify(key, verdict)
	}
	close(run.done)
}

// notify tells Config.OnDetect of a verdict. c.mu is not held.
func (c *Client) notify(key, verdict string) {
	if c.cfg.OnDetect != nil {
		c.cfg.OnDetect(key, verdict)
	}
}

// route returns the verdict of key's origin for a request, starting its
// probe if it is unknown and none runs, and the verdict's generation.
func (c *Client) route(key string, req *http.Request) (verdict string, gen uint64) {
	c.mu.Lock()
	o := c.originLocked(key)
	var detected string
	if o.verdict == "" && o.probe == nil {
		detected = c.startLocked(key, o, req)
	}
	verdict, gen = o.verdict, o.gen
	c.mu.Unlock()
	if detected != "" {
		c.notify(key, detected)
	}
	return verdict, gen
}

// forget drops key's h2c verdict of generation gen, so that the next
// request probes again.
func (c *Client) forget(key string, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if o := c.origins[key]; o != nil && o.gen == gen && o.verdict == ProtocolH2C {
		o.verdict = ""
	}
}

// roundTripper sends each request over the transport its origin's verdict
// chooses.
type roundTripper struct{ c *Client }

// RoundTrip implements http.RoundTripper. Cancellation goes through the
// request's context, as with http.Transport.
func (t roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	c := t.c
	if c.h2c == nil || req.URL == nil || !strings.EqualFold(req.URL.Scheme, "http") {
		return c.base.RoundTrip(req)
	}
	key := originKey("http", req.URL)
	verdict, gen := c.route(key, req)
	if verdict != ProtocolH2C {
		return c.base.RoundTrip(req)
	}
	resp, err := c.h2c.RoundTrip(req)
	if err != nil && req.Context().Err() == nil {
		// The connection failed (refused, reset, not HTTP/2 any more):
		// perhaps another server now answers at that address. The caller
		// sees the error as it is and may retry; that request goes over
		// HTTP/1.1 and probes again.
		c.forget(key, gen)
	}
	return resp, err
}

// CloseIdleConnections closes the idle connections of both transports, for
// http.Client.CloseIdleConnections.
func (t roundTripper) CloseIdleConnections() { t.c.closeIdle() }

// parseOrigin parses a base URL and returns it with its origin key.
func parseOrigin(baseURL string) (*url.URL, string, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %w", ErrBadURL, err)
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return nil, "", fmt.Errorf("%w: %q is not http or https", ErrBadURL, baseURL)
	}
	if u.Hostname() == "" {
		return nil, "", fmt.Errorf("%w: %q has no host", ErrBadURL, baseURL)
	}
	u.Scheme = scheme
	return u, originKey(scheme, u), nil
}

// originKey is "scheme://host:port", with the scheme's default port when u
// names none.
func originKey(scheme string, u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "80"
		if scheme == "https" {
			port = "443"
		}
	}
	return scheme + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}
