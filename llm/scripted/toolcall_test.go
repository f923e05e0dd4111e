package scripted_test

import (
	"io"
	"reflect"
	"testing"
	"testing/synctest"
	"time"

	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/llm/scripted"
)

func TestPlayToolCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		steps := scripted.ToolCall(0, "call_1", "get_weather", 10*time.Millisecond, `{"city":`, `"Paris"}`)
		steps = append(steps, scripted.Step{Reasoning: "done thinking"},
			scripted.Step{Finish: llm.FinishToolCalls, Usage: &llm.Usage{CompletionTokens: 3}})
		p := scripted.Play(steps...)
		want := []llm.ToolCallDelta{
			{Index: 0, ID: "call_1", Name: "get_weather"},
			{Index: 0, Arguments: `{"city":`},
			{Index: 0, Arguments: `"Paris"}`},
		}
		for range 2 { // the second stream sees what the first did not change
			s, err := p.Stream(t.Context(), llm.Prompt("x"))
			if err != nil {
				t.Fatal(err)
			}
			got := consume(s)
			for i, d := range want {
				r := <-got
				at := time.Duration(i+1) * 10 * time.Millisecond
				if r.err != nil || r.chunk.Text != "" || !reflect.DeepEqual(r.chunk.ToolCalls, []llm.ToolCallDelta{d}) || r.at != at {
					t.Fatalf("Recv %d = %+v, want %+v at %v", i, r, d, at)
				}
				r.chunk.ToolCalls[0].Arguments = "changed"
			}
			if r := <-got; r.chunk.Reasoning != "done thinking" || r.chunk.FinishReason != llm.FinishNone {
				t.Fatalf("Recv = %+v, want the reasoning", r)
			}
			if r := <-got; r.chunk.FinishReason != llm.FinishToolCalls {
				t.Fatalf("Recv = %+v, want the finish", r)
			}
			if r := <-got; r.err != io.EOF {
				t.Fatalf("Recv = %+v, want io.EOF", r)
			}
			<-got
		}
	})
}

func TestScriptToolCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := scripted.New()
		got, sc := open(t, t.Context(), p, "hi")
		done := make(chan bool)
		go func() { done <- sc.ToolCall(1, "call_2", "f", `{}`) }()
		for i, d := range []llm.ToolCallDelta{{Index: 1, ID: "call_2", Name: "f"}, {Index: 1, Arguments: `{}`}} {
			if r := <-got; r.err != nil || !reflect.DeepEqual(r.chunk.ToolCalls, []llm.ToolCallDelta{d}) {
				t.Fatalf("Recv %d = %+v, want %+v", i, r, d)
			}
		}
		if !<-done {
			t.Fatal("ToolCall = false")
		}
		if !sc.Finish(llm.FinishToolCalls, nil) {
			t.Fatal("Finish = false")
		}
		if r := <-got; r.chunk.FinishReason != llm.FinishToolCalls {
			t.Fatalf("Recv = %+v, want the finish", r)
		}
		<-got
		<-got
		// An ended stream refuses the call at once.
		if sc.ToolCall(0, "call_3", "f", "{}") {
			t.Fatal("ToolCall after Finish = true")
		}
	})
}
