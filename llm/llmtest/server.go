package llmtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Format is a wire format a fake server speaks.
type Format int

// The formats.
const (
	// OpenAI is Chat Completions streaming: POST /v1/chat/completions,
	// "data: {chunk}" events, "data: [DONE]".
	OpenAI Format = iota + 1
	// Anthropic is Messages streaming: POST /v1/messages, named events
	// from message_start to message_stop.
	Anthropic
)

// String returns "openai" or "anthropic".
func (f Format) String() string {
	switch f {
	case OpenAI:
		return "openai"
	case Anthropic:
		return "anthropic"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// path is the endpoint the format serves.
func (f Format) path() string {
	if f == Anthropic {
		return "/v1/messages"
	}
	return "/v1/chat/completions"
}

// Request is one request a server received.
type Request struct {
	// Index counts requests from 0, in arrival order.
	Index int
	// Method and Path of the request.
	Method, Path string
	// Proto is the request's protocol: "HTTP/1.1", or "HTTP/2.0" when the
	// client spoke HTTP/2 (the server accepts h2c with prior knowledge).
	Proto string
	// Header is a copy of the request's headers.
	Header http.Header
	// Body is the raw request body.
	Body []byte
	// Model is the body's "model".
	Model string
	// MaxTokens is the body's "max_tokens", or else its
	// "max_completion_tokens"; 0 when neither is set.
	MaxTokens int
	// MaxTokensField names the field MaxTokens came from.
	MaxTokensField string
	// IncludeUsage is the body's stream_options.include_usage.
	IncludeUsage bool
}

// Disconnect records that the server saw a client go away.
type Disconnect struct {
	// Request is the Index of the request whose client went away.
	Request int
	// At is when the server observed it (its request context was done, or
	// a write failed).
	At time.Time
}

// Server is a fake upstream on a loopback address, answering requests with
// Scripts: the i-th request gets the i-th script, and every request after
// the last script gets the last one again. It is safe for concurrent use.
type Server struct {
	// URL is the base URL to configure a provider with: the server's root
	// plus "/v1" for OpenAI, the root itself for Anthropic.
	URL string

	format  Format
	ts      *httptest.Server
	scripts []Script

	mu          sync.Mutex
	requests    []Request
	disconnects []Disconnect
	release     chan struct{} // closed and replaced by Release

	closing   chan struct{} // closed by Close
	closeOnce sync.Once

	stalls chan int        // request index, on every stall reached
	gone   chan Disconnect // on every disconnect seen
}

// events buffers notifications nobody waits for; beyond it, notifications
// are dropped (Requests and Disconnects still have them all).
const events = 1024

// Start starts a server speaking format with scripts. It needs at least one
// script. Close it when done.
func Start(format Format, scripts ...Script) (*Server, error) {
	if format != OpenAI && format != Anthropic {
		return nil, fmt.Errorf("llmtest: unknown format %d", int(format))
	}
	if len(scripts) == 0 {
		return nil, fmt.Errorf("llmtest: a server needs at least one script")
	}
	s := &Server{
		format:  format,
		scripts: append([]Script(nil), scripts...),
		release: make(chan struct{}),
		closing: make(chan struct{}),
		stalls:  make(chan int, events),
		gone:    make(chan Disconnect, events),
	}
	s.ts = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	// HTTP/1.1, and HTTP/2 without TLS for a client that knows it is
	// spoken (h2c with prior knowledge), as some model servers do.
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	s.ts.Config.Protocols = &protocols
	s.ts.Start()
	s.URL = s.ts.URL
	if format == OpenAI {
		s.URL += "/v1"
	}
	return s, nil
}

// StartOpenAI starts an OpenAI Chat Completions server; see Start.
func StartOpenAI(scripts ...Script) (*Server, error) { return Start(OpenAI, scripts...) }

// StartAnthropic starts an Anthropic Messages server; see Start.
func StartAnthropic(scripts ...Script) (*Server, error) { return Start(Anthropic, scripts...) }

// New starts a server for a test and closes it when the test ends.
func New(t testing.TB, format Format, scripts ...Script) *Server {
	t.Helper()
	s, err := Start(format, scripts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// NewOpenAIServer starts an OpenAI server for a test; see New.
func NewOpenAIServer(t testing.TB, scripts ...Script) *Server {
	t.Helper()
	return New(t, OpenAI, scripts...)
}

// NewAnthropicServer starts an Anthropic server for a test; see New.
func NewAnthropicServer(t testing.TB, scripts ...Script) *Server {
	t.Helper()
	return New(t, Anthropic, scripts...)
}

// Format returns the server's wire format.
func (s *Server) Format() Format { return s.format }

// Client returns an HTTP client for the server whose idle connections are
// closed with it.
func (s *Server) Client() *http.Client { return s.ts.Client() }

// Close releases every stall, drops the clients' connections and shuts the
// server down. It is idempotent.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.closing)
		s.ts.CloseClientConnections()
		s.ts.Close()
	})
}

// Release lets every request stalled now go on. Requests that stall later
// wait for the next Release.
func (s *Server) Release() {
	s.mu.Lock()
	close(s.release)
	s.release = make(chan struct{})
	s.mu.Unlock()
}

// Requests returns the requests received so far, in arrival order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Count returns the number of requests received so far.
func (s *Server) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.requests)
}

// Disconnects returns the client disconnects observed so far.
func (s *Server) Disconnects() []Disconnect {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Disconnect(nil), s.disconnects...)
}

// WaitStalled blocks until a request reaches a stall and returns its index,
// or returns ctx's error. Each stall is reported once.
func (s *Server) WaitStalled(ctx context.Context) (int, error) {
	select {
	case i := <-s.stalls:
		return i, nil
	case <-ctx.Done():
		return 0, fmt.Errorf("llmtest: waiting for a stall: %w", ctx.Err())
	}
}

// WaitDisconnect blocks until the server observes a client going away and
// returns it, or returns ctx's error. Each disconnect is reported once.
func (s *Server) WaitDisconnect(ctx context.Context) (Disconnect, error) {
	select {
	case d := <-s.gone:
		return d, nil
	case <-ctx.Done():
		return Disconnect{}, fmt.Errorf("llmtest: waiting for a disconnect: %w", ctx.Err())
	}
}

// ClosedURL returns the base URL of a loopback address nobody listens on any
// more (a listener that was opened and closed), so connecting to it is
// refused.
func ClosedURL() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("llmtest: %w", err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		return "", fmt.Errorf("llmtest: %w", err)
	}
	return "http://" + addr, nil
}

// serve answers one request.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	req := s.record(r, body)
	if r.Method != http.MethodPost || r.URL.Path != s.format.path() {
		s.writeError(w, req, Script{Status: http.StatusNotFound, Message: fmt.Sprintf("no route for %s %s", r.Method, r.URL.Path)})
		return
	}
	sc := s.scripts[min(req.Index, len(s.scripts)-1)]
	if sc.StallHeaders {
		s.stall(r, req.Index)
	}
	switch {
	case sc.Hangup:
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
		return
	case sc.Status != 0 && sc.Status != http.StatusOK:
		s.writeError(w, req, sc)
		return
	}
	p := &player{s: s, w: w, r: r, rc: http.NewResponseController(w), req: req, sc: sc, prompt: promptWords(s.format, body)}
	p.play()
}

// record stores the request and returns its record.
func (s *Server) record(r *http.Request, body []byte) Request {
	var fields struct {
		Model               string `json:"model"`
		MaxTokens           int    `json:"max_tokens"`
		MaxCompletionTokens int    `json:"max_completion_tokens"`
		StreamOptions       struct {
			IncludeUsage bool `json:"include_usage"`
		} `json:"stream_options"`
	}
	_ = json.Unmarshal(body, &fields)
	req := Request{
		Method:       r.Method,
		Path:         r.URL.Path,
		Proto:        r.Proto,
		Header:       r.Header.Clone(),
		Body:         body,
		Model:        fields.Model,
		IncludeUsage: fields.StreamOptions.IncludeUsage,
	}
	switch {
	case bytes.Contains(body, []byte(`"max_tokens"`)):
		req.MaxTokens, req.MaxTokensField = fields.MaxTokens, "max_tokens"
	case bytes.Contains(body, []byte(`"max_completion_tokens"`)):
		req.MaxTokens, req.MaxTokensField = fields.MaxCompletionTokens, "max_completion_tokens"
	}
	s.mu.Lock()
	req.Index = len(s.requests)
	s.requests = append(s.requests, req)
	s.mu.Unlock()
	return req
}

// stall blocks as Step.Stall says. When the client went away or the server
// is closing it aborts the handler, dropping the connection.
func (s *Server) stall(r *http.Request, index int) {
	s.mu.Lock()
	release := s.release
	s.mu.Unlock()
	select {
	case s.stalls <- index:
	default:
	}
	select {
	case <-release:
	case <-r.Context().Done():
		s.disconnected(index)
		panic(http.ErrAbortHandler)
	case <-s.closing:
		panic(http.ErrAbortHandler)
	}
}

// disconnected records that the client of request index went away.
func (s *Server) disconnected(index int) {
	d := Disconnect{Request: index, At: time.Now()}
	s.mu.Lock()
	s.disconnects = append(s.disconnects, d)
	s.mu.Unlock()
	select {
	case s.gone <- d:
	default:
	}
}

// writeError answers sc's error status with a body in the format's shape.
func (s *Server) writeError(w http.ResponseWriter, req Request, sc Script) {
	code, message := sc.Status, sc.Message
	if message == "" {
		message = statusText(code)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	if sc.RetryAfter != "" {
		h.Set("Retry-After", sc.RetryAfter)
	}
	var body string
	switch s.format {
	case Anthropic:
		typ := sc.ErrorType
		if typ == "" {
			typ = anthropicErrorType(code)
		}
		h.Set("Request-Id", requestID(req.Index))
		body = fmt.Sprintf(`{"type":"error","error":{"type":%s,"message":%s},"request_id":%s}`,
			quote(typ), quote(message), quote(requestID(req.Index)))
	default:
		typ, errCode, param := "invalid_request_error", "null", "null"
		switch {
		case code == http.StatusTooManyRequests:
			typ, errCode = "requests", `"rate_limit_exceeded"`
		case code >= 500:
			typ = "server_error"
		}
		if sc.ErrorType != "" {
			typ = sc.ErrorType
		}
		if sc.ErrorCode != "" {
			errCode = quote(sc.ErrorCode)
		}
		if sc.ErrorParam != "" {
			param = quote(sc.ErrorParam)
		}
		body = fmt.Sprintf(`{"error":{"message":%s,"type":%s,"param":%s,"code":%s}}`, quote(message), quote(typ), param, errCode)
	}
	w.WriteHeader(code)
	_, _ = io.WriteString(w, body+"\n")
}

// anthropicErrorType is the error.type Anthropic uses for a status.
func anthropicErrorType(code int) string {
	switch code {
	case 400:
		return "invalid_request_error"
	case 401:
		return "authentication_error"
	case 403:
		return "permission_error"
	case 404:
		return "not_found_error"
	case 413:
		return "request_too_large"
	case 429:
		return "rate_limit_error"
	case 529:
		return "overloaded_error"
	}
	return "api_error"
}

// requestID is the Anthropic request id of request index.
func requestID(index int) string { return fmt.Sprintf("req_llmtest_%d", index+1) }

// quote returns s as a JSON string, without HTML escaping.
func quote(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}

// promptWords counts the words of a request's messages (and, for
// Anthropic, its system parameter), the prompt tokens a server reports
// when the script does not say.
func promptWords(f Format, body []byte) int {
	var req struct {
		System   json.RawMessage `json:"system"`
		Messages []struct {
			Content json.RawMessage `json:"content"`
		} `json:"messages"`
	}
	if json.Unmarshal(body, &req) != nil {
		return 0
	}
	n := words(req.System)
	for _, m := range req.Messages {
		n += words(m.Content)
	}
	return n
}

// words counts the words of a content value: a string, or an array of
// blocks with "text".
func words(raw json.RawMessage) int {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return len(strings.Fields(s))
	}
	var blocks []struct {
		Text string `json:"text"`
	}
	if json.Unmarshal(raw, &blocks) == nil {
		n := 0
		for _, b := range blocks {
			n += len(strings.Fields(b.Text))
		}
		return n
	}
	return 0
}
