package upstream

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/armistice-go/armistice/llm"
)

// SDKStream is what an SSE stream offers: the Anthropic SDK's generic
// stream, and llm/openai's own chunk reader.
type SDKStream[T any] interface {
	Next() bool
	Current() T
	Err() error
	Close() error
}

// Decoder is the vendor part of a stream: it turns one SDK event into a
// chunk, and recognises the vendor's error events.
type Decoder[T any] interface {
	// Decode maps one event. With done set the stream ends with err
	// (io.EOF for a complete answer) and c is ignored.
	Decode(ev T) (c llm.Chunk, done bool, err error)
	// Finished reports that a finish reason was delivered.
	Finished() bool
	// EventError returns the error an SDK error stands for when it is the
	// vendor's error event inside the stream, else nil.
	EventError(err error) error
}

// Stream is an llm.Stream over an SDK stream: cancellation, the end of
// the body with or without a finish reason, malformed events, error
// events and releasing the connection are handled here, once for every
// vendor.
type Stream[T any] struct {
	name, secret string
	ctx          context.Context
	s            SDKStream[T]
	dec          Decoder[T]
	stopWatch    func()
	errClosed    error

	chunks  int   // chunks delivered
	end     error // io.EOF or the error every later Recv returns
	closed  bool
	next    llm.Chunk // decoded by Wait, handed out by the next Recv
	hasNext bool
}

// NewStream wraps an opened SDK stream. res is the HTTP response (its body
// is closed when ctx ends, so a blocked read returns at once); errClosed is
// the package's sentinel for Recv after Close.
func NewStream[T any](ctx context.Context, name, secret string, s SDKStream[T], res *http.Response, dec Decoder[T], errClosed error) *Stream[T] {
	st := &Stream[T]{name: name, secret: secret, ctx: ctx, s: s, dec: dec, errClosed: errClosed, stopWatch: func() {}}
	if res != nil {
		st.stopWatch = Watch(ctx, res.Body)
	}
	return st
}

// Recv returns the next chunk that carries something (Carries); events
// without anything are skipped.
func (s *Stream[T]) Recv() (llm.Chunk, error) {
	if s.end != nil {
		return llm.Chunk{}, s.end
	}
	if s.closed {
		return llm.Chunk{}, s.errClosed
	}
	if s.hasNext {
		c := s.next
		s.next, s.hasNext = llm.Chunk{}, false
		return c, nil
	}
	for {
		c, ok, err := s.step()
		if err != nil {
			return llm.Chunk{}, err
		}
		if ok {
			return c, nil
		}
	}
}

// Wait returns once the next chunk that carries something has begun to
// arrive, or the stream ended (llm.Waiter), when the SDK stream can wait
// for an event without decoding it (llm/openai's reader can; the
// Anthropic SDK's cannot, and then Recv waits). Events that carry nothing
// (a role-only first chunk, keep-alives) are decoded and skipped here, so
// that the caller parks in Wait, not in Recv, until there is something.
func (s *Stream[T]) Wait() {
	w, ok := s.s.(llm.Waiter)
	if !ok {
		return
	}
	for s.end == nil && !s.closed && !s.hasNext {
		w.Wait()
		s.advance()
	}
}

// advance decodes the next event, keeping its chunk for Recv when it
// carries something. Not inlined: the chunk and the decoding would
// widen Wait's frame, which is under the goroutine while it waits.
//
//go:noinline
func (s *Stream[T]) advance() {
	if c, ok, err := s.step(); ok && err == nil {
		s.next, s.hasNext = c, true
	}
}

// step reads and decodes one event: its chunk and true when it carries
// something, false when it does not, or the error that ended the stream.
func (s *Stream[T]) step() (llm.Chunk, bool, error) {
	if err := Cancelled(s.ctx, s.name); err != nil {
		_, err = s.fail(err)
		return llm.Chunk{}, false, err
	}
	if !s.s.Next() {
		_, err := s.fail(s.endError(s.s.Err()))
		return llm.Chunk{}, false, err
	}
	c, done, err := s.dec.Decode(s.s.Current())
	if done || err != nil {
		if err == nil {
			err = io.EOF
		}
		_, err = s.fail(err)
		return llm.Chunk{}, false, err
	}
	if !Carries(c) {
		return llm.Chunk{}, false, nil
	}
	s.chunks++
	return c, true, nil
}

// Chunks is the number of chunks delivered so far, for error messages.
func (s *Stream[T]) Chunks() int { return s.chunks }

// fail ends the stream with err, releasing the connection.
func (s *Stream[T]) fail(err error) (llm.Chunk, error) {
	s.end = err
	s.release()
	return llm.Chunk{}, err
}

// endError maps how the SDK's stream ended (err is nil on a clean end of
// the body) onto the stream's final error.
func (s *Stream[T]) endError(err error) error {
	if cerr := Cancelled(s.ctx, s.name); cerr != nil {
		return cerr
	}
	if s.dec.Finished() {
		// The answer is complete; whatever happens after the finish (a
		// missing usage chunk or end marker, a dropped connection) does
		// not undo it.
		return io.EOF
	}
	if err == nil {
		return fmt.Errorf("%s: %w: %w (after %d chunks)", s.name, llm.ErrUpstream, llm.ErrStreamCut, s.chunks)
	}
	if eerr := s.dec.EventError(err); eerr != nil {
		return fmt.Errorf("%s: %w", s.name, eerr)
	}
	if IsJSONError(err) || errors.Is(err, bufio.ErrTooLong) {
		return RedactError(fmt.Errorf("%s: %w: %w: %w", s.name, llm.ErrUpstream, llm.ErrMalformed, err), s.secret)
	}
	return RedactError(fmt.Errorf("%s: %w: %w (after %d chunks): %w", s.name, llm.ErrUpstream, llm.ErrStreamCut, s.chunks, err), s.secret)
}

// release stops the cancel watch and closes the SDK stream (and with it the
// response body). It is idempotent.
func (s *Stream[T]) release() {
	s.stopWatch()
	_ = s.s.Close()
}

// Close releases the stream. It is idempotent.
func (s *Stream[T]) Close() error {
	if !s.closed {
		s.closed = true
		s.release()
	}
	return nil
}

// OpenError turns the error of a request whose stream did not open (an
// SDK's, or net/http's with res holding an error status) into an llm
// error: the context's, an *llm.StatusError, or a transport error wrapping
// llm.ErrUpstream, never holding secret.
func OpenError(ctx context.Context, name, secret string, res *http.Response, err error) error {
	if cerr := Cancelled(ctx, name); cerr != nil {
		return cerr
	}
	if res != nil && res.StatusCode >= 400 {
		return fmt.Errorf("%s: %w", name, Status(res, time.Now(), secret))
	}
	return RedactError(fmt.Errorf("%s: %w: %w", name, llm.ErrUpstream, err), secret)
}
