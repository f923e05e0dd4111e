package openaiapi

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/llm/scripted"
)

// timestamps are the only bytes of a stream that vary between runs.
var timestamps = regexp.MustCompile(`"(created|created_at)":\d+`)

func normalise(b []byte) []byte { return timestamps.ReplaceAll(b, []byte(`"$1":0`)) }

// checkGolden compares got with testdata/name.golden; -update rewrites it.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	got = normalise(got)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if bytes.Equal(got, want) {
		return
	}
	gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < max(len(gl), len(wl)); i++ {
		var g, w string
		if i < len(gl) {
			g = gl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if g != w {
			t.Fatalf("%s differs at line %d:\ngot:  %s\nwant: %s\n(go test -update rewrites it)", path, i+1, g, w)
		}
	}
}

// stream posts body to path, lets drive play the upstream, and returns
// the whole event stream.
func (e *env) stream(path, body string, drive func(*scripted.Script)) []byte {
	e.t.Helper()
	res := e.start("POST", path, body, keyA)
	drive(e.script())
	r := wait(e.t, res)
	if r.err != nil || r.status != 200 || r.header.Get("Content-Type") != "text/event-stream; charset=utf-8" {
		e.t.Fatalf("stream: %d %v %q %s", r.status, r.err, r.header.Get("Content-Type"), r.body)
	}
	return r.body
}

const (
	chatBodyUsage = `{"model":"scripted","stream":true,"stream_options":{"include_usage":true},` +
		`"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Tell me about the rabbit."}]}`
	chatBodyPlain     = `{"model":"scripted","stream":true,"messages":[{"role":"user","content":[{"type":"text","text":"Hi"}]}]}`
	responsesBodyText = `{"model":"scripted","input":"Tell me about the rabbit.","instructions":"Be brief.","stream":true,"metadata":{"user":"u1"}}`
	responsesMax      = `{"input":"Tell me about the rabbit.","max_output_tokens":2,"stream":true}`
	responsesBgBody   = `{"model":"scripted","input":"Tell me about the rabbit.","stream":true,"background":true}`
)

// waitTokens waits until request id has logged n tokens.
func (e *env) waitTokens(id string, n int) {
	e.t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		snap, err := e.eng.Status(e.ctx(), id, "tenant-a")
		if err != nil {
			e.t.Fatal(err)
		}
		if snap.Tokens >= n {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%s logged %d tokens within %s, want %d", id, snap.Tokens, waitLimit, n)
		}
		runtime.Gosched()
	}
}

func tokens(s *scripted.Script, texts ...string) {
	for _, t := range texts {
		s.Token(t)
	}
}

// The exact bytes of the streams, for one scripted run each.
func TestGoldenStreams(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, e *env) []byte
	}{
		{"chat_stream_usage", func(t *testing.T, e *env) []byte {
			return e.stream("/v1/chat/completions", chatBodyUsage, func(s *scripted.Script) {
				tokens(s, "Alice", ", \"the rabbit\"\n<&>\u2028")
				s.Finish(llm.FinishStop, &llm.Usage{PromptTokens: 12, CompletionTokens: 2})
			})
		}},
		{"chat_stream_length", func(t *testing.T, e *env) []byte {
			return e.stream("/v1/chat/completions", chatBodyPlain, func(s *scripted.Script) {
				tokens(s, "Hello", " there")
				s.Finish(llm.FinishLength, nil)
			})
		}},
		{"chat_stream_failed", func(t *testing.T, e *env) []byte {
			return e.stream("/v1/chat/completions", chatBodyUsage, func(s *scripted.Script) {
				tokens(s, "Alice")
				s.Fail(errors.New("connection reset"))
			})
		}},
		{"responses_completed", func(t *testing.T, e *env) []byte {
			return e.stream("/v1/responses", responsesBodyText, func(s *scripted.Script) {
				tokens(s, "Alice", " ran", " \"off\"\n<&>")
				s.Finish(llm.FinishStop, &llm.Usage{PromptTokens: 9, CompletionTokens: 3})
			})
		}},
		{"responses_incomplete", func(t *testing.T, e *env) []byte {
			return e.stream("/v1/responses", responsesMax, func(s *scripted.Script) {
				tokens(s, "Alice", " ran")
				s.Finish(llm.FinishLength, nil)
			})
		}},
		{"responses_content_filter", func(t *testing.T, e *env) []byte {
			return e.stream("/v1/responses", responsesBodyText, func(s *scripted.Script) {
				tokens(s, "Alice")
				s.Finish(llm.FinishContentFilter, nil)
			})
		}},
		{"responses_failed", func(t *testing.T, e *env) []byte {
			return e.stream("/v1/responses", responsesBodyText, func(s *scripted.Script) {
				tokens(s, "Alice")
				s.Fail(errors.New("connection reset"))
			})
		}},
		{"responses_background_cancelled", func(t *testing.T, e *env) []byte {
			return e.stream("/v1/responses", responsesBgBody, func(s *scripted.Script) {
				tokens(s, "Alice", " ran")
				// The script hands a token to the producer; wait until the
				// request has logged both, or the cancel may overtake the
				// second on a loaded machine (failed once in a full run).
				e.waitTokens(fixedID(1), 2)
				resp, data := e.do("POST", "/v1/responses/resp_"+fixedID(1)+"/cancel", "", keyA)
				if resp.StatusCode != 200 {
					t.Fatalf("cancel: %d %s", resp.StatusCode, data)
				}
			})
		}},
		{"responses_resumed", func(t *testing.T, e *env) []byte {
			full := e.stream("/v1/responses", responsesBgBody, func(s *scripted.Script) {
				tokens(s, "Alice", " ran", " off.")
				s.Finish(llm.FinishStop, nil)
			})
			resp, resumed := e.do("GET", "/v1/responses/resp_"+fixedID(1)+"?stream=true&starting_after=5", "", keyA)
			if resp.StatusCode != 200 {
				t.Fatalf("resume: %d %s", resp.StatusCode, resumed)
			}
			// The resumed stream is the full one without events 0..5.
			if i := bytes.Index(full, []byte("event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"sequence_number\":6,")); i < 0 || !bytes.Equal(full[i:], resumed) {
				t.Fatalf("resumed stream is not a suffix of the full one:\n%s\n---\n%s", full, resumed)
			}
			return resumed
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			checkGolden(t, tc.name, tc.run(t, e))
		})
	}
}
