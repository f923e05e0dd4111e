package http

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/armistice-go/armistice/actors"
	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/llm/embedded"
	"github.com/armistice-go/armistice/model"
)

// fuzzServer is a server on an unpaced embedded model, driven in process
// (no sockets), so fuzzing runs fast.
func fuzzServer(t testing.TB) *Server {
	t.Helper()
	prov, err := embedded.New(embedded.Config{TokensPerSecond: 0, Tokens: 3})
	if err != nil {
		t.Fatal(err)
	}
	ecfg := actors.DefaultConfig(prov)
	ecfg.Linger = time.Hour
	eng, err := actors.New(ecfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	cfg := DefaultConfig()
	cfg.MaxPromptBytes = 256
	cfg.MaxBodyBytes = 4096
	srv, err := New(eng, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

// checkAnswer fails on a 5xx or on an error answer that is not the API's
// JSON error body.
func checkAnswer(t *testing.T, rec *httptest.ResponseRecorder, allowed ...int) {
	t.Helper()
	if rec.Code >= 500 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	ok := false
	for _, code := range allowed {
		ok = ok || rec.Code == code
	}
	if !ok {
		t.Fatalf("status %d not in %v: %s", rec.Code, allowed, rec.Body)
	}
	if rec.Code >= 400 {
		var body errorBody
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error.Code == "" || body.Error.Message == "" {
			t.Fatalf("error body %q: %v", rec.Body, err)
		}
	}
}

func FuzzSubmitBody(f *testing.F) {
	for _, seed := range []string{
		`{"prompt":"hi"}`,
		`{"prompt":"hi","model":"m","max_tokens":3,"on_disconnect":"cancel","metadata":{"a":"b"}}`,
		`{"prompt":""}`, `{"prompt":null}`, `{}`, `[]`, `null`, `"x"`, `{"prompt":"a"}{}`,
		`{"prompt":"\ud800"}`, `{"prompt":"hi","max_tokens":1e40}`, `{"prompt":"hi","metadata":{"":""}}`,
		`{"prompt":"hi","on_disconnect":"continue"}`, strings.Repeat(`{"prompt":`, 100),
		`{"prompt":"` + strings.Repeat("x", 300) + `"}`,
		`{"messages":[{"role":"user","content":"hi"},{"role":"assistant","tool_calls":[{"id":"c","name":"f","arguments":"{}"}]},{"role":"tool","tool_call_id":"c","content":"1"}]}`,
		`{"prompt":"hi","temperature":0,"top_p":1,"top_k":3,"stop":["a"],"seed":1,"logit_bias":{"1":2},"logprobs":true,"top_logprobs":1}`,
		`{"prompt":"hi","tools":[{"name":"f","parameters":{}}],"tool_choice":{"name":"f"},"response_format":{"type":"json_schema","schema":{}}}`,
		`{"prompt":"hi","stop":"x","tool_choice":"auto","response_format":{"type":"text"},"reasoning_effort":"low"}`,
	} {
		f.Add(seed, "application/json")
	}
	f.Add(`{"prompt":"hi"}`, "text/plain")
	f.Add(`{"prompt":"hi"}`, "application/json; charset=utf-8")
	f.Add(`{"prompt":"hi"}`, "application/x+json;;")
	srv := fuzzServer(f)
	f.Fuzz(func(t *testing.T, body, contentType string) {
		req := httptest.NewRequest("POST", "/v1/requests", strings.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		checkAnswer(t, rec, 202, 400, 413, 415, 429)
		if rec.Code == 202 {
			var snap SnapshotJSON
			if err := json.Unmarshal(rec.Body.Bytes(), &snap); err != nil || snap.ID == "" {
				t.Fatalf("202 body %q: %v", rec.Body, err)
			}
		}
	})
}

func FuzzCursor(f *testing.F) {
	for _, seed := range [][2]string{
		{"", ""}, {"0", ""}, {"", "0"}, {"3", "1"}, {"1", "3"}, {"-1", ""}, {"", "x"}, {"99", ""},
		{"18446744073709551615", ""}, {"18446744073709551616", ""}, {" 2 ", ""}, {"", "+1"}, {"0x1", ""},
	} {
		f.Add(seed[0], seed[1])
	}
	srv := fuzzServer(f)
	// One finished request, so every valid cursor has an answer at once.
	ctx := context.Background()
	snap, err := srv.eng.Submit(ctx, "", actors.Spec{Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"}}})
	if err != nil {
		f.Fatal(err)
	}
	sub, err := srv.eng.Subscribe(ctx, snap.ID, "", 0)
	if err != nil {
		f.Fatal(err)
	}
	for {
		recs, err := sub.Next(ctx)
		if err != nil {
			f.Fatal(err)
		}
		if recs[len(recs)-1].Kind == model.KindEnd {
			break
		}
	}
	f.Fuzz(func(t *testing.T, header, after string) {
		req := httptest.NewRequest("GET", "/v1/requests/"+snap.ID+"/events", nil)
		if after != "" {
			q := req.URL.Query()
			q.Set("after", after)
			req.URL.RawQuery = q.Encode()
		}
		req.Header.Set("Last-Event-ID", header)
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		checkAnswer(t, rec, 200, 204, 400)
		if rec.Code == 200 && !strings.HasSuffix(rec.Body.String(), "\n\n") {
			t.Fatalf("stream did not end cleanly: %q", rec.Body)
		}
	})
}

func FuzzAppendJSONString(f *testing.F) {
	for _, seed := range []string{"", "plain", "a\"b\\c", "\n\r\t\x00\x1f", "<&>", "\u2028\u2029", "\xff\xfe", "é漢字🙂", "\xed\xa0\x80"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := appendJSONString(nil, s)
		want, _ := json.Marshal(s)
		if string(got) != string(want) {
			t.Fatalf("appendJSONString(%q) = %s, encoding/json gives %s", s, got, want)
		}
	})
}
