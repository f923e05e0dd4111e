package actors

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/model"
	"github.com/asynkron/protoactor-go/actor"
)

// inbox hands chunks from the producer goroutine to the request actor. It
// is a handoff buffer, not request state: the actor empties it whole on
// each wake-up, so a fast producer costs one mailbox message per batch
// instead of one per token (rule 4: the producer never waits for the
// actor, the actor never waits for the producer).
type inbox struct {
	mu sync.Mutex
	// texts holds plain text; parts everything else, and every piece
	// that comes after the first part, so that texts then parts is the
	// order the producer pushed them in. Plain text, the common case,
	// stays a bare string.
	texts    []string
	parts    []model.Part
	result   *producerResult
	signaled bool // a wake-up message is on its way

	// bytes is the output waiting for the actor; past limit the producer
	// stops reading the upstream until take makes room (closes room), so
	// a fast upstream and a starved actor cannot grow memory without
	// bound. limit 0 means no bound.
	bytes int
	limit int
	room  chan struct{}
}

// producerResult is how the producer ended.
type producerResult struct {
	finish llm.FinishReason // set on a normal end
	usage  *llm.Usage
	err    error // set on a failure
	panic  any   // set when provider code panicked
}

// pushText adds plain text and reports whether the actor must be woken.
func (in *inbox) pushText(text string) bool {
	in.mu.Lock()
	if len(in.parts) == 0 {
		in.texts = append(in.texts, text)
	} else {
		in.parts = append(in.parts, model.Part{Kind: model.KindToken, Text: text})
	}
	in.bytes += len(text)
	wake := !in.signaled
	in.signaled = true
	in.mu.Unlock()
	return wake
}

// push adds a piece of output and reports whether the actor must be woken.
func (in *inbox) push(p model.Part) bool {
	in.mu.Lock()
	in.parts = append(in.parts, p)
	in.bytes += partSize(p)
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

// take empties the inbox, swapping in the spare buffers. Parts follow
// texts.
func (in *inbox) take(spareTexts []string, spareParts []model.Part) ([]string, []model.Part, *producerResult) {
	in.mu.Lock()
	texts, parts, result := in.texts, in.parts, in.result
	in.texts, in.parts, in.result, in.signaled = spareTexts, spareParts, nil, false
	in.bytes = 0
	if in.room != nil {
		close(in.room)
		in.room = nil
	}
	in.mu.Unlock()
	return texts, parts, result
}

// waitForRoom returns once the buffered output is below the limit, or
// ctx ended. Only the producer waits here, never the actor (rule 4).
func (in *inbox) waitForRoom(ctx context.Context) {
	in.mu.Lock()
	if in.limit <= 0 || in.bytes < in.limit {
		in.mu.Unlock()
		return
	}
	if in.room == nil {
		in.room = make(chan struct{})
	}
	room := in.room
	in.mu.Unlock()
	select {
	case <-room:
	case <-ctx.Done():
	}
}

func partSize(p model.Part) int {
	n := len(p.Text)
	if p.ToolCall != nil {
		n += len(p.ToolCall.ID) + len(p.ToolCall.Name) + len(p.ToolCall.Arguments)
	}
	if p.Logprobs != nil {
		n += 32 * len(p.Logprobs.Content)
	}
	return n
}

// producer streams one answer into the inbox. It only ever talks to the
// actor through messages and returns as soon as its context is cancelled
// (the provider's Recv returns). A panic in provider code becomes a
// result.
//
// Its state lives on the heap and its goroutine starts with run, so that
// where it parks between chunks (in the stream's Wait, when the stream is
// an llm.Waiter) only run's small frame is under the stream's: a parked
// goroutine keeps the stack its depth needs, and the request, the chunk
// and the decoding stay in open's and next's frames, which are not on
// the stack while it waits (TestAProducerParksAboveTheDecoder;
// docs/benchmarks.md, "Idle memory").
type producer struct {
	ctx  context.Context
	p    llm.Provider
	req  llm.Request
	in   *inbox
	root *actor.RootContext
	self *actor.PID

	usage  *llm.Usage
	finish llm.FinishReason
}

// runProducer runs a producer on the calling goroutine.
func runProducer(ctx context.Context, p llm.Provider, req llm.Request, in *inbox, root *actor.RootContext, self *actor.PID) {
	newProducer(ctx, p, req, in, root, self).run()
}

func newProducer(ctx context.Context, p llm.Provider, req llm.Request, in *inbox, root *actor.RootContext, self *actor.PID) *producer {
	return &producer{ctx: ctx, p: p, req: req, in: in, root: root, self: self, finish: llm.FinishNone}
}

func (pr *producer) run() {
	defer pr.recoverPanic()
	stream := pr.open()
	if stream == nil {
		return
	}
	defer stream.Close()
	waiter, _ := stream.(llm.Waiter)
	for {
		if waiter != nil {
			waiter.Wait()
		}
		if !pr.next(stream) {
			return
		}
	}
}

func (pr *producer) recoverPanic() {
	if v := recover(); v != nil {
		pr.result(&producerResult{panic: v})
	}
}

// open opens the stream, or reports why it could not and returns nil.
// Not inlined: the request it passes would widen run's frame.
//
//go:noinline
func (pr *producer) open() llm.Stream {
	stream, err := pr.p.Stream(pr.ctx, pr.req)
	if err != nil {
		pr.result(&producerResult{err: err})
		return nil
	}
	return stream
}

// next receives one chunk and hands its output to the actor; it reports
// whether the stream goes on. Not inlined: the chunk would widen run's
// frame.
//
//go:noinline
func (pr *producer) next(stream llm.Stream) bool {
	chunk, err := stream.Recv()
	if errors.Is(err, io.EOF) {
		if pr.finish == llm.FinishNone {
			pr.result(&producerResult{err: llm.ErrStreamCut, usage: pr.usage})
			return false
		}
		pr.result(&producerResult{finish: pr.finish, usage: pr.usage})
		return false
	}
	if err != nil {
		pr.result(&producerResult{err: err, usage: pr.usage})
		return false
	}
	if chunk.Usage != nil {
		u := *chunk.Usage
		pr.usage = &u
	}
	if pr.finish == llm.FinishNone && pr.ctx.Err() == nil && pushChunk(pr.in, chunk) {
		pr.root.Send(pr.self, producedSignal)
	}
	pr.in.waitForRoom(pr.ctx)
	if chunk.FinishReason != llm.FinishNone {
		pr.finish = chunk.FinishReason // keep reading: usage may follow
	}
	return true
}

// result hands the producer's end to the actor. After a cancel the actor
// has already recorded its end; a late result would only be ignored, so
// it is not sent.
func (pr *producer) result(r *producerResult) {
	if pr.ctx.Err() != nil && !mutant("cancel-not-recorded-first") {
		return
	}
	if pr.in.close(r) {
		pr.root.Send(pr.self, producedSignal)
	}
}

// pushChunk puts a chunk's output into the inbox in the order a client
// reads it (reasoning, text, tool calls) and reports whether the actor
// must be woken.
func pushChunk(in *inbox, chunk llm.Chunk) bool {
	wake := false
	if chunk.Reasoning != "" {
		wake = in.push(model.Part{Kind: model.KindReasoning, Text: chunk.Reasoning}) || wake
	}
	if chunk.Text != "" {
		if len(chunk.Logprobs) == 0 {
			wake = in.pushText(chunk.Text) || wake
		} else {
			wake = in.push(model.Part{Kind: model.KindToken, Text: chunk.Text, Logprobs: logprobs(chunk.Logprobs)}) || wake
		}
	}
	for _, tc := range chunk.ToolCalls {
		d := model.ToolCallDelta{Index: tc.Index, ID: tc.ID, Name: tc.Name, Arguments: tc.Arguments}
		wake = in.push(model.Part{Kind: model.KindToolCall, ToolCall: &d}) || wake
	}
	return wake
}

func logprobs(in []llm.TokenLogprob) *model.TokenLogprobs {
	if len(in) == 0 {
		return nil
	}
	out := make([]model.Logprob, len(in))
	for i, lp := range in {
		out[i] = model.Logprob{Token: lp.Token, Logprob: lp.Logprob, Bytes: lp.Bytes}
		if len(lp.Top) > 0 {
			out[i].Top = make([]model.TopLogprob, len(lp.Top))
			for j, t := range lp.Top {
				out[i].Top[j] = model.TopLogprob{Token: t.Token, Logprob: t.Logprob, Bytes: t.Bytes}
			}
		}
	}
	return &model.TokenLogprobs{Content: out}
}

// upstreamFailure turns a provider error into the end's message and the
// upstream's own status, type, code and parameter. The message is the
// upstream's explanation when it gave one, without the layers' prefixes.
func upstreamFailure(err error, beforeOutput bool) (string, *model.UpstreamError) {
	var se *llm.StatusError
	if errors.As(err, &se) {
		msg := se.Message
		if msg == "" {
			msg = se.Error()
		}
		return msg, &model.UpstreamError{Status: se.StatusCode, Type: se.Type, Code: se.Code, Param: se.Param, RetryAfter: se.RetryAfter, BeforeOutput: beforeOutput}
	}
	var ie *llm.StreamError
	if errors.As(err, &ie) {
		msg := ie.Message
		if msg == "" {
			msg = ie.Error()
		}
		return msg, &model.UpstreamError{Type: ie.Type, BeforeOutput: beforeOutput}
	}
	return err.Error(), nil
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
