package resilient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"strings"
	"time"

	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/llm/internal/upstream"
)

// Provider opens each stream on the first upstream that delivers a first
// chunk, retrying and falling back as its package documentation says. It is
// safe for concurrent use.
type Provider struct {
	cfg Config
}

var (
	_ llm.Provider = (*Provider)(nil)
	_ llm.Capable  = (*Provider)(nil)
)

// New returns a Provider for cfg, with its zero fields defaulted, or an
// error wrapping ErrInvalidConfig.
func New(cfg Config) (*Provider, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Provider{cfg: cfg}, nil
}

// Name returns Config.Name.
func (p *Provider) Name() string { return p.cfg.Name }

// Capabilities returns the fields every upstream honours: any of them may
// serve a request (a fallback takes over whatever the request holds), so a
// field honoured by only some would be dropped whenever another serves it.
func (p *Provider) Capabilities() llm.Capabilities {
	caps := maps.Clone(llm.CapabilitiesOf(p.cfg.Upstreams[0].Provider))
	for _, up := range p.cfg.Upstreams[1:] {
		other := llm.CapabilitiesOf(up.Provider)
		for f, ok := range caps {
			if !ok || !other[f] {
				delete(caps, f)
			}
		}
	}
	return caps
}

// CheckRequest passes the upstreams' own value checks through
// (llm.RequestChecker): any upstream may serve the request, so each that
// checks values must accept it.
func (p *Provider) CheckRequest(req llm.Request) error {
	for _, up := range p.cfg.Upstreams {
		if rc, ok := up.Provider.(llm.RequestChecker); ok {
			if err := rc.CheckRequest(req); err != nil {
				return err
			}
		}
	}
	return nil
}

// Stream opens a stream and reads it up to its first chunk carrying
// something (text, reasoning, a tool-call piece, logprobs, a finish reason
// or usage): that is the retryable phase. It returns the
// stream with that chunk buffered for the first Recv, or the error that
// ended the phase (see the package documentation). When the upstream's
// stream can wait (llm.Waiter), Stream returns once it is open and the
// rest of the phase happens in the first Recv, with the same rules, the
// same observer calls and the same errors.
func (p *Provider) Stream(ctx context.Context, req llm.Request) (llm.Stream, error) {
	o := &opener{p: p, ctx: ctx, req: req, clock: watchCancel(ctx)}
	s, err := o.open(true)
	if err != nil {
		return nil, err // not a nil *stream in an interface
	}
	return s, nil
}

// opener is the retryable phase of one Stream call: which upstream it is
// on, how many attempts that upstream has had, and what failed so far.
// Stream runs it up to an open stream; a stream opened lazily runs it on
// from there if its first read fails.
type opener struct {
	p     *Provider
	ctx   context.Context
	req   llm.Request
	clock *cancelClock

	ui       int // the upstream being tried
	n        int // its attempts so far
	attempts []string
	last     error // the last attempt's error
	giveUp   error // why the upstream was given up before its last attempt
}

// open makes attempts until one gives a stream, or returns the error
// that ends the phase. With lazy set, an attempt whose stream is an
// llm.Waiter succeeds once the stream is open, and the stream reads its
// first chunk in its first Recv (confirm).
func (o *opener) open(lazy bool) (*stream, error) {
	for {
		up := o.p.cfg.Upstreams[o.ui]
		o.n++
		o.p.cfg.Observer.Attempt(up.Name, o.n)
		inner, first, err := o.p.open(o.ctx, up, o.req, lazy)
		if err == nil {
			s := &stream{cfg: &o.p.cfg, upstream: up.Name, ctx: o.ctx, clock: o.clock, inner: inner, first: first}
			if first == nil {
				s.opening = o
			}
			return s, nil
		}
		if err := o.failed(err); err != nil {
			return nil, err
		}
	}
}

// failed takes an attempt's failure: it returns the error that ends the
// phase, or nil once the next attempt may start (on this upstream after
// its wait, or on the next upstream).
func (o *opener) failed(err error) error {
	cfg := &o.p.cfg
	up := cfg.Upstreams[o.ui]
	if o.ctx.Err() != nil {
		cfg.Observer.Aborted(up.Name, o.clock.since())
		return ctxError(o.ctx, up.Name, err)
	}
	kind := Classify(err)
	cfg.Observer.Error(up.Name, kind, err)
	o.last = named(up.Name, err)
	if !kind.Retryable() {
		o.clock.stop()
		return o.last
	}
	if o.n < 1+cfg.Retries {
		wait, why := o.p.wait(o.ctx, err, o.n)
		if why == nil {
			cfg.Observer.Retry(up.Name, kind, wait)
			select {
			case <-cfg.After(wait):
				return nil
			case <-o.ctx.Done():
				o.clock.stop()
				return ctxError(o.ctx, up.Name, o.last)
			}
		}
		o.giveUp = why
	}
	// This upstream is used up.
	switch {
	case len(o.attempts) > 0:
		o.attempts = append(o.attempts, fmt.Sprintf("%d on %s", o.n, up.Name))
	case o.n == 1:
		o.attempts = append(o.attempts, "1 attempt on "+up.Name)
	default:
		o.attempts = append(o.attempts, fmt.Sprintf("%d attempts on %s", o.n, up.Name))
	}
	if o.ui+1 < len(cfg.Upstreams) {
		cfg.Observer.Fallback(up.Name, Classify(o.last), cfg.Upstreams[o.ui+1].Name)
		o.ui, o.n, o.giveUp = o.ui+1, 0, nil
		return nil
	}
	o.clock.stop()
	sentinel := ErrExhausted
	if o.giveUp == ErrDeadline {
		sentinel = ErrDeadline
	}
	return fmt.Errorf("%w after %s: %w", sentinel, strings.Join(o.attempts, ", "), o.last)
}

// open makes one attempt: it opens a stream on up and reads it to its first
// chunk that carries something. On failure the stream is closed. With lazy
// set, a stream that can wait is returned open, without its first chunk.
func (p *Provider) open(ctx context.Context, up Upstream, req llm.Request, lazy bool) (llm.Stream, *llm.Chunk, error) {
	s, err := up.Provider.Stream(ctx, req)
	if err != nil {
		return nil, nil, err
	}
	if _, ok := s.(llm.Waiter); ok && lazy {
		return s, nil, nil
	}
	c, err := firstChunk(s)
	if err != nil {
		s.Close()
		return nil, nil, err
	}
	return s, &c, nil
}

// firstChunk reads s up to its first chunk that carries something.
func firstChunk(s llm.Stream) (llm.Chunk, error) {
	for {
		c, err := s.Recv()
		if err == io.EOF {
			err = fmt.Errorf("%w: %w (before the first chunk)", llm.ErrUpstream, llm.ErrStreamCut)
		}
		if err != nil {
			return llm.Chunk{}, err
		}
		if upstream.Carries(c) {
			return c, nil
		}
	}
}

// wait returns how long to wait before retry n (n ≥ 1 attempts made) after
// err, or why the upstream should be given up instead: errTooLong when it
// asked for a Retry-After beyond MaxRetryAfter, ErrDeadline when the wait
// would end past ctx's deadline.
func (p *Provider) wait(ctx context.Context, err error, n int) (time.Duration, error) {
	var wait time.Duration
	var status *llm.StatusError
	if errors.As(err, &status) && status.RetryAfter > 0 {
		if status.RetryAfter > p.cfg.MaxRetryAfter {
			return 0, errTooLong
		}
		wait = status.RetryAfter
	} else {
		wait = p.backoff(n)
	}
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) <= wait {
		return 0, ErrDeadline
	}
	return wait, nil
}

// errTooLong is why an upstream asking for too long a Retry-After is given
// up; the request then ends as exhausted.
var errTooLong = errors.New("resilient: Retry-After beyond MaxRetryAfter")

// backoff is the jittered backoff before retry n (n ≥ 1); see Backoff.
func (p *Provider) backoff(n int) time.Duration {
	return Backoff(p.cfg.BaseBackoff, p.cfg.MaxBackoff, n, p.cfg.Rand())
}

// Backoff is the jittered wait before retry n (n ≥ 1; less counts as 1):
// the exponential backoff d = min(limit, base·2^(n-1)), drawn with equal
// jitter as d/2 + r·d/2 for r in [0, 1) (r out of range counts as 0).
// Other retrying clients (package http/client) use it too, so that every
// retry in Armistice backs off the same way.
func Backoff(base, limit time.Duration, n int, r float64) time.Duration {
	d := base
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	d = min(d, limit)
	half := d / 2
	if r < 0 || r >= 1 || r != r {
		r = 0
	}
	return half + time.Duration(r*float64(d-half))
}

// named prefixes err with the package and the upstream's name, unless
// err already starts with that name (an upstream named like its provider).
func named(upstream string, err error) error {
	if strings.HasPrefix(err.Error(), upstream+": ") {
		return fmt.Errorf("resilient: %w", err)
	}
	return fmt.Errorf("resilient: %s: %w", upstream, err)
}

// ctxError returns an error wrapping ctx's error and the attempt's.
func ctxError(ctx context.Context, upstream string, err error) error {
	if errors.Is(err, ctx.Err()) {
		return named(upstream, err)
	}
	return named(upstream, fmt.Errorf("%w (last error: %v)", ctx.Err(), err))
}

// stream is a stream past its first chunk. Like every llm.Stream it is
// used by one goroutine.
type stream struct {
	cfg      *Config
	upstream string
	ctx      context.Context
	clock    *cancelClock
	inner    llm.Stream
	first    *llm.Chunk // buffered by Stream, handed out by the first Recv
	// opening is the phase a stream opened lazily has yet to finish: its
	// first Recv reads the first chunk, retrying as Stream would.
	opening *opener

	finished bool  // a finish reason was delivered
	end      error // io.EOF or the error every later Recv returns
	aborted  bool  // Aborted was reported
	closed   bool
}

// Recv returns the buffered first chunk, then the upstream's chunks. No
// error after the first chunk is retried. An io.EOF before any finish
// reason becomes an error wrapping llm.ErrStreamCut.
func (s *stream) Recv() (llm.Chunk, error) {
	if s.end != nil {
		return llm.Chunk{}, s.end
	}
	if s.closed {
		return llm.Chunk{}, ErrClosed
	}
	if s.opening != nil {
		if err := s.confirm(); err != nil {
			s.end = err
			return llm.Chunk{}, err
		}
	}
	var c llm.Chunk
	var err error
	if s.first != nil {
		c, s.first = *s.first, nil
	} else {
		c, err = s.inner.Recv()
	}
	if err == nil {
		if c.FinishReason != llm.FinishNone {
			s.finished = true
		}
		return c, nil
	}
	switch {
	case s.ctx.Err() != nil:
		s.end = ctxError(s.ctx, s.upstream, err)
		s.abort()
	case err == io.EOF && s.finished:
		s.end = io.EOF
		s.clock.stop()
	default:
		s.clock.stop()
		if err == io.EOF {
			err = fmt.Errorf("%w: %w", llm.ErrUpstream, llm.ErrStreamCut)
		}
		s.cfg.Observer.Error(s.upstream, Classify(err), err)
		s.end = named(s.upstream, err)
	}
	return llm.Chunk{}, s.end
}

// confirm ends the retryable phase of a stream opened lazily: it reads
// the first chunk, and if that fails, goes on with the attempts from
// where Stream left them, as Stream would have. Its error ends the
// stream; the opener has already reported it to the observer.
func (s *stream) confirm() error {
	o := s.opening
	s.opening = nil
	c, err := firstChunk(s.inner)
	if err == nil {
		s.first = &c
		return nil
	}
	s.inner.Close()
	if err := o.failed(err); err != nil {
		return err
	}
	next, err := o.open(false)
	if err != nil {
		return err
	}
	s.upstream, s.inner, s.first = next.upstream, next.inner, next.first
	return nil
}

// Wait waits for the upstream's next chunk to begin arriving, when the
// upstream's stream can (llm.Waiter); a buffered first chunk needs no wait.
func (s *stream) Wait() {
	if s.first != nil || s.end != nil || s.closed {
		return
	}
	if w, ok := s.inner.(llm.Waiter); ok {
		w.Wait()
	}
}

// abort closes the inner stream after the context ended and reports how
// long letting go of the upstream took. It reports once.
func (s *stream) abort() {
	s.inner.Close()
	if !s.aborted {
		s.aborted = true
		s.cfg.Observer.Aborted(s.upstream, s.clock.since())
	}
}

// Close closes the upstream stream. It is idempotent.
func (s *stream) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	if s.end == nil && s.ctx.Err() != nil {
		s.abort() // cancelled while nobody was in Recv
	} else {
		s.clock.stop()
	}
	return s.inner.Close()
}

// cancelClock notes when a context ended. It is used by one goroutine at a
// time (the one calling Stream, then the stream's user).
type cancelClock struct {
	at         time.Time     // written by the callback before done closes
	done       chan struct{} // closed by the callback
	unregister func() bool
	stopped    bool
	fired      bool // the callback was started: at will be set
}

// watchCancel starts noting when ctx ends.
func watchCancel(ctx context.Context) *cancelClock {
	c := &cancelClock{done: make(chan struct{})}
	c.unregister = context.AfterFunc(ctx, func() {
		c.at = time.Now()
		close(c.done)
	})
	return c
}

// stop stops watching; it is safe to call more than once.
func (c *cancelClock) stop() {
	if !c.stopped {
		c.stopped = true
		c.fired = !c.unregister()
	}
}

// since stops watching and returns the time since the context ended, or 0
// if it had not ended while watched.
func (c *cancelClock) since() time.Duration {
	c.stop()
	if !c.fired {
		return 0
	}
	<-c.done // the callback has started; it only reads the clock
	return time.Since(c.at)
}
