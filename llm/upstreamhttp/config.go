package upstreamhttp

import (
	"fmt"
	"time"
)

// The protocols: the values of Config.Protocol, and the verdicts Probe and
// Client.Protocol return.
const (
	// ProtocolAuto, the default mode: HTTP/2 over TLS when the server
	// offers it by ALPN, else HTTP/1.1; with a plain-HTTP origin, h2c once
	// a probe has found that the server speaks it, else HTTP/1.1.
	ProtocolAuto = "auto"
	// ProtocolHTTP1 is HTTP/1.1 only (as a mode, over TLS too). As a
	// verdict: a plain-HTTP origin that did not answer the probe as an
	// HTTP/2 server, or one reached through a proxy.
	ProtocolHTTP1 = "http1"
	// ProtocolH2C is HTTP/2 without TLS, by prior knowledge. As a mode,
	// every plain-HTTP request goes so (and fails if the server does not
	// speak it), and https requires HTTP/2 over TLS. As a verdict: a
	// plain-HTTP origin that answered the probe with an HTTP/2 SETTINGS
	// frame.
	ProtocolH2C = "h2c"
	// ProtocolALPN is the verdict for an https origin in auto mode: HTTP/2
	// when the server offers it in the TLS handshake (ALPN), else
	// HTTP/1.1. It is never probed.
	ProtocolALPN = "alpn"
	// ProtocolH2 is the verdict for an https origin in h2c mode: HTTP/2
	// over TLS, failing when the server does not offer it.
	ProtocolH2 = "h2"
)

// Defaults used for the zero fields of a Config.
const (
	DefaultMaxIdleConnsPerHost = 64
	DefaultProbeTimeout        = 2 * time.Second
	DefaultReadBufferSize      = 2 << 10
	DefaultWriteBufferSize     = 1 << 10
)

// Config configures a Client. Zero fields take defaults; New fills them in
// before validating.
type Config struct {
	// Protocol is ProtocolAuto (the default when empty), ProtocolHTTP1 or
	// ProtocolH2C.
	Protocol string
	// MaxIdleConnsPerHost is the number of idle connections kept per host
	// (HTTP/1.1 holds one per streaming answer). 0 means the default, 64;
	// not negative.
	MaxIdleConnsPerHost int
	// ProbeTimeout bounds one probe of a plain-HTTP origin in auto mode,
	// from the dial to the server's first 9 bytes: a server silent for that
	// long is taken to speak HTTP/1.1 only. Requests never wait for it. 0
	// means the default, 2s; not negative.
	ProbeTimeout time.Duration
	// ReadBufferSize and WriteBufferSize are each connection's read and
	// write buffers (http.Transport's fields). Over HTTP/1.1 a streaming
	// answer holds a connection, and both buffers, for as long as it
	// lasts, silent or not: net/http's 4 KB each were 8 KB of every
	// stream's memory. An answer is read through the provider's own line
	// buffer on top, so 2 KB suffice; the request is written once, and a
	// body larger than the buffer is written past it. 0 means the
	// defaults, 2 KB and 1 KB; not negative.
	ReadBufferSize  int
	WriteBufferSize int
	// OnDetect, if set, is called once per verdict reached for a
	// plain-HTTP origin in auto mode: ProtocolH2C or ProtocolHTTP1 from a
	// probe, or ProtocolHTTP1 for an origin reached through a proxy (not
	// probed). origin is "http://host:port". It runs on the probe's
	// goroutine or the request's and must be quick; Probe's waiters return
	// once it has. It may be called again for an origin after an h2c
	// failure made the client forget its verdict.
	OnDetect func(origin, protocol string)
}

// DefaultConfig returns the configuration of a client in auto mode with the
// default limits.
func DefaultConfig() Config {
	return Config{
		Protocol:            ProtocolAuto,
		MaxIdleConnsPerHost: DefaultMaxIdleConnsPerHost,
		ProbeTimeout:        DefaultProbeTimeout,
		ReadBufferSize:      DefaultReadBufferSize,
		WriteBufferSize:     DefaultWriteBufferSize,
	}
}

// withDefaults returns c with its zero fields filled in.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Protocol == "" {
		c.Protocol = d.Protocol
	}
	if c.MaxIdleConnsPerHost == 0 {
		c.MaxIdleConnsPerHost = d.MaxIdleConnsPerHost
	}
	if c.ProbeTimeout == 0 {
		c.ProbeTimeout = d.ProbeTimeout
	}
	if c.ReadBufferSize == 0 {
		c.ReadBufferSize = d.ReadBufferSize
	}
	if c.WriteBufferSize == 0 {
		c.WriteBufferSize = d.WriteBufferSize
	}
	return c
}

// Validate reports whether c, with its zero fields defaulted, is usable. Its
// errors wrap ErrInvalidConfig and name the field at fault.
func (c Config) Validate() error {
	c = c.withDefaults()
	switch c.Protocol {
	case ProtocolAuto, ProtocolHTTP1, ProtocolH2C:
	default:
		return fmt.Errorf("%w: Protocol %q is not %s, %s or %s", ErrInvalidConfig, c.Protocol, ProtocolAuto, ProtocolHTTP1, ProtocolH2C)
	}
	if c.MaxIdleConnsPerHost < 0 {
		return fmt.Errorf("%w: MaxIdleConnsPerHost must not be negative, got %d", ErrInvalidConfig, c.MaxIdleConnsPerHost)
	}
	if c.ReadBufferSize < 0 {
		return fmt.Errorf("%w: ReadBufferSize must not be negative, got %d", ErrInvalidConfig, c.ReadBufferSize)
	}
	if c.WriteBufferSize < 0 {
		return fmt.Errorf("%w: WriteBufferSize must not be negative, got %d", ErrInvalidConfig, c.WriteBufferSize)
	}
	if c.ProbeTimeout < 0 {
		return fmt.Errorf("%w: ProbeTimeout must not be negative, got %s", ErrInvalidConfig, c.ProbeTimeout)
	}
	return nil
}
