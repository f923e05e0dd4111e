package openaiapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/armistice-go/armistice/model"
)

// logOf builds a request log: pending, then (when admitted) streaming
// and the tokens, then the end.
func logOf(admitted bool, tokens []string, end model.End) []model.Record {
	recs := []model.Record{{Seq: 1, Kind: model.KindState, State: model.StatePending}}
	add := func(r model.Record) {
		r.Seq = uint64(len(recs) + 1)
		recs = append(recs, r)
	}
	if admitted {
		add(model.Record{Kind: model.KindState, State: model.StateStreaming})
		for _, t := range tokens {
			add(model.Record{Kind: model.KindToken, Text: t})
		}
	}
	end.Tokens = len(tokens)
	if !admitted {
		end.Tokens = 0
	}
	add(model.Record{Kind: model.KindEnd, End: &end})
	return recs
}

var (
	endStop      = model.End{State: model.StateDone, Status: model.StatusCompleted, Reason: model.ReasonStop, Usage: &model.Usage{PromptTokens: 5, CompletionTokens: 3}}
	endLength    = model.End{State: model.StateDone, Status: model.StatusCompleted, Reason: model.ReasonLength}
	endFilter    = model.End{State: model.StateDone, Status: model.StatusCompleted, Reason: model.ReasonContentFilter}
	endCancel    = model.End{State: model.StateCancelled, Status: model.StatusCancelled, Reason: model.ReasonClientCancel}
	endUpstream  = model.End{State: model.StateDone, Status: model.StatusFailed, Reason: model.ReasonUpstreamError, Message: "upstream: reset"}
	endQueueTime = model.End{State: model.StateDone, Status: model.StatusFailed, Reason: model.ReasonQueueTimeout}
)

var endToolCalls = model.End{State: model.StateDone, Status: model.StatusCompleted, Reason: model.ReasonToolCalls}

// toolLog is a log with reasoning, text with logprobs and two tool calls
// whose arguments come in pieces.
func toolLog(end model.End) []model.Record {
	recs := []model.Record{{Kind: model.KindState, State: model.StatePending}, {Kind: model.KindState, State: model.StateStreaming},
		{Kind: model.KindReasoning, Text: "think"}, {Kind: model.KindReasoning, Text: "ing"},
		{Kind: model.KindToken, Text: "Let me look.", Logprobs: &model.TokenLogprobs{Content: []model.Logprob{{Token: "Let", Logprob: -0.5, Top: []model.TopLogprob{{Token: "Let", Logprob: -0.5}}}}}},
		{Kind: model.KindToolCall, ToolCall: &model.ToolCallDelta{Index: 0, ID: "call_a", Name: "weather", Arguments: `{"ci`}},
		{Kind: model.KindToolCall, ToolCall: &model.ToolCallDelta{Index: 0, Arguments: `ty":"Oslo"}`}},
		{Kind: model.KindToolCall, ToolCall: &model.ToolCallDelta{Index: 1, Name: "time"}},
		{Kind: model.KindToolCall, ToolCall: &model.ToolCallDelta{Index: 1, Arguments: `{}`}},
		{Kind: model.KindEnd, End: &end}}
	for i := range recs {
		recs[i].Seq = uint64(i + 1)
	}
	return recs
}

var testMeta = respMeta{id: "r1", model: "m", createdAt: 1700000000, background: true, store: true, metadata: map[string]string{}}

// sseEvent is one parsed Responses event.
type sseEvent struct {
	typ  string
	seq  int64
	raw  string // the whole event, blank line included
	data map[string]any
}

func parseEvents(t *testing.T, b []byte) []sseEvent {
	t.Helper()
	var out []sseEvent
	for _, block := range strings.SplitAfter(string(b), "\n\n") {
		if block == "" {
			continue
		}
		lines := strings.Split(strings.TrimSuffix(block, "\n\n"), "\n")
		if len(lines) != 2 || !strings.HasPrefix(lines[0], "event: ") || !strings.HasPrefix(lines[1], "data: ") {
			t.Fatalf("malformed event %q", block)
		}
		ev := sseEvent{typ: strings.TrimPrefix(lines[0], "event: "), raw: block}
		if err := json.Unmarshal([]byte(strings.TrimPrefix(lines[1], "data: ")), &ev.data); err != nil {
			t.Fatalf("event data %q: %v", lines[1], err)
		}
		if ev.data["type"] != ev.typ {
			t.Fatalf("event %s carries type %v", ev.typ, ev.data["type"])
		}
		ev.seq = int64(ev.data["sequence_number"].(float64))
		out = append(out, ev)
	}
	return out
}

// The stream is a pure function of the log: however the records are
// batched, and wherever a resume starts, the events and their numbers
// are the same, with no gap, no duplicate and exactly one terminal event.
func TestResponseEventsArePureFunctionOfTheLog(t *testing.T) {
	logs := map[string][]model.Record{
		"completed":       logOf(true, []string{"a", "b\n", "<c>"}, endStop),
		"no tokens":       logOf(true, nil, endStop),
		"length":          logOf(true, []string{"a", "b"}, endLength),
		"content filter":  logOf(true, []string{"a"}, endFilter),
		"cancelled":       logOf(true, []string{"a"}, endCancel),
		"failed":          logOf(true, []string{"a"}, endUpstream),
		"cancelled early": logOf(false, nil, endCancel),
		"tool calls":      toolLog(endToolCalls),
		"tool calls cut":  toolLog(endUpstream),
		"queue timeout":   logOf(false, nil, endQueueTime),
	}
	for name, log := range logs {
		t.Run(name, func(t *testing.T) {
			full := newRespConv(testMeta, -1).append(nil, log)
			evs := parseEvents(t, full)
			terminals := 0
			for i, ev := range evs {
				if ev.seq != int64(i) {
					t.Fatalf("event %d is numbered %d", i, ev.seq)
				}
				if isTerminal(ev.typ) {
					terminals++
				}
			}
			if terminals != 1 || !isTerminal(evs[len(evs)-1].typ) {
				t.Fatalf("terminal events: %d, last %s", terminals, evs[len(evs)-1].typ)
			}
			// One record at a time gives the same bytes.
			c := newRespConv(testMeta, -1)
			var one []byte
			for _, r := range log {
				one = c.append(one, []model.Record{r})
			}
			if !bytes.Equal(one, full) {
				t.Fatal("record-by-record rendering differs")
			}
			// A resume after every possible point is the rest of the stream.
			for after := int64(-1); after <= int64(len(evs)); after++ {
				var want strings.Builder
				for _, ev := range evs {
					if ev.seq > after {
						want.WriteString(ev.raw)
					}
				}
				for split := range len(log) + 1 {
					c := newRespConv(testMeta, after)
					got := c.append(nil, log[:split])
					got = c.append(got, log[split:])
					if string(got) != want.String() {
						t.Fatalf("after=%d split=%d:\n%s\nwant:\n%s", after, split, got, want.String())
					}
				}
			}
		})
	}
}

func TestTerminalMapping(t *testing.T) {
	for _, tc := range []struct {
		end                                   model.End
		event, status, itemStatus, incomplete string
		errCode                               string
	}{
		{endStop, "response.completed", "completed", "completed", "", ""},
		{endLength, "response.incomplete", "incomplete", "incomplete", "max_output_tokens", ""},
		{endFilter, "response.incomplete", "incomplete", "incomplete", "content_filter", ""},
		{endCancel, "response.failed", "cancelled", "incomplete", "", ""},
		{model.End{State: model.StateCancelled, Status: model.StatusCancelled, Reason: model.ReasonClientDisconnected}, "response.failed", "cancelled", "incomplete", "", ""},
		{endUpstream, "response.failed", "failed", "incomplete", "", "upstream_error"},
		{model.End{State: model.StateDone, Status: model.StatusFailed, Reason: model.ReasonShutdown}, "response.failed", "failed", "incomplete", "", "shutdown"},
	} {
		t.Run(fmt.Sprintf("%s/%s", tc.end.Status, tc.end.Reason), func(t *testing.T) {
			evs := parseEvents(t, newRespConv(testMeta, -1).append(nil, logOf(true, []string{"x"}, tc.end)))
			last := evs[len(evs)-1]
			resp := last.data["response"].(map[string]any)
			item := resp["output"].([]any)[0].(map[string]any)
			if last.typ != tc.event || resp["status"] != tc.status || item["status"] != tc.itemStatus {
				t.Fatalf("got %s status=%v item=%v", last.typ, resp["status"], item["status"])
			}
			inc, _ := resp["incomplete_details"].(map[string]any)
			if (tc.incomplete == "") != (inc == nil) || (inc != nil && inc["reason"] != tc.incomplete) {
				t.Fatalf("incomplete_details = %v", resp["incomplete_details"])
			}
			e, _ := resp["error"].(map[string]any)
			if (tc.errCode == "") != (e == nil) || (e != nil && (e["code"] != tc.errCode || e["message"] == "")) {
				t.Fatalf("error = %v", resp["error"])
			}
			if resp["usage"] == nil {
				t.Fatal("no usage in the terminal response")
			}
		})
	}
}

func TestUsageFallsBackToTokenRecords(t *testing.T) {
	c := silentConv(testMeta)
	c.apply(logOf(true, []string{"a", "b", "c"}, endLength))
	if u := c.response().Usage; u.InputTokens != 0 || u.OutputTokens != 3 || u.TotalTokens != 3 {
		t.Fatalf("usage = %+v", u)
	}
	c = silentConv(testMeta)
	c.apply(logOf(true, []string{"a"}, endStop))
	if u := c.response().Usage; u.InputTokens != 5 || u.OutputTokens != 3 || u.TotalTokens != 8 {
		t.Fatalf("usage = %+v", u)
	}
}

func TestChatChunks(t *testing.T) {
	for _, tc := range []struct {
		name  string
		log   []model.Record
		usage bool
		want  []string // the kinds of data lines
	}{
		{"completed", logOf(true, []string{"a", "b"}, endStop), false, []string{"role", "content", "content", "finish:stop", "[DONE]"}},
		{"usage", logOf(true, []string{"a"}, endStop), true, []string{"role", "content", "finish:stop", "usage", "[DONE]"}},
		{"length", logOf(true, nil, endLength), false, []string{"role", "finish:length", "[DONE]"}},
		{"content filter", logOf(true, []string{"a"}, endFilter), true, []string{"role", "content", "finish:content_filter", "usage", "[DONE]"}},
		{"failed", logOf(true, []string{"a"}, endUpstream), true, []string{"role", "content", "error:upstream_error"}},
		{"cancelled", logOf(true, []string{"a"}, endCancel), false, []string{"role", "content", "error:client_cancel"}},
		{"failed while queued", logOf(false, nil, endQueueTime), false, []string{"error:queue_timeout"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := newChatConv("c1", 1, "m", tc.usage).append(nil, tc.log)
			var got []string
			for _, block := range strings.SplitAfter(string(out), "\n\n") {
				if block == "" {
					continue
				}
				data, ok := strings.CutPrefix(strings.TrimSuffix(block, "\n\n"), "data: ")
				if !ok || strings.Contains(data, "\n") {
					t.Fatalf("malformed %q", block)
				}
				if data == "[DONE]" {
					got = append(got, data)
					continue
				}
				var v struct {
					Choices []struct {
						Delta struct {
							Role    *string `json:"role"`
							Content *string `json:"content"`
						} `json:"delta"`
						FinishReason *string `json:"finish_reason"`
					} `json:"choices"`
					Usage *chatUsageJSON `json:"usage"`
					Error *errorFields   `json:"error"`
				}
				if err := json.Unmarshal([]byte(data), &v); err != nil {
					t.Fatalf("%q: %v", data, err)
				}
				if strings.Contains(data, `"usage"`) != tc.usage && v.Error == nil {
					t.Fatalf("usage field present=%v in %s", !tc.usage, data)
				}
				switch {
				case v.Error != nil:
					got = append(got, "error:"+*v.Error.Code)
				case len(v.Choices) == 0 && v.Usage != nil:
					got = append(got, "usage")
				case v.Choices[0].FinishReason != nil:
					got = append(got, "finish:"+*v.Choices[0].FinishReason)
				case v.Choices[0].Delta.Role != nil:
					got = append(got, "role")
				default:
					got = append(got, "content")
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", "\"quoted\" \\ back", "\n\r\t\b\f\x00\x1f", "<&>", "\u2028\u2029", "\xff\xfe bad", "日本語", "a\u00e9\U0001F600"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := appendJSONString(nil, s)
		want := appendJSON(nil, s)
		if !bytes.Equal(got, want) {
			t.Fatalf("appendJSONString(%q) = %s, encoding/json says %s", s, got, want)
		}
	})
}

func TestResponseEventsOfToolCallsAndReasoning(t *testing.T) {
	c := newRespConv(testMeta, -1)
	evs := parseEvents(t, c.append(nil, toolLog(endToolCalls)))
	want := "created queued in_progress " +
		"output_item.added content_part.added reasoning_text.delta reasoning_text.delta reasoning_text.done content_part.done output_item.done " +
		"output_item.added content_part.added output_text.delta output_text.done content_part.done output_item.done " +
		"output_item.added function_call_arguments.delta function_call_arguments.delta function_call_arguments.done output_item.done " +
		"output_item.added function_call_arguments.delta function_call_arguments.done output_item.done completed"
	var got []string
	for _, ev := range evs {
		got = append(got, strings.TrimPrefix(ev.typ, "response."))
	}
	if strings.Join(got, " ") != want {
		t.Fatalf("events:\n%s\nwant:\n%s", strings.Join(got, " "), want)
	}
	added := evs[16].data["item"].(map[string]any)
	if added["type"] != "function_call" || added["id"] != "fc_r1_0" || added["call_id"] != "call_a" || added["name"] != "weather" || added["arguments"] != "" {
		t.Fatalf("function call added: %v", added)
	}
	if d := evs[19].data; d["arguments"] != `{"city":"Oslo"}` || d["name"] != "weather" || d["output_index"] != 2.0 {
		t.Fatalf("arguments done: %v", d)
	}
	if d := evs[12].data; d["logprobs"].([]any)[0].(map[string]any)["token"] != "Let" {
		t.Fatalf("text delta logprobs: %v", d)
	}
	out := c.response().Output
	if len(out) != 4 || c.response().Status != "completed" {
		t.Fatalf("output: %+v", out)
	}
	second := out[3].(functionCallItemJSON)
	if second.CallID != "call_r1_1" || second.Name != "time" || second.Arguments != "{}" || second.Status != "completed" {
		t.Fatalf("second call: %+v", second)
	}
	if r := out[0].(reasoningItemJSON); r.Content[0].Text != "thinking" || r.ID != "rs_r1" {
		t.Fatalf("reasoning: %+v", r)
	}
}

func TestChatChunksOfToolCallsAndReasoning(t *testing.T) {
	c := newChatConv("c1", 1, "m", false)
	out := c.append(nil, toolLog(endToolCalls))
	var lines []string
	for _, block := range strings.SplitAfter(string(out), "\n\n") {
		if block != "" {
			data, _ := strings.CutPrefix(strings.TrimSuffix(block, "\n\n"), "data: ")
			lines = append(lines, data)
		}
	}
	choice := func(i int) string {
		var v struct {
			Choices []json.RawMessage `json:"choices"`
		}
		if err := json.Unmarshal([]byte(lines[i]), &v); err != nil || len(v.Choices) != 1 {
			t.Fatalf("chunk %d: %s", i, lines[i])
		}
		return string(v.Choices[0])
	}
	want := []string{
		`{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}`,
		`{"index":0,"delta":{"reasoning_content":"think"},"logprobs":null,"finish_reason":null}`,
		`{"index":0,"delta":{"reasoning_content":"ing"},"logprobs":null,"finish_reason":null}`,
		`{"index":0,"delta":{"content":"Let me look."},"logprobs":{"content":[{"token":"Let","logprob":-0.5,"top_logprobs":[{"token":"Let","logprob":-0.5}]}],"refusal":null},"finish_reason":null}`,
		`{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"weather","arguments":""}}]},"logprobs":null,"finish_reason":null}`,
		`{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"ci"}}]},"logprobs":null,"finish_reason":null}`,
		`{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"ty\":\"Oslo\"}"}}]},"logprobs":null,"finish_reason":null}`,
		`{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_c1_1","type":"function","function":{"name":"time","arguments":""}}]},"logprobs":null,"finish_reason":null}`,
		`{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"{}"}}]},"logprobs":null,"finish_reason":null}`,
		`{"index":0,"delta":{},"logprobs":null,"finish_reason":"tool_calls"}`,
	}
	if len(lines) != len(want)+1 || lines[len(lines)-1] != "[DONE]" {
		t.Fatalf("got %d chunks:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	for i, w := range want {
		if got := choice(i); got != w {
			t.Fatalf("chunk %d:\n%s\nwant\n%s", i, got, w)
		}
	}
	msg, lp := c.message()
	if msg.Content == nil || *msg.Content != "Let me look." || msg.ReasoningContent != "thinking" || len(msg.ToolCalls) != 2 ||
		msg.ToolCalls[0].Function.Arguments != `{"city":"Oslo"}` || msg.ToolCalls[1].ID != "call_c1_1" || lp == nil || len(lp.Content) != 1 {
		t.Fatalf("message %+v logprobs %+v", msg, lp)
	}
}
