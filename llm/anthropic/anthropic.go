package anthropic

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	sdk "github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/anthropics/anthropic-sdk-go/v2/packages/ssestream"

	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/llm/internal/upstream"
)

// Provider streams answers from Anthropic's Messages API. It is safe for
// concurrent use.
type Provider struct {
	cfg    Config
	client sdk.Client
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
	opts := []option.RequestOption{
		// No ANTHROPIC_* environment variable, credential file or profile:
		// the Config is the whole truth.
		option.WithoutEnvironmentDefaults(),
		option.WithBaseURL(cfg.BaseURL),
		option.WithHTTPClient(hc),
		// Retrying is llm/resilient's job, done once for every provider.
		option.WithMaxRetries(0),
		option.WithoutOpenTelemetry(),
	}
	if cfg.APIKey != "" {
		opts = append(opts, option.WithAPIKey(cfg.APIKey))
	}
	for name, value := range cfg.ExtraHeaders {
		opts = append(opts, option.WithHeader(name, value))
	}
	return &Provider{cfg: cfg, client: sdk.NewClient(opts...)}, nil
}

// Name returns Config.Name.
func (p *Provider) Name() string { return p.cfg.Name }

// Stream sends the request and returns once the response headers arrived.
// Its errors wrap llm.ErrInvalidRequest (no messages, only system messages,
// an unknown role), the context's error, or llm.ErrUpstream: an
// *llm.StatusError for an HTTP error status, the transport's error for a
// failed connection.
func (p *Provider) Stream(ctx context.Context, req llm.Request) (llm.Stream, error) {
	params, err := p.params(req)
	if err != nil {
		return nil, err
	}
	var res *http.Response
	s := p.client.Messages.NewStreaming(ctx, params, option.WithResponseInto(&res))
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

// params builds the Messages request. System messages go to the system
// parameter, one text block each, in order.
func (p *Provider) params(req llm.Request) (sdk.MessageNewParams, error) {
	if len(req.Messages) == 0 {
		return sdk.MessageNewParams{}, fmt.Errorf("%s: %w: no messages", p.cfg.Name, llm.ErrInvalidRequest)
	}
	var system []sdk.TextBlockParam
	msgs := make([]sdk.MessageParam, 0, len(req.Messages))
	for i, m := range req.Messages {
		switch m.Role {
		case llm.RoleSystem:
			system = append(system, sdk.TextBlockParam{Text: m.Content})
		case llm.RoleUser:
			msgs = append(msgs, sdk.NewUserMessage(sdk.NewTextBlock(m.Content)))
		case llm.RoleAssistant:
			msgs = append(msgs, sdk.NewAssistantMessage(sdk.NewTextBlock(m.Content)))
		default:
			return sdk.MessageNewParams{}, fmt.Errorf("%s: %w: message %d has unknown role %q", p.cfg.Name, llm.ErrInvalidRequest, i, m.Role)
		}
	}
	if len(msgs) == 0 {
		return sdk.MessageNewParams{}, fmt.Errorf("%s: %w: only system messages", p.cfg.Name, llm.ErrInvalidRequest)
	}
	model := req.Model
	if model == "" {
		model = p.cfg.Model
	}
	maxTokens := p.cfg.MaxTokens
	if req.MaxTokens > 0 {
		maxTokens = req.MaxTokens
	}
	return sdk.MessageNewParams{
		Model:     sdk.Model(model),
		MaxTokens: int64(maxTokens),
		Messages:  msgs,
		System:    system,
	}, nil
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
	s         *ssestream.Stream[sdk.MessageStreamEventUnion]
	stopWatch func()

	input    int   // input tokens from message_start
	finished bool  // a stop_reason was delivered
	chunks   int   // chunks delivered
	end      error // io.EOF or the error every later Recv returns
	closed   bool
}

// Recv returns the next chunk: a text delta, or the finish chunk (from
// message_delta, with usage), then io.EOF at message_stop.
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
		ev := s.s.Current()
		var c llm.Chunk
		switch ev.Type {
		case "message_start":
			s.input = int(ev.Message.Usage.InputTokens)
		case "content_block_start":
			if ev.ContentBlock.Type == "text" && !s.finished {
				c.Text = ev.ContentBlock.Text
			}
		case "content_block_delta":
			if ev.Delta.Type == "text_delta" && !s.finished {
				c.Text = ev.Delta.Text
			}
		case "message_delta":
			if ev.Delta.StopReason != "" && !s.finished {
				s.finished = true
				input := s.input
				if ev.Usage.InputTokens > 0 {
					input = int(ev.Usage.InputTokens)
				}
				c.FinishReason = stopReason(ev.Delta.StopReason)
				c.Usage = &llm.Usage{PromptTokens: input, CompletionTokens: int(ev.Usage.OutputTokens)}
			}
		case "message_stop":
			if s.finished {
				return s.fail(io.EOF)
			}
			return s.fail(fmt.Errorf("%s: %w: %w (message_stop without stop_reason, after %d chunks)", s.name, llm.ErrUpstream, llm.ErrStreamCut, s.chunks))
		}
		if c.Text != "" || c.FinishReason != llm.FinishNone {
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
// the body) onto the stream's final error.
func (s *stream) endError(err error) error {
	if cerr := upstream.Cancelled(s.ctx, s.name); cerr != nil {
		return cerr
	}
	if s.finished {
		// The answer is complete; a body that ends without message_stop
		// after the stop_reason does not undo it.
		return io.EOF
	}
	var aerr *sdk.Error
	switch {
	case err == nil:
		return fmt.Errorf("%s: %w: %w (after %d chunks)", s.name, llm.ErrUpstream, llm.ErrStreamCut, s.chunks)
	case errors.As(err, &aerr):
		// An "error" event inside the stream (the SDK reports it with the
		// stream's own status, 200).
		return fmt.Errorf("%s: %w", s.name, upstream.StreamError([]byte(aerr.RawJSON()), s.secret))
	case strings.HasPrefix(err.Error(), "received error while streaming: "):
		data := strings.TrimPrefix(err.Error(), "received error while streaming: ")
		return fmt.Errorf("%s: %w", s.name, upstream.StreamError([]byte(data), s.secret))
	case upstream.IsJSONError(err), errors.Is(err, bufio.ErrTooLong):
		return upstream.RedactError(fmt.Errorf("%s: %w: %w: %w", s.name, llm.ErrUpstream, llm.ErrMalformed, err), s.secret)
	default:
		return upstream.RedactError(fmt.Errorf("%s: %w: %w (after %d chunks): %w", s.name, llm.ErrUpstream, llm.ErrStreamCut, s.chunks, err), s.secret)
	}
}

// stopReason maps a Messages stop_reason. tool_use and pause_turn end the
// answer like a stop (this provider sends no tools); refusal withholds the
// rest of the answer like a content filter; hitting the context window is
// a length limit. Unknown values are treated as stop, since the server did
// say the answer ended.
func stopReason(r sdk.StopReason) llm.FinishReason {
	switch r {
	case sdk.StopReasonMaxTokens, sdk.StopReasonModelContextWindowExceeded:
		return llm.FinishLength
	case sdk.StopReasonRefusal:
		return llm.FinishContentFilter
	default: // end_turn, stop_sequence, tool_use, pause_turn, others
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
