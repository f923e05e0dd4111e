package upstreamhttp

import (
	"crypto/tls"
	"net/http"
	"net/url"
)

// SetTLSClientConfig makes c's TLS connections use cfg, so that a test
// trusts its server's certificate as a system pool trusts a provider's.
func SetTLSClientConfig(c *Client, cfg *tls.Config) { c.base.TLSClientConfig = cfg }

// SetProxy replaces the proxy function of c's transports.
func SetProxy(c *Client, proxy func(*http.Request) (*url.URL, error)) {
	c.base.Proxy = proxy
	if c.h2c != nil {
		c.h2c.Proxy = proxy
	}
}

// Transports returns c's transports.
func Transports(c *Client) []*http.Transport {
	if c.h2c != nil {
		return []*http.Transport{c.base, c.h2c}
	}
	return []*http.Transport{c.base}
}
