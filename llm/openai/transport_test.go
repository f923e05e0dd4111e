package openai_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/llm/internal/providertest"
	"github.com/armistice-go/armistice/llm/llmtest"
	"github.com/armistice-go/armistice/llm/openai"
)

// recorder is a server that records what it was sent and answers every
// request with handle (by default a 404).
type recorder struct {
	*httptest.Server
	mu     sync.Mutex
	paths  []string
	auths  []string
	bodies []int // body lengths
	handle http.HandlerFunc
}

func newRecorder(t *testing.T, handle http.HandlerFunc) *recorder {
	t.Helper()
	r := &recorder{handle: handle}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		n := 0
		if req.Body != nil {
			var buf [512]byte
			for {
				k, err := req.Body.Read(buf[:])
				n += k
				if err != nil {
					break
				}
			}
		}
		r.mu.Lock()
		r.paths = append(r.paths, req.Method+" "+req.URL.RequestURI())
		r.auths = append(r.auths, req.Header.Get("Authorization"))
		r.bodies = append(r.bodies, n)
		r.mu.Unlock()
		if r.handle != nil {
			r.handle(w, req)
			return
		}
		http.NotFound(w, req)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *recorder) seen() (paths, auths []string, bodies []int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.paths...), append([]string(nil), r.auths...), append([]int(nil), r.bodies...)
}

// TestBaseURL checks how Config.BaseURL and "chat/completions" are joined:
// a trailing slash or none, a path prefix, no path at all.
func TestBaseURL(t *testing.T) {
	for _, tc := range []struct {
		name, givenPath, expect string
	}{
		{"version segment", "/v1", "POST /v1/chat/completions"},
		{"trailing slash", "/v1/", "POST /v1/chat/completions"},
		{"gateway prefix", "/proxy/openai/v1", "POST /proxy/openai/v1/chat/completions"},
		{"host only", "", "POST /chat/completions"},
		{"host and slash", "/", "POST /chat/completions"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newRecorder(t, nil)
			p := newProvider(t, openai.Config{BaseURL: s.URL + tc.givenPath, APIKey: providertest.Secret, HTTPClient: s.Client()})
			_, err := p.Stream(t.Context(), llm.Prompt("x"))
			var se *llm.StatusError
			if !errors.As(err, &se) || se.StatusCode != http.StatusNotFound {
				t.Fatalf("Stream = %v, want the server's 404", err)
			}
			paths, auths, _ := s.seen()
			if len(paths) != 1 || paths[0] != tc.expect || auths[0] != "Bearer "+providertest.Secret {
				t.Fatalf("sent %q with %q, want %q with the key", paths, auths, tc.expect)
			}
		})
	}
}

// TestRedirects checks that a redirect within the base URL's origin is
// followed with the body and the key, and that one to another origin is
// not followed at all: the key and the prompt never leave the configured
// origin (net/http alone would follow it, and keep the Authorization
// header for the same host on another port).
func TestRedirects(t *testing.T) {
	t.Run("same origin", func(t *testing.T) {
		var s *recorder
		s = newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/old/chat/completions" {
				http.Redirect(w, r, s.URL+"/v1/chat/completions", http.StatusTemporaryRedirect)
				return
			}
			w.WriteHeader(http.StatusTeapot)
		})
		p := newProvider(t, openai.Config{BaseURL: s.URL + "/old", APIKey: providertest.Secret, HTTPClient: s.Client()})
		_, err := p.Stream(t.Context(), llm.Prompt("x"))
		var se *llm.StatusError
		if !errors.As(err, &se) || se.StatusCode != http.StatusTeapot {
			t.Fatalf("Stream = %v, want the redirect target's 418", err)
		}
		paths, auths, bodies := s.seen()
		if len(paths) != 2 || paths[1] != "POST /v1/chat/completions" || auths[1] != "Bearer "+providertest.Secret || bodies[1] == 0 || bodies[1] != bodies[0] {
			t.Fatalf("sent %q with %q, bodies %v", paths, auths, bodies)
		}
	})
	t.Run("another origin", func(t *testing.T) {
		other := newRecorder(t, nil)
		s := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, other.URL+"/v1/chat/completions", http.StatusTemporaryRedirect)
		})
		p := newProvider(t, openai.Config{BaseURL: s.URL + "/v1", APIKey: providertest.Secret, HTTPClient: s.Client(),
			ExtraHeaders: map[string]string{"X-Route": "blue"}})
		_, err := p.Stream(t.Context(), llm.Prompt("x"))
		if err == nil || !errors.Is(err, llm.ErrUpstream) {
			t.Fatalf("Stream = %v, want an upstream error", err)
		}
		providertest.NoSecret(t, err)
		if paths, _, _ := other.seen(); len(paths) != 0 {
			t.Fatalf("the other origin was sent %q", paths)
		}
	})
}

// TestOpenErrorStrings pins the whole message of the errors Stream returns
// before a stream opens: the provider's name, llm's words, what the
// upstream or the transport said, and nothing of the HTTP library's own
// (no "POST ... 500 Internal Server Error" dump, no package prefixes).
func TestOpenErrorStrings(t *testing.T) {
	t.Run("status", func(t *testing.T) {
		s := llmtest.NewOpenAIServer(t, llmtest.StatusBody(429, "2", "", "", "", "Slow down, "+providertest.Secret+"."))
		p := newProvider(t, openai.Config{BaseURL: s.URL, APIKey: providertest.Secret, HTTPClient: s.Client()})
		_, err := p.Stream(t.Context(), llm.Prompt("x"))
		want := "openai: llm: upstream error: status 429 (Too Many Requests): Slow down, [redacted]. (retry after 2s)"
		if err == nil || err.Error() != want {
			t.Fatalf("Stream = %v\nwant       %s", err, want)
		}
	})
	t.Run("connection refused", func(t *testing.T) {
		u, err := llmtest.ClosedURL()
		if err != nil {
			t.Fatal(err)
		}
		p := newProvider(t, openai.Config{Name: "local", BaseURL: u + "/v1", APIKey: providertest.Secret})
		_, err = p.Stream(t.Context(), llm.Prompt("x"))
		want := `local: llm: upstream error: Post "` + u + `/v1/chat/completions": dial tcp ` + strings.TrimPrefix(u, "http://") + ": connect: connection refused"
		if err == nil || err.Error() != want {
			t.Fatalf("Stream = %v\nwant       %s", err, want)
		}
	})
}

// TestDeadline checks a context deadline passing while the upstream has
// not answered: the context's error, not an upstream one, and the upstream
// sees the client go.
func TestDeadline(t *testing.T) {
	s := llmtest.NewOpenAIServer(t, llmtest.Script{StallHeaders: true})
	p := newProvider(t, openai.Config{BaseURL: s.URL, HTTPClient: s.Client()})
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err := p.Stream(ctx, llm.Prompt("x"))
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, llm.ErrUpstream) || err.Error() != "openai: context deadline exceeded" {
		t.Fatalf("Stream = %v, want the context's deadline", err)
	}
	wait, stop := context.WithTimeout(t.Context(), 10*time.Second)
	defer stop()
	if _, err := s.WaitDisconnect(wait); err != nil {
		t.Fatalf("the server never saw the client go: %v", err)
	}
}

// TestHTTPClientTimeout checks that Config.HTTPClient is the client used,
// its Timeout included.
func TestHTTPClientTimeout(t *testing.T) {
	s := llmtest.NewOpenAIServer(t, llmtest.Script{StallHeaders: true})
	hc := s.Client()
	hc.Timeout = 50 * time.Millisecond
	p := newProvider(t, openai.Config{BaseURL: s.URL, HTTPClient: hc})
	_, err := p.Stream(t.Context(), llm.Prompt("x"))
	var timeout interface{ Timeout() bool }
	if !errors.Is(err, llm.ErrUpstream) || !errors.As(err, &timeout) || !timeout.Timeout() {
		t.Fatalf("Stream = %v, want an upstream timeout", err)
	}
}
