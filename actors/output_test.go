package actors

import (
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/model"
)

// plainProvider declares no capabilities: it honours only max_tokens.
type plainProvider struct{ llm.Provider }

func (plainProvider) Name() string { return "plain" }

func TestSubmitRefusesSettingsTheProviderCannotHonour(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, plainProvider{}, nil)
		defer h.close()
		temp := 0.0
		spec := prompt("p")
		spec.Settings.Temperature = &temp
		_, err := h.eng.Submit(h.ctx, owner, spec)
		var ue *llm.UnsupportedError
		if !errors.Is(err, ErrInvalidRequest) || !errors.As(err, &ue) || ue.Field != llm.FieldTemperature {
			t.Fatalf("Submit with temperature 0 = %v; want ErrInvalidRequest naming temperature", err)
		}
		if st, _ := h.eng.Stats(h.ctx); st.Active+st.Queued != 0 {
			t.Fatalf("a refused submit left a request: %+v", st)
		}
	})
}

func TestSubmitPassesSettingsAndCopiesThem(t *testing.T) {
	scenario(t, nil, func(h *harness) {
		seed := int64(7)
		spec := prompt("p")
		spec.Settings = llm.Settings{Seed: &seed, Stop: []string{"x"}, Tools: []llm.Tool{{Name: "f"}}}
		h.submit(spec)
		spec.Settings.Stop[0], spec.Settings.Tools[0].Name = "changed", "changed"
		got := h.script().Request().Settings
		if got.Seed == nil || *got.Seed != 7 || got.Stop[0] != "x" || got.Tools[0].Name != "f" {
			t.Fatalf("provider got settings %+v", got)
		}
	})
}

// TestToolCallsReasoningAndLogprobsAreRecords: every kind of output is a
// record in the log, in the order the provider produced it, and a resume
// from inside a tool call's arguments continues with the same records.
func TestToolCallsReasoningAndLogprobsAreRecords(t *testing.T) {
	scenario(t, nil, func(h *harness) {
		snap := h.submit(prompt("p"))
		sub := h.subscribe(snap.ID, 0)
		s := h.script()
		s.Chunk(llm.Chunk{Reasoning: "hmm"})
		s.Chunk(llm.Chunk{Text: "ok", Logprobs: []llm.TokenLogprob{{Token: "ok", Logprob: -0.1, Top: []llm.TopLogprob{{Token: "no", Logprob: -2}}}}})
		s.Chunk(llm.Chunk{ToolCalls: []llm.ToolCallDelta{{Index: 0, ID: "call_1", Name: "get"}, {Index: 0, Arguments: `{"a":`}}})
		s.Chunk(llm.Chunk{ToolCalls: []llm.ToolCallDelta{{Index: 0, Arguments: `1}`}}})
		s.Finish(llm.FinishToolCalls, nil)
		recs := h.readAll(sub)
		var got []string
		for _, r := range recs[2:] {
			got = append(got, r.String())
		}
		want := []string{
			`#3 reasoning "hmm"`, `#4 token "ok"`, `#5 tool_call 0 get ""`, `#6 tool_call 0  "{\"a\":"`,
			`#7 tool_call 0  "1}"`, "#8 end done/completed/tool_calls tokens=1",
		}
		if len(got) != len(want) {
			t.Fatalf("records = %q\nwant %q", got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("record %d = %q; want %q", i, got[i], want[i])
			}
		}
		if lp := recs[3].Logprobs; lp == nil || len(lp.Content) != 1 || lp.Content[0].Top[0].Token != "no" {
			t.Fatalf("token logprobs = %+v", lp)
		}
		resumed := h.readAll(h.subscribe(snap.ID, 5))
		if resumed[0].Seq != 6 || resumed[0].ToolCall.Arguments != `{"a":` || resumed[1].ToolCall.Arguments != "1}" {
			t.Fatalf("resume after seq 5 = %v", resumed)
		}
	})
}

// TestUpstreamStatusReachesTheEnd: an upstream refusal keeps its status,
// code and Retry-After, and the end's message is the upstream's own.
func TestUpstreamStatusReachesTheEnd(t *testing.T) {
	scenario(t, nil, func(h *harness) {
		snap := h.submit(prompt("p"))
		sub := h.subscribe(snap.ID, 0)
		s := h.script()
		s.Fail(fmt.Errorf("resilient: openai: %w", &llm.StatusError{StatusCode: 429, Message: "slow down", Type: "requests", Code: "rate_limit_exceeded", RetryAfter: 3 * time.Second}))
		end := wantEnd(t, h.readAll(sub), model.StateDone, model.StatusFailed, model.ReasonUpstreamError)
		if end.Message != "slow down" {
			t.Errorf("end message = %q; want the upstream's own", end.Message)
		}
		want := model.UpstreamError{Status: 429, Type: "requests", Code: "rate_limit_exceeded", RetryAfter: 3 * time.Second, BeforeOutput: true}
		if end.Upstream == nil || *end.Upstream != want {
			t.Fatalf("end upstream = %+v; want %+v", end.Upstream, want)
		}
	})
}

func TestStreamErrorAfterOutputIsNotBeforeOutput(t *testing.T) {
	scenario(t, nil, func(h *harness) {
		snap := h.submit(prompt("p"))
		sub := h.subscribe(snap.ID, 0)
		s := h.script()
		s.Token("a")
		synctest.Wait()
		s.Fail(&llm.StreamError{Type: "server_error", Message: "boom"})
		end := wantEnd(t, h.readAll(sub), model.StateDone, model.StatusFailed, model.ReasonUpstreamError)
		if end.Upstream == nil || end.Upstream.Type != "server_error" || end.Upstream.BeforeOutput || end.Message != "boom" {
			t.Fatalf("end = %+v upstream %+v", end, end.Upstream)
		}
	})
}

// TestInboxKeepsTheOrder: plain text stays a bare string until the first
// other part; everything after that part queues behind it.
func TestInboxKeepsTheOrder(t *testing.T) {
	var in inbox
	in.pushText("a")
	in.push(model.Part{Kind: model.KindReasoning, Text: "r"})
	in.pushText("b")
	texts, parts, _ := in.take(nil, nil)
	if len(texts) != 1 || texts[0] != "a" || len(parts) != 2 || parts[0].Text != "r" || parts[1].Kind != model.KindToken || parts[1].Text != "b" {
		t.Fatalf("take = %q, %+v", texts, parts)
	}
	in.pushText("c")
	if texts, parts, _ = in.take(nil, nil); len(texts) != 1 || texts[0] != "c" || len(parts) != 0 {
		t.Fatalf("after a take, text is plain again: %q, %+v", texts, parts)
	}
}
