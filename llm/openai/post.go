package openai

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/armistice-go/armistice/llm/internal/upstream"
)

// The request is sent with net/http. openai-go's Client.Post did it before
// (base URL, auth, headers, HTTP errors); importing the SDK linked every
// one of its services into the binary, about half of its size and a third
// of a cold build (docs/benchmarks.md), for what follows.

// userAgent names the client; the SDK sent "OpenAI/Go <its version>".
const userAgent = "armistice"

// errOtherOrigin refuses a redirect away from the base URL's origin.
var errOtherOrigin = errors.New("redirect away from the base URL's origin refused")

// poster sends the provider's requests.
type poster struct {
	client   *http.Client // Config.HTTPClient (or the default), kept on the base URL's origin
	endpoint string       // BaseURL joined with "chat/completions"
	header   http.Header  // sent with every request
}

// newPoster prepares the requests for cfg, which Validate accepted.
func newPoster(cfg Config) (*poster, error) {
	base, err := url.Parse(cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	// Joined as the SDK joined them: the base URL's path becomes a
	// directory, and "chat/completions" is resolved against it (so
	// "http://h/v1" and "http://h/v1/" both give /v1/chat/completions,
	// "http://h" gives /chat/completions).
	if base.Path != "" && !strings.HasSuffix(base.Path, "/") {
		base.Path += "/"
	}
	endpoint := base.ResolveReference(&url.URL{Path: "chat/completions"})

	hc := cfg.HTTPClient
	if hc == nil {
		hc = upstream.DefaultHTTPClient()
	}
	client := *hc // its Timeout, CheckRedirect and Jar are kept
	next := client.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	client.Transport = originGuard{origin: endpoint, next: next}

	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Accept", "application/json")
	h.Set("User-Agent", userAgent)
	// Two of the SDK's headers, kept so upstreams and gateways that
	// count them see the same requests: the attempt (always the first:
	// retrying is llm/resilient's job, and each retry is a new request)
	// and the client's language.
	h.Set("X-Stainless-Retry-Count", "0")
	h.Set("X-Stainless-Lang", "go")
	if cfg.APIKey != "" {
		h.Set("Authorization", "Bearer "+cfg.APIKey)
	}
	// Extra headers come last, so they may replace any of the above.
	for name, value := range cfg.ExtraHeaders {
		h.Set(name, value)
	}
	return &poster{client: &client, endpoint: endpoint.String(), header: h}, nil
}

// post sends body and returns the response once its headers arrived, with
// a status below 400. Otherwise it returns the context's error, an
// *llm.StatusError read from the error response, or the transport's
// error wrapping llm.ErrUpstream, never holding the key.
func (p *Provider) post(ctx context.Context, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.poster.endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, upstream.OpenError(ctx, p.cfg.Name, p.cfg.APIKey, nil, err)
	}
	req.Header = p.poster.header.Clone()
	res, err := p.poster.client.Do(req)
	if err != nil || res.StatusCode >= 400 || ctx.Err() != nil {
		err = upstream.OpenError(ctx, p.cfg.Name, p.cfg.APIKey, res, err)
		if res != nil && res.Body != nil {
			res.Body.Close()
		}
		return nil, err
	}
	return res, nil
}

// originGuard sends only requests to its origin's scheme, host and port:
// a redirect elsewhere is not followed, so the key, the extra headers and
// the prompt go nowhere but where Config.BaseURL says (net/http alone
// would follow it, and keep the Authorization header for the same host on
// another port). The SDK guarded its requests the same way.
type originGuard struct {
	origin *url.URL
	next   http.RoundTripper
}

func (g originGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if !sameOrigin(req.URL, g.origin) {
		if req.Body != nil {
			req.Body.Close() // a RoundTripper closes the body, even on errors
		}
		return nil, errOtherOrigin
	}
	return g.next.RoundTrip(req)
}

// sameOrigin reports whether a and b have the same scheme, host and
// effective port.
func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Hostname(), b.Hostname()) && port(a) == port(b)
}

func port(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return "443"
	case "http":
		return "80"
	}
	return ""
}
