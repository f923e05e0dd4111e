package openaiapi

import (
	"encoding/json"
	"fmt"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/armistice-go/armistice/actors"
	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/model"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/responses"
)

// TestConversationByPreviousResponseID: three turns chained with
// previous_response_id through the official client. Each turn reaches the
// provider with the earlier turns' input and output before its own input;
// instructions are not carried over; a function call from turn 1 is
// answered by a function_call_output in turn 2.
func TestConversationByPreviousResponseID(t *testing.T) {
	e := newEnv(t)
	client := e.sdk(keyA)
	create := func(p responses.ResponseNewParams, script func()) *responses.Response {
		res := async(func() *responses.Response {
			r, err := client.Responses.New(e.ctx(), p)
			if err != nil {
				t.Errorf("New: %v", err)
			}
			return r
		})
		script()
		r := wait(t, res)
		if r == nil {
			t.FailNow()
		}
		return r
	}
	// Turn 1: the model calls the weather tool.
	first := create(responses.ResponseNewParams{
		Model:        "scripted",
		Instructions: openai.String("Be brief."),
		Input:        responses.ResponseNewParamsInputUnion{OfString: openai.String("Weather in Oslo?")},
		Tools:        []responses.ToolUnionParam{responses.ToolParamOfFunction("weather", weatherParams, true)},
		ToolChoice:   responses.ResponseNewParamsToolChoiceUnion{OfToolChoiceMode: openai.Opt(responses.ToolChoiceOptionsRequired)},
	}, func() { askForWeather(t, e.script()) })
	call := first.Output[1].AsFunctionCall()
	if first.PreviousResponseID != "" {
		t.Errorf("turn 1 shows previous_response_id %q", first.PreviousResponseID)
	}

	// Turn 2: the tool's result, continuing from turn 1.
	out := responses.ResponseInputItemParamOfFunctionCallOutput("-3 and snowing")
	out.OfFunctionCallOutput.CallID = openai.String(call.CallID)
	second := create(responses.ResponseNewParams{
		Model:              "scripted",
		PreviousResponseID: openai.String(first.ID),
		Input:              responses.ResponseNewParamsInputUnion{OfInputItemList: responses.ResponseInputParam{out}},
		Tools:              []responses.ToolUnionParam{responses.ToolParamOfFunction("weather", weatherParams, true)},
	}, func() {
		s := e.script()
		want := []llm.Message{
			{Role: llm.RoleUser, Content: "Weather in Oslo?"},
			{Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{{ID: "call_w1", Name: "weather", Arguments: `{"city":"Oslo"}`}}},
			{Role: llm.RoleTool, ToolCallID: "call_w1", Content: "-3 and snowing"},
		}
		if got := s.Request().Messages; !reflect.DeepEqual(got, want) {
			t.Errorf("turn 2 reached the provider as\n%+v\nwant (no instructions carried over)\n%+v", got, want)
		}
		s.Token("Cold.")
		s.Finish(llm.FinishStop, nil)
	})

	if second.PreviousResponseID != first.ID {
		t.Errorf("turn 2 shows previous_response_id %q; want %q", second.PreviousResponseID, first.ID)
	}
	if got, err := client.Responses.Get(e.ctx(), second.ID, responses.ResponseGetParams{}); err != nil || got.PreviousResponseID != first.ID {
		t.Errorf("turn 2 read back shows previous_response_id %q (%v); want %q", got.PreviousResponseID, err, first.ID)
	}

	// Turn 3: a plain follow-up, continuing from turn 2.
	create(responses.ResponseNewParams{
		Model:              "scripted",
		Instructions:       openai.String("Answer in French."),
		PreviousResponseID: openai.String(second.ID),
		Input:              responses.ResponseNewParamsInputUnion{OfString: openai.String("And tomorrow?")},
	}, func() {
		s := e.script()
		got := s.Request().Messages
		if len(got) != 6 || got[0].Role != llm.RoleSystem || got[0].Content != "Answer in French." ||
			got[4].Role != llm.RoleAssistant || got[4].Content != "Cold." || got[5].Content != "And tomorrow?" {
			t.Errorf("turn 3 reached the provider as %+v", got)
		}
		s.Token("Demain aussi.")
		s.Finish(llm.FinishStop, nil)
	})
}

// TestPreviousResponseIDIsolation: another tenant's response, an unknown
// id and an unstored response give the same 400, and reach no provider.
func TestPreviousResponseIDIsolation(t *testing.T) {
	e := newEnv(t)
	res := async(func() []byte {
		_, data := e.do("POST", "/v1/responses", `{"model":"scripted","input":"hi"}`, keyA)
		return data
	})
	s := e.script()
	s.Token("a")
	s.Finish(llm.FinishStop, nil)
	wait(t, res)
	res = async(func() []byte {
		_, data := e.do("POST", "/v1/responses", `{"model":"scripted","input":"hi","store":false}`, keyA)
		return data
	})
	s = e.script()
	s.Finish(llm.FinishStop, nil)
	wait(t, res)
	opened := e.prov.Opened()
	for _, tc := range []struct{ key, prev string }{
		{keyB, "resp_" + fixedID(1)},  // tenant A's, asked by B
		{keyA, "resp_" + fixedID(99)}, // unknown
		{keyA, "resp_" + fixedID(2)},  // store: false
		{keyA, "msg_" + fixedID(1)},   // not a response id
	} {
		resp, data := e.do("POST", "/v1/responses", `{"model":"scripted","input":"more","previous_response_id":"`+tc.prev+`"}`, tc.key)
		wantError(t, resp, data, 400, TypeInvalidRequest, CodePreviousNotFound, "previous_response_id")
	}
	if e.prov.Opened() != opened {
		t.Fatal("a refused continuation reached the provider")
	}
}

// TestConversationByItemReference: as the AI SDK sends it, a later turn
// refers to earlier output items by id: the assistant's message and its
// function call reach the provider as the assistant turn they were; an
// unknown or another tenant's item is a 404 naming the parameter.
func TestConversationByItemReference(t *testing.T) {
	e := newEnv(t)
	client := e.sdk(keyA)
	create := func(p responses.ResponseNewParams, script func()) *responses.Response {
		res := async(func() *responses.Response {
			r, err := client.Responses.New(e.ctx(), p)
			if err != nil {
				t.Errorf("New: %v", err)
			}
			return r
		})
		script()
		r := wait(t, res)
		if r == nil {
			t.FailNow()
		}
		return r
	}
	first := create(responses.ResponseNewParams{
		Model:      "scripted",
		Input:      responses.ResponseNewParamsInputUnion{OfString: openai.String("Weather in Oslo?")},
		Tools:      []responses.ToolUnionParam{responses.ToolParamOfFunction("weather", weatherParams, true)},
		ToolChoice: responses.ResponseNewParamsToolChoiceUnion{OfToolChoiceMode: openai.Opt(responses.ToolChoiceOptionsRequired)},
	}, func() { askForWeather(t, e.script()) })
	fc := first.Output[1]
	out := responses.ResponseInputItemParamOfFunctionCallOutput("-3 and snowing")
	out.OfFunctionCallOutput.CallID = openai.String(fc.CallID)
	second := create(responses.ResponseNewParams{
		Model: "scripted",
		Input: responses.ResponseNewParamsInputUnion{OfInputItemList: responses.ResponseInputParam{
			responses.ResponseInputItemParamOfMessage("Weather in Oslo?", responses.EasyInputMessageRoleUser),
			responses.ResponseInputItemParamOfItemReference(first.Output[0].ID), // the reasoning: dropped
			responses.ResponseInputItemParamOfItemReference(fc.ID),
			out,
		}},
	}, func() {
		s := e.script()
		want := []llm.Message{
			{Role: llm.RoleUser, Content: "Weather in Oslo?"},
			{Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{{ID: "call_w1", Name: "weather", Arguments: `{"city":"Oslo"}`}}},
			{Role: llm.RoleTool, ToolCallID: "call_w1", Content: "-3 and snowing"},
		}
		if got := s.Request().Messages; !reflect.DeepEqual(got, want) {
			t.Errorf("turn 2 reached the provider as\n%+v\nwant\n%+v", got, want)
		}
		s.Token("Cold.")
		s.Finish(llm.FinishStop, nil)
	})
	create(responses.ResponseNewParams{
		Model: "scripted",
		Input: responses.ResponseNewParamsInputUnion{OfInputItemList: responses.ResponseInputParam{
			responses.ResponseInputItemParamOfItemReference(second.Output[0].ID),
			responses.ResponseInputItemParamOfMessage("And tomorrow?", responses.EasyInputMessageRoleUser),
		}},
	}, func() {
		s := e.script()
		got := s.Request().Messages
		if len(got) != 2 || got[0].Role != llm.RoleAssistant || got[0].Content != "Cold." {
			t.Errorf("turn 3 reached the provider as %+v", got)
		}
		s.Finish(llm.FinishStop, nil)
	})
	opened := e.prov.Opened()
	for _, tc := range []struct{ key, id string }{
		{keyB, second.Output[0].ID},        // tenant A's item, asked by B
		{keyA, "msg_" + fixedID(99)},       // unknown response
		{keyA, second.Output[0].ID + "_7"}, // no such item
		{keyA, "item_" + fixedID(1)},       // not an output item id
	} {
		resp, data := e.do("POST", "/v1/responses", `{"model":"scripted","input":[{"type":"item_reference","id":"`+tc.id+`"}]}`, tc.key)
		wantError(t, resp, data, 404, TypeInvalidRequest, CodeNotFound, "input[0].id")
	}
	if e.prov.Opened() != opened {
		t.Fatal("a refused reference reached the provider")
	}
}

// TestInputItems: GET /v1/responses/{id}/input_items lists the response's
// own input (not its instructions, not the turns previous_response_id
// added), newest first by default, with OpenAI's paging, and the official
// client reads it.
func TestInputItems(t *testing.T) {
	e := newEnv(t)
	client := e.sdk(keyA)
	run := func(body string) string {
		res := async(func() []byte {
			_, data := e.do("POST", "/v1/responses", body, keyA)
			return data
		})
		s := e.script()
		s.Token("ok")
		s.Finish(llm.FinishStop, nil)
		var r struct{ ID string }
		if err := json.Unmarshal(wait(t, res), &r); err != nil || r.ID == "" {
			t.Fatalf("create: %v", err)
		}
		return r.ID
	}
	first := run(`{"model":"scripted","instructions":"Be brief.","input":[` +
		`{"role":"user","content":"one"},{"role":"assistant","content":"two"},{"role":"user","content":"three"},` +
		`{"type":"function_call","call_id":"c1","name":"f","arguments":"{}"},{"type":"function_call_output","call_id":"c1","output":"four"}]}`)
	page, err := client.Responses.InputItems.List(e.ctx(), first, responses.InputItemListParams{
		Limit: openai.Int(2), Order: responses.InputItemListParamsOrderAsc})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Data) != 2 || !page.HasMore || page.Data[0].AsMessage().Content[0].Text != "one" || page.Data[1].Role != "assistant" {
		t.Fatalf("first page: %s", page.RawJSON())
	}
	resp, data := e.do("GET", "/v1/responses/"+first+"/input_items?order=asc&after="+page.Data[1].ID, "", keyA)
	var rest struct {
		Data []struct {
			Type, Role, CallID, Output string
			Content                    []struct{ Text string }
		}
		HasMore bool `json:"has_more"`
	}
	_ = json.Unmarshal(data, &rest)
	if resp.StatusCode != 200 || len(rest.Data) != 3 || rest.Data[0].Content[0].Text != "three" || rest.Data[1].Type != "function_call" ||
		rest.Data[2].Type != "function_call_output" || rest.Data[2].Output != "four" || rest.HasMore {
		t.Fatalf("after %s: %d %s", page.Data[1].ID, resp.StatusCode, data)
	}
	// Newest first by default; a continuation lists only its own input.
	second := run(`{"model":"scripted","previous_response_id":"` + first + `","input":"five"}`)
	_, data = e.do("GET", "/v1/responses/"+second+"/input_items", "", keyA)
	if !strings.Contains(string(data), `"text":"five"`) || strings.Contains(string(data), `"one"`) {
		t.Fatalf("a continuation's input items: %s", data)
	}
	if resp, _ := e.do("GET", "/v1/responses/"+second+"/input_items", "", keyB); resp.StatusCode != 404 {
		t.Fatalf("another tenant: %d; want 404", resp.StatusCode)
	}
	if resp, data := e.do("GET", "/v1/responses/"+second+"/input_items?limit=0", "", keyA); resp.StatusCode != 400 {
		t.Fatalf("limit=0: %d %s", resp.StatusCode, data)
	}
}

// TestLongConversationSharesItsTurns: 200 turns chained by
// previous_response_id, each adding a 2 KB message. Each stored response
// lists every earlier turn, but the turns' texts are shared, not copied:
// copied, they would hold about 40 MB; the heap grows by a few MB. The
// retention budget counts the shared texts once.
func TestLongConversationSharesItsTurns(t *testing.T) {
	e := newEnv(t, withConfig(func(c *Config) { c.MaxPromptBytes = 1 << 30 }))
	big := strings.Repeat("x", 2<<10)
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	prev := ""
	for turn := range 200 {
		body := `{"model":"scripted","input":"` + big + `"`
		if prev != "" {
			body += `,"previous_response_id":"` + prev + `"`
		}
		res := async(func() []byte {
			resp, data := e.do("POST", "/v1/responses", body+"}", keyA)
			if resp.StatusCode != 200 {
				t.Errorf("turn %d: %d %s", turn, resp.StatusCode, data)
			}
			return data
		})
		s := e.script()
		if got := len(s.Request().Messages); got != 2*turn+1 {
			t.Fatalf("turn %d reached the provider with %d messages; want %d", turn, got, 2*turn+1)
		}
		s.Token("ok")
		s.Finish(llm.FinishStop, nil)
		var r struct{ ID string }
		if err := json.Unmarshal(wait(t, res), &r); err != nil || r.ID == "" {
			t.Fatalf("turn %d: %v", turn, err)
		}
		prev = r.ID
	}
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	st, err := e.eng.Stats(e.ctx())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("200 chained turns: heap grew by %d KB; retention counts %d KB", grown>>10, st.RetainedBytes>>10)
	if grown > 16<<20 {
		t.Fatalf("heap grew by %d MB; the turns are being copied", grown>>20)
	}
	// The retention budget counts what the turns hold: each turn's own
	// 2 KB message and the copy of the answer before it once, plus each
	// turn's list of messages (about 100 bytes a message, 40,000 messages
	// in all), not each turn's whole conversation again (41 MB).
	if st.Retained != 200 || st.RetainedBytes > 200*(2<<10+1<<10)+40_000*128 {
		t.Fatalf("retention counts %d requests, %d KB; want 200 and about %d KB", st.Retained, st.RetainedBytes>>10, (200*(2<<10)+40_000*100)>>10)
	}
}

// TestLongConversationByItemReferenceSharesItsTurns: 200 turns sent the
// way the Vercel AI SDK sends them (store: true): the whole conversation
// each turn, its user messages in full and each earlier answer as an
// item_reference; every answer is 4 KB. Each stored response lists every
// earlier turn, but it shares their texts with the response it continues
// instead of holding copies of its own: copied, the answers alone would
// hold about 80 MB; the heap grows by a few MB, and the retention budget
// counts each text about once.
func TestLongConversationByItemReferenceSharesItsTurns(t *testing.T) {
	e := newEnv(t, withConfig(func(c *Config) { c.MaxPromptBytes = 1 << 30 }))
	const turns = 200
	answer := strings.Repeat("a", 4<<10)
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var input strings.Builder // the input items so far, comma-separated
	for turn := range turns {
		if turn > 0 {
			input.WriteByte(',')
		}
		question := fmt.Sprintf("Question %d?", turn)
		input.WriteString(`{"role":"user","content":"` + question + `"}`)
		body := `{"model":"scripted","input":[` + input.String() + `]}`
		res := async(func() []byte {
			resp, data := e.do("POST", "/v1/responses", body, keyA)
			if resp.StatusCode != 200 {
				t.Errorf("turn %d: %d %.300s", turn, resp.StatusCode, data)
			}
			return data
		})
		s := e.script()
		msgs := s.Request().Messages
		if len(msgs) != 2*turn+1 || msgs[len(msgs)-1].Content != question || (turn > 0 && msgs[len(msgs)-2].Content != answer) {
			t.Fatalf("turn %d reached the provider with %d messages; want %d, ending with the last answer and the question", turn, len(msgs), 2*turn+1)
		}
		s.Token(answer)
		s.Finish(llm.FinishStop, nil)
		var r struct {
			Output []struct{ ID string }
		}
		if err := json.Unmarshal(wait(t, res), &r); err != nil || len(r.Output) != 1 {
			t.Fatalf("turn %d: %v", turn, err)
		}
		input.WriteString(`,{"type":"item_reference","id":"` + r.Output[0].ID + `"}`)
	}
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	st, err := e.eng.Stats(e.ctx())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d turns by item_reference: heap grew by %d KB; retention counts %d KB", turns, grown>>10, st.RetainedBytes>>10)
	if grown > 16<<20 {
		t.Fatalf("heap grew by %d MB; the turns are being copied", grown>>20)
	}
	// Each turn holds its answer's record and the copy of the answer
	// before it (about 8 KB), and its list of messages (about 100 bytes
	// a message, 40,000 messages in all); not each turn's whole
	// conversation again (80 MB).
	if st.Retained != turns || st.RetainedBytes > turns*(2*(4<<10)+1<<10)+40_000*128 {
		t.Fatalf("retention counts %d requests, %d KB; want %d and about %d KB", st.Retained, st.RetainedBytes>>10, turns, (turns*2*(4<<10)+40_000*100)>>10)
	}
}

// TestEvictedStoredResponse: a stored response evicted by the retention
// budget answers OpenAI's not-found, and cannot be continued.
// removals signals each request actor's removal.
type removals struct {
	actors.NopObserver
	ch chan model.State
}

func (r removals) Removed(last model.State) { r.ch <- last }

func TestEvictedStoredResponse(t *testing.T) {
	removed := removals{ch: make(chan model.State, 8)}
	e := newEnv(t, withEngine(func(c *actors.Config) {
		c.MaxRetained = 1
		c.Observer = removed
	}))
	run := func() string {
		res := async(func() []byte {
			_, data := e.do("POST", "/v1/responses", `{"model":"scripted","input":"hi"}`, keyA)
			return data
		})
		s := e.script()
		s.Token("ok")
		s.Finish(llm.FinishStop, nil)
		var r struct{ ID string }
		_ = json.Unmarshal(wait(t, res), &r)
		return r.ID
	}
	first := run()
	run() // over MaxRetained: the first goes
	// The second's answer can reach the client before the supervisor
	// learns that it finished and evicts the first (a cold run on a loaded
	// machine got the first back): wait for the eviction.
	wait(t, removed.ch)
	resp, data := e.do("GET", "/v1/responses/"+first, "", keyA)
	wantError(t, resp, data, 404, TypeInvalidRequest, CodeNotFound, "")
	resp, data = e.do("POST", "/v1/responses", `{"model":"scripted","input":"more","previous_response_id":"`+first+`"}`, keyA)
	wantError(t, resp, data, 400, TypeInvalidRequest, CodePreviousNotFound, "previous_response_id")
}

// TestStreamedContinuation: a streamed turn continues from a stored
// response like a plain one.
func TestStreamedContinuation(t *testing.T) {
	e := newEnv(t)
	client := e.sdk(keyA)
	res := async(func() *responses.Response {
		r, err := client.Responses.New(e.ctx(), responses.ResponseNewParams{Model: "scripted",
			Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("one")}})
		if err != nil {
			t.Errorf("New: %v", err)
		}
		return r
	})
	s := e.script()
	s.Token("two")
	s.Finish(llm.FinishStop, nil)
	first := wait(t, res)
	if first == nil {
		t.FailNow()
	}
	st := async(func() string {
		stream := client.Responses.NewStreaming(e.ctx(), responses.ResponseNewParams{Model: "scripted",
			PreviousResponseID: openai.String(first.ID),
			Input:              responses.ResponseNewParamsInputUnion{OfString: openai.String("three")}})
		defer stream.Close()
		var text string
		for stream.Next() {
			if ev := stream.Current(); ev.Type == "response.output_text.delta" {
				text += ev.Delta
			}
		}
		if err := stream.Err(); err != nil {
			t.Errorf("stream: %v", err)
		}
		return text
	})
	s = e.script()
	want := []llm.Message{{Role: llm.RoleUser, Content: "one"}, {Role: llm.RoleAssistant, Content: "two"}, {Role: llm.RoleUser, Content: "three"}}
	if got := s.Request().Messages; !reflect.DeepEqual(got, want) {
		t.Errorf("the streamed turn reached the provider as %+v", got)
	}
	s.Token("four")
	s.Finish(llm.FinishStop, nil)
	if got := wait(t, st); got != "four" {
		t.Fatalf("streamed text %q", got)
	}
}

// TestItemReferenceToInputItems: item_reference also names a stored
// response's input items (as GET …/input_items lists them): a user
// message, an assistant message, a function call and its output reach
// the provider as the turns they were; another tenant's, an unknown
// place and a kind that does not match the place answer 404.
func TestItemReferenceToInputItems(t *testing.T) {
	e := newEnv(t)
	res := async(func() []byte {
		_, data := e.do("POST", "/v1/responses", `{"model":"scripted","instructions":"Be brief.","input":[`+
			`{"role":"user","content":"one"},{"role":"assistant","content":"two"},`+
			`{"type":"function_call","call_id":"c1","name":"f","arguments":"{}"},{"type":"function_call_output","call_id":"c1","output":"four"}]}`, keyA)
		return data
	})
	s := e.script()
	s.Token("ok")
	s.Finish(llm.FinishStop, nil)
	var first struct{ ID string }
	if err := json.Unmarshal(wait(t, res), &first); err != nil || first.ID == "" {
		t.Fatalf("create: %v", err)
	}
	_, data := e.do("GET", "/v1/responses/"+first.ID+"/input_items?order=asc", "", keyA)
	var list struct{ Data []struct{ ID string } }
	if err := json.Unmarshal(data, &list); err != nil || len(list.Data) != 4 {
		t.Fatalf("input items: %s", data)
	}
	refs := ""
	for _, it := range list.Data {
		refs += `{"type":"item_reference","id":"` + it.ID + `"},`
	}
	res = async(func() []byte {
		resp, data := e.do("POST", "/v1/responses", `{"model":"scripted","input":[`+refs+`{"role":"user","content":"five"}]}`, keyA)
		if resp.StatusCode != 200 {
			t.Errorf("referring to input items: %d %s", resp.StatusCode, data)
		}
		return data
	})
	s = e.script()
	want := []llm.Message{
		{Role: llm.RoleUser, Content: "one"},
		{Role: llm.RoleAssistant, Content: "two", ToolCalls: []llm.ToolCall{{ID: "c1", Name: "f", Arguments: "{}"}}},
		{Role: llm.RoleTool, ToolCallID: "c1", Content: "four"},
		{Role: llm.RoleUser, Content: "five"},
	}
	if got := s.Request().Messages; !reflect.DeepEqual(got, want) {
		t.Errorf("the references reached the provider as\n%+v\nwant\n%+v", got, want)
	}
	s.Finish(llm.FinishStop, nil)
	wait(t, res)
	opened := e.prov.Opened()
	in0 := list.Data[0].ID // msg_<id>_in0
	for _, tc := range []struct{ key, id string }{
		{keyB, in0}, // tenant A's input item, asked by B
		{keyA, strings.Replace(in0, "_in0", "_in9", 1)},   // no such place
		{keyA, "fco_" + strings.TrimPrefix(in0, "msg_")},  // place 0 is a message, not an output
		{keyA, strings.Replace(in0, "_in0", "_in2_5", 1)}, // no such call
		{keyA, strings.Replace(in0, "_in0", "_in-1", 1)},  // not a place
	} {
		resp, data := e.do("POST", "/v1/responses", `{"model":"scripted","input":[{"type":"item_reference","id":"`+tc.id+`"}]}`, tc.key)
		wantError(t, resp, data, 404, TypeInvalidRequest, CodeNotFound, "input[0].id")
	}
	if e.prov.Opened() != opened {
		t.Fatal("a refused reference reached the provider")
	}
}

// TestContinuationWithoutResponseRetention: with ResponseRetention 0 a
// stored response follows the engine's Linger, but while it is there it
// keeps its input, so a continuation still carries the earlier turns.
func TestContinuationWithoutResponseRetention(t *testing.T) {
	e := newEnv(t, withConfig(func(c *Config) { c.ResponseRetention = 0 }))
	res := async(func() []byte {
		_, data := e.do("POST", "/v1/responses", `{"model":"scripted","input":"one"}`, keyA)
		return data
	})
	s := e.script()
	s.Token("two")
	s.Finish(llm.FinishStop, nil)
	var first struct{ ID string }
	if err := json.Unmarshal(wait(t, res), &first); err != nil || first.ID == "" {
		t.Fatalf("create: %v", err)
	}
	res = async(func() []byte {
		_, data := e.do("POST", "/v1/responses", `{"model":"scripted","input":"three","previous_response_id":"`+first.ID+`"}`, keyA)
		return data
	})
	s = e.script()
	want := []llm.Message{{Role: llm.RoleUser, Content: "one"}, {Role: llm.RoleAssistant, Content: "two"}, {Role: llm.RoleUser, Content: "three"}}
	if got := s.Request().Messages; !reflect.DeepEqual(got, want) {
		t.Errorf("the continuation reached the provider as\n%+v\nwant\n%+v", got, want)
	}
	s.Finish(llm.FinishStop, nil)
	wait(t, res)
}

// TestStoredInputCountsTowardTheByteBudget: a stored response's input
// counts toward the retention byte budget: three 4 KB inputs with
// two-byte answers overflow a 10 KB budget, and the oldest response
// answers not-found and cannot be continued; the newest is still there.
func TestStoredInputCountsTowardTheByteBudget(t *testing.T) {
	e := newEnv(t, withEngine(func(c *actors.Config) { c.MaxRetainedBytes = 10_000 }))
	big := strings.Repeat("x", 4<<10)
	run := func() string {
		res := async(func() []byte {
			_, data := e.do("POST", "/v1/responses", `{"model":"scripted","input":"`+big+`"}`, keyA)
			return data
		})
		s := e.script()
		s.Token("ok")
		s.Finish(llm.FinishStop, nil)
		var r struct{ ID string }
		_ = json.Unmarshal(wait(t, res), &r)
		return r.ID
	}
	first := run()
	run()
	last := run()
	resp, data := e.do("GET", "/v1/responses/"+first, "", keyA)
	wantError(t, resp, data, 404, TypeInvalidRequest, CodeNotFound, "")
	resp, data = e.do("POST", "/v1/responses", `{"model":"scripted","input":"more","previous_response_id":"`+first+`"}`, keyA)
	wantError(t, resp, data, 400, TypeInvalidRequest, CodePreviousNotFound, "previous_response_id")
	if resp, data := e.do("GET", "/v1/responses/"+last, "", keyA); resp.StatusCode != 200 {
		t.Fatalf("the newest response: %d %s", resp.StatusCode, data)
	}
	if st, _ := e.eng.Stats(e.ctx()); st.RetainedBytes > 10_000 || st.EvictedRead+st.EvictedUnread == 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestShareTurns: the leading turns of a conversation sent again in full
// become the messages of the referenced response whose conversation they
// repeat, the longest such, with function calls and tool turns, each
// side's instructions left aside; a rewritten turn ends the shared part.
func TestShareTurns(t *testing.T) {
	call := []llm.ToolCall{{ID: "c1", Name: "weather", Arguments: `{"city":"Oslo"}`}}
	stored := func(instructions string, msgs ...llm.Message) *respConv {
		conv := &respConv{input: msgs}
		if instructions != "" {
			conv.meta.instructions = &instructions
			conv.input = append([]llm.Message{{Role: llm.RoleSystem, Content: instructions}}, msgs...)
		}
		return conv
	}
	// Equal texts, other strings: what a request parses from its body.
	fresh := func(s string) string { return string([]byte(s)) }
	user1 := llm.Message{Role: llm.RoleUser, Content: "Weather in Oslo?"}
	asked := llm.Message{Role: llm.RoleAssistant, ToolCalls: call}
	answered := llm.Message{Role: llm.RoleTool, ToolCallID: "c1", Content: "-3 and snowing"}
	loaded := map[string]*respConv{
		"r1": stored("", user1),
		"r2": stored("Be brief.", user1, asked, answered),
	}
	msgs := []llm.Message{
		{Role: llm.RoleSystem, Content: "Answer in French."},
		{Role: llm.RoleUser, Content: fresh(user1.Content)},
		{Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{{ID: fresh("c1"), Name: "weather", Arguments: fresh(call[0].Arguments)}}},
		{Role: llm.RoleTool, ToolCallID: fresh("c1"), Content: fresh(answered.Content)},
		{Role: llm.RoleAssistant, Content: "Cold."},
		{Role: llm.RoleUser, Content: "And tomorrow?"},
	}
	want := slices.Clone(msgs)
	got := shareTurns(msgs, 1, loaded)
	if got != (actors.SharedInput{ID: "r2", From: 1, Count: 3}) {
		t.Fatalf("shared %+v; want r2's three turns after the instructions", got)
	}
	if !reflect.DeepEqual(msgs, want) {
		t.Fatalf("the conversation changed:\n%+v\nwant\n%+v", msgs, want)
	}
	base := loaded["r2"].input[1:]
	for i := range 3 {
		if unsafe.StringData(msgs[1+i].Content) != unsafe.StringData(base[i].Content) {
			t.Errorf("turn %d holds a copy of its text", i+1)
		}
	}
	if &msgs[2].ToolCalls[0] != &base[1].ToolCalls[0] {
		t.Error("the function call is a copy")
	}
	// A rewritten first turn shares nothing.
	msgs = []llm.Message{{Role: llm.RoleUser, Content: "Weather in Bergen?"}, asked}
	if got := shareTurns(msgs, 0, loaded); got.Count != 0 {
		t.Fatalf("shared %+v of a rewritten conversation", got)
	}
}
