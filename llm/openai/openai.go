package openai

import (
	"context"
	"fmt"
	"maps"

	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/llm/internal/upstream"
)

// Provider streams Chat Completions from an OpenAI-compatible server. It is
// safe for concurrent use.
type Provider struct {
	cfg    Config
	poster *poster
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
	// Nothing is read from OPENAI_* environment variables (base URL,
	// key, organisation, custom headers): the Config is the whole truth.
	ps, err := newPoster(cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return &Provider{cfg: cfg, poster: ps}, nil
}

// Name returns Config.Name.
func (p *Provider) Name() string { return p.cfg.Name }

// Capabilities returns every field but top_k: each is forwarded under its
// Chat Completions name (see the package documentation).
func (p *Provider) Capabilities() llm.Capabilities { return maps.Clone(capabilities) }

// Stream sends the request and returns once the response headers arrived.
// Its errors wrap llm.ErrInvalidRequest (no messages, an unknown role, a
// malformed setting), llm.ErrUnsupported (top_k), the
// context's error, or llm.ErrUpstream: an *llm.StatusError for an HTTP
// error status, the transport's error for a failed connection.
func (p *Provider) Stream(ctx context.Context, req llm.Request) (llm.Stream, error) {
	body, err := p.body(req)
	if err != nil {
		return nil, err
	}
	// The body is encoded here (body.go), sent with net/http (post.go),
	// and the stream decoded here (wire.go).
	res, err := p.post(ctx, body)
	if err != nil {
		return nil, err
	}
	s := newChunkReader(res)
	dec := &decoder{name: p.cfg.Name, secret: p.cfg.APIKey}
	return upstream.NewStream(ctx, p.cfg.Name, p.cfg.APIKey, s, res, dec, ErrClosed), nil
}

// decoder maps Chat Completions chunks; upstream.Stream does the rest.
type decoder struct {
	name, secret string
	finished     bool // a finish reason was delivered
}

func (d *decoder) Finished() bool { return d.finished }

// EventError recognises an error object inside the stream.
func (d *decoder) EventError(err error) error {
	if e, ok := asEventError(err); ok {
		return upstream.StreamError(e.data, d.secret)
	}
	return nil
}

// Decode maps one chunk. Only choice 0 is read (the provider never asks
// for more): its content, reasoning, tool-call pieces, logprobs and
// finish reason. (A chunk whose choices are not an array fails to decode, as
// malformed.) After the finish chunk only usage is read.
func (d *decoder) Decode(ev wireChunk) (llm.Chunk, bool, error) {
	var c llm.Chunk
	if ev.Usage != nil {
		c.Usage = &llm.Usage{
			PromptTokens:     int(ev.Usage.PromptTokens),
			CompletionTokens: int(ev.Usage.CompletionTokens),
		}
	}
	if d.finished {
		return c, false, nil // nothing but usage follows a finish
	}
	for i := range ev.Choices {
		ch := &ev.Choices[i]
		if ch.Index != 0 {
			continue
		}
		c.Text = ch.Delta.Content
		// Servers sending both names send the same text twice.
		c.Reasoning = string(ch.Delta.ReasoningContent)
		if c.Reasoning == "" {
			c.Reasoning = string(ch.Delta.Reasoning)
		}
		if n := len(ch.Delta.ToolCalls); n > 0 {
			c.ToolCalls = make([]llm.ToolCallDelta, n)
			for j, tc := range ch.Delta.ToolCalls {
				c.ToolCalls[j] = llm.ToolCallDelta{Index: tc.Index, ID: tc.ID, Name: tc.Function.Name, Arguments: tc.Function.Arguments}
			}
		}
		if fc := ch.Delta.FunctionCall; fc != nil && (fc.Name != "" || fc.Arguments != "") {
			// The legacy function call is one call, without an id.
			c.ToolCalls = append(c.ToolCalls, llm.ToolCallDelta{Name: fc.Name, Arguments: fc.Arguments})
		}
		if ch.Logprobs != nil {
			c.Logprobs = ch.Logprobs.Content
		}
		if ch.FinishReason != "" {
			c.FinishReason = finishReason(ch.FinishReason)
			d.finished = true
		}
		break // one choice 0 per chunk; a second would be a server's bug
	}
	return c, false, nil
}

// finishReason maps a Chat Completions finish_reason. Unknown values are
// treated as stop, since the server did say the answer ended.
func finishReason(r string) llm.FinishReason {
	switch r {
	case "length":
		return llm.FinishLength
	case "content_filter":
		return llm.FinishContentFilter
	case "tool_calls", "function_call":
		return llm.FinishToolCalls
	default: // "stop", others
		return llm.FinishStop
	}
}
