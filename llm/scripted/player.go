package scripted

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/armistice-go/armistice/llm"
)

// Step is one scripted move of a Player. A step first waits After, then
// delivers one chunk if Text, Reasoning, ToolCalls, Finish or Usage is set,
// then, unless it
// finished the stream, performs its ending if one is set: Stall, Panic, Err
// or Cut, the first of those set in that order. A step with none of these is
// a pure wait. After a Finish the stream returns io.EOF and later steps are
// ignored; when the steps run out without a Finish the stream is cut
// (io.EOF with no finish reason).
type Step struct {
	After time.Duration // wait this long (virtual time in synctest) before the step
	Text  string        // a token
	// Reasoning and ToolCalls go in the chunk as well (ToolCalls copied
	// per stream).
	Reasoning string
	ToolCalls []llm.ToolCallDelta
	Finish    llm.FinishReason // end with this reason (in the same chunk as Text)
	Usage     *llm.Usage       // usage for the chunk (copied per stream)
	Err       error            // Recv returns an error wrapping llm.ErrUpstream and Err
	Cut       bool             // io.EOF without a finish reason
	Panic     any              // Recv panics with this value
	Stall     bool             // block until the context is cancelled
}

func (s Step) hasChunk() bool {
	return s.Text != "" || s.Reasoning != "" || len(s.ToolCalls) > 0 ||
		s.Finish != llm.FinishNone || s.Usage != nil
}

func (s Step) hasEnding() bool {
	return s.Stall || s.Panic != nil || s.Err != nil || s.Cut
}

// player is the provider Play returns.
type player struct {
	steps []Step
}

// Play returns a provider whose every stream plays steps in order. The waits
// honour the stream's context. The provider is safe for concurrent use and,
// like Provider, is named "scripted".
func Play(steps ...Step) llm.Provider {
	return &player{steps: slices.Clone(steps)}
}

// Words returns steps for n tokens " t1", " t2", ..., " tn", each after
// every, then an immediate finish with llm.FinishStop and usage
// {CompletionTokens: n}.
func Words(n int, every time.Duration) []Step {
	steps := make([]Step, 0, max(n, 0)+1)
	for i := 1; i <= n; i++ {
		steps = append(steps, Step{After: every, Text: fmt.Sprintf(" t%d", i)})
	}
	return append(steps, Step{Finish: llm.FinishStop, Usage: &llm.Usage{CompletionTokens: max(n, 0)}})
}

// ToolCall returns steps for one streamed tool call, each after every: a
// chunk with the call's index, id and name, then one chunk per piece of its
// arguments, as OpenAI streams them. Add a Step with llm.FinishToolCalls to
// end the answer.
func ToolCall(index int, id, name string, every time.Duration, args ...string) []Step {
	steps := []Step{{After: every, ToolCalls: []llm.ToolCallDelta{{Index: index, ID: id, Name: name}}}}
	for _, a := range args {
		steps = append(steps, Step{After: every, ToolCalls: []llm.ToolCallDelta{{Index: index, Arguments: a}}})
	}
	return steps
}

func (p *player) Name() string { return "scripted" }

// Capabilities accepts every setting; the steps decide the answer.
func (p *player) Capabilities() llm.Capabilities { return llm.AllCapabilities() }

func (p *player) Stream(ctx context.Context, req llm.Request) (llm.Stream, error) {
	return &playStream{ctx: ctx, steps: p.steps}, nil
}

// playStream plays the steps inside Recv; nothing runs in the background.
type playStream struct {
	ctx   context.Context
	steps []Step
	i     int   // current step
	phase int   // of the current step: 0 wait, 1 chunk, 2 ending
	end   error // io.EOF or an error every later Recv returns

	timer  *time.Timer
	closed bool
}

func (s *playStream) Recv() (llm.Chunk, error) {
	if s.end != nil {
		return llm.Chunk{}, s.end
	}
	if s.closed {
		return llm.Chunk{}, ErrClosed
	}
	if err := s.ctx.Err(); err != nil {
		return llm.Chunk{}, fmt.Errorf("scripted: %w", err)
	}
	for ; s.i < len(s.steps); s.i, s.phase = s.i+1, 0 {
		st := s.steps[s.i]
		if s.phase == 0 {
			if err := s.sleep(st.After); err != nil {
				return llm.Chunk{}, err
			}
			s.phase = 1
		}
		if s.phase == 1 {
			s.phase = 2
			if st.hasChunk() {
				c := llm.Chunk{
					Text:         st.Text,
					Reasoning:    st.Reasoning,
					ToolCalls:    slices.Clone(st.ToolCalls), // streams must not share them
					FinishReason: st.Finish,
				}
				if st.Usage != nil {
					u := *st.Usage // streams must not share one Usage
					c.Usage = &u
				}
				switch {
				case st.Finish != llm.FinishNone:
					s.end = io.EOF
				case !st.hasEnding():
					s.i, s.phase = s.i+1, 0
				}
				return c, nil
			}
		}
		switch {
		case st.Stall:
			<-s.ctx.Done()
			return llm.Chunk{}, fmt.Errorf("scripted: %w", s.ctx.Err())
		case st.Panic != nil:
			s.end = fmt.Errorf("%w: scripted: stream panicked earlier: %v", llm.ErrUpstream, st.Panic)
			panic(st.Panic)
		case st.Err != nil:
			s.end = upstream(st.Err)
			return llm.Chunk{}, s.end
		case st.Cut:
			s.end = io.EOF
			return llm.Chunk{}, io.EOF
		}
	}
	s.end = io.EOF // out of steps without a finish: cut
	return llm.Chunk{}, io.EOF
}

// sleep waits d or until the context is done.
func (s *playStream) sleep(d time.Duration) error {
	if d <= 0 {
		return nil
	}
	if s.timer == nil {
		s.timer = time.NewTimer(d)
	} else {
		s.timer.Reset(d)
	}
	select {
	case <-s.timer.C:
		return nil
	case <-s.ctx.Done():
		s.timer.Stop()
		return fmt.Errorf("scripted: %w", s.ctx.Err())
	}
}

// Close releases the stream. It is idempotent.
func (s *playStream) Close() error {
	if !s.closed {
		s.closed = true
		if s.timer != nil {
			s.timer.Stop()
		}
	}
	return nil
}
