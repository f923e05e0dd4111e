package actors

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/armistice-go/armistice/llm"
	"github.com/asynkron/protoactor-go/actor"
)

// inbox hands chunks from the producer goroutine to the request actor. It
// is a handoff buffer, not request state: the actor empties it whole on
// each wake-up, so a fast producer costs one mailbox message per batch
// instead of one per token (rule 4: the producer never waits for the
// actor, the actor never waits for the producer).
type inbox struct {
	mu       sync.Mutex
	texts    []string
	result   *producerResult
	signaled bool // a wake-up message is on its way
}

// producerResult is how the producer ended.
type producerResult struct {
	finish llm.FinishReason // set on a normal end
	usage  *llm.Usage
	err    error // set on a failure
	panic  any   // set when provider code panicked
}

// push adds a token and reports whether the actor must be woken.
func (in *inbox) push(text string) bool {
	in.mu.Lock()
	in.texts = append(in.texts, text)
	wake := !in.signaled
	in.signaled = true
	in.mu.Unlock()
	return wake
}

// close records the end and reports whether the actor must be woken.
func (in *inbox) close(r *producerResult) bool {
	in.mu.Lock()
	in.result = r
	wake := !in.signaled
	in.signaled = true
	in.mu.Unlock()
	return wake
}

// take empties the inbox, swapping in spare as the next buffer.
func (in *inbox) take(spare []string) ([]string, *producerResult) {
	in.mu.Lock()
	texts, result := in.texts, in.result
	in.texts, in.result, in.signaled = spare, nil, false
	in.mu.Unlock()
	return texts, result
}

// runProducer streams one answer into the inbox. It only ever talks to the
// actor through messages and returns as soon as ctx is cancelled (the
// provider's Recv returns). A panic in provider code becomes a result.
func runProducer(ctx context.Context, p llm.Provider, req llm.Request, in *inbox, root *actor.RootContext, self *actor.PID) {
	var usage *llm.Usage
	finish := llm.FinishNone
	result := func(r *producerResult) {
		// After a cancel the actor has already recorded its end; a late
		// result would only be ignored, so do not send it.
		if ctx.Err() != nil && !mutant("cancel-not-recorded-first") {
			return
		}
		if in.close(r) {
			root.Send(self, producedSignal)
		}
	}
	defer func() {
		if v := recover(); v != nil {
			result(&producerResult{panic: v})
		}
	}()
	stream, err := p.Stream(ctx, req)
	if err != nil {
		result(&producerResult{err: err})
		return
	}
	defer stream.Close()
	for {
		chunk, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			if finish == llm.FinishNone {
				result(&producerResult{err: llm.ErrStreamCut, usage: usage})
				return
			}
			result(&producerResult{finish: finish, usage: usage})
			return
		}
		if err != nil {
			result(&producerResult{err: err, usage: usage})
			return
		}
		if chunk.Usage != nil {
			u := *chunk.Usage
			usage = &u
		}
		if chunk.Text != "" && finish == llm.FinishNone && ctx.Err() == nil {
			if in.push(chunk.Text) {
				root.Send(self, producedSignal)
			}
		}
		if chunk.FinishReason != llm.FinishNone {
			finish = chunk.FinishReason // keep reading: usage may follow
		}
	}
}

func (r *producerResult) String() string {
	switch {
	case r.panic != nil:
		return fmt.Sprintf("panic: %v", r.panic)
	case r.err != nil:
		return r.err.Error()
	}
	return string(r.finish)
}
