package embedded_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"testing"

	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/llm/embedded"
)

func ptr[T any](v T) *T { return &v }

// answer is everything one stream said.
type answer struct {
	chunks []string // text chunks
	text   string
	calls  []llm.ToolCallDelta
	final  llm.Chunk
}

// collect reads a stream to its end; it fails the test on any error but
// io.EOF and on anything after the finish chunk.
func collect(t testing.TB, p *embedded.Provider, req llm.Request) answer {
	t.Helper()
	s, err := p.Stream(context.Background(), req)
	if err != nil {
		t.Fatalf("Stream: %v", err)
	}
	defer s.Close()
	var a answer
	for {
		c, err := s.Recv()
		if err == io.EOF {
			if a.final.FinishReason == llm.FinishNone {
				t.Fatal("io.EOF without a finish chunk")
			}
			a.text = strings.Join(a.chunks, "")
			return a
		}
		if err != nil {
			t.Fatalf("Recv: %v", err)
		}
		if a.final.FinishReason != llm.FinishNone {
			t.Fatalf("chunk %+v after the finish chunk", c)
		}
		if c.Text != "" {
			a.chunks = append(a.chunks, c.Text)
		}
		a.calls = append(a.calls, c.ToolCalls...)
		if c.FinishReason != llm.FinishNone {
			a.final = c
		}
	}
}

func TestCapabilities(t *testing.T) {
	p := unpaced(t, 8)
	caps := llm.CapabilitiesOf(p)
	for _, f := range llm.AllFields {
		want := true
		switch f {
		case llm.FieldPresencePenalty, llm.FieldFrequencyPenalty, llm.FieldLogitBias,
			llm.FieldUser, llm.FieldServiceTier, llm.FieldReasoningEffort:
			want = false
		}
		if caps[f] != want {
			t.Errorf("Capabilities()[%s] = %v, want %v", f, caps[f], want)
		}
	}
}

func TestRefusedFields(t *testing.T) {
	p := unpaced(t, 8)
	for _, tc := range []struct {
		field llm.Field
		set   func(*llm.Settings)
	}{
		{llm.FieldPresencePenalty, func(s *llm.Settings) { s.PresencePenalty = ptr(0.5) }},
		{llm.FieldFrequencyPenalty, func(s *llm.Settings) { s.FrequencyPenalty = ptr(0.5) }},
		{llm.FieldLogitBias, func(s *llm.Settings) { s.LogitBias = map[string]float64{"42": 5} }},
		{llm.FieldUser, func(s *llm.Settings) { s.User = "alice" }},
		{llm.FieldServiceTier, func(s *llm.Settings) { s.ServiceTier = "flex" }},
		{llm.FieldReasoningEffort, func(s *llm.Settings) { s.ReasoningEffort = "low" }},
	} {
		t.Run(string(tc.field), func(t *testing.T) {
			req := llm.Prompt("hello")
			tc.set(&req.Settings)
			for name, err := range map[string]error{
				"Check": llm.Check(p, req),
				"Stream": func() error {
					_, err := p.Stream(context.Background(), req)
					return err
				}(),
			} {
				var ue *llm.UnsupportedError
				if !errors.As(err, &ue) || ue.Field != tc.field || ue.Provider != "embedded" {
					t.Fatalf("%s = %v, want *llm.UnsupportedError for %s", name, err, tc.field)
				}
			}
		})
	}
}

func TestInvalidSettings(t *testing.T) {
	p := unpaced(t, 8)
	for _, tc := range []struct {
		name string
		set  func(*llm.Settings)
	}{
		{"negative temperature", func(s *llm.Settings) { s.Temperature = ptr(-0.1) }},
		{"temperature above 2", func(s *llm.Settings) { s.Temperature = ptr(2.5) }},
		{"NaN temperature", func(s *llm.Settings) { s.Temperature = ptr(math.NaN()) }},
		{"top_p above 1", func(s *llm.Settings) { s.TopP = ptr(1.5) }},
		{"negative top_p", func(s *llm.Settings) { s.TopP = ptr(-1.0) }},
		{"top_k 0", func(s *llm.Settings) { s.TopK = ptr(0) }},
		{"top_logprobs above 20", func(s *llm.Settings) { s.Logprobs, s.TopLogprobs = true, ptr(21) }},
		{"negative top_logprobs", func(s *llm.Settings) { s.Logprobs, s.TopLogprobs = true, ptr(-1) }},
		{"five stops", func(s *llm.Settings) { s.Stop = []string{"a", "b", "c", "d", "e"} }},
		{"empty stop", func(s *llm.Settings) { s.Stop = []string{"a", ""} }},
		{"unsupported schema", func(s *llm.Settings) {
			s.ResponseFormat = &llm.ResponseFormat{Type: llm.FormatJSONSchema, Schema: json.RawMessage(`{"type":"string","pattern":"^a"}`)}
		}},
		{"unsupported tool schema", func(s *llm.Settings) {
			s.Tools = []llm.Tool{{Name: "f", Parameters: json.RawMessage(`{"type":"object","properties":{"x":{"not":{}}}}`)}}
			s.ToolChoice = &llm.ToolChoice{Mode: llm.ToolChoiceRequired}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := llm.Prompt("hello")
			tc.set(&req.Settings)
			// Refused at submit time (llm.Check), and by Stream.
			if err := llm.Check(p, req); !errors.Is(err, llm.ErrInvalidRequest) {
				t.Fatalf("Check = %v, want llm.ErrInvalidRequest", err)
			}
			if _, err := p.Stream(context.Background(), req); !errors.Is(err, llm.ErrInvalidRequest) {
				t.Fatalf("Stream = %v, want llm.ErrInvalidRequest", err)
			}
		})
	}
}

func TestSeed(t *testing.T) {
	p := unpaced(t, 32)
	req := llm.Prompt("Tell me about rabbits.")
	plain := collect(t, p, req).text
	seen := map[string]int64{}
	for _, seed := range []int64{0, 1, 2, 3, 42, -1, math.MaxInt64, math.MinInt64} {
		req.Settings.Seed = ptr(seed)
		a := collect(t, p, req).text
		if b := collect(t, p, req).text; a != b {
			t.Fatalf("seed %d: two answers\n%q\n%q", seed, a, b)
		}
		if a == plain {
			t.Errorf("seed %d: the answer without a seed", seed)
		}
		if other, dup := seen[a]; dup {
			t.Errorf("seeds %d and %d: the same answer %q", other, seed, a)
		}
		seen[a] = seed
	}
}

func TestStop(t *testing.T) {
	p := unpaced(t, 64)
	prompt := "Tell me about rabbits."
	base := collect(t, p, llm.Prompt(prompt))
	full := base.text
	tokens := base.chunks
	// Offsets of token k inside full.
	at := func(k int) int { return len(strings.Join(tokens[:k], "")) }
	spanning := full[at(3)+2 : at(6)-1] // from inside token 3 to inside token 5
	if strings.Index(full, spanning) != at(3)+2 {
		t.Fatalf("the spanning stop %q occurs earlier", spanning)
	}
	word := strings.TrimSpace(tokens[10])
	for _, tc := range []struct {
		name      string
		stop      []string
		maxTokens int
		want      string
		reason    llm.FinishReason
	}{
		{"spans tokens", []string{spanning}, 0, full[:at(3)+2], llm.FinishStop},
		{"one word", []string{word}, 0, full[:strings.Index(full, word)], llm.FinishStop},
		{"at the start", []string{full[:3]}, 0, "", llm.FinishStop},
		{"the earliest of several", []string{"zzz", spanning, full[at(1):at(2)]}, 0, full[:at(1)], llm.FinishStop},
		{"never met", []string{"zzz"}, 0, full, llm.FinishStop},
		{"a near miss is sent", []string{tokens[7] + "QQQ"}, 0, full, llm.FinishStop},
		{"a near miss at the cap is sent", []string{tokens[7] + "QQQ"}, 8, full[:at(8)], llm.FinishLength},
		{"after the cap", []string{spanning}, 4, full[:at(4)], llm.FinishLength},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := llm.Prompt(prompt)
			req.Settings.Stop = tc.stop
			req.MaxTokens = tc.maxTokens
			a := collect(t, p, req)
			if a.text != tc.want || a.final.FinishReason != tc.reason {
				t.Fatalf("stop %q: %q, %s;\nwant %q, %s", tc.stop, a.text, a.final.FinishReason, tc.want, tc.reason)
			}
			for _, c := range a.chunks {
				if c == "" {
					t.Fatal("an empty text chunk")
				}
			}
		})
	}
}

func TestTemperature(t *testing.T) {
	p := unpaced(t, 24)
	prompts := []string{"Tell me about rabbits.", "What is the capital of France?"}
	plain := collect(t, p, llm.Prompt(prompts[0])).text

	// Temperature 0 always takes the most likely word: nothing is drawn,
	// so prompts and seeds do not matter.
	var greedy string
	for i, prompt := range prompts {
		for _, seed := range []int64{1, 2} {
			req := llm.Prompt(prompt)
			req.Settings.Temperature = ptr(0.0)
			req.Settings.Seed = ptr(seed)
			a := collect(t, p, req).text
			if i == 0 && seed == 1 {
				greedy = a
			} else if a != greedy {
				t.Fatalf("temperature 0 gave %q and %q", greedy, a)
			}
		}
	}
	// top_k 1 and top_p 0 keep only the most likely word as well.
	for name, set := range map[string]func(*llm.Settings){
		"top_k 1": func(s *llm.Settings) { s.TopK = ptr(1) },
		"top_p 0": func(s *llm.Settings) { s.TopP = ptr(0.0) },
	} {
		req := llm.Prompt(prompts[1])
		set(&req.Settings)
		if a := collect(t, p, req).text; a != greedy {
			t.Errorf("%s: %q, want the greedy %q", name, a, greedy)
		}
	}
	// Temperature 1 and top_p 1 are the corpus distribution: today's
	// answer.
	req := llm.Prompt(prompts[0])
	req.Settings.Temperature, req.Settings.TopP = ptr(1.0), ptr(1.0)
	if a := collect(t, p, req).text; a != plain {
		t.Fatalf("temperature 1: %q, want %q", a, plain)
	}
	// Higher temperatures still draw, deterministically per seed.
	for _, temp := range []float64{0.5, 1.5, 2} {
		answers := map[string]bool{}
		for _, seed := range []int64{1, 2, 3} {
			req := llm.Prompt(prompts[0])
			req.Settings.Temperature, req.Settings.Seed = ptr(temp), ptr(seed)
			a := collect(t, p, req).text
			if b := collect(t, p, req).text; a != b {
				t.Fatalf("temperature %v seed %d: %q then %q", temp, seed, a, b)
			}
			answers[a] = true
		}
		if len(answers) != 3 {
			t.Errorf("temperature %v: seeds 1-3 gave %d different answers, want 3", temp, len(answers))
		}
	}
}

func TestCapAppliesToEveryTokenField(t *testing.T) {
	p := unpaced(t, 64)
	for _, f := range []llm.Field{"", llm.FieldMaxTokens, llm.FieldMaxCompletionTokens, llm.FieldMaxOutputTokens} {
		req := llm.Prompt("x")
		req.MaxTokens, req.Settings.MaxTokensField = 5, f
		a := collect(t, p, req)
		if len(a.chunks) != 5 || a.final.FinishReason != llm.FinishLength {
			t.Errorf("%q: %d tokens, %s; want 5, length", f, len(a.chunks), a.final.FinishReason)
		}
	}
}

func ExampleProvider_Stream_stop() {
	p, err := embedded.New(embedded.Config{Tokens: 64})
	if err != nil {
		panic(err)
	}
	req := llm.Prompt("Tell me a story.")
	req.Settings.Stop = []string{"to her"}
	s, err := p.Stream(context.Background(), req)
	if err != nil {
		panic(err)
	}
	defer s.Close()
	var text strings.Builder
	for {
		c, err := s.Recv()
		if err != nil {
			break
		}
		text.WriteString(c.Text)
		if c.FinishReason != llm.FinishNone {
			fmt.Printf("%q %s\n", text.String(), c.FinishReason)
		}
	}
	// Output:
	// "And so it was labelled 'ORANGE MARMALADE', but " stop
}
