package openai

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	sdk "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/ssestream"

	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/llm/internal/upstream"
)

// Provider streams Chat Completions from an OpenAI-compatible server. It is
// safe for concurrent use.
type Provider struct {
	cfg Config
	svc sdk.ChatCompletionService
}

var _ llm.Provider = (*Provider)(nil)

// New returns a Provider for cfg, with its zero fields defaulted, or an
// error wrapping ErrInvalidConfig.
func New(cfg Config) (*Provider, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = upstream.DefaultHTTPClient()
	}
	// The service is built without openai.NewClient, which would read
	// OPENAI_* environment variables (base URL, key, organisation, custom
	// headers): the Config is the whole truth.
	opts := []option.RequestOption{
		option.WithBaseURL(cfg.BaseURL),
		option.WithHTTPClient(hc),
		// Retrying is llm/resilient's job, done once for every provider.
		option.WithMaxRetries(0),
	}
	if cfg.APIKey != "" {
		opts = append(opts, option.WithAPIKey(cfg.APIKey))
	}
	for name, value := range cfg.ExtraHeaders {
		opts = append(opts, option.WithHeader(name, value))
	}
	return &Provider{cfg: cfg, svc: sdk.NewChatCompletionService(opts...)}, nil
}

// Name returns Config.Name.
func (p *Provider) Name() string { return p.cfg.Name }

// Stream sends the request and returns once the response headers arrived.
// Its errors wrap llm.ErrInvalidRequest (no messages, an unknown role), the
// context's error, or llm.ErrUpstream: an *llm.StatusError for an HTTP
// error status, the transport's error for a failed connection.
func (p *Provider) Stream(ctx context.Context, req llm.Request) (llm.Stream, error) {
	params, err := p.params(req)
	if err != nil {
		return nil, err
	}
	var res *http.Response
	s := p.svc.NewStreaming(ctx, params, option.WithResponseInto(&res))
	if err := s.Err(); err != nil {
		s.Close()
		return nil, p.openError(ctx, res, err)
	}
	st := &stream{name: p.cfg.Name, secret: p.cfg.APIKey, ctx: ctx, s: s}
	if res != nil {
		st.stopWatch = upstream.Watch(ctx, res.Body)
	} else {
		st.stopWatch = func() {}
	}
	return st, nil
}

// params builds the Chat Completions request.
func (p *Provider) params(req llm.Request) (sdk.ChatCompletionNewParams, error) {
	if len(req.Messages) == 0 {
		return sdk.ChatCompletionNewParams{}, fmt.Errorf("%s: %w: no messages", p.cfg.Name, llm.ErrInvalidRequest)
	}
	msgs := make([]sdk.ChatCompletionMessageParamUnion, 0, len(req.Messages))
	for i, m := range req.Messages {
		switch m.Role {
		case llm.RoleSystem:
			msgs = append(msgs, sdk.SystemMessage(m.Content))
		case llm.RoleUser:
			msgs = append(msgs, sdk.UserMessage(m.Content))
		case llm.RoleAssistant:
			msgs = append(msgs, sdk.AssistantMessage(m.Content))
		default:
			return sdk.ChatCompletionNewParams{}, fmt.Errorf("%s: %w: message %d has unknown role %q", p.cfg.Name, llm.ErrInvalidRequest, i, m.Role)
		}
	}
	model := req.Model
	if model == "" {
		model = p.cfg.Model
	}
	params := sdk.ChatCompletionNewParams{
		Model:         model,
		Messages:      msgs,
		StreamOptions: sdk.ChatCompletionStreamOptionsParam{IncludeUsage: sdk.Bool(true)},
	}
	if req.MaxTokens > 0 {
		if p.cfg.MaxCompletionTokens {
			params.MaxCompletionTokens = sdk.Int(int64(req.MaxTokens))
		} else {
			params.MaxTokens = sdk.Int(int64(req.MaxTokens))
		}
	}
	return params, nil
}

// openError turns the SDK's error for a stream that did not open into ours.
func (p *Provider) openError(ctx context.Context, res *http.Response, err error) error {
	if cerr := upstream.Cancelled(ctx, p.cfg.Name); cerr != nil {
		return cerr
	}
	if res != nil && res.StatusCode >= 400 {
		return fmt.Errorf("%s: %w", p.cfg.Name, upstream.Status(res, time.Now(), p.cfg.APIKey))
	}
	return upstream.RedactError(fmt.Errorf("%s: %w: %w", p.cfg.Name, llm.ErrUpstream, err), p.cfg.APIKey)
}

// stream is one open answer.
type stream struct {
	name      string
	secret    string
	ctx       context.Context
	s         *ssestream.Stream[sdk.ChatCompletionChunk]
	stopWatch func()

	finished bool  // a finish reason was delivered
	chunks   int   // chunks delivered
	end      error // io.EOF or the error every later Recv returns
	closed   bool
}

// Recv returns the next chunk. The role chunk and other chunks without
// text, finish reason or usage are skipped. After the finish chunk it may
// return one usage chunk, then io.EOF.
func (s *stream) Recv() (llm.Chunk, error) {
	if s.end != nil {
		return llm.Chunk{}, s.end
	}
	if s.closed {
		return llm.Chunk{}, ErrClosed
	}
	for {
		if err := upstream.Cancelled(s.ctx, s.name); err != nil {
			return s.fail(err)
		}
		if !s.s.Next() {
			return s.fail(s.endError(s.s.Err()))
		}
		c, err := s.convert(s.s.Current())
		if err != nil {
			return s.fail(err)
		}
		if c.Text != "" || c.FinishReason != llm.FinishNone || c.Usage != nil {
			s.chunks++
			return c, nil
		}
	}
}

// fail ends the stream with err, releasing the connection.
func (s *stream) fail(err error) (llm.Chunk, error) {
	s.end = err
	s.release()
	return llm.Chunk{}, err
}

// endError maps how the SDK's stream ended (err is nil on a clean end of
// the body or "data: [DONE]") onto the stream's final error.
func (s *stream) endError(err error) error {
	if cerr := upstream.Cancelled(s.ctx, s.name); cerr != nil {
		return cerr
	}
	if s.finished {
		// The answer is complete; whatever happens after the finish chunk
		// (a missing usage chunk, a dropped connection) does not undo it.
		return io.EOF
	}
	var serr *ssestream.StreamError
	switch {
	case err == nil:
		return fmt.Errorf("%s: %w: %w (after %d chunks)", s.name, llm.ErrUpstream, llm.ErrStreamCut, s.chunks)
	case errors.As(err, &serr):
		return fmt.Errorf("%s: %w", s.name, upstream.StreamError(serr.Event.Data, s.secret))
	case upstream.IsJSONError(err), errors.Is(err, bufio.ErrTooLong):
		return upstream.RedactError(fmt.Errorf("%s: %w: %w: %w", s.name, llm.ErrUpstream, llm.ErrMalformed, err), s.secret)
	default:
		return upstream.RedactError(fmt.Errorf("%s: %w: %w (after %d chunks): %w", s.name, llm.ErrUpstream, llm.ErrStreamCut, s.chunks, err), s.secret)
	}
}

// convert maps one Chat Completions chunk. Only choice 0 is read (the
// provider never asks for more). A chunk whose choices are present but not
// an array is malformed.
func (s *stream) convert(ev sdk.ChatCompletionChunk) (llm.Chunk, error) {
	if raw := ev.JSON.Choices.Raw(); raw != "" && raw != "null" && !ev.JSON.Choices.Valid() {
		return llm.Chunk{}, fmt.Errorf("%s: %w: %w: choices is not an array", s.name, llm.ErrUpstream, llm.ErrMalformed)
	}
	var c llm.Chunk
	if ev.JSON.Usage.Valid() {
		c.Usage = &llm.Usage{
			PromptTokens:     int(ev.Usage.PromptTokens),
			CompletionTokens: int(ev.Usage.CompletionTokens),
		}
	}
	if s.finished {
		return c, nil // nothing but usage follows a finish
	}
	for _, ch := range ev.Choices {
		if ch.Index != 0 {
			continue
		}
		c.Text = ch.Delta.Content
		if ch.FinishReason != "" {
			c.FinishReason = finishReason(ch.FinishReason)
			s.finished = true
		}
	}
	return c, nil
}

// finishReason maps a Chat Completions finish_reason. A tool or function
// call ends the answer like a stop (this provider sends no tools, so it
// only happens with a server-side default); unknown values are treated as
// stop too, since the server did say the answer ended.
func finishReason(r string) llm.FinishReason {
	switch r {
	case "length":
		return llm.FinishLength
	case "content_filter":
		return llm.FinishContentFilter
	default: // "stop", "tool_calls", "function_call", others
		return llm.FinishStop
	}
}

// release stops the cancel watch and closes the SDK stream (and with it the
// response body). It is idempotent.
func (s *stream) release() {
	s.stopWatch()
	_ = s.s.Close()
}

// Close releases the stream. It is idempotent.
func (s *stream) Close() error {
	if !s.closed {
		s.closed = true
		s.release()
	}
	return nil
}
