package openaiapi

import (
	"testing"
)

// TestEveryV1PathAnswersInOpenAIShape: a path under /v1 that Armistice
// does not serve (OpenAI's other endpoints among them) answers 404 in
// OpenAI's error shape, a wrong method 405, so an OpenAI SDK reads the
// error instead of failing to parse it.
func TestEveryV1PathAnswersInOpenAIShape(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		method, path string
		status       int
		code         string
	}{
		{"POST", "/v1/embeddings", 404, CodeNotFound},
		{"POST", "/v1/completions", 404, CodeNotFound},
		{"GET", "/v1/files", 404, CodeNotFound},
		{"POST", "/v1/images/generations", 404, CodeNotFound},
		{"POST", "/v1/audio/speech", 404, CodeNotFound},
		{"POST", "/v1/moderations", 404, CodeNotFound},
		{"POST", "/v1/batches", 404, CodeNotFound},
		{"GET", "/v1/assistants", 404, CodeNotFound},
		{"POST", "/v1/conversations", 404, CodeNotFound},
		{"POST", "/v1/responses/input_tokens", 404, CodeNotFound},
		{"POST", "/v1/responses/compact", 404, CodeNotFound},
		{"GET", "/v1", 404, CodeNotFound},
		{"GET", "/v1/", 404, CodeNotFound},
		{"DELETE", "/v1/chat/completions", 405, CodeMethodNotAllowed},
		{"GET", "/v1/chat/completions", 405, CodeMethodNotAllowed},
		{"PATCH", "/v1/models", 405, CodeMethodNotAllowed},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			resp, data := e.do(tc.method, tc.path, `{}`, keyA)
			got := wantError(t, resp, data, tc.status, TypeInvalidRequest, tc.code, "")
			if got.Message == "" {
				t.Fatal("no message")
			}
		})
	}
}

// TestOptionsIsAuthenticated: OPTIONS on a served route needs the same key
// as the route (there is no CORS configuration to answer a preflight for).
func TestOptionsIsAuthenticated(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/v1/chat/completions", "/v1/responses", "/v1/models", "/v1/responses/resp_" + fixedID(1)} {
		resp, data := e.do("OPTIONS", path, "", "")
		wantError(t, resp, data, 401, TypeInvalidRequest, CodeInvalidAPIKey, "")
		resp, _ = e.do("OPTIONS", path, "", keyA)
		if resp.StatusCode != 204 || resp.Header.Get("Allow") == "" {
			t.Fatalf("OPTIONS %s with a key: %d, Allow %q; want 204 with Allow", path, resp.StatusCode, resp.Header.Get("Allow"))
		}
	}
	// The native routes too, in their own shape.
	resp, data := e.do("OPTIONS", "/v1/requests", "", "")
	if resp.StatusCode != 401 || string(data) == "" {
		t.Fatalf("native OPTIONS without a key: %d %s", resp.StatusCode, data)
	}
}
