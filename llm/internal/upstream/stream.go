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

	chunks int   // chunks delivered
	end    error // io.EOF or the error every later Recv returns
	closed bool
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
	for {
		if err := Cancelled(s.ctx, s.name); err != nil {
			return s.fail(err)
		}
		if !s.s.Next() {
			return s.fail(s.endError(s.s.Err()))
		}
		c, done, err := s.dec.Decode(s.s.Current())
		if done || err != nil {
			if err == nil {
				err = io.EOF
			}
			return s.fail(err)
		}
		if Carries(c) {
			s.chunks++
			return c, nil
		}
	}
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
