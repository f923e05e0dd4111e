package upstream

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// The providers' default client speaks HTTP/2 to a TLS server that offers
// it (as hosted providers do), so one connection carries many streaming
// answers; to a plain-HTTP server it speaks HTTP/1.1.
func TestDefaultHTTPClientSpeaksHTTP2OverTLS(t *testing.T) {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(r.Proto)) })
	tlsServer := httptest.NewUnstartedServer(handler)
	tlsServer.EnableHTTP2 = true
	tlsServer.StartTLS()
	defer tlsServer.Close()
	plain := httptest.NewServer(handler)
	defer plain.Close()

	for _, tc := range []struct {
		name, url, want string
	}{
		{"tls", tlsServer.URL, "HTTP/2.0"},
		{"plain", plain.URL, "HTTP/1.1"},
	} {
		c := DefaultHTTPClient()
		tr := c.Transport.(*http.Transport)
		// Trust the test server's certificate, as a system pool trusts a
		// provider's; nothing else of the client changes.
		tr.TLSClientConfig = tlsServer.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
		resp, err := c.Get(tc.url)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		resp.Body.Close()
		if resp.Proto != tc.want {
			t.Errorf("%s: the default client spoke %s, want %s", tc.name, resp.Proto, tc.want)
		}
		tr.CloseIdleConnections()
	}
}
