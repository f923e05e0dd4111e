package http

import (
	"strings"
	"testing"
)

// A body of the wrong JSON type, or a field of the wrong type, is
// described in words, with what was expected and what came, never a Go
// type name.
func TestWrongJSONTypesAreDescribedInWords(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct{ body, want string }{
		{`[1]`, "the body must be a JSON object, got an array"},
		{`"hi"`, "the body must be a JSON object, got a string"},
		{`42`, "the body must be a JSON object, got a number"},
		{`true`, "the body must be a JSON object, got true or false"},
		{`{"prompt":"hi","max_tokens":"ten"}`, `field "max_tokens": expected an integer, got a string`},
		{`{"prompt":"hi","max_tokens":1.5}`, `field "max_tokens": expected an integer, got a number`},
		{`{"prompt":7}`, `field "prompt": expected a string, got a number`},
		{`{"prompt":"hi","metadata":{"k":1}}`, `field "metadata": expected a string, got a number`},
		{`{"prompt":"hi","metadata":[]}`, `field "metadata": expected a JSON object, got an array`},
	} {
		resp, data := e.do("POST", "/v1/requests", tc.body)
		body := wantError(t, resp, data, 400, CodeInvalidRequest)
		if !strings.Contains(body.Error.Message, tc.want) || strings.Contains(body.Error.Message, "http.") {
			t.Errorf("%s: message %q, want it to say %q", tc.body, body.Error.Message, tc.want)
		}
	}
}
