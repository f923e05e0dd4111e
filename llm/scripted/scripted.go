package scripted

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/armistice-go/armistice/llm"
)

// Provider hands each opened stream to the test as a *Script, in the order
// streams are opened. It is safe for concurrent use.
type Provider struct {
	mu     sync.Mutex
	queue  []*Script     // opened, not yet taken by Next
	wake   chan struct{} // closed and replaced whenever a stream opens
	fails  []error       // errors for the next Stream calls, oldest first
	opened int
}

var _ llm.Provider = (*Provider)(nil)

// New returns a Provider with no streams opened.
func New() *Provider {
	return &Provider{wake: make(chan struct{})}
}

// Name returns "scripted".
func (p *Provider) Name() string { return "scripted" }

// Capabilities accepts every setting: the test reads the request
// (Script.Request) and decides what to answer.
func (p *Provider) Capabilities() llm.Capabilities { return llm.AllCapabilities() }

// Stream opens a stream and queues its Script for Next; it never blocks. If
// FailNextOpen queued an error, Stream returns that error instead, and the
// attempt does not count as opened. The request is not validated: the test
// decides what happens.
func (p *Provider) Stream(ctx context.Context, req llm.Request) (llm.Stream, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.fails) > 0 {
		err := p.fails[0]
		p.fails = p.fails[1:]
		return nil, err
	}
	s := &Script{
		req:   req,
		ctx:   ctx,
		steps: make(chan step),
		done:  make(chan struct{}),
	}
	s.stopWatch = context.AfterFunc(ctx, func() {
		s.cancelled.Store(true)
		s.closeDone()
	})
	p.queue = append(p.queue, s)
	p.opened++
	close(p.wake)
	p.wake = make(chan struct{})
	return &stream{s: s}, nil
}

// FailNextOpen makes the next Stream call return err, unchanged, instead of
// a stream. Several calls queue up: each fails one more Stream call. err must
// not be nil.
func (p *Provider) FailNextOpen(err error) {
	if err == nil {
		panic("scripted: FailNextOpen(nil)")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fails = append(p.fails, err)
}

// Next blocks until the next stream (in opening order) is opened and returns
// its script. A stream opened before the call is returned at once. It
// returns an error wrapping ctx's error if ctx is done first.
func (p *Provider) Next(ctx context.Context) (*Script, error) {
	for {
		p.mu.Lock()
		if len(p.queue) > 0 {
			s := p.queue[0]
			p.queue[0] = nil
			p.queue = p.queue[1:]
			p.mu.Unlock()
			return s, nil
		}
		wake := p.wake
		p.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return nil, fmt.Errorf("scripted: waiting for a stream: %w", ctx.Err())
		}
	}
}

// Opened reports how many streams have been opened so far (failed opens
// excluded).
func (p *Provider) Opened() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.opened
}

// Script is the test's end of one stream.
type Script struct {
	req   llm.Request
	ctx   context.Context
	steps chan step // unbuffered: a send completes when Recv takes the step

	done      chan struct{}
	doneOnce  sync.Once
	stopWatch func() bool // unregisters the AfterFunc watching ctx
	closeOnce sync.Once
	closed    atomic.Bool
	cancelled atomic.Bool
	ended     atomic.Bool // a step that ends the stream was taken
}

type stepKind uint8

const (
	stepChunk stepKind = iota
	stepFinish
	stepFail
	stepCut
	stepPanic
)

type step struct {
	kind  stepKind
	chunk llm.Chunk
	err   error
	value any // for stepPanic
}

// Request returns the request the stream was opened with.
func (s *Script) Request() llm.Request { return s.req }

// Token hands Recv a chunk holding text.
func (s *Script) Token(text string) bool {
	return s.send(step{kind: stepChunk, chunk: llm.Chunk{Text: text}})
}

// Chunk hands Recv c as is. It does not end the stream, even when c carries a
// finish reason, so a test can build malformed streams.
func (s *Script) Chunk(c llm.Chunk) bool {
	return s.send(step{kind: stepChunk, chunk: c})
}

// ToolCall hands Recv one streamed tool call: a chunk with the call's
// index, id and name, then one chunk per piece of its arguments. It
// returns false as soon as a chunk is refused (see Token).
func (s *Script) ToolCall(index int, id, name string, args ...string) bool {
	if !s.Chunk(llm.Chunk{ToolCalls: []llm.ToolCallDelta{{Index: index, ID: id, Name: name}}}) {
		return false
	}
	for _, a := range args {
		if !s.Chunk(llm.Chunk{ToolCalls: []llm.ToolCallDelta{{Index: index, Arguments: a}}}) {
			return false
		}
	}
	return true
}

// Finish hands Recv a finish chunk with reason and usage; Recv returns
// io.EOF after it.
func (s *Script) Finish(reason llm.FinishReason, usage *llm.Usage) bool {
	return s.send(step{kind: stepFinish, chunk: llm.Chunk{FinishReason: reason, Usage: usage}})
}

// Fail makes Recv return an error wrapping llm.ErrUpstream and err, then the
// same error on every later call.
func (s *Script) Fail(err error) bool {
	return s.send(step{kind: stepFail, err: err})
}

// Cut makes Recv return io.EOF with no finish reason, then io.EOF forever.
func (s *Script) Cut() bool {
	return s.send(step{kind: stepCut})
}

// Panic makes Recv panic with v. Later Recv calls return an error wrapping
// llm.ErrUpstream.
func (s *Script) Panic(v any) bool {
	return s.send(step{kind: stepPanic, value: v})
}

// send hands st to Recv and blocks until Recv takes it. It returns false,
// without blocking, once the stream is cancelled, closed or ended, so a test
// never hangs on a stream nobody reads any more.
func (s *Script) send(st step) bool {
	if s.ended.Load() {
		return false
	}
	select {
	case <-s.done:
		return false
	case <-s.ctx.Done():
		return false
	default:
	}
	select {
	case s.steps <- st:
		if st.kind != stepChunk {
			s.ended.Store(true)
		}
		return true
	case <-s.done:
		return false
	case <-s.ctx.Done():
		return false
	}
}

// Done is closed when the stream's context is cancelled or the stream is
// closed.
func (s *Script) Done() <-chan struct{} { return s.done }

// Cancelled reports whether the stream's context was cancelled while the
// stream was open (a cancel after Close does not count).
func (s *Script) Cancelled() bool {
	closed := s.closed.Load() // before cancelled: Close stores them in the other order
	if s.cancelled.Load() {
		return true
	}
	return !closed && s.ctx.Err() != nil
}

// Closed reports whether the stream was closed.
func (s *Script) Closed() bool { return s.closed.Load() }

func (s *Script) closeDone() {
	s.doneOnce.Do(func() { close(s.done) })
}

// stream is the consumer's end of a Script.
type stream struct {
	s   *Script
	end error // io.EOF or an error every later Recv returns
}

func (st *stream) Recv() (llm.Chunk, error) {
	s := st.s
	if st.end != nil {
		return llm.Chunk{}, st.end
	}
	if s.closed.Load() {
		return llm.Chunk{}, ErrClosed
	}
	if err := s.ctx.Err(); err != nil {
		return llm.Chunk{}, fmt.Errorf("scripted: %w", err)
	}
	select {
	case x := <-s.steps:
		switch x.kind {
		case stepFinish:
			st.end = io.EOF
		case stepFail:
			st.end = upstream(x.err)
			return llm.Chunk{}, st.end
		case stepCut:
			st.end = io.EOF
			return llm.Chunk{}, io.EOF
		case stepPanic:
			st.end = fmt.Errorf("%w: scripted: stream panicked earlier: %v", llm.ErrUpstream, x.value)
			panic(x.value)
		}
		return x.chunk, nil
	case <-s.ctx.Done():
		return llm.Chunk{}, fmt.Errorf("scripted: %w", s.ctx.Err())
	case <-s.done:
		// Closed from another goroutine, or the AfterFunc beat ctx.Done.
		if err := s.ctx.Err(); err != nil {
			return llm.Chunk{}, fmt.Errorf("scripted: %w", err)
		}
		return llm.Chunk{}, ErrClosed
	}
}

// Close closes the stream and unblocks a pending Script step. It is
// idempotent.
func (st *stream) Close() error {
	s := st.s
	s.closeOnce.Do(func() {
		// stop reports false when the AfterFunc already started; a cancel
		// that happened just before this Close may not have started it yet,
		// so the context itself is asked too.
		if !s.stopWatch() || s.ctx.Err() != nil {
			s.cancelled.Store(true)
		}
		s.closed.Store(true)
		s.closeDone()
	})
	return nil
}

// upstream wraps err as an upstream failure.
func upstream(err error) error {
	if err == nil {
		return llm.ErrUpstream
	}
	return fmt.Errorf("%w: %w", llm.ErrUpstream, err)
}
