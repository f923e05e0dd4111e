package openaiapi

import (
	"context"
	"errors"
	stdhttp "net/http"
	"strings"
	"testing"
	"time"

	"github.com/armistice-go/armistice/actors"
	armhttp "github.com/armistice-go/armistice/http"
	"github.com/armistice-go/armistice/llm"
	"github.com/labstack/echo/v4"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/packages/ssestream"
	"github.com/openai/openai-go/v3/responses"
)

func TestErrorsInOpenAIShape(t *testing.T) {
	e := newEnv(t, withConfig(func(c *Config) { c.MaxBodyBytes = 4096; c.MaxPromptBytes = 64 }))
	user := func(content string) string {
		return `{"model":"scripted","messages":[{"role":"user","content":` + content + `}]}`
	}
	for _, tc := range []struct {
		name, method, path, body, key string
		status                        int
		typ, code, param              string
	}{
		{"malformed JSON", "POST", "/v1/chat/completions", `{"messages":`, keyA, 400, TypeInvalidRequest, CodeInvalidJSON, ""},
		{"not an object", "POST", "/v1/chat/completions", `[1]`, keyA, 400, TypeInvalidRequest, CodeInvalidJSON, ""},
		{"empty body", "POST", "/v1/responses", ``, keyA, 400, TypeInvalidRequest, CodeInvalidJSON, ""},
		{"wrong type", "POST", "/v1/chat/completions", `{"messages":"hi"}`, keyA, 400, TypeInvalidRequest, CodeInvalidType, "messages"},
		{"no messages", "POST", "/v1/chat/completions", `{"model":"scripted","messages":[]}`, keyA, 400, TypeInvalidRequest, CodeMissingParameter, "messages"},
		{"image part", "POST", "/v1/chat/completions", user(`[{"type":"text","text":"hi"},{"type":"image_url","image_url":{"url":"http://x/y.png"}}]`),
			keyA, 400, TypeInvalidRequest, CodeUnsupportedValue, "messages[0].content[1].type"},
		{"audio part", "POST", "/v1/chat/completions", user(`[{"type":"input_audio","input_audio":{"data":"","format":"wav"}}]`),
			keyA, 400, TypeInvalidRequest, CodeUnsupportedValue, "messages[0].content[0].type"},
		{"custom tool", "POST", "/v1/chat/completions", `{"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"custom","custom":{"name":"f"}}]}`,
			keyA, 400, TypeInvalidRequest, CodeUnsupportedValue, "tools[0].type"},
		{"tool message without its call", "POST", "/v1/chat/completions", `{"messages":[{"role":"tool","content":"42"}]}`,
			keyA, 400, TypeInvalidRequest, CodeMissingParameter, "messages[0].tool_call_id"},
		{"web search", "POST", "/v1/chat/completions", `{"messages":[{"role":"user","content":"hi"}],"web_search_options":{}}`,
			keyA, 400, TypeInvalidRequest, CodeUnknownParam, "web_search_options"},
		{"function messages", "POST", "/v1/chat/completions", `{"messages":[{"role":"function","name":"f","content":"1"}]}`,
			keyA, 400, TypeInvalidRequest, CodeUnsupportedValue, "messages[0].role"},
		{"unknown role", "POST", "/v1/chat/completions", `{"messages":[{"role":"narrator","content":"x"}]}`,
			keyA, 400, TypeInvalidRequest, CodeInvalidValue, "messages[0].role"},
		{"n=2", "POST", "/v1/chat/completions", `{"n":2,"messages":[{"role":"user","content":"hi"}]}`, keyA, 400, TypeInvalidRequest, CodeUnsupportedValue, "n"},
		{"unknown format", "POST", "/v1/chat/completions", `{"response_format":{"type":"yaml"},"messages":[{"role":"user","content":"hi"}]}`,
			keyA, 400, TypeInvalidRequest, CodeInvalidValue, "response_format.type"},
		{"max_tokens 0", "POST", "/v1/chat/completions", `{"max_tokens":0,"messages":[{"role":"user","content":"hi"}]}`,
			keyA, 400, TypeInvalidRequest, CodeInvalidValue, "max_tokens"},
		{"prompt too long", "POST", "/v1/chat/completions", user(`"` + strings.Repeat("x", 65) + `"`), keyA, 400, TypeInvalidRequest, CodeContextLength, "messages"},
		{"body too large", "POST", "/v1/chat/completions", user(`"` + strings.Repeat("x", 5000) + `"`), keyA, 413, TypeInvalidRequest, CodeRequestTooLarge, ""},
		{"body beyond the server's limit", "POST", "/v1/responses", `{"input":"` + strings.Repeat("x", 1<<20+1) + `"}`, keyA, 413, TypeInvalidRequest, CodeRequestTooLarge, ""},
		{"no input", "POST", "/v1/responses", `{"model":"scripted"}`, keyA, 400, TypeInvalidRequest, CodeMissingParameter, "input"},
		{"image input", "POST", "/v1/responses", `{"input":[{"role":"user","content":[{"type":"input_image","image_url":"http://x"}]}]}`,
			keyA, 400, TypeInvalidRequest, CodeUnsupportedValue, "input[0].content[0].type"},
		{"reasoning item", "POST", "/v1/responses", `{"input":[{"type":"reasoning","summary":[]}]}`,
			keyA, 400, TypeInvalidRequest, CodeUnsupportedValue, "input[0].type"},
		{"hosted tool", "POST", "/v1/responses", `{"input":"hi","tools":[{"type":"web_search"}]}`,
			keyA, 400, TypeInvalidRequest, CodeUnsupportedValue, "tools[0].type"},
		{"background without store", "POST", "/v1/responses", `{"input":"hi","background":true,"store":false}`, keyA, 400, TypeInvalidRequest, CodeInvalidValue, "store"},
		{"previous_response_id unknown", "POST", "/v1/responses", `{"input":"hi","previous_response_id":"resp_1"}`, keyA, 400, TypeInvalidRequest, CodePreviousNotFound, "previous_response_id"},
		{"reserved metadata", "POST", "/v1/responses", `{"input":"hi","metadata":{"openai.background":"true"}}`, keyA, 400, TypeInvalidRequest, CodeInvalidValue, "metadata"},
		{"json schema without schema", "POST", "/v1/responses", `{"input":"hi","text":{"format":{"type":"json_schema","name":"x"}}}`, keyA, 400, TypeInvalidRequest, CodeMissingParameter, "text.format.schema"},
		{"no key", "POST", "/v1/chat/completions", user(`"hi"`), "", 401, TypeInvalidRequest, CodeInvalidAPIKey, ""},
		{"wrong key", "GET", "/v1/models", "", "sk-wrong", 401, TypeInvalidRequest, CodeInvalidAPIKey, ""},
		{"wrong key on a response", "GET", "/v1/responses/resp_" + fixedID(1), "", "sk-wrong", 401, TypeInvalidRequest, CodeInvalidAPIKey, ""},
		{"unknown response", "GET", "/v1/responses/resp_" + fixedID(99), "", keyA, 404, TypeInvalidRequest, CodeNotFound, ""},
		{"unknown response, cancel", "POST", "/v1/responses/resp_" + fixedID(99) + "/cancel", "", keyA, 404, TypeInvalidRequest, CodeNotFound, ""},
		{"unknown response, delete", "DELETE", "/v1/responses/resp_" + fixedID(99), "", keyA, 404, TypeInvalidRequest, CodeNotFound, ""},
		{"id without prefix", "GET", "/v1/responses/" + fixedID(1), "", keyA, 404, TypeInvalidRequest, CodeNotFound, ""},
		{"chat id as a response", "GET", "/v1/responses/chatcmpl-" + fixedID(1), "", keyA, 404, TypeInvalidRequest, CodeNotFound, ""},
		{"bad starting_after", "GET", "/v1/responses/resp_" + fixedID(1) + "?stream=true&starting_after=-1", "", keyA, 400, TypeInvalidRequest, CodeInvalidValue, "starting_after"},
		{"bad stream flag", "GET", "/v1/responses/resp_" + fixedID(1) + "?stream=maybe", "", keyA, 400, TypeInvalidRequest, CodeInvalidValue, "stream"},
		{"unknown model", "GET", "/v1/models/gpt-4o", "", keyA, 404, TypeInvalidRequest, CodeModelNotFound, "model"},
		{"method not allowed", "PUT", "/v1/responses", `{}`, keyA, 405, TypeInvalidRequest, CodeMethodNotAllowed, ""},
		{"no such route", "GET", "/v1/responses/resp_x/items/y", "", keyA, 404, TypeInvalidRequest, CodeNotFound, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, data := e.do(tc.method, tc.path, tc.body, tc.key)
			wantError(t, resp, data, tc.status, tc.typ, tc.code, tc.param)
			if tc.status == 401 && resp.Header.Get("WWW-Authenticate") == "" {
				t.Fatal("401 without WWW-Authenticate")
			}
		})
	}
	if n := e.prov.Opened(); n != 0 {
		t.Fatalf("%d upstream calls for refused requests", n)
	}
	// The native routes keep their own error shape.
	resp, data := e.do("GET", "/v1/requests/nope", "", keyA)
	if resp.StatusCode != 404 || !strings.Contains(string(data), `"code":"not_found"`) || strings.Contains(string(data), `"type"`) {
		t.Fatalf("native 404: %s", data)
	}
}

func TestErrorsThroughTheGoClient(t *testing.T) {
	e := newEnv(t)
	wrong, client := e.sdk("sk-wrong"), e.sdk(keyA)
	_, err := wrong.Models.List(e.ctx())
	wantAPIError(t, err, 401, TypeInvalidRequest, CodeInvalidAPIKey)
	_, err = client.Responses.Get(e.ctx(), "resp_nope", responses.ResponseGetParams{})
	wantAPIError(t, err, 404, TypeInvalidRequest, CodeNotFound)
	_, err = client.Chat.Completions.New(e.ctx(), openai.ChatCompletionNewParams{
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage([]openai.ChatCompletionContentPartUnionParam{
			openai.ImageContentPart(openai.ChatCompletionContentPartImageImageURLParam{URL: "https://example.com/rabbit.png"}),
		})},
	})
	ae := wantAPIError(t, err, 400, TypeInvalidRequest, CodeUnsupportedValue)
	if ae.Param != "messages[0].content[0].type" || !strings.Contains(ae.Message, "image") {
		t.Fatalf("param %q message %q", ae.Param, ae.Message)
	}
}

func TestTenantIsolation(t *testing.T) {
	e := newEnv(t)
	a, b := e.sdk(keyA), e.sdk(keyB)
	created, err := a.Responses.New(e.ctx(), responses.ResponseNewParams{Input: input("secret"), Background: openai.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	s := e.script()
	_, err = b.Responses.Get(e.ctx(), created.ID, responses.ResponseGetParams{})
	wantAPIError(t, err, 404, TypeInvalidRequest, CodeNotFound)
	st := b.Responses.GetStreaming(e.ctx(), created.ID, responses.ResponseGetParams{})
	if st.Next() {
		t.Fatal("another tenant streamed the response")
	}
	wantAPIError(t, st.Err(), 404, TypeInvalidRequest, CodeNotFound)
	_, err = b.Responses.Cancel(e.ctx(), created.ID)
	wantAPIError(t, err, 404, TypeInvalidRequest, CodeNotFound)
	err = b.Responses.Delete(e.ctx(), created.ID)
	wantAPIError(t, err, 404, TypeInvalidRequest, CodeNotFound)
	// Nothing B did touched A's response.
	s.Token("still")
	s.Finish(llm.FinishStop, nil)
	if r := waitEnd(t, e, a, created.ID); r.Status != "completed" || r.OutputText() != "still" {
		t.Fatalf("A's response = %s", r.RawJSON())
	}
	// Each tenant's requests carry its tenant as the owner.
	if _, err := e.eng.Status(e.ctx(), fixedID(1), "tenant-a"); err != nil {
		t.Fatalf("owner: %v", err)
	}
}

// A request made through the native API is not a response.
func TestNativeRequestsAreNotResponses(t *testing.T) {
	e := newEnv(t)
	resp, data := e.do("POST", "/v1/requests", `{"prompt":"hello"}`, keyA)
	if resp.StatusCode != 202 {
		t.Fatalf("native submit: %d %s", resp.StatusCode, data)
	}
	s := e.script()
	resp, data = e.do("GET", "/v1/responses/resp_"+fixedID(1), "", keyA)
	wantError(t, resp, data, 404, TypeInvalidRequest, CodeNotFound, "")
	resp, data = e.do("POST", "/v1/responses/resp_"+fixedID(1)+"/cancel", "", keyA)
	wantError(t, resp, data, 404, TypeInvalidRequest, CodeNotFound, "")
	s.Finish(llm.FinishStop, nil)
}

// store=false: the response streams as usual but cannot be retrieved.
func TestUnstoredResponsesCannotBeRetrieved(t *testing.T) {
	e := newEnv(t)
	client := e.sdk(keyA)
	stCh := async(func() *ssestream.Stream[responses.ResponseStreamEventUnion] {
		return client.Responses.NewStreaming(e.ctx(), responses.ResponseNewParams{Input: input("hello"), Store: openai.Bool(false)})
	})
	e.script().Finish(llm.FinishStop, nil)
	st := wait(t, stCh)
	evs := readAll(t, st)
	checkEvents(t, evs, 0)
	if !strings.Contains(evs[len(evs)-1].RawJSON(), `"store":false`) {
		t.Fatal("store=false shows as stored")
	}
	_, err := client.Responses.Get(e.ctx(), "resp_"+fixedID(1), responses.ResponseGetParams{})
	wantAPIError(t, err, 404, TypeInvalidRequest, CodeNotFound)
}

func TestModels(t *testing.T) {
	e := newEnv(t)
	client := e.sdk(keyA)
	page, err := client.Models.List(e.ctx())
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Data) != 2 || page.Data[0].ID != "scripted" || page.Data[1].ID != "scripted-mini" || page.Data[0].Object != "model" || page.Data[0].OwnedBy != "armistice" {
		t.Fatalf("models = %s", page.RawJSON())
	}
	m, err := client.Models.Get(e.ctx(), "scripted-mini")
	if err != nil || m.ID != "scripted-mini" {
		t.Fatalf("model = %v %+v", err, m)
	}
	_, err = client.Models.Get(e.ctx(), "gpt-4o")
	wantAPIError(t, err, 404, TypeInvalidRequest, CodeModelNotFound)
}

// Without API keys every request is the anonymous tenant, as on the
// native routes.
func TestNoKeysConfigured(t *testing.T) {
	e := newEnv(t, withServer(func(c *armhttp.Config) { c.APIKeys = nil }))
	resp, data := e.do("GET", "/v1/models", "", "")
	if resp.StatusCode != 200 || !strings.Contains(string(data), `"object":"list"`) {
		t.Fatalf("models: %d %s", resp.StatusCode, data)
	}
}

func TestHeartbeatOnAnIdleStream(t *testing.T) {
	e := newEnv(t, withConfig(func(c *Config) { c.Heartbeat = 10 * time.Millisecond }))
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	req, _ := stdhttp.NewRequestWithContext(ctx, "POST", e.url+"/v1/chat/completions",
		strings.NewReader(`{"stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("Authorization", "Bearer "+keyA)
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	s := e.script() // admitted, and silent
	buf := make([]byte, 0, 4096)
	for !strings.Contains(string(buf), ": ping\n\n") {
		chunk := make([]byte, 512)
		n, err := resp.Body.Read(chunk)
		if err != nil {
			t.Fatalf("no heartbeat: %v after %q", err, buf)
		}
		buf = append(buf, chunk[:n]...)
	}
	s.Finish(llm.FinishStop, nil)
}

// A shutdown ends a running chat stream with an in-stream error: the
// server's cancel is a failure, never a clean end.
func TestShutdownEndsAChatStreamWithAnError(t *testing.T) {
	e := newEnv(t)
	res := e.start("POST", "/v1/chat/completions", chatBodyUsage, keyA)
	s := e.script()
	s.Token("Alice")
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- e.srv.Shutdown(ctx, 0) }()
	r := wait(t, res)
	if err := wait(t, shut); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	body := string(r.body)
	if !strings.HasSuffix(body, `"type":"server_error","param":null,"code":"shutdown"}}`+"\n\n") ||
		strings.Contains(body, "[DONE]") {
		t.Fatalf("stream = %s", body)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Config)
		ok     bool
	}{
		{"defaults", func(*Config) {}, true},
		{"no models", func(c *Config) { c.Models = nil }, false},
		{"empty model", func(c *Config) { c.Models = []string{"a", ""} }, false},
		{"duplicate model", func(c *Config) { c.Models = []string{"a", "a"} }, false},
		{"negative heartbeat", func(c *Config) { c.Heartbeat = -1 }, false},
		{"no heartbeat", func(c *Config) { c.Heartbeat = 0 }, true},
		{"zero body", func(c *Config) { c.MaxBodyBytes = 0 }, false},
		{"zero prompt", func(c *Config) { c.MaxPromptBytes = 0 }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tc.change(&cfg)
			err := cfg.Validate()
			if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrInvalidConfig)) {
				t.Fatalf("Validate() = %v", err)
			}
		})
	}
	if err := Register(nil, DefaultConfig()); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("Register(nil) = %v", err)
	}
}

// A panic in a handler is recovered by the server and answered in
// OpenAI's shape on these routes.
func TestPanicIsAnsweredInOpenAIShape(t *testing.T) {
	e := newEnv(t)
	e.srv.Echo().GET("/v1/models/boom/now", func(echo.Context) error { panic("boom") })
	resp, data := e.do("GET", "/v1/models/boom/now", "", keyA)
	wantError(t, resp, data, 500, TypeServer, "internal_error", "")
}

// Refusals from the engine keep their meaning: a full queue is 429 with
// Retry-After.
func TestQueueFull(t *testing.T) {
	e := newEnv(t, withEngine(func(c *actors.Config) { c.MaxActive, c.MaxQueued = 1, 0 }))
	client := e.sdk(keyA)
	first, err := client.Responses.New(e.ctx(), responses.ResponseNewParams{Input: input("one"), Background: openai.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	s := e.script()
	resp, data := e.do("POST", "/v1/chat/completions", `{"messages":[{"role":"user","content":"two"}]}`, keyA)
	wantError(t, resp, data, 429, TypeRequests, CodeQueueFull, "")
	if resp.Header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
	s.Finish(llm.FinishStop, nil)
	waitEnd(t, e, client, first.ID)
}
