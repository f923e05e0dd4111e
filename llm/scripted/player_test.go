package scripted_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"testing/synctest"
	"time"

	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/llm/scripted"
)

func play(t *testing.T, ctx context.Context, steps ...scripted.Step) <-chan result {
	t.Helper()
	s, err := scripted.Play(steps...).Stream(ctx, llm.Prompt("x"))
	if err != nil {
		t.Fatal(err)
	}
	return consume(s)
}

func TestWords(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := scripted.Play(scripted.Words(3, 10*time.Millisecond)...)
		// Two streams of one player each play the whole script.
		for range 2 {
			s, err := p.Stream(t.Context(), llm.Prompt("x"))
			if err != nil {
				t.Fatal(err)
			}
			got := consume(s)
			for i := 1; i <= 3; i++ {
				r := <-got
				want := time.Duration(i) * 10 * time.Millisecond
				if r.err != nil || r.chunk.Text != fmt.Sprintf(" t%d", i) || r.at != want {
					t.Fatalf("Recv %d = %+v, want \" t%d\" at %v", i, r, i, want)
				}
			}
			r := <-got
			if r.chunk.FinishReason != llm.FinishStop || r.at != 30*time.Millisecond ||
				r.chunk.Usage == nil || *r.chunk.Usage != (llm.Usage{CompletionTokens: 3}) {
				t.Fatalf("finish = %+v (usage %+v), want stop with 3 completion tokens at 30ms", r, r.chunk.Usage)
			}
			r.chunk.Usage.CompletionTokens = 99 // must not leak into the next stream
			for range 2 {
				if r := <-got; r.err != io.EOF {
					t.Fatalf("Recv after finish = %+v, want io.EOF", r)
				}
			}
		}
	})
}

func TestPlayStallUntilCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		got := play(t, ctx, scripted.Step{Text: "a", Stall: true})
		if r := <-got; r.chunk.Text != "a" {
			t.Fatalf("Recv = %+v, want a", r)
		}
		time.Sleep(time.Hour)
		if returned(got) {
			t.Fatal("a stalled Recv returned")
		}
		cancel()
		r := <-got
		if !errors.Is(r.err, context.Canceled) || r.at != time.Hour {
			t.Fatalf("Recv = %+v, want context.Canceled at 1h", r)
		}
		<-got
	})
}

func TestPlayCancelDuringWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		got := play(t, ctx, scripted.Step{After: time.Minute, Text: "late"})
		time.Sleep(time.Second)
		cancel()
		r := <-got
		if !errors.Is(r.err, context.Canceled) || r.at != time.Second {
			t.Fatalf("Recv = %+v, want context.Canceled at 1s", r)
		}
		<-got
	})
}

func TestPlayEndings(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		name  string
		steps []scripted.Step
		check func(first, last result) error
	}{
		{"error after text", []scripted.Step{{Text: "a", Err: boom}},
			func(first, last result) error {
				if !errors.Is(last.err, llm.ErrUpstream) || !errors.Is(last.err, boom) {
					return fmt.Errorf("error %v, want ErrUpstream and boom", last.err)
				}
				return nil
			}},
		{"cut after text", []scripted.Step{{Text: "a"}, {Cut: true}},
			func(first, last result) error {
				if last.err != io.EOF {
					return fmt.Errorf("end %+v, want io.EOF", last)
				}
				return nil
			}},
		{"out of steps", []scripted.Step{{Text: "a"}},
			func(first, last result) error {
				if last.err != io.EOF {
					return fmt.Errorf("end %+v, want io.EOF", last)
				}
				return nil
			}},
		{"panic after text", []scripted.Step{{Text: "a", Panic: "kaboom"}},
			func(first, last result) error {
				if !first.panicked || first.value != "kaboom" {
					return fmt.Errorf("end %+v, want a panic with kaboom", first)
				}
				if !errors.Is(last.err, llm.ErrUpstream) {
					return fmt.Errorf("Recv after panic %+v, want ErrUpstream", last)
				}
				return nil
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				got := play(t, t.Context(), tc.steps...)
				if r := <-got; r.err != nil || r.chunk.Text != "a" || r.chunk.FinishReason != llm.FinishNone {
					t.Fatalf("first Recv = %+v, want a", r)
				}
				first, last := <-got, <-got
				if err := tc.check(first, last); err != nil {
					t.Fatal(err)
				}
				if first.chunk.FinishReason != llm.FinishNone {
					t.Fatalf("end carries finish reason %q", first.chunk.FinishReason)
				}
			})
		})
	}
}

func TestPlayPureWaitAndClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, err := scripted.Play(
			scripted.Step{After: time.Second},
			scripted.Step{After: time.Second, Text: "a"},
			scripted.Step{Text: "b"},
		).Stream(t.Context(), llm.Prompt("x"))
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if c, err := s.Recv(); err != nil || c.Text != "a" || time.Since(start) != 2*time.Second {
			t.Fatalf("Recv = %+v, %v at %v; want a at 2s", c, err, time.Since(start))
		}
		for range 2 {
			if err := s.Close(); err != nil {
				t.Fatalf("Close = %v", err)
			}
		}
		if _, err := s.Recv(); !errors.Is(err, scripted.ErrClosed) {
			t.Fatalf("Recv after Close = %v, want ErrClosed", err)
		}
	})
}
