package client

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/llm/resilient"
	"github.com/rs/zerolog"
)

// maxBodyBytes bounds a JSON answer the client reads.
const maxBodyBytes = 1 << 20

// Client calls one Armistice server. It is safe for concurrent use.
type Client struct {
	base  string // scheme://host[:port][/prefix], no trailing slash
	key   string
	hc    *http.Client
	log   zerolog.Logger
	retry RetryPolicy
}

// Option configures a Client.
type Option func(*Client)

// WithAPIKey sends key as "Authorization: Bearer <key>" on every call.
func WithAPIKey(key string) Option { return func(c *Client) { c.key = key } }

// WithHTTPClient makes the client use hc. hc should have no Timeout: a
// stream lasts as long as the answer (RetryPolicy.IdleTimeout catches a
// silent connection instead). Default: a client of its own, with a clone
// of http.DefaultTransport.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithLogger logs retries (at info) and calls (at debug) to l. Default:
// no logging.
func WithLogger(l zerolog.Logger) Option { return func(c *Client) { c.log = l } }

// WithRetry sets the retry policy; its zero fields take the defaults of
// DefaultRetryPolicy.
func WithRetry(p RetryPolicy) Option {
	return func(c *Client) {
		onRetry := c.retry.OnRetry
		c.retry = p
		if p.OnRetry == nil {
			c.retry.OnRetry = onRetry
		}
	}
}

// WithOnRetry calls f before every wait for a retry (e.g. to print a
// "reconnecting" note). It is called from the goroutine making the call.
func WithOnRetry(f func(Retry)) Option { return func(c *Client) { c.retry.OnRetry = f } }

// RetryPolicy decides when and how long the client waits to try again.
type RetryPolicy struct {
	// MaxAttempts bounds the attempts in a row that may fail: for a stream,
	// without a new record between them; for Status and Cancel, in all.
	// Default 10; 1 means no retries.
	MaxAttempts int
	// SubmitRetries is how many times a submit answered 429, or 503 with
	// a Retry-After, or whose connection failed before the answer, is
	// tried again. Default 3; negative: never.
	SubmitRetries int
	// BaseBackoff and MaxBackoff shape the backoff between attempts when
	// the server gave no Retry-After: BaseBackoff doubling up to
	// MaxBackoff, with equal jitter (llm/resilient.Backoff). Defaults
	// 100ms and 5s.
	BaseBackoff time.Duration
	MaxBackoff  time.Duration
	// MaxRetryAfter caps the wait a Retry-After asks for. Default 1 minute.
	MaxRetryAfter time.Duration
	// IdleTimeout drops a stream on which no byte arrived for this long
	// (the server sends a ": ping" every 15 s by default) and resumes it.
	// Default 1 minute; negative: never.
	IdleTimeout time.Duration
	// Rand returns a number in [0, 1) for the jitter. Default
	// math/rand/v2's Float64.
	Rand func() float64
	// Sleep waits d or until ctx is done, returning ctx's error then.
	// Tests replace it to run without waiting. Default: a timer.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock for a Retry-After given as an HTTP date. Default
	// time.Now.
	Now func() time.Time
	// OnRetry, when set, is called before every wait (see WithOnRetry).
	OnRetry func(Retry)
}

// Retry describes one wait before another attempt.
type Retry struct {
	// Op is "submit", "status", "cancel" or "stream".
	Op string
	// Attempt is the number of attempts that failed in a row (1, 2, ...).
	Attempt int
	// Wait is how long the client waits before the next attempt.
	Wait time.Duration
	// Err is why the last attempt failed.
	Err error
}

// DefaultRetryPolicy returns the policy a Client has by default.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{
		MaxAttempts:   10,
		SubmitRetries: 3,
		BaseBackoff:   100 * time.Millisecond,
		MaxBackoff:    5 * time.Second,
		MaxRetryAfter: time.Minute,
		IdleTimeout:   time.Minute,
		Rand:          rand.Float64,
		Sleep:         sleep,
		Now:           time.Now,
	}
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	d := DefaultRetryPolicy()
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = d.MaxAttempts
	}
	if p.SubmitRetries == 0 {
		p.SubmitRetries = d.SubmitRetries
	}
	if p.BaseBackoff <= 0 {
		p.BaseBackoff = d.BaseBackoff
	}
	if p.MaxBackoff <= 0 {
		p.MaxBackoff = max(d.MaxBackoff, p.BaseBackoff)
	}
	if p.MaxRetryAfter <= 0 {
		p.MaxRetryAfter = d.MaxRetryAfter
	}
	if p.IdleTimeout == 0 {
		p.IdleTimeout = d.IdleTimeout
	}
	if p.Rand == nil {
		p.Rand = d.Rand
	}
	if p.Sleep == nil {
		p.Sleep = d.Sleep
	}
	if p.Now == nil {
		p.Now = d.Now
	}
	return p
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// New returns a client of the server at baseURL ("http://127.0.0.1:8080";
// a path prefix is kept, for a server behind a proxy).
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("client: %q is not an http(s) URL", baseURL)
	}
	c := &Client{base: strings.TrimRight(baseURL, "/"), log: zerolog.Nop(), retry: DefaultRetryPolicy()}
	for _, o := range opts {
		o(c)
	}
	c.retry = c.retry.withDefaults()
	if c.hc == nil {
		c.hc = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	return c, nil
}

// CloseIdleConnections closes the idle connections of the client's
// http.Client.
func (c *Client) CloseIdleConnections() { c.hc.CloseIdleConnections() }

// Request is the body of a submit (POST /v1/requests).
type Request struct {
	// Prompt is sent to the model as one user message. Required.
	Prompt string `json:"prompt"`
	// Model names the model; empty: the server's default.
	Model string `json:"model,omitempty"`
	// MaxTokens caps the answer; 0: the provider's default.
	MaxTokens int `json:"max_tokens,omitempty"`
	// OnDisconnect is "continue" (the server's default) or "cancel".
	OnDisconnect string `json:"on_disconnect,omitempty"`
	// Metadata is kept with the request and shown in its snapshot.
	Metadata map[string]string `json:"metadata,omitempty"`
	// Extra holds further body fields (generation settings and whatever
	// the server learns after this client was written), each marshalled
	// as JSON next to the fields above. A key that repeats one of them is
	// an error.
	Extra map[string]any `json:"-"`
}

// MarshalJSON writes the request's fields and its Extra fields.
func (r Request) MarshalJSON() ([]byte, error) {
	type plain Request
	b, err := json.Marshal(plain(r))
	if err != nil || len(r.Extra) == 0 {
		return b, err
	}
	fields := map[string]json.RawMessage{}
	if err := json.Unmarshal(b, &fields); err != nil {
		return nil, err
	}
	for k, v := range r.Extra {
		if _, dup := fields[k]; dup || k == "prompt" {
			return nil, fmt.Errorf("client: Request.Extra[%q] repeats a field of Request", k)
		}
		raw, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("client: Request.Extra[%q]: %w", k, err)
		}
		fields[k] = raw
	}
	return json.Marshal(fields) // keys sorted
}

// Snapshot is a request as the server shows it (docs/api.md, "The request
// snapshot"). Status and Reason are set once the request has ended.
type Snapshot struct {
	ID            string            `json:"id"`
	State         string            `json:"state"`
	Status        string            `json:"status,omitempty"`
	Reason        string            `json:"reason,omitempty"`
	Message       string            `json:"message,omitempty"`
	Model         string            `json:"model,omitempty"`
	CreatedAt     time.Time         `json:"created_at"`
	StartedAt     time.Time         `json:"started_at,omitzero"`
	FinishedAt    time.Time         `json:"finished_at,omitzero"`
	Tokens        int               `json:"tokens"`
	LastSeq       uint64            `json:"last_seq"`
	Subscribers   int               `json:"subscribers"`
	QueuePosition int               `json:"queue_position,omitempty"`
	OnDisconnect  string            `json:"on_disconnect,omitempty"`
	Usage         *Usage            `json:"usage,omitempty"`
	Metadata      map[string]string `json:"metadata,omitempty"`
}

// Usage is the token count the provider reported.
type Usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
}

// Submit creates a request. A 429 answer, or a 503 with a Retry-After, is
// retried after its Retry-After, and a connection that failed before the
// answer after a backoff (see RetryPolicy.SubmitRetries), with the same
// Idempotency-Key on every attempt, so the server creates the request once.
func (c *Client) Submit(ctx context.Context, r Request) (Snapshot, error) {
	resp, err := c.submit(ctx, r, "application/json")
	if err != nil {
		return Snapshot{}, err
	}
	defer drain(resp)
	return decodeSubmitted(resp)
}

// decodeSubmitted reads the snapshot a submit answered with.
func decodeSubmitted(resp *http.Response) (Snapshot, error) {
	var snap Snapshot
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxBodyBytes)).Decode(&snap); err != nil {
		return Snapshot{}, fmt.Errorf("%w: the submit answered %s with a body that is not JSON: %v", ErrProtocol, resp.Status, err)
	}
	if snap.ID == "" {
		return Snapshot{}, fmt.Errorf("%w: submit answered without an id", ErrProtocol)
	}
	return snap, nil
}

// submit posts r, asking for accept, until an attempt is answered 2xx,
// which it returns with its body unread; the retries are Submit's. The
// answer's body reads under ctx.
func (c *Client) submit(ctx context.Context, r Request, accept string) (*http.Response, error) {
	body, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	key := idempotencyKey()
	for attempt := 1; ; attempt++ {
		req, err := c.newRequest(ctx, http.MethodPost, "/v1/requests", body)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Idempotency-Key", key)
		req.Header.Set("Accept", accept)
		resp, err := c.hc.Do(req)
		if err == nil && resp.StatusCode/100 == 2 {
			return resp, nil
		}
		if err == nil {
			e := c.apiError(resp)
			drain(resp)
			err = e
		}
		if !c.submitRetryable(ctx, err) || attempt > c.retry.SubmitRetries {
			return nil, err
		}
		if err := c.wait(ctx, "submit", attempt, err); err != nil {
			return nil, err
		}
	}
}

// submitRetryable: a 429, or a 503 that says when to come back (the
// engine was slow); a 503 without Retry-After is a server shutting down.
// A connection that failed is tried again too: the Idempotency-Key makes
// the server answer a retry with the request the first attempt created,
// if it did.
func (c *Client) submitRetryable(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	var e *Error
	if !errors.As(err, &e) {
		return true
	}
	return e.Status == http.StatusTooManyRequests || (e.Status == http.StatusServiceUnavailable && e.RetryAfter > 0)
}

// Status returns the request's current snapshot.
func (c *Client) Status(ctx context.Context, id string) (Snapshot, error) {
	return c.call(ctx, "status", http.MethodGet, requestPath(id, ""))
}

// Cancel cancels the request and returns its snapshot. A request that had
// already ended answers ErrAlreadyFinished, with the *Error's Snapshot
// set. Cancel is idempotent, so it is retried like Status.
func (c *Client) Cancel(ctx context.Context, id string) (Snapshot, error) {
	return c.call(ctx, "cancel", http.MethodPost, requestPath(id, "/cancel"))
}

// Chat submits r and streams the new request from its start. The
// snapshot is the submit's (its ID names the request, e.g. for Cancel).
func (c *Client) Chat(ctx context.Context, r Request) (Snapshot, iter.Seq2[Event, error], error) {
	snap, err := c.Submit(ctx, r)
	if err != nil {
		return Snapshot{}, nil, err
	}
	return snap, c.Stream(ctx, snap.ID, 0), nil
}

// call makes an idempotent call answered by a snapshot, retrying
// connection failures, 429 and 5xx.
func (c *Client) call(ctx context.Context, op, method, path string) (Snapshot, error) {
	for attempt := 1; ; attempt++ {
		req, err := c.newRequest(ctx, method, path, nil)
		if err != nil {
			return Snapshot{}, err
		}
		var snap Snapshot
		err = c.doJSON(req, &snap)
		if err == nil || !c.retryable(ctx, err) {
			return snap, err
		}
		if attempt >= c.retry.MaxAttempts {
			return Snapshot{}, fmt.Errorf("%w: %s after %d attempts: %w", ErrGaveUp, op, attempt, err)
		}
		if err := c.wait(ctx, op, attempt, err); err != nil {
			return Snapshot{}, err
		}
	}
}

// retryable says whether another attempt of an idempotent call may help.
func (c *Client) retryable(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	var e *Error
	if errors.As(err, &e) {
		return e.retryable()
	}
	return !errors.Is(err, ErrProtocol)
}

// wait sleeps before attempt+1: the Retry-After err carries, capped, or
// the jittered backoff.
func (c *Client) wait(ctx context.Context, op string, attempt int, err error) error {
	d := resilient.Backoff(c.retry.BaseBackoff, c.retry.MaxBackoff, attempt, c.retry.Rand())
	var e *Error
	if errors.As(err, &e) && e.RetryAfter > 0 {
		d = min(e.RetryAfter, c.retry.MaxRetryAfter)
	}
	c.log.Info().Str("op", op).Int("attempt", attempt).Dur("wait", d).Err(err).Msg("retrying")
	if c.retry.OnRetry != nil {
		c.retry.OnRetry(Retry{Op: op, Attempt: attempt, Wait: d, Err: err})
	}
	return c.retry.Sleep(ctx, d)
}

func requestPath(id, suffix string) string {
	return "/v1/requests/" + url.PathEscape(id) + suffix
}

func (c *Client) newRequest(ctx context.Context, method, path string, body []byte) (*http.Request, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, r)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	return req, nil
}

// doJSON makes the call and decodes a 2xx answer into v, or returns the
// error answer as a *Error.
func (c *Client) doJSON(req *http.Request, v any) error {
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer drain(resp)
	if resp.StatusCode/100 != 2 {
		return c.apiError(resp)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxBodyBytes)).Decode(v); err != nil {
		return fmt.Errorf("%w: %s %s answered %s with a body that is not JSON: %v", ErrProtocol, req.Method, req.URL.Path, resp.Status, err)
	}
	return nil
}

// apiError reads an error answer.
func (c *Client) apiError(resp *http.Response) *Error {
	e := &Error{Status: resp.StatusCode, RetryAfter: llm.ParseRetryAfter(resp.Header, c.retry.Now())}
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
		Snapshot *Snapshot `json:"snapshot"`
	}
	if json.NewDecoder(io.LimitReader(resp.Body, maxBodyBytes)).Decode(&body) == nil {
		e.Code, e.Message, e.Snapshot = body.Error.Code, body.Error.Message, body.Snapshot
	}
	return e
}

// drain reads what is left of a small body, so that the connection can be
// reused, and closes it.
func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBodyBytes))
	resp.Body.Close()
}

func idempotencyKey() string {
	var b [16]byte
	_, _ = crand.Read(b[:])
	return hex.EncodeToString(b[:])
}
