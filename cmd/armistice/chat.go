package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/armistice-go/armistice/http/client"
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
Retry-After (at most 60s; without one, the reconnect backoff), and so is a
submit whose connection failed before the answer, after the backoff; every
attempt carries the same Idempotency-Key, so the server starts one answer.
A dropped
stream, or one silent for 60s (the server pings every 15s), is resumed from
the last event received (Last-Event-ID) with exponential backoff (100ms
doubling up to 5s, jittered); after 10 failed attempts in a row chat gives
up. "[reconnecting...]" notes go to stderr, each on a line of its own.

Ctrl-C (or SIGTERM) cancels the request and waits for its end; a second one
quits at once.

Exit status: 0 the request completed; 1 it failed or was cancelled, or an
error; 2 a usage error; 130 quit by a second interrupt, or interrupted before
the server accepted the request.
`

// chatConfig holds what runChat takes from its surroundings: timings, the
// environment, the clock. defaultChatConfig is what the binary uses; tests
// shrink or replace the parts they need through runChatWith. The HTTP work
// is package http/client's; these become its RetryPolicy.
type chatConfig struct {
	// backoffInitial is the backoff before the first reconnect; each failed
	// attempt in a row doubles it, up to backoffMax. The wait is drawn with
	// equal jitter from it (llm/resilient.Backoff): in [d/2, d).
	backoffInitial time.Duration
	backoffMax     time.Duration
	// maxAttempts is how many stream attempts in a row may fail, without a
	// new record between them, before chat gives up. The same bound applies
	// to the cancel call.
	maxAttempts int
	// submitRetries is how many times a submit answered 429, or whose
	// connection failed, is retried.
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
	// rand returns a number in [0, 1) for the jitter (nil: math/rand/v2).
	rand func() float64
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

const defaultChatServer = "http://127.0.0.1:8080"

var (
	errWoken       = errors.New("woken")
	errInterrupted = errors.New("interrupted")
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
	if cfg.sleep == nil {
		cfg.sleep = timerSleep
	}
	opts, code := parseChatFlags(args, stdout, stderr, cfg.getenv)
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
// stop there (help, printed on stdout, or a usage error, reported on
// stderr).
func parseChatFlags(args []string, stdout, stderr io.Writer, getenv func(string) string) (chatFlags, int) {
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
			fmt.Fprint(stdout, chatUsage)
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
// stdout, id and printed; the signal watcher and the canceller share
// interrupt, wake, aborted, midLine and the locked stderr.
//
// It holds three clients of the same connections, which differ in how an
// interrupt ends their waits: during a submit's 429 wait it ends the
// submit (no request to cancel yet); during a reconnect's backoff it cuts
// the wait short (the cancel's end is coming); the cancel's own retries
// are not cut.
type chatSession struct {
	cfg       chatConfig
	opts      chatFlags
	transport *http.Transport
	submitter *client.Client
	streamer  *client.Client
	canceller *client.Client
	stdout    io.Writer
	stderr    *lockedWriter

	interrupt chan struct{} // closed on the first interrupt
	wake      chan struct{} // one value on the first interrupt: cuts one backoff short
	aborted   atomic.Bool   // set on the second interrupt, before the context is cancelled

	id      string
	printed bool // text went to stdout and no newline ended it yet
	// midLine: text went (or is going) to stdout since the last newline on
	// either stream, so that on a terminal showing both, a note on stderr
	// would land mid-word; note starts a line first. It is set before such
	// a write and again after it, so a note racing the write (an
	// interrupt) may add a blank line but is never glued to the text.
	midLine atomic.Bool
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
	s := &chatSession{
		cfg:       cfg,
		opts:      opts,
		transport: tr,
		stdout:    stdout,
		stderr:    &lockedWriter{w: stderr},
		interrupt: make(chan struct{}),
		wake:      make(chan struct{}, 1),
	}
	hc := &http.Client{Transport: tr} // no Timeout: a stream lasts as long as the answer
	newClient := func(sleep func(context.Context, time.Duration) error, onRetry func(client.Retry)) *client.Client {
		p := client.RetryPolicy{
			MaxAttempts:   cfg.maxAttempts,
			SubmitRetries: cfg.submitRetries,
			BaseBackoff:   cfg.backoffInitial,
			MaxBackoff:    cfg.backoffMax,
			MaxRetryAfter: cfg.retryAfterMax,
			IdleTimeout:   cfg.idleTimeout,
			Rand:          cfg.rand,
			Sleep:         sleep,
			Now:           cfg.now,
		}
		if p.SubmitRetries == 0 {
			p.SubmitRetries = -1
		}
		if p.IdleTimeout == 0 {
			p.IdleTimeout = -1
		}
		c, err := client.New(opts.server, client.WithAPIKey(opts.key), client.WithHTTPClient(hc), client.WithRetry(p), client.WithOnRetry(onRetry))
		if err != nil {
			panic(err) // the URL was validated with the flags
		}
		return c
	}
	s.submitter = newClient(func(ctx context.Context, d time.Duration) error {
		// The first interrupt ends the wait: there is no request to cancel yet.
		err := cfg.sleep(ctx, d, s.interrupt)
		if errors.Is(err, errWoken) {
			return errInterrupted
		}
		return err
	}, func(r client.Retry) {
		s.note(fmt.Sprintf("[%s; retrying in %s]", describe(r.Err), r.Wait))
	})
	s.streamer = newClient(func(ctx context.Context, d time.Duration) error {
		if err := cfg.sleep(ctx, d, s.wake); !errors.Is(err, errWoken) {
			return err
		}
		return nil // the interrupt cut the backoff short: the cancel's end is coming
	}, func(client.Retry) {
		s.note("[reconnecting...]")
	})
	s.canceller = newClient(func(ctx context.Context, d time.Duration) error {
		return cfg.sleep(ctx, d, nil)
	}, nil)
	return s
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

	snap, err := s.submitter.Submit(ctx, client.Request{Prompt: s.opts.prompt, Model: s.opts.model, MaxTokens: s.opts.maxTokens})
	if err != nil {
		var e *client.Error
		if !errors.As(err, &e) && !errors.Is(err, errInterrupted) && ctx.Err() == nil {
			err = fmt.Errorf("submit: %w", err)
		}
		return s.fail(err)
	}
	s.id = snap.ID
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
				s.noteTo(w, "[cancelling; interrupt again to quit]")
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
			fmt.Fprintln(s.stderr, "armistice:", describe(err))
		}
		fmt.Fprintln(s.stderr, "[interrupted]")
		return 130
	}
	fmt.Fprintln(s.stderr, "armistice:", describe(err))
	return 1
}

// describe words an error for the terminal: an API error as its message
// and code, a request gone as such.
func describe(err error) string {
	var e *client.Error
	if !errors.As(err, &e) {
		return err.Error()
	}
	var msg string
	switch {
	case e.Message != "" && e.Code != "":
		msg = e.Message + " (" + e.Code + ")"
	case e.Message != "":
		msg = e.Message
	case e.Code != "":
		msg = e.Code
	default:
		msg = fmt.Sprintf("the server answered %d %s", e.Status, http.StatusText(e.Status))
	}
	if e.Status == http.StatusNotFound {
		return "request " + errRequest(err) + ": " + msg
	}
	return msg
}

// errRequest is the request id a not-found error is about.
func errRequest(err error) string {
	var r *requestError
	if errors.As(err, &r) {
		return r.id
	}
	return "?"
}

// requestError names the request an error is about.
type requestError struct {
	id  string
	err error
}

func (e *requestError) Error() string { return e.err.Error() }
func (e *requestError) Unwrap() error { return e.err }

// endLine ends the answer's last line on stdout, if text was printed.
func (s *chatSession) endLine() {
	if s.printed {
		fmt.Fprintln(s.stdout)
		s.printed = false
		s.midLine.Store(false)
	}
}

// note writes line to stderr on a line of its own: after a newline when
// the answer's last line on stdout is unfinished. Safe from any goroutine.
func (s *chatSession) note(line string) {
	s.stderr.with(func(w io.Writer) { s.noteTo(w, line) })
}

// noteTo is note for a caller holding the stderr lock; one write, so the
// note is never split by the answer's text.
func (s *chatSession) noteTo(w io.Writer, line string) {
	if s.midLine.Swap(false) {
		line = "\n" + line
	}
	_, _ = io.WriteString(w, line+"\n")
}

// stream reads the request's events to its end and returns the exit
// status; the client resumes dropped streams.
func (s *chatSession) stream(ctx context.Context) int {
	for ev, err := range s.streamer.Stream(ctx, s.id, 0) {
		if err != nil {
			if errors.Is(err, client.ErrNotFound) {
				err = &requestError{s.id, err}
			}
			return s.fail(err)
		}
		switch ev.Name {
		case "token":
			if err := s.write(ev.Text); err != nil {
				return s.fail(err)
			}
		case "end":
			return s.report(ev.End)
		}
		// "state" and other kinds: nothing to show.
	}
	return s.fail(errors.New("the stream ended before its end event")) // unreachable: Stream ends with the end or an error
}

func (s *chatSession) write(text string) error {
	if text == "" {
		return nil
	}
	open := !strings.HasSuffix(text, "\n")
	if open {
		s.midLine.Store(true) // before the write: a note racing it starts a line
	}
	if _, err := io.WriteString(s.stdout, text); err != nil {
		return fmt.Errorf("stdout: %w", err)
	}
	s.printed = open
	s.midLine.Store(open)
	if f, ok := s.stdout.(interface{ Flush() error }); ok {
		if err := f.Flush(); err != nil {
			return fmt.Errorf("stdout: %w", err)
		}
	}
	return nil
}

// report prints the final status and returns the exit status for it.
func (s *chatSession) report(end *client.End) int {
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

// cancelOnInterrupt cancels the request on the first interrupt (the client
// retries while the server is unreachable); the stream then carries the
// end.
func (s *chatSession) cancelOnInterrupt(ctx context.Context) {
	select {
	case <-s.interrupt:
	case <-ctx.Done():
		return
	}
	_, err := s.canceller.Cancel(ctx, s.id)
	// Already finished, or gone: the stream tells which.
	if err == nil || ctx.Err() != nil || errors.Is(err, client.ErrAlreadyFinished) || errors.Is(err, client.ErrNotFound) {
		return
	}
	s.note("armistice: cancel: " + describe(err))
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
