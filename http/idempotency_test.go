package http

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/armistice-go/armistice/actors"
	"github.com/rs/zerolog"
)

// TestIdempotentSubmitOverHTTP: the same Idempotency-Key and body answer
// the original request (Idempotent-Replayed: true); another body is 422;
// 50 concurrent submits with one key create one request.
func TestIdempotentSubmitOverHTTP(t *testing.T) {
	e := newEnv(t)
	resp, data := e.do("POST", "/v1/requests", `{"prompt":"p"}`, "Idempotency-Key", "k-1")
	var first SnapshotJSON
	_ = json.Unmarshal(data, &first)
	if resp.StatusCode != 202 || resp.Header.Get(HeaderIdempotentReplayed) != "" {
		t.Fatalf("first submit: %d %s", resp.StatusCode, data)
	}
	resp, data = e.do("POST", "/v1/requests", `{"prompt":"p"}`, "Idempotency-Key", "k-1")
	var again SnapshotJSON
	_ = json.Unmarshal(data, &again)
	if resp.StatusCode != 202 || again.ID != first.ID || resp.Header.Get(HeaderIdempotentReplayed) != "true" {
		t.Fatalf("retry: %d %s (replayed %q); want %s again", resp.StatusCode, data, resp.Header.Get(HeaderIdempotentReplayed), first.ID)
	}
	resp, data = e.do("POST", "/v1/requests", `{"prompt":"other"}`, "Idempotency-Key", "k-1")
	if resp.StatusCode != 422 || !strings.Contains(string(data), `"idempotency_conflict"`) {
		t.Fatalf("another body with the key: %d %s; want 422", resp.StatusCode, data)
	}
	resp, _ = e.do("POST", "/v1/requests", `{"prompt":"p"}`, "Idempotency-Key", strings.Repeat("k", 256))
	if resp.StatusCode != 400 {
		t.Fatalf("a 256-byte key: %d; want 400", resp.StatusCode)
	}
	e.script()

	var wg sync.WaitGroup
	ids := make(chan string, 50)
	for range 50 {
		wg.Go(func() {
			_, data := e.do("POST", "/v1/requests", `{"prompt":"storm"}`, "Idempotency-Key", "k-storm")
			var s SnapshotJSON
			_ = json.Unmarshal(data, &s)
			ids <- s.ID
		})
	}
	wg.Wait()
	close(ids)
	seen := map[string]bool{}
	for id := range ids {
		seen[id] = true
	}
	if len(seen) != 1 {
		t.Fatalf("50 submits with one key made %d requests", len(seen))
	}
	e.script()
}

// TestReservedMetadataRefused: a native request cannot carry the OpenAI
// routes' metadata keys, so it cannot pose as a Response.
func TestReservedMetadataRefused(t *testing.T) {
	e := newEnv(t)
	resp, data := e.do("POST", "/v1/requests", `{"prompt":"p","metadata":{"openai.object":"response"}}`)
	if resp.StatusCode != 400 || !strings.Contains(string(data), "openai.object") {
		t.Fatalf("reserved key: %d %s; want 400 naming it", resp.StatusCode, data)
	}
}

// TestSubmitLinesNameTheRequest: the submit's access line carries the
// Armistice request id, and the request's own lines carry the HTTP
// request's req_id and the tenant.
func TestSubmitLinesNameTheRequest(t *testing.T) {
	var logs syncBuffer
	e := newEnv(t, withServer(func(c *Config) { c.Logger = zerolog.New(&logs) }),
		withEngineLogger(zerolog.New(&logs)))
	resp, data := e.do("POST", "/v1/requests", `{"prompt":"p"}`, "X-Request-Id", "trace-42")
	var snap SnapshotJSON
	_ = json.Unmarshal(data, &snap)
	if resp.StatusCode != 202 {
		t.Fatalf("submit: %d", resp.StatusCode)
	}
	s := e.script()
	s.Cut()
	e.waitEnd(snap.ID)
	var access, finished map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		_ = json.Unmarshal([]byte(line), &m)
		switch m["message"] {
		case "http":
			if m["method"] == "POST" {
				access = m
			}
		case "request finished":
			finished = m
		}
	}
	if access["request_id"] != snap.ID || access["req_id"] != "trace-42" {
		t.Fatalf("access line %v; want request_id %s and req_id trace-42", access, snap.ID)
	}
	if finished["req_id"] != "trace-42" || finished["request_id"] != snap.ID {
		t.Fatalf("finished line %v; want req_id trace-42", finished)
	}
	for k, v := range finished {
		if v == "" {
			t.Errorf("empty field %q on the finished line", k)
		}
	}
}

func withEngineLogger(l zerolog.Logger) envOption {
	return func(e *actors.Config, _ *Config) { e.Logger = l }
}
