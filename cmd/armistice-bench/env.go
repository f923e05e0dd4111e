package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	stdhttp "net/http"
	"sync"
	"time"

	"github.com/armistice-go/armistice/actors"
	armhttp "github.com/armistice-go/armistice/http"
	"github.com/armistice-go/armistice/http/openaiapi"
	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/llm/openai"
	"github.com/armistice-go/armistice/llm/resilient"
	"github.com/armistice-go/armistice/llm/upstreamhttp"
)

// env is what every scenario shares: one clock, one upstream, one client.
type env struct {
	clock  *clock
	up     *upstream
	client *stdhttp.Client
	direct *direct
	// provider is the relays' provider: "openai" (llm/openai, the real
	// path) or "lean" (the diagnostic stand-in of lean.go).
	provider string
	// noPrewarm skips warming each engine's process registry.
	noPrewarm bool
	// workers overrides actors.Config.Workers when not negative.
	workers int
}

// newProvider returns the relays' provider on transport tr.
func (e *env) newProvider(hc *stdhttp.Client) (llm.Provider, error) {
	return newProviderFor(e.provider, e.up.url, hc)
}

// newProviderFor returns provider kind ("openai" or "lean") for the
// upstream at base (e.g. http://127.0.0.1:1234) through hc.
func newProviderFor(kind, base string, hc *stdhttp.Client) (llm.Provider, error) {
	if kind == "lean" {
		return &leanProvider{c: hc, url: base + "/v1/chat/completions"}, nil
	}
	return openai.New(openai.Config{BaseURL: base + "/v1", Model: "bench", HTTPClient: hc})
}

func newEnv() (*env, error) {
	c := newClock()
	up, err := newUpstream(c)
	if err != nil {
		return nil, err
	}
	cl := newClient()
	return &env{clock: c, up: up, client: cl, direct: &direct{c: cl, url: up.url, clock: c}, provider: "openai", workers: -1}, nil
}

func (e *env) close() {
	e.client.CloseIdleConnections()
	e.up.close()
}

// relayOptions are the settings of a relay (baseline or Armistice) for
// one scenario.
type relayOptions struct {
	// h2c makes the relay's upstream connections HTTP/2 without TLS: one
	// connection carries many streams (as with a TLS upstream such as
	// api.openai.com). Otherwise each stream has its own HTTP/1.1
	// connection (as with a local vLLM or llama.cpp server).
	h2c bool
	// engine adjusts Armistice's engine config.
	engine func(*actors.Config)
	// seed adjusts the baseline's config.
	seed func(*seedConfig)
}

// armSystem is the real thing: actors.New + armhttp.New with the OpenAI
// provider pointed at the local upstream through armistice serve's
// upstream client (llm/upstreamhttp) behind llm/resilient (with
// --provider openai, as armistice serve wraps every network provider),
// served on loopback, with the
// OpenAI-compatible routes registered as cmd/armistice does. As a system
// it is the native API; chat is the same server through
// POST /v1/chat/completions.
type armSystem struct {
	*relay
	chat *chatAPI
	// oneTrip is the native API in one round trip (a submit that asks
	// for its event stream).
	oneTrip *oneTripAPI
	eng     *actors.Engine
	srv     *armhttp.Server
	ln      net.Listener
	up      *upstreamhttp.Client // its upstream client
	done    sync.WaitGroup
	// registryWarm is the heap pre-warming the registry took (bytes).
	registryWarm int64
}

// engineConfig is the engine's configuration for the benchmark: the
// defaults, with room for every stream the scenarios open.
func engineConfig(p llm.Provider) actors.Config {
	cfg := actors.DefaultConfig(p)
	cfg.MaxActive = 1 << 16
	cfg.MaxQueued = 1 << 16
	cfg.Linger = time.Second // so a round's finished requests are gone before the next
	return cfg
}

func (e *env) newArmistice(o relayOptions) (*armSystem, error) {
	// The upstream client armistice serve builds (llm/upstreamhttp, its
	// buffers), on the scenario's protocol, the baseline's too.
	ucfg := upstreamhttp.DefaultConfig()
	ucfg.Protocol = upstreamhttp.ProtocolHTTP1
	if o.h2c {
		ucfg.Protocol = upstreamhttp.ProtocolH2C
	}
	up, err := upstreamhttp.New(ucfg)
	if err != nil {
		return nil, err
	}
	prov, err := e.newProvider(up.HTTPClient())
	if err != nil {
		up.Close()
		return nil, err
	}
	if e.provider == "openai" {
		// As armistice serve does: every network provider behind
		// llm/resilient, with its default retries.
		prov, err = resilient.New(resilient.Config{Upstreams: []resilient.Upstream{{Name: "openai", Provider: prov}}})
		if err != nil {
			return nil, err
		}
	}
	cfg := engineConfig(prov)
	if e.workers >= 0 {
		cfg.Workers = e.workers
	}
	if o.engine != nil {
		o.engine(&cfg)
	}
	eng, err := actors.New(cfg)
	if err != nil {
		return nil, err
	}
	// A long-running server's registry is warm; measure that state.
	var warm int64
	if !e.noPrewarm {
		settle()
		heap0 := sampleMem().HeapAlloc
		prewarmRegistry(eng.System())
		settle()
		warm = sampleMem().HeapAlloc - heap0
	}
	hcfg := armhttp.DefaultConfig()
	srv, err := armhttp.New(eng, hcfg)
	if err != nil {
		eng.Close()
		return nil, err
	}
	oai := openaiapi.DefaultConfig()
	oai.Models = []string{"bench"}
	oai.Heartbeat = hcfg.Heartbeat
	oai.MaxBodyBytes = hcfg.MaxBodyBytes
	oai.MaxPromptBytes = hcfg.MaxPromptBytes
	if err := openaiapi.Register(srv, oai); err != nil {
		eng.Close()
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		eng.Close()
		return nil, err
	}
	rel, err := newRelay("armistice", e.client, "http://"+ln.Addr().String(), e.clock)
	if err != nil {
		ln.Close()
		eng.Close()
		return nil, err
	}
	a := &armSystem{
		relay:   rel,
		chat:    &chatAPI{c: e.client, url: "http://" + ln.Addr().String(), clock: e.clock},
		oneTrip: &oneTripAPI{relay: rel},
		eng:     eng, srv: srv, ln: ln, up: up, registryWarm: warm,
	}
	a.done.Add(1)
	go func() {
		defer a.done.Done()
		_ = srv.Serve(ln)
	}()
	return a, nil
}

// Registered is the engine's registry size.
func (a *armSystem) Registered() (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := a.eng.Stats(ctx)
	return st.Registered, err
}

func (a *armSystem) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = a.srv.Shutdown(ctx, 0)
	_ = a.eng.Close()
	a.done.Wait()
	a.up.Close()
}

// closeIdle closes its idle upstream connections.
func (a *armSystem) closeIdle() { a.up.HTTPClient().CloseIdleConnections() }

// seedSystem is the baseline relay.
type seedSystem struct {
	*relay
	srv *seedServer
	tr  *stdhttp.Transport
}

func (e *env) newBaseline(o relayOptions) (*seedSystem, error) {
	tr := newTransport(o.h2c)
	prov, err := e.newProvider(&stdhttp.Client{Transport: tr})
	if err != nil {
		return nil, err
	}
	cfg := defaultSeedConfig()
	cfg.Pickup, cfg.JanitorEvery = time.Second, 250*time.Millisecond
	if o.seed != nil {
		o.seed(&cfg)
	}
	srv, err := newSeedServer(prov, cfg)
	if err != nil {
		return nil, err
	}
	rel, err := newRelay("baseline", e.client, srv.url, e.clock)
	if err != nil {
		srv.Close()
		return nil, err
	}
	return &seedSystem{
		relay: rel,
		srv:   srv, tr: tr,
	}, nil
}

func (s *seedSystem) Registered() int { return s.srv.m.Len() }

func (s *seedSystem) Close() {
	s.srv.Close()
	s.tr.CloseIdleConnections()
}

// quietLog drops net/http's server log (accept errors under load are
// counted by the clients instead).
func quietLog() *log.Logger { return log.New(io.Discard, "", 0) }

// waitUntil polls cond every few milliseconds until it holds or d passed.
func waitUntil(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// errorf is fmt.Errorf with the benchmark's prefix.
func errorf(format string, args ...any) error { return fmt.Errorf("bench: "+format, args...) }
