package scripted_test

import (
	"context"
	"errors"
	"io"
	"reflect"
	"testing"
	"testing/synctest"

	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/llm/scripted"
)

// open opens a stream on p and returns its consumer's results and its script.
func open(t *testing.T, ctx context.Context, p *scripted.Provider, prompt string) (<-chan result, *scripted.Script) {
	t.Helper()
	s, err := p.Stream(ctx, llm.Prompt(prompt))
	if err != nil {
		t.Fatal(err)
	}
	sc, err := p.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return consume(s), sc
}

func TestTokenAndFinish(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := scripted.New()
		got, sc := open(t, t.Context(), p, "hello")
		if sc.Request().Messages[0].Content != "hello" {
			t.Fatalf("Request = %+v", sc.Request())
		}
		if !sc.Token("Hi") {
			t.Fatal("Token = false")
		}
		if r := <-got; r.err != nil || r.chunk.Text != "Hi" {
			t.Fatalf("Recv = %+v, want Hi", r)
		}
		usage := &llm.Usage{PromptTokens: 1, CompletionTokens: 1}
		if !sc.Finish(llm.FinishStop, usage) {
			t.Fatal("Finish = false")
		}
		if r := <-got; r.err != nil || r.chunk.FinishReason != llm.FinishStop || r.chunk.Usage != usage {
			t.Fatalf("Recv = %+v, want the finish chunk", r)
		}
		for range 2 {
			if r := <-got; r.err != io.EOF {
				t.Fatalf("Recv after finish = %+v, want io.EOF", r)
			}
		}
		<-sc.Done() // the consumer closed the stream
		if !sc.Closed() || sc.Cancelled() {
			t.Fatalf("Closed = %v, Cancelled = %v; want true, false", sc.Closed(), sc.Cancelled())
		}
		// The stream has ended: more steps are refused at once.
		if sc.Token("late") {
			t.Fatal("Token after Finish = true")
		}
	})
}

func TestTokenBlocksUntilTaken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := scripted.New()
		s, err := p.Stream(t.Context(), llm.Prompt("x"))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		sc, err := p.Next(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		sent := make(chan bool)
		go func() { sent <- sc.Token("a") }()
		synctest.Wait()
		if returned(sent) {
			t.Fatal("Token returned before Recv took the step")
		}
		c, err := s.Recv()
		if err != nil || c.Text != "a" {
			t.Fatalf("Recv = %+v, %v", c, err)
		}
		if !<-sent {
			t.Fatal("Token = false after Recv took it")
		}
	})
}

func TestChunkDoesNotEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		got, sc := open(t, t.Context(), scripted.New(), "x")
		odd := llm.Chunk{Text: "a", FinishReason: llm.FinishContentFilter}
		if !sc.Chunk(odd) {
			t.Fatal("Chunk = false")
		}
		if r := <-got; r.err != nil || !reflect.DeepEqual(r.chunk, odd) {
			t.Fatalf("Recv = %+v, want %+v", r, odd)
		}
		if !sc.Token("b") {
			t.Fatal("Token after a Chunk with a finish reason = false")
		}
		if r := <-got; r.chunk.Text != "b" {
			t.Fatalf("Recv = %+v, want b", r)
		}
		sc.Cut()
		<-got
		<-got
	})
}

func TestFail(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		got, sc := open(t, t.Context(), scripted.New(), "x")
		boom := errors.New("boom")
		if !sc.Fail(boom) {
			t.Fatal("Fail = false")
		}
		for range 2 {
			r := <-got
			if !errors.Is(r.err, llm.ErrUpstream) || !errors.Is(r.err, boom) {
				t.Fatalf("Recv = %+v, want ErrUpstream and boom", r)
			}
		}
		if sc.Token("late") {
			t.Fatal("Token after Fail = true")
		}
	})
}

func TestCut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		got, sc := open(t, t.Context(), scripted.New(), "x")
		sc.Token("a")
		<-got
		if !sc.Cut() {
			t.Fatal("Cut = false")
		}
		for range 2 {
			if r := <-got; r.err != io.EOF || r.chunk.FinishReason != llm.FinishNone {
				t.Fatalf("Recv = %+v, want a bare io.EOF", r)
			}
		}
	})
}

func TestPanic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		got, sc := open(t, t.Context(), scripted.New(), "x")
		if !sc.Panic("kaboom") {
			t.Fatal("Panic = false")
		}
		if r := <-got; !r.panicked || r.value != "kaboom" {
			t.Fatalf("Recv = %+v, want a panic with kaboom", r)
		}
		if r := <-got; r.panicked || !errors.Is(r.err, llm.ErrUpstream) {
			t.Fatalf("Recv after the panic = %+v, want ErrUpstream", r)
		}
	})
}

func TestCancelUnblocksRecv(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		got, sc := open(t, ctx, scripted.New(), "x")
		synctest.Wait()
		if returned(got) || returned(sc.Done()) {
			t.Fatal("Recv or Done returned before anything happened")
		}
		cancel()
		for range 2 {
			if r := <-got; !errors.Is(r.err, context.Canceled) {
				t.Fatalf("Recv after cancel = %+v, want context.Canceled", r)
			}
		}
		<-sc.Done()
		synctest.Wait() // the consumer has closed the stream
		if !sc.Cancelled() || !sc.Closed() {
			t.Fatalf("Cancelled = %v, Closed = %v; want both", sc.Cancelled(), sc.Closed())
		}
	})
}

func TestCancelUnblocksToken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		p := scripted.New()
		s, err := p.Stream(ctx, llm.Prompt("x"))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		sc, err := p.Next(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		// Nobody calls Recv: the token stays pending until the cancel.
		sent := make(chan bool)
		go func() { sent <- sc.Token("a") }()
		synctest.Wait()
		if returned(sent) {
			t.Fatal("Token returned with no reader")
		}
		cancel()
		if <-sent {
			t.Fatal("pending Token = true after cancel")
		}
		if sc.Token("b") || sc.Finish(llm.FinishStop, nil) {
			t.Fatal("steps after cancel = true")
		}
		if !sc.Cancelled() || sc.Closed() {
			t.Fatalf("Cancelled = %v, Closed = %v; want true, false", sc.Cancelled(), sc.Closed())
		}
		if _, err := s.Recv(); !errors.Is(err, context.Canceled) {
			t.Fatalf("Recv = %v, want context.Canceled", err)
		}
	})
}

func TestCloseWithoutCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		p := scripted.New()
		s, err := p.Stream(ctx, llm.Prompt("x"))
		if err != nil {
			t.Fatal(err)
		}
		sc, err := p.Next(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		sent := make(chan bool)
		go func() { sent <- sc.Token("a") }()
		synctest.Wait()
		for range 2 {
			if err := s.Close(); err != nil {
				t.Fatalf("Close = %v", err)
			}
		}
		if <-sent {
			t.Fatal("pending Token = true after Close")
		}
		<-sc.Done()
		if _, err := s.Recv(); !errors.Is(err, scripted.ErrClosed) {
			t.Fatalf("Recv after Close = %v, want ErrClosed", err)
		}
		// A cancel after Close is the caller's cleanup, not a cancellation
		// of the stream.
		cancel()
		synctest.Wait()
		if !sc.Closed() || sc.Cancelled() {
			t.Fatalf("Closed = %v, Cancelled = %v; want true, false", sc.Closed(), sc.Cancelled())
		}
	})
}

func TestFailNextOpen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := scripted.New()
		errA, errB := errors.New("a"), errors.New("b")
		p.FailNextOpen(errA)
		p.FailNextOpen(errB)
		for _, want := range []error{errA, errB} {
			s, err := p.Stream(t.Context(), llm.Prompt("x"))
			if err != want || s != nil {
				t.Fatalf("Stream = %v, %v; want nil, %v unchanged", s, err, want)
			}
		}
		if n := p.Opened(); n != 0 {
			t.Fatalf("Opened = %d after failed opens, want 0", n)
		}
		s, err := p.Stream(t.Context(), llm.Prompt("x"))
		if err != nil {
			t.Fatalf("Stream after the failures = %v", err)
		}
		s.Close()
		if n := p.Opened(); n != 1 {
			t.Fatalf("Opened = %d, want 1", n)
		}
	})
}

func TestNextOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := scripted.New()
		for _, prompt := range []string{"one", "two"} {
			s, err := p.Stream(t.Context(), llm.Prompt(prompt))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
		}
		for _, want := range []string{"one", "two"} {
			sc, err := p.Next(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if got := sc.Request().Messages[0].Content; got != want {
				t.Fatalf("Next = %q, want %q", got, want)
			}
		}

		// Two waiters, then two opens: both must be served.
		next := make(chan string)
		for range 2 {
			go func() {
				sc, err := p.Next(t.Context())
				if err != nil {
					next <- err.Error()
					return
				}
				next <- sc.Request().Messages[0].Content
			}()
		}
		synctest.Wait()
		if returned(next) {
			t.Fatal("Next returned before a stream was opened")
		}
		for _, prompt := range []string{"three", "four"} {
			s, err := p.Stream(t.Context(), llm.Prompt(prompt))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
		}
		seen := map[string]bool{<-next: true, <-next: true}
		if !seen["three"] || !seen["four"] {
			t.Fatalf("waiters got %v, want three and four", seen)
		}
		if n := p.Opened(); n != 4 {
			t.Fatalf("Opened = %d, want 4", n)
		}

		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := p.Next(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("Next(cancelled) = %v, want context.Canceled", err)
		}
	})
}

func TestName(t *testing.T) {
	if got := scripted.New().Name(); got != "scripted" {
		t.Fatalf("Name = %q", got)
	}
	if got := scripted.Play().Name(); got != "scripted" {
		t.Fatalf("Play().Name = %q", got)
	}
}
