package providertest

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/llm/llmtest"
)

// BodyClient returns an HTTP client whose every request is answered, in
// memory, with status 200, an event-stream content type and body.
func BodyClient(body []byte) *http.Client {
	return &http.Client{Transport: bodyTransport(body)}
}

type bodyTransport []byte

func (b bodyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
	}
	return &http.Response{
		StatusCode: http.StatusOK,
		Status:     "200 OK",
		Proto:      "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:  http.Header{"Content-Type": {"text/event-stream"}},
		Body:    io.NopCloser(bytes.NewReader(b)),
		Request: r,
	}, nil
}

// Seeds adds the format's fixtures and a few odd bodies to f's corpus.
func Seeds(f *testing.F, format llmtest.Format) {
	for _, name := range llmtest.Fixtures() {
		if strings.HasPrefix(name, format.String()+"_") {
			body, err := llmtest.Fixture(name)
			if err != nil {
				f.Fatal(err)
			}
			f.Add([]byte(body))
		}
	}
	for _, s := range []string{"", "\n\n", "data: [DONE]\n\n", ": comment\n\n", "data: {}\n\n", "event: x\ndata: {\"type\":\"x\"}\n\n", "data: {\"error\":1}\n\n"} {
		f.Add([]byte(s))
	}
}

// Check reads a stream p opens on any body (p must use BodyClient) and
// checks the contract: the stream ends, every chunk carries something,
// nothing but usage follows the finish, io.EOF comes only after a finish,
// every other end wraps llm.ErrUpstream, and the end is sticky.
func Check(t *testing.T, p llm.Provider) {
	s, err := p.Stream(t.Context(), llm.Prompt("x"))
	if err != nil {
		t.Fatalf("Stream: %v", err)
	}
	r := Drain(t, s)
	if r.Err != nil && !errors.Is(r.Err, llm.ErrUpstream) {
		t.Fatalf("end %v does not wrap ErrUpstream", r.Err)
	}
	if r.Err == nil && r.Finish == llm.FinishNone {
		t.Fatalf("clean end without a finish reason")
	}
}
