package embedded

import (
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/armistice-go/armistice/llm"
)

// Provider is the embedded model. It is safe for concurrent use.
type Provider struct {
	cfg      Config
	interval time.Duration
}

var _ llm.Provider = (*Provider)(nil)

// New returns a Provider for cfg, or an error wrapping ErrInvalidConfig.
func New(cfg Config) (*Provider, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Provider{cfg: cfg, interval: cfg.interval()}, nil
}

// Name returns "embedded".
func (p *Provider) Name() string { return "embedded" }

// Stream starts an answer to req. It fails with an error wrapping
// llm.ErrInvalidRequest when req has no messages. The stream does its
// waiting inside Recv; nothing runs in the background.
func (p *Provider) Stream(ctx context.Context, req llm.Request) (llm.Stream, error) {
	if len(req.Messages) == 0 {
		return nil, fmt.Errorf("%w: no messages", llm.ErrInvalidRequest)
	}
	text := req.Text()
	n, reason := p.cfg.Tokens, llm.FinishStop
	if req.MaxTokens > 0 && req.MaxTokens < n {
		n, reason = req.MaxTokens, llm.FinishLength
	}
	h := fnv.New64a()
	h.Write([]byte(text))
	h.Write([]byte{0}) // keeps ("ab", "c") and ("a", "bc") apart
	h.Write([]byte(req.Model))
	seed := h.Sum64()
	return &stream{
		ctx:      ctx,
		chain:    table(),
		rng:      rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		n:        n,
		reason:   reason,
		prompt:   countWords(text),
		interval: p.interval,
		start:    time.Now(),
	}, nil
}

// countWords counts whitespace-separated words without allocating.
func countWords(s string) int {
	n := 0
	for range strings.FieldsSeq(s) {
		n++
	}
	return n
}

// stream is one answer. Like every llm.Stream it is used by one goroutine.
type stream struct {
	ctx    context.Context
	chain  *chain
	rng    *rand.Rand
	n      int
	reason llm.FinishReason
	prompt int

	interval time.Duration
	start    time.Time
	timer    *time.Timer // created on the first wait, reused after

	sent   int   // tokens delivered
	pos    int32 // corpus position of the last token
	eof    bool  // the finish chunk was delivered
	closed bool
}

// Recv returns the next word, then the finish chunk, then io.EOF forever.
// Once the finish chunk was delivered Recv keeps returning io.EOF, even after
// a cancel or Close; before that, a cancelled context yields an error
// wrapping the context's error and a closed stream ErrClosed.
func (s *stream) Recv() (llm.Chunk, error) {
	if s.eof {
		return llm.Chunk{}, io.EOF
	}
	if s.closed {
		return llm.Chunk{}, ErrClosed
	}
	if err := s.ctx.Err(); err != nil {
		return llm.Chunk{}, fmt.Errorf("embedded: %w", err)
	}
	if s.sent == s.n {
		s.eof = true
		return llm.Chunk{
			FinishReason: s.reason,
			Usage:        &llm.Usage{PromptTokens: s.prompt, CompletionTokens: s.n},
		}, nil
	}
	if err := s.wait(); err != nil {
		return llm.Chunk{}, err
	}
	if s.sent == 0 {
		s.pos = s.chain.first(s.rng)
	} else {
		s.pos = s.chain.next(s.pos, s.rng)
	}
	s.sent++
	return llm.Chunk{Text: s.chain.word(s.pos, s.sent > 1)}, nil
}

// wait blocks until the next token is due. Token k (1-based) is due k
// intervals after the stream opened, so a slow consumer does not slow the
// schedule down and the timing does not drift.
func (s *stream) wait() error {
	if s.interval == 0 {
		return nil
	}
	due := s.start.Add(time.Duration(s.sent+1) * s.interval)
	d := time.Until(due)
	if d <= 0 {
		return nil
	}
	if s.timer == nil {
		s.timer = time.NewTimer(d)
	} else {
		// Since Go 1.23 Reset also discards a stale, unreceived tick.
		s.timer.Reset(d)
	}
	select {
	case <-s.timer.C:
		return nil
	case <-s.ctx.Done():
		s.timer.Stop()
		return fmt.Errorf("embedded: %w", s.ctx.Err())
	}
}

// Close releases the stream. It is idempotent.
func (s *stream) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	if s.timer != nil {
		s.timer.Stop()
	}
	return nil
}
