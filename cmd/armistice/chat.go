package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	sse "github.com/tmaxmax/go-sse"
)

const chatUsage = `usage: armistice chat [flags] "prompt"

Submits the prompt to an Armistice server, writes the answer to stdout as it
streams, and prints the final status to stderr, e.g.
[<id>: completed/stop, 42 tokens].

Flags:
  --server URL      the server (default: $ARMISTICE_SERVER, else http://127.0.0.1:8080)
  --key K           API key, sent as "Authorization: Bearer K" (default: $ARMISTICE_API_KEY)
  --model M         the model to ask (default: the server's)
  --max-tokens N    the answer's max_tokens (default 0: the server's limit)

Retries: a submit answered 429 is retried up to 3 times, after the server's
Retry-After (at most 60s; without one, the reconnect backoff). A dropped
stream, or one silent for 60s (the server pings every 15s), is resumed from the last event received (Last-Event-ID) with
exponential backoff (100ms doubling up to 5s, jittered); after 10 failed
attempts in a row chat gives up. "[reconnecting...]" notes go to stderr.

Ctrl-C (or SIGTERM) cancels the request and waits for its end; a second one
quits at once.

Exit status: 0 the request completed; 1 it failed or was cancelled, or an
error; 2 a usage error; 130 quit by a second interrupt, or interrupted before
the server accepted the request.
`

// chatConfig holds what runChat takes from its surroundings: timings, the
// environment, the clock. defaultChatConfig is what the binary uses; tests
// shrink or replace the parts they need through runChatWith.
type chatConfig struct {
	// backoffInitial is the delay before the first reconnect; each failed
	// attempt in a row doubles it, up to backoffMax.
	backoffInitial time.Duration
	backoffMax     time.Duration
	// maxAttempts is how many stream attempts in a row may fail, without a
	// new record between them, before chat gives up. The same bound applies
	// to the cancel call.
	maxAttempts int
	// submitRetries is how many times a submit answered 429 is retried.
	submitRetries int
	// retryAfterMax caps the wait a 429's Retry-After asks for.
	retryAfterMax time.Duration
	// dialTimeout bounds connecting to the server; there is no overall
	// request timeout, since a stream lasts as long as the answer.
	dialTimeout time.Duration
	// idleTimeout drops a stream on which no byte (not even the server's
	// ": ping" heartbeat, every 15 s by default) arrived for this long,
	// so a half-open connection is resumed instead of waited on forever.
	idleTimeout time.Duration
	// jitter turns a backoff delay into the delay slept (nil: uniform in
	// [d/2, d]).
	jitter func(time.Duration) time.Duration
	// sleep waits d, returning early with ctx's error, or with errWoken
	// when wake delivers (nil: a timer).
	sleep func(ctx context.Context, d time.Duration, wake <-chan struct{}) error
	// getenv reads the environment (nil: os.Getenv).
	getenv func(string) string
	// now is the clock, used for a Retry-After given as a date (nil: time.Now).
	now func() time.Time
}

func defaultChatConfig() chatConfig {
	return chatConfig{
		backoffInitial: 100 * time.Millisecond,
		backoffMax:     5 * time.Second,
		maxAttempts:    10,
		submitRetries:  3,
		retryAfterMax:  60 * time.Second,
		dialTimeout:    10 * time.Second,
		idleTimeout:    60 * time.Second,
	}
}

const (
	defaultChatServer = "http://127.0.0.1:8080"
	maxChatEventSize  = 1 << 20 // one SSE event; tokens are far smaller
	maxChatBodySize   = 1 << 20 // a JSON answer or error body
)

var (
	errWoken       = errors.New("woken")
	errInterrupted = errors.New("interrupted")
	errNoEnd       = errors.New("the stream ended before its end event")
)

// chatMain runs chat with SIGINT and SIGTERM delivered to it: the binary's
// entry point for `armistice chat`.
func chatMain(args []string, stdout, stderr io.Writer) int {
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(signals)
	return runChat(context.Background(), args, stdout, stderr, signals)
}

// runChat is `armistice chat`: args are the words after "chat". Each value
// received on signals is an interrupt: the first cancels the request, the
// second quits with 130. It returns the exit status (see chatUsage).
func runChat(ctx context.Context, args []string, stdout, stderr io.Writer, signals <-chan os.Signal) int {
	return runChatWith(ctx, defaultChatConfig(), args, stdout, stderr, signals)
}

// runChatWith is runChat with its configuration spelled out.
func runChatWith(ctx context.Context, cfg chatConfig, args []string, stdout, stderr io.Writer, signals <-chan os.Signal) int {
	if cfg.getenv == nil {
		cfg.getenv = os.Getenv
	}
	if cfg.now == nil {
		cfg.now = time.Now
	}
	if cfg.jitter == nil {
		cfg.jitter = halfJitter
	}
	if cfg.sleep == nil {
		cfg.sleep = timerSleep
	}
	opts, code := parseChatFlags(args, stderr, cfg.getenv)
	if code >= 0 {
		return code
	}
	s := newChatSession(cfg, opts, stdout, stderr)
	return s.run(ctx, signals)
}

type chatFlags struct {
	server    string // without a trailing slash
	key       string
	model     string
	maxTokens int
	prompt    string
}

// parseChatFlags returns the flags, or an exit status >= 0 when chat should
// stop there (help, or a usage error, already reported on stderr).
func parseChatFlags(args []string, stderr io.Writer, getenv func(string) string) (chatFlags, int) {
	var o chatFlags
	fs := flag.NewFlagSet("chat", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.server, "server", "", "")
	fs.StringVar(&o.key, "key", "", "")
	fs.StringVar(&o.model, "model", "", "")
	fs.IntVar(&o.maxTokens, "max-tokens", 0, "")
	usageError := func(format string, a ...any) (chatFlags, int) {
		fmt.Fprintf(stderr, "armistice chat: "+format+"\n\n", a...)
		fmt.Fprint(stderr, chatUsage)
		return chatFlags{}, 2
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stderr, chatUsage)
			return chatFlags{}, 0
		}
		return usageError("%v", err)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !set["server"] {
		o.server = getenv("ARMISTICE_SERVER")
		if o.server == "" {
			o.server = defaultChatServer
		}
	}
	if !set["key"] {
		o.key = getenv("ARMISTICE_API_KEY")
	}
	u, err := url.Parse(o.server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usageError("--server %q is not an http(s) URL", o.server)
	}
	o.server = strings.TrimRight(o.server, "/")
	if o.maxTokens < 0 {
		return usageError("--max-tokens must not be negative")
	}
	o.prompt = strings.Join(fs.Args(), " ")
	if strings.TrimSpace(o.prompt) == "" {
		return usageError("missing prompt")
	}
	return o, -1
}

// chatSession is one run of chat. Only the goroutine running run touches
// stdout, id, lastSeq and printed; the signal watcher and the canceller share
// interrupt, wake, aborted and the locked stderr.
type chatSession struct {
	cfg       chatConfig
	opts      chatFlags
	transport *http.Transport
	client    *http.Client
	stdout    io.Writer
	stderr    *lockedWriter

	interrupt chan struct{} // closed on the first interrupt
	wake      chan struct{} // one value on the first interrupt: cuts one backoff short
	aborted   atomic.Bool   // set on the second interrupt, before the context is cancelled

	id      string
	lastSeq int64
	printed bool // text went to stdout and no newline ended it yet
}

func newChatSession(cfg chatConfig, opts chatFlags, stdout, stderr io.Writer) *chatSession {
	dialer := &net.Dialer{Timeout: cfg.dialTimeout, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         dialer.DialContext,
		ForceAttemptHTTP2:   true,
		TLSHandshakeTimeout: cfg.dialTimeout,
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     30 * time.Second,
	}
	return &chatSession{
		cfg:       cfg,
		opts:      opts,
		transport: tr,
		client:    &http.Client{Transport: tr}, // no Timeout: a stream lasts as long as the answer
		stdout:    stdout,
		stderr:    &lockedWriter{w: stderr},
		interrupt: make(chan struct{}),
		wake:      make(chan struct{}, 1),
	}
}

func (s *chatSession) run(parent context.Context, signals <-chan os.Signal) int {
	ctx, abort := context.WithCancel(parent)
	var wg sync.WaitGroup
	defer func() {
		abort()
		wg.Wait()
		s.transport.CloseIdleConnections()
	}()
	wg.Go(func() { s.watchSignals(ctx, signals, abort) })

	id, err := s.submit(ctx)
	if err != nil {
		return s.fail(err)
	}
	s.id = id
	wg.Go(func() { s.cancelOnInterrupt(ctx) })
	return s.stream(ctx)
}

// watchSignals turns the first interrupt into a cancel (through interrupt
// and wake) and the second into an abort.
func (s *chatSession) watchSignals(ctx context.Context, signals <-chan os.Signal, abort context.CancelFunc) {
	for n := 0; ; {
		select {
		case <-ctx.Done():
			return
		case <-signals:
		}
		if n++; n == 1 {
			// Holding stderr while the interrupt takes effect puts the note
			// before anything the cancel causes.
			s.stderr.with(func(w io.Writer) {
				close(s.interrupt)
				s.wake <- struct{}{}
				fmt.Fprintln(w, "[cancelling; interrupt again to quit]")
			})
			continue
		}
		s.aborted.Store(true)
		abort()
		return
	}
}

func (s *chatSession) interrupted() bool {
	select {
	case <-s.interrupt:
		return true
	default:
		return false
	}
}

// fail reports err and returns the exit status for it.
func (s *chatSession) fail(err error) int {
	s.endLine()
	if s.aborted.Load() {
		fmt.Fprintln(s.stderr, "[interrupted]")
		return 130
	}
	if s.id == "" && s.interrupted() {
		// No id ever came, so there is nothing to cancel.
		if !errors.Is(err, errInterrupted) {
			fmt.Fprintln(s.stderr, "armistice:", err)
		}
		fmt.Fprintln(s.stderr, "[interrupted]")
		return 130
	}
	fmt.Fprintln(s.stderr, "armistice:", err)
	return 1
}

// endLine ends the answer's last line on stdout, if text was printed.
func (s *chatSession) endLine() {
	if s.printed {
		fmt.Fprintln(s.stdout)
		s.printed = false
	}
}

func (s *chatSession) url(path string) string { return s.opts.server + path }

func (s *chatSession) requestURL(suffix string) string {
	return s.url("/v1/requests/" + url.PathEscape(s.id) + suffix)
}

func (s *chatSession) newRequest(ctx context.Context, method, target string, body []byte) *http.Request {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, r)
	if err != nil {
		panic(err) // the URL was validated with the flags
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if s.opts.key != "" {
		req.Header.Set("Authorization", "Bearer "+s.opts.key)
	}
	return req
}

// submit posts the prompt and returns the new request's id, retrying on 429.
func (s *chatSession) submit(ctx context.Context) (string, error) {
	body, err := json.Marshal(struct {
		Prompt    string `json:"prompt"`
		Model     string `json:"model,omitempty"`
		MaxTokens int    `json:"max_tokens,omitempty"`
	}{s.opts.prompt, s.opts.model, s.opts.maxTokens})
	if err != nil {
		return "", err
	}
	for retry := 0; ; retry++ {
		resp, err := s.client.Do(s.newRequest(ctx, http.MethodPost, s.url("/v1/requests"), body))
		if err != nil {
			return "", fmt.Errorf("submit: %w", err)
		}
		if resp.StatusCode/100 == 2 {
			var snap chatSnapshot
			err := decodeJSON(resp, &snap)
			if err == nil && snap.ID == "" {
				err = errors.New("no id in the answer")
			}
			if err != nil {
				return "", fmt.Errorf("submit: %s: %w", resp.Status, err)
			}
			return snap.ID, nil
		}
		apiErr := readAPIError(resp)
		if resp.StatusCode != http.StatusTooManyRequests || retry >= s.cfg.submitRetries || s.interrupted() {
			return "", apiErr
		}
		wait, ok := parseRetryAfter(resp.Header.Get("Retry-After"), s.cfg.now())
		if !ok {
			wait = s.backoff(retry + 1)
		}
		wait = min(wait, s.cfg.retryAfterMax)
		fmt.Fprintf(s.stderr, "[%s; retrying in %s]\n", apiErr, wait)
		// The first interrupt ends the wait: there is no request to cancel yet.
		if err := s.cfg.sleep(ctx, wait, s.interrupt); err != nil {
			if errors.Is(err, errWoken) {
				return "", errInterrupted
			}
			return "", err
		}
	}
}

// chatRecord is the data of one SSE event: a record of the request's log.
type chatRecord struct {
	Seq     int64  `json:"seq"`
	State   string `json:"state"`
	Text    string `json:"text"`
	Status  string `json:"status"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
	Tokens  int    `json:"tokens"`
}

// chatSnapshot is the server's view of a request (submit, cancel, GET).
type chatSnapshot struct {
	ID      string `json:"id"`
	State   string `json:"state"`
	Status  string `json:"status"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
	Tokens  int    `json:"tokens"`
}

// retryableError marks a failure that a reconnect may cure.
type retryableError struct{ err error }

func (e *retryableError) Error() string { return e.err.Error() }
func (e *retryableError) Unwrap() error { return e.err }

func retryable(err error) error { return &retryableError{err} }

// stream reads the request's events to its end, reconnecting when the stream
// drops, and returns the exit status.
func (s *chatSession) stream(ctx context.Context) int {
	failures := 0
	for {
		end, progressed, err := s.attempt(ctx)
		if err == nil {
			return s.report(end)
		}
		var re *retryableError
		if !errors.As(err, &re) || ctx.Err() != nil {
			return s.fail(err)
		}
		if progressed {
			failures = 0
		}
		if failures++; failures >= s.cfg.maxAttempts {
			return s.fail(fmt.Errorf("giving up after %d failed attempts: %w", failures, err))
		}
		fmt.Fprintln(s.stderr, "[reconnecting...]")
		if err := s.cfg.sleep(ctx, s.backoff(failures), s.wake); err != nil && !errors.Is(err, errWoken) {
			return s.fail(err)
		}
	}
}

// attempt makes one events request and reads it. It returns the request's
// final status, or an error (retryable when a reconnect may help), and
// whether new records arrived.
func (s *chatSession) attempt(ctx context.Context) (*chatSnapshot, bool, error) {
	req := s.newRequest(ctx, http.MethodGet, s.requestURL("/events"), nil)
	req.Header.Set("Accept", "text/event-stream")
	if s.lastSeq > 0 {
		req.Header.Set("Last-Event-ID", strconv.FormatInt(s.lastSeq, 10))
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, false, retryable(err)
	}
	defer resp.Body.Close()
	switch code := resp.StatusCode; {
	case code == http.StatusOK:
		if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "text/event-stream" {
			return nil, false, fmt.Errorf("events: the server answered %q, not text/event-stream", mt)
		}
		body := io.Reader(resp.Body)
		if s.cfg.idleTimeout > 0 {
			w := newIdleWatch(resp.Body, s.cfg.idleTimeout)
			defer w.stop()
			body = w
		}
		return s.read(body)
	case code == http.StatusNoContent:
		// The cursor is at or after the end: the snapshot has the outcome.
		end, err := s.snapshot(ctx)
		return end, false, err
	case code == http.StatusNotFound:
		return nil, false, fmt.Errorf("request %s: %w", s.id, readAPIError(resp))
	case code >= 500:
		return nil, false, retryable(readAPIError(resp))
	default:
		return nil, false, readAPIError(resp)
	}
}

// read consumes one SSE response, writing tokens to stdout.
func (s *chatSession) read(body io.Reader) (*chatSnapshot, bool, error) {
	progressed := false
	for ev, err := range sse.Read(body, &sse.ReadConfig{MaxEventSize: maxChatEventSize}) {
		if err != nil {
			return nil, progressed, retryable(fmt.Errorf("stream broken: %w", err))
		}
		if ev.Type == "error" {
			// An error after the response was committed; the log is intact,
			// so read it again.
			e := &chatAPIError{}
			if json.Unmarshal([]byte(ev.Data), e) != nil || (e.Err.Code == "" && e.Err.Message == "") {
				return nil, progressed, retryable(errors.New("the server reported a stream error"))
			}
			return nil, progressed, retryable(fmt.Errorf("the server reported: %w", e))
		}
		if ev.Data == "" {
			continue
		}
		var r chatRecord
		if err := json.Unmarshal([]byte(ev.Data), &r); err != nil {
			return nil, progressed, fmt.Errorf("event %q: %w", ev.Type, err)
		}
		if r.Seq <= 0 {
			return nil, progressed, fmt.Errorf("event %q without a seq", ev.Type)
		}
		if r.Seq <= s.lastSeq {
			continue // already seen
		}
		if r.Seq != s.lastSeq+1 {
			return nil, progressed, fmt.Errorf("the stream skipped records %d to %d", s.lastSeq+1, r.Seq-1)
		}
		s.lastSeq = r.Seq
		progressed = true
		switch ev.Type {
		case "token":
			if err := s.write(r.Text); err != nil {
				return nil, progressed, err
			}
		case "end":
			return &chatSnapshot{ID: s.id, State: r.State, Status: r.Status, Reason: r.Reason, Message: r.Message, Tokens: r.Tokens}, true, nil
		}
		// "state" and unknown kinds: nothing to show.
	}
	return nil, progressed, retryable(errNoEnd)
}

func (s *chatSession) write(text string) error {
	if text == "" {
		return nil
	}
	if _, err := io.WriteString(s.stdout, text); err != nil {
		return fmt.Errorf("stdout: %w", err)
	}
	s.printed = !strings.HasSuffix(text, "\n")
	if f, ok := s.stdout.(interface{ Flush() error }); ok {
		if err := f.Flush(); err != nil {
			return fmt.Errorf("stdout: %w", err)
		}
	}
	return nil
}

// snapshot fetches the request's final status after a 204.
func (s *chatSession) snapshot(ctx context.Context) (*chatSnapshot, error) {
	resp, err := s.client.Do(s.newRequest(ctx, http.MethodGet, s.requestURL(""), nil))
	if err != nil {
		return nil, retryable(err)
	}
	switch code := resp.StatusCode; {
	case code == http.StatusOK:
		var snap chatSnapshot
		if err := decodeJSON(resp, &snap); err != nil {
			return nil, fmt.Errorf("request %s: %w", s.id, err)
		}
		if snap.Status == "" {
			return nil, fmt.Errorf("request %s: the stream is over but the request is %s", s.id, snap.State)
		}
		snap.ID = s.id
		return &snap, nil
	case code == http.StatusNotFound:
		return nil, fmt.Errorf("request %s: %w", s.id, readAPIError(resp))
	case code >= 500:
		return nil, retryable(readAPIError(resp))
	default:
		return nil, readAPIError(resp)
	}
}

// report prints the final status and returns the exit status for it.
func (s *chatSession) report(end *chatSnapshot) int {
	s.endLine()
	line := fmt.Sprintf("[%s: %s/%s, %d tokens", s.id, end.Status, end.Reason, end.Tokens)
	if end.Message != "" {
		line += ": " + end.Message
	}
	fmt.Fprintln(s.stderr, line+"]")
	if end.Status == "completed" {
		return 0
	}
	return 1
}

// cancelOnInterrupt cancels the request on the first interrupt, retrying
// while the server is unreachable; the stream then carries the end.
func (s *chatSession) cancelOnInterrupt(ctx context.Context) {
	select {
	case <-s.interrupt:
	case <-ctx.Done():
		return
	}
	for failures := 0; ; {
		err := s.cancel(ctx)
		if err == nil || ctx.Err() != nil {
			return
		}
		var re *retryableError
		if failures++; !errors.As(err, &re) || failures >= s.cfg.maxAttempts {
			fmt.Fprintln(s.stderr, "armistice: cancel:", err)
			return
		}
		if s.cfg.sleep(ctx, s.backoff(failures), nil) != nil {
			return
		}
	}
}

func (s *chatSession) cancel(ctx context.Context) error {
	resp, err := s.client.Do(s.newRequest(ctx, http.MethodPost, s.requestURL("/cancel"), nil))
	if err != nil {
		return retryable(err)
	}
	switch code := resp.StatusCode; {
	case code/100 == 2, code == http.StatusConflict, code == http.StatusNotFound:
		// Cancelled, already finished, or gone: the stream tells which.
		drain(resp)
		return nil
	case code >= 500:
		return retryable(readAPIError(resp))
	default:
		return readAPIError(resp)
	}
}

// backoff is the jittered delay before retry n (1, 2, ...).
func (s *chatSession) backoff(n int) time.Duration {
	return s.cfg.jitter(backoffDelay(s.cfg.backoffInitial, s.cfg.backoffMax, n))
}

// backoffDelay is initial·2^(n-1), capped at limit.
func backoffDelay(initial, limit time.Duration, n int) time.Duration {
	d := initial
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

// halfJitter picks a delay uniformly in [d/2, d].
func halfJitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return d/2 + rand.N(d-d/2+1)
}

// timerSleep waits d, or until ctx is done or wake delivers.
func timerSleep(ctx context.Context, d time.Duration, wake <-chan struct{}) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-wake:
		return errWoken
	case <-ctx.Done():
		return ctx.Err()
	}
}

// parseRetryAfter reads a Retry-After header: seconds, or an HTTP date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		return time.Duration(min(n, int64(24*time.Hour/time.Second))) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// chatAPIError is the server's error body: {"error":{"code":..,"message":..}}.
type chatAPIError struct {
	Err struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	status string
}

func (e *chatAPIError) Error() string {
	switch {
	case e.Err.Message != "" && e.Err.Code != "":
		return e.Err.Message + " (" + e.Err.Code + ")"
	case e.Err.Message != "":
		return e.Err.Message
	case e.Err.Code != "":
		return e.Err.Code
	}
	return "the server answered " + e.status
}

// readAPIError reads an error answer and closes its body.
func readAPIError(resp *http.Response) error {
	e := &chatAPIError{status: resp.Status}
	_ = decodeJSON(resp, e)
	return e
}

// decodeJSON decodes a bounded JSON body into v and closes the body.
func decodeJSON(resp *http.Response, v any) error {
	defer drain(resp)
	return json.NewDecoder(io.LimitReader(resp.Body, maxChatBodySize)).Decode(v)
}

// drain reads what is left of a small body, so the connection can be
// reused, and closes it.
func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxChatBodySize))
	resp.Body.Close()
}

// lockedWriter serialises writes from the session's goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// with runs f holding the lock; f writes to w directly.
func (l *lockedWriter) with(f func(w io.Writer)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f(l.w)
}

// idleWatch closes a response body on which nothing arrived for a while;
// the blocked Read then fails and the stream is resumed.
type idleWatch struct {
	body  io.ReadCloser
	timer *time.Timer
	idle  time.Duration
}

func newIdleWatch(body io.ReadCloser, idle time.Duration) *idleWatch {
	return &idleWatch{body: body, idle: idle, timer: time.AfterFunc(idle, func() { body.Close() })}
}

func (w *idleWatch) Read(p []byte) (int, error) {
	n, err := w.body.Read(p)
	if n > 0 {
		w.timer.Reset(w.idle)
	}
	return n, err
}

func (w *idleWatch) stop() { w.timer.Stop() }
