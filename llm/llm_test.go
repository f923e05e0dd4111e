package llm

import "testing"

func TestPromptAndText(t *testing.T) {
	r := Prompt("hello")
	if len(r.Messages) != 1 || r.Messages[0].Role != RoleUser || r.Messages[0].Content != "hello" {
		t.Fatalf("Prompt = %+v", r)
	}
	r.Messages = append([]Message{{Role: RoleSystem, Content: "be brief"}}, r.Messages...)
	if got, want := r.Text(), "system: be brief\nuser: hello"; got != want {
		t.Fatalf("Text = %q, want %q", got, want)
	}
	if got := (Request{}).Text(); got != "" {
		t.Fatalf("empty Text = %q", got)
	}
}

func TestUsageTotal(t *testing.T) {
	if got := (Usage{PromptTokens: 3, CompletionTokens: 4}).Total(); got != 7 {
		t.Fatalf("Total = %d", got)
	}
}
