package embedded_test

import (
	"context"
	"errors"
	"io"
	"math"
	"strings"
	"testing"
	"testing/synctest"
	"time"
	"unicode"
	"unicode/utf8"

	"go.uber.org/goleak"

	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/llm/embedded"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// unpaced returns a provider that streams tokens without waiting.
func unpaced(t testing.TB, tokens int) *embedded.Provider {
	t.Helper()
	p, err := embedded.New(embedded.Config{Tokens: tokens})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// drain reads s to the end and returns the text chunks and the finish chunk.
// It fails the test on any error but io.EOF, and on chunks after the finish.
func drain(t testing.TB, s llm.Stream) (tokens []string, final llm.Chunk) {
	t.Helper()
	defer s.Close()
	for {
		c, err := s.Recv()
		if err == io.EOF {
			if final.FinishReason == llm.FinishNone {
				t.Fatalf("io.EOF without a finish chunk after %d tokens", len(tokens))
			}
			return tokens, final
		}
		if err != nil {
			t.Fatalf("Recv after %d tokens: %v", len(tokens), err)
		}
		if final.FinishReason != llm.FinishNone {
			t.Fatalf("chunk %+v after the finish chunk", c)
		}
		if c.FinishReason != llm.FinishNone {
			if c.Text != "" {
				t.Fatalf("finish chunk carries text %q", c.Text)
			}
			final = c
			continue
		}
		tokens = append(tokens, c.Text)
	}
}

func open(t testing.TB, p *embedded.Provider, req llm.Request) llm.Stream {
	t.Helper()
	s, err := p.Stream(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestDeterministic(t *testing.T) {
	p := unpaced(t, 64)
	req := llm.Prompt("Tell me about rabbits.")
	a, _ := drain(t, open(t, p, req))
	b, _ := drain(t, open(t, p, req))
	if strings.Join(a, "|") != strings.Join(b, "|") {
		t.Fatalf("same request, different answers:\n%q\n%q", a, b)
	}
	// A second provider with the same config must agree too: nothing may
	// depend on provider state.
	c, _ := drain(t, open(t, unpaced(t, 64), req))
	if strings.Join(a, "|") != strings.Join(c, "|") {
		t.Fatalf("same request on a fresh provider, different answers:\n%q\n%q", a, c)
	}

	other := llm.Prompt("Tell me about cats.")
	withModel := req
	withModel.Model = "other-model"
	for name, r := range map[string]llm.Request{"prompt": other, "model": withModel} {
		d, _ := drain(t, open(t, p, r))
		if strings.Join(a, "") == strings.Join(d, "") {
			t.Errorf("different %s, same answer %q", name, strings.Join(a, ""))
		}
	}
}

func TestTokensReadLikeText(t *testing.T) {
	p := unpaced(t, 200)
	for _, prompt := range []string{"", "Hello", "What is the capital of France?", "ünïcödé ✓"} {
		tokens, _ := drain(t, open(t, p, llm.Prompt(prompt)))
		if len(tokens) != 200 {
			t.Fatalf("%q: %d tokens, want 200", prompt, len(tokens))
		}
		first, _ := utf8.DecodeRuneInString(tokens[0])
		if !unicode.IsUpper(first) {
			t.Errorf("%q: first token %q is not capitalised", prompt, tokens[0])
		}
		for i, tok := range tokens {
			word := tok
			if i > 0 {
				var ok bool
				if word, ok = strings.CutPrefix(tok, " "); !ok {
					t.Fatalf("%q: token %d %q has no leading space", prompt, i, tok)
				}
			}
			if word == "" || strings.ContainsFunc(word, unicode.IsSpace) {
				t.Fatalf("%q: token %d %q is not one word", prompt, i, tok)
			}
		}
	}
}

func TestLength(t *testing.T) {
	p := unpaced(t, 64)
	full, _ := drain(t, open(t, p, llm.Prompt("same prompt")))
	for _, tc := range []struct {
		maxTokens int
		want      int
		reason    llm.FinishReason
	}{
		{maxTokens: 0, want: 64, reason: llm.FinishStop},
		{maxTokens: -3, want: 64, reason: llm.FinishStop},
		{maxTokens: 1, want: 1, reason: llm.FinishLength},
		{maxTokens: 5, want: 5, reason: llm.FinishLength},
		{maxTokens: 63, want: 63, reason: llm.FinishLength},
		{maxTokens: 64, want: 64, reason: llm.FinishStop},
		{maxTokens: 1000, want: 64, reason: llm.FinishStop},
	} {
		req := llm.Prompt("same prompt")
		req.MaxTokens = tc.maxTokens
		tokens, final := drain(t, open(t, p, req))
		if len(tokens) != tc.want || final.FinishReason != tc.reason {
			t.Errorf("MaxTokens %d: %d tokens, %q; want %d, %q",
				tc.maxTokens, len(tokens), final.FinishReason, tc.want, tc.reason)
		}
		// A capped answer is the start of the full one.
		if got, want := strings.Join(tokens, ""), strings.Join(full[:len(tokens)], ""); got != want {
			t.Errorf("MaxTokens %d: %q is not a prefix of the full answer %q", tc.maxTokens, got, want)
		}
	}
}

func TestUsage(t *testing.T) {
	p := unpaced(t, 10)
	req := llm.Request{
		Messages: []llm.Message{
			{Role: llm.RoleSystem, Content: "Be  brief."},
			{Role: llm.RoleUser, Content: "Why\tis the sky blue?"},
		},
		MaxTokens: 7,
	}
	// Text() is "system: Be  brief.\nuser: Why\tis the sky blue?": 9 words.
	_, final := drain(t, open(t, p, req))
	if final.Usage == nil {
		t.Fatal("finish chunk has no usage")
	}
	if want := (llm.Usage{PromptTokens: 9, CompletionTokens: 7}); *final.Usage != want {
		t.Fatalf("usage %+v, want %+v", *final.Usage, want)
	}
}

func TestEOFIsSticky(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := unpaced(t, 2).Stream(ctx, llm.Prompt("x"))
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := s.Recv(); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	for range 3 {
		if _, err := s.Recv(); err != io.EOF {
			t.Fatalf("Recv after the end = %v, want io.EOF", err)
		}
	}
	s.Close()
	if _, err := s.Recv(); err != io.EOF {
		t.Fatalf("Recv after the end and Close = %v, want io.EOF", err)
	}
}

func TestEmptyRequest(t *testing.T) {
	_, err := unpaced(t, 4).Stream(context.Background(), llm.Request{})
	if !errors.Is(err, llm.ErrInvalidRequest) {
		t.Fatalf("Stream(empty) = %v, want llm.ErrInvalidRequest", err)
	}
}

func TestCancelledUnpaced(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	s, err := unpaced(t, 4).Stream(ctx, llm.Prompt("x"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Recv(); err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := s.Recv(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Recv after cancel = %v, want context.Canceled", err)
	}
}

func TestClose(t *testing.T) {
	s := open(t, unpaced(t, 4), llm.Prompt("x"))
	if _, err := s.Recv(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := s.Close(); err != nil {
			t.Fatalf("Close = %v", err)
		}
	}
	if _, err := s.Recv(); !errors.Is(err, embedded.ErrClosed) {
		t.Fatalf("Recv after Close = %v, want ErrClosed", err)
	}
}

func TestPacing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, err := embedded.New(embedded.DefaultConfig()) // 64 tokens at 50/s
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		s := open(t, p, llm.Prompt("pace me"))
		defer s.Close()
		for k := 1; ; k++ {
			c, err := s.Recv()
			if err != nil {
				t.Fatal(err)
			}
			elapsed := time.Since(start)
			if c.FinishReason != llm.FinishNone {
				if k != 65 || elapsed != 64*20*time.Millisecond {
					t.Fatalf("finish chunk as chunk %d at %v, want chunk 65 at 1.28s", k, elapsed)
				}
				break
			}
			if want := time.Duration(k) * 20 * time.Millisecond; elapsed != want {
				t.Fatalf("token %d at %v, want %v", k, elapsed, want)
			}
		}
		if _, err := s.Recv(); err != io.EOF {
			t.Fatalf("Recv after finish = %v, want io.EOF", err)
		}
	})
}

func TestPacingSlowConsumerCatchesUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, err := embedded.New(embedded.Config{TokensPerSecond: 10, Tokens: 8})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		s := open(t, p, llm.Prompt("x"))
		defer s.Close()
		time.Sleep(350 * time.Millisecond) // tokens 1-3 are due meanwhile
		for k := 1; k <= 4; k++ {
			if _, err := s.Recv(); err != nil {
				t.Fatal(err)
			}
			want := 350 * time.Millisecond
			if k == 4 {
				want = 400 * time.Millisecond
			}
			if got := time.Since(start); got != want {
				t.Fatalf("token %d at %v, want %v", k, got, want)
			}
		}
	})
}

func TestCancelMidStream(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, err := embedded.New(embedded.DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		start := time.Now()
		s, err := p.Stream(ctx, llm.Prompt("x"))
		if err != nil {
			t.Fatal(err)
		}
		type result struct {
			err error
			at  time.Duration
		}
		done := make(chan result)
		go func() {
			defer s.Close()
			for {
				if _, err := s.Recv(); err != nil {
					done <- result{err, time.Since(start)}
					return
				}
			}
		}()
		// Tokens come at 20 ms, 40 ms, ...; cancel between two of them.
		time.Sleep(30 * time.Millisecond)
		cancel()
		r := <-done
		if !errors.Is(r.err, context.Canceled) {
			t.Fatalf("Recv after cancel = %v, want context.Canceled", r.err)
		}
		if r.at != 30*time.Millisecond {
			t.Fatalf("Recv returned at %v, want 30ms (at the cancel, not the next tick)", r.at)
		}
	})
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  embedded.Config
		ok   bool
	}{
		{"default", embedded.DefaultConfig(), true},
		{"unpaced", embedded.Config{TokensPerSecond: 0, Tokens: 1}, true},
		{"one an hour", embedded.Config{TokensPerSecond: 1.0 / 3600, Tokens: 1}, true},
		{"very fast", embedded.Config{TokensPerSecond: 1e12, Tokens: 1}, true},
		{"max tokens", embedded.Config{Tokens: 1 << 20}, true},
		{"negative rate", embedded.Config{TokensPerSecond: -1, Tokens: 1}, false},
		{"NaN rate", embedded.Config{TokensPerSecond: math.NaN(), Tokens: 1}, false},
		{"infinite rate", embedded.Config{TokensPerSecond: math.Inf(1), Tokens: 1}, false},
		{"too slow", embedded.Config{TokensPerSecond: 1e-9, Tokens: 1}, false},
		{"zero tokens", embedded.Config{Tokens: 0}, false},
		{"negative tokens", embedded.Config{Tokens: -1}, false},
		{"too many tokens", embedded.Config{Tokens: 1<<20 + 1}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.ok && err != nil {
				t.Fatalf("Validate = %v, want nil", err)
			}
			if !tc.ok && !errors.Is(err, embedded.ErrInvalidConfig) {
				t.Fatalf("Validate = %v, want ErrInvalidConfig", err)
			}
			p, err := embedded.New(tc.cfg)
			if tc.ok != (err == nil) || tc.ok != (p != nil) {
				t.Fatalf("New = %v, %v; want ok=%v", p, err, tc.ok)
			}
		})
	}
}

func TestName(t *testing.T) {
	if got := unpaced(t, 1).Name(); got != "embedded" {
		t.Fatalf("Name = %q", got)
	}
}

// Text chunks must cost no allocation: the word is a substring of the corpus.
func TestRecvDoesNotAllocate(t *testing.T) {
	s := open(t, unpaced(t, 1<<20), llm.Prompt("x"))
	defer s.Close()
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := s.Recv(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Recv allocates %v times per token, want 0", allocs)
	}
}

func FuzzStream(f *testing.F) {
	f.Add("", 0)
	f.Add("Hello", 3)
	f.Add("What is the capital of France?", 100)
	f.Add("\x00\xff", -1)
	p := unpaced(f, 32)
	f.Fuzz(func(t *testing.T, prompt string, maxTokens int) {
		req := llm.Prompt(prompt)
		req.MaxTokens = maxTokens
		a, fa := drain(t, open(t, p, req))
		b, fb := drain(t, open(t, p, req))
		if strings.Join(a, "|") != strings.Join(b, "|") || fa.FinishReason != fb.FinishReason {
			t.Fatalf("not deterministic:\n%q\n%q", a, b)
		}
		want, reason := 32, llm.FinishStop
		if maxTokens > 0 && maxTokens < 32 {
			want, reason = maxTokens, llm.FinishLength
		}
		if len(a) != want || fa.FinishReason != reason {
			t.Fatalf("%d tokens, %q; want %d, %q", len(a), fa.FinishReason, want, reason)
		}
		if fa.Usage == nil || fa.Usage.CompletionTokens != want {
			t.Fatalf("usage %+v, want %d completion tokens", fa.Usage, want)
		}
	})
}
