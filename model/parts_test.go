package model

import (
	"reflect"
	"testing"
	"time"
)

func tool(index int, id, name, args string) *ToolCallDelta {
	return &ToolCallDelta{Index: index, ID: id, Name: name, Arguments: args}
}

// TestStepParts covers output other than plain text: reasoning, tool calls
// and tokens with log probabilities, in the order they came.
func TestStepParts(t *testing.T) {
	capped := givenStreaming().with(func(l *Limits) { l.MaxOutputBytes = 12 })
	runStepCases(t, []stepCase{
		{
			name:  "reasoning, text and tool calls keep their order after Texts",
			given: givenStreaming(),
			when: Tokens{Texts: []string{"a"}, Parts: []Part{
				{Kind: KindReasoning, Text: "think"},
				{Kind: KindToken, Text: "b"},
				{Kind: KindToolCall, ToolCall: tool(0, "call_1", "get", "")},
				{Kind: KindToolCall, ToolCall: tool(0, "", "", `{"x":1}`)},
			}, At: at(5)},
			wantState: StateStreaming,
			wantEffects: `append[#3 token "a", #4 reasoning "think", #5 token "b", #6 tool_call 0 get "", ` +
				`#7 tool_call 0  "{\"x\":1}"] arm(idle,g1,30s)`,
			check: func(t *testing.T, l Lifecycle) {
				if l.Tokens != 2 || l.Outputs != 5 || l.LastSeq != 7 {
					t.Errorf("Tokens, Outputs, LastSeq = %d, %d, %d; want 2, 5, 7", l.Tokens, l.Outputs, l.LastSeq)
				}
				if want := len("a") + len("think") + len("b") + len("call_1get") + len(`{"x":1}`); l.OutputBytes != want {
					t.Errorf("OutputBytes = %d; want %d", l.OutputBytes, want)
				}
			},
		},
		{
			name:  "empty parts and parts of other kinds are skipped",
			given: givenStreaming(),
			when: Tokens{Parts: []Part{
				{Kind: KindToken}, {Kind: KindReasoning}, {Kind: KindToolCall}, {Kind: KindToolCall, ToolCall: tool(1, "", "", "")},
				{Kind: KindEnd, Text: "x"}, {Kind: KindState, Text: "x"},
			}, At: at(5)},
			wantState: StateStreaming, same: true,
		},
		{
			name:        "a first tool call stops the first-token timer like a token",
			given:       givenStreaming(),
			when:        Tokens{Parts: []Part{{Kind: KindToolCall, ToolCall: tool(0, "c", "f", "{}")}}, At: at(5)},
			wantState:   StateStreaming,
			wantEffects: `append[#3 tool_call 0 f "{}"] arm(idle,g1,30s)`,
			check:       wantTimer(TimerFirstToken, 2, false),
		},
		{
			name:      "reasoning counts toward MaxOutputBytes",
			given:     capped,
			when:      Tokens{Parts: []Part{{Kind: KindReasoning, Text: "0123456789"}, {Kind: KindToken, Text: "abc"}}, At: at(5)},
			wantState: StateDone, wantStatus: StatusFailed, wantReason: ReasonOutputTooLarge,
			wantEffects: `append[#3 reasoning "0123456789", #4 end done/failed/output_too_large tokens=0 msg="output exceeds 12 bytes"] stop ` +
				`finished(done/failed/output_too_large tokens=0 msg="output exceeds 12 bytes") ` + pickupArm,
		},
		{
			name:      "a tool call finish completes with tool_calls",
			given:     givenStreaming().then(Tokens{Parts: []Part{{Kind: KindToolCall, ToolCall: tool(0, "c", "f", "{}")}}, At: at(2)}),
			when:      Finish{Reason: ReasonToolCalls, At: at(3)},
			wantState: StateDone, wantStatus: StatusCompleted, wantReason: ReasonToolCalls,
			wantEffects: "append[#4 end done/completed/tool_calls tokens=0] stop finished(done/completed/tool_calls tokens=0) " + pickupArm,
		},
	})
}

func TestStepTokensKeepLogprobs(t *testing.T) {
	lp := &TokenLogprobs{Content: []Logprob{{Token: "b", Logprob: -0.5, Top: []TopLogprob{{Token: "c", Logprob: -1}}}}}
	_, effects := Step(givenStreaming().build(), Tokens{Parts: []Part{{Kind: KindToken, Text: "b", Logprobs: lp}}, At: at(5)})
	app, ok := effects[0].(Append)
	if !ok || len(app.Records) != 1 || app.Records[0].Logprobs != lp {
		t.Fatalf("effects = %+v; want one token record with its logprobs", effects)
	}
}

// TestStepFailKeepsUpstream: the upstream's status and code reach the end
// record and the lifecycle, and the event's value is copied.
func TestStepFailKeepsUpstream(t *testing.T) {
	up := &UpstreamError{Status: 429, Type: "rate_limit_error", Code: "rate_limit_exceeded", RetryAfter: 2 * time.Second, BeforeOutput: true}
	l, effects := Step(givenStreaming().build(), Fail{Reason: ReasonUpstreamError, Message: "slow down", Upstream: up, At: at(5)})
	up.Status = 500
	if l.Upstream == nil || l.Upstream.Status != 429 {
		t.Fatalf("Lifecycle.Upstream = %+v; want a copy with status 429", l.Upstream)
	}
	end := effects[0].(Append).Records[0].End
	if end.Upstream == nil || end.Upstream.Code != "rate_limit_exceeded" || end.Upstream.RetryAfter != 2*time.Second || !end.Upstream.BeforeOutput {
		t.Fatalf("End.Upstream = %+v", end.Upstream)
	}
	// A later failure does not replace the first end's details.
	l2, _ := Step(l, Fail{Reason: ReasonUpstreamError, Upstream: &UpstreamError{Status: 500}, At: at(6)})
	if l2.Upstream.Status != 429 {
		t.Fatalf("a failure after the end changed Upstream to %+v", l2.Upstream)
	}
}

// A Tokens event's Into, when it has room, is where the step builds the
// records it appends (the request's log lends the free end of its last
// chunk); without room the step makes its own, and Into's contents are
// never read.
func TestTokensBuildTheirRecordsInInto(t *testing.T) {
	life := Lifecycle{State: StateStreaming, Outputs: 1, Tokens: 1, LastSeq: 4}
	at := time.Unix(1, 0)
	into := make([]Record, 1, 4)
	into[0] = Record{Seq: 99, Text: "stale"}
	_, effects := Step(life, Tokens{Texts: []string{"a", "b"}, At: at, Into: into[1:1]})
	recs := appended(t, effects)
	if len(recs) != 2 || recs[0].Seq != 5 || recs[1].Text != "b" {
		t.Fatalf("records %+v", recs)
	}
	if &recs[0] != &into[:2][1] {
		t.Errorf("the records were not built in Into")
	}
	_, effects = Step(life, Tokens{Texts: []string{"a", "b"}, At: at, Into: into[3:3]}) // room for one
	if recs := appended(t, effects); len(recs) != 2 || recs[0].Seq != 5 || &recs[0] == &into[:4][3] {
		t.Errorf("without room for both: records %+v, want them built elsewhere", recs)
	}
	if into[0].Seq != 99 {
		t.Errorf("Into's contents before its length were touched: %+v", into[0])
	}
}

// appended is the records of effects' Append.
func appended(t *testing.T, effects []Effect) []Record {
	t.Helper()
	for _, e := range effects {
		if a, ok := e.(Append); ok {
			return a.Records
		}
	}
	t.Fatalf("no Append in %v", effects)
	return nil
}

// StepTokens is Step for a Tokens event with the appended records apart:
// the same lifecycle, and Step's effects are Append{records} (when there
// are records) followed by StepTokens's effects, in every case a token
// step meets.
func TestStepTokensIsStepWithTheRecordsApart(t *testing.T) {
	capped := givenStreaming().with(func(l *Limits) { l.MaxOutputBytes = 3 })
	cases := []struct {
		name  string
		given setup
		ev    Tokens
	}{
		{"first token arms the idle timer", givenStreaming(), Tokens{Texts: []string{"a"}, At: at(2)}},
		{"a later token", givenStreamingWithToken(), Tokens{Texts: []string{"b", "c"}, At: at(3)}},
		{"parts", givenStreamingWithToken(), Tokens{Parts: []Part{{Kind: KindReasoning, Text: "r"}, {Kind: KindToolCall, ToolCall: tool(0, "id", "f", "{}")}}, At: at(3)}},
		{"nothing but empty pieces", givenStreamingWithToken(), Tokens{Texts: []string{""}, Parts: []Part{{Kind: KindToken}}, At: at(3)}},
		{"too large", capped, Tokens{Texts: []string{"ab", "cd"}, At: at(2)}},
		{"late, after the end", givenDone(), Tokens{Texts: []string{"z"}, At: at(4)}},
		{"before admission", givenPending(), Tokens{Texts: []string{"z"}, At: at(1)}},
		{"built in Into", givenStreamingWithToken(), Tokens{Texts: []string{"b"}, At: at(3), Into: make([]Record, 0, 4)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			life := tc.given.build()
			wantLife, wantEffects := Step(life, tc.ev)
			gotLife, records, effects := StepTokens(life, tc.ev)
			if len(records) > 0 {
				effects = append([]Effect{Append{Records: records}}, effects...)
			}
			if !reflect.DeepEqual(gotLife, wantLife) {
				t.Errorf("lifecycle\n got %+v\nwant %+v", gotLife, wantLife)
			}
			if !reflect.DeepEqual(effects, wantEffects) {
				t.Errorf("effects\n got %v\nwant %v", effects, wantEffects)
			}
		})
	}
}

// A paced token's step allocates nothing when the log lends it room: its
// record is built in Into and it has no other effect. Returned as
// Step's effects, the Append and its slice were two allocations a token.
func TestAPacedTokensStepAllocatesNothing(t *testing.T) {
	life := givenStreamingWithToken().build()
	into := make([]Record, 0, 4)
	texts := []string{"b"}
	allocs := testing.AllocsPerRun(100, func() {
		l, records, effects := StepTokens(life, Tokens{Texts: texts, At: at(3), Into: into})
		if len(records) != 1 || len(effects) != 0 || l.LastSeq != life.LastSeq+1 {
			t.Fatalf("records %v, effects %v", records, effects)
		}
	})
	if allocs != 0 {
		t.Errorf("a paced token's step allocates %.0f times, want 0", allocs)
	}
}
