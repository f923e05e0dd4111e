// Package upstreamhttp is the HTTP client a server gives its network
// providers (llm/openai, llm/anthropic) as their Config.HTTPClient: it
// speaks HTTP/2 to every upstream that can, including a plain-HTTP one
// that speaks HTTP/2 without TLS (h2c), and finds that out cheaply,
// without ever delaying a request.
//
// Over HTTP/1.1 each streaming answer holds a connection of its own, with
// two goroutines and their read and write buffers; over HTTP/2 one
// connection carries many answers, which is most of the memory an idle
// stream costs a relay.
//
// Its connections read through 2 KB and write through 1 KB buffers
// (Config.ReadBufferSize, WriteBufferSize) instead of net/http's 4 KB
// each: an HTTP/1.1 answer holds its connection's buffers as long as it
// streams, silent or not, and a provider reads it through a line buffer
// of its own anyway.
//
// # Modes
//
// Config.Protocol chooses:
//
//   - ProtocolAuto (the default): an https:// upstream gets HTTP/2 when
//     the server offers it in the TLS handshake (ALPN), else HTTP/1.1; a
//     plain http:// upstream gets h2c once a probe has shown that it speaks
//     it, else HTTP/1.1.
//   - ProtocolHTTP1: HTTP/1.1 only, over TLS too.
//   - ProtocolH2C: HTTP/2 only: by prior knowledge without TLS (failing if
//     the server does not speak it), over TLS with https.
//
// # The probe
//
// In auto mode, the first request to a plain-HTTP origin (scheme, host and
// port) with no verdict starts a probe on a goroutine of its own and goes
// over HTTP/1.1 at once: requests never wait for a probe, and concurrent
// first requests start one probe between them. The probe dials the origin
// on a connection of its own, writes the HTTP/2 client preface and an
// empty SETTINGS frame (24 + 9 bytes) and reads the first 9 bytes of the
// answer: a SETTINGS frame header on stream 0 means the server speaks h2c;
// anything else (HTTP/1.x text such as "HTTP/1.1 400", the connection
// closed or reset, nothing within Config.ProbeTimeout) means HTTP/1.1. The
// connection is then closed. Later requests to the origin use the verdict:
// an HTTP/2 transport without TLS for h2c, the HTTP/1.1 one otherwise.
//
// The cost is one extra connection per plain-HTTP origin per Client and
// 33 bytes written, bounded by ProbeTimeout (dial included). A probe that
// cannot connect at all (refused, unreachable) reaches no verdict, so the
// next request probes again. An origin that a proxy serves
// (http.ProxyFromEnvironment) is not probed: its verdict is HTTP/1.1.
//
// When an h2c request fails before its response with an error that is not
// its context's (connection refused or reset, a protocol error: another
// server may now listen at that address), the origin's verdict is
// forgotten, so the next request goes over HTTP/1.1 and probes again; the
// error is returned unchanged, for callers such as llm/resilient to
// classify and retry. Config.OnDetect hears of every verdict.
//
// Probe runs (or joins) the probe of an origin and waits for its verdict,
// for eager detection when a server starts; Protocol reads the verdict
// without probing.
//
// # Goroutines
//
// At most one probe runs per origin, and each ends by itself within
// ProbeTimeout. Close ends the running probes early (closing their
// connections), waits for them and closes the idle connections.
//
// # Library use
//
// The providers' own default client (their Config.HTTPClient left nil) is
// unchanged: HTTP/2 over TLS when offered, HTTP/1.1 with plain HTTP, no
// probe and no goroutine of this package. `armistice serve` builds one
// Client from --upstream-http and gives it to every network upstream.
package upstreamhttp
