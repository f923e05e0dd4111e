package anthropic

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	sdk "github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"

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
// Its errors wrap llm.ErrInvalidRequest (a conversation or setting the
// Messages API cannot take, see the package doc), the context's error, or
// llm.ErrUpstream: an *llm.StatusError for an HTTP error status, the
// transport's error for a failed connection.
func (p *Provider) Stream(ctx context.Context, req llm.Request) (llm.Stream, error) {
	params, err := p.params(req)
	if err != nil {
		return nil, err
	}
	var res *http.Response
	s := p.client.Messages.NewStreaming(ctx, params, option.WithResponseInto(&res))
	if err := s.Err(); err != nil {
		s.Close()
		oerr := upstream.OpenError(ctx, p.cfg.Name, p.cfg.APIKey, res, err)
		var se *llm.StatusError
		if errors.As(oerr, &se) && se.Type == "" {
			se.Type = errorType(err, p.cfg.APIKey)
		}
		return nil, oerr
	}
	dec := &decoder{name: p.cfg.Name, secret: p.cfg.APIKey}
	return upstream.NewStream(ctx, p.cfg.Name, p.cfg.APIKey, s, res, dec, ErrClosed), nil
}

// errorType returns the error.type of the body of an error response,
// {"type":"error","error":{"type":"rate_limit_error","message":...}},
// which the SDK's error holds; "" when there is none.
func errorType(err error, secret string) string {
	var aerr *sdk.Error
	if !errors.As(err, &aerr) {
		return ""
	}
	var body struct {
		Error struct {
			Type string `json:"type"`
		} `json:"error"`
	}
	if json.Unmarshal([]byte(aerr.RawJSON()), &body) != nil {
		return ""
	}
	return upstream.Redact(body.Error.Type, secret)
}

// decoder maps Messages events; upstream.Stream does the rest.
type decoder struct {
	name, secret string
	input        int           // input tokens from message_start
	finished     bool          // a stop_reason was delivered
	chunks       int           // chunks with content decoded, for messages
	tools        map[int64]int // content block index → tool call index
}

func (d *decoder) Finished() bool { return d.finished }

// EventError recognises an "error" event inside the stream (the SDK
// reports it with the stream's own status, 200, or as a plain error).
func (d *decoder) EventError(err error) error {
	var aerr *sdk.Error
	switch {
	case errors.As(err, &aerr):
		return upstream.StreamError([]byte(aerr.RawJSON()), d.secret)
	case strings.HasPrefix(err.Error(), "received error while streaming: "):
		return upstream.StreamError([]byte(strings.TrimPrefix(err.Error(), "received error while streaming: ")), d.secret)
	}
	return nil
}

// Decode maps one event: text, thinking and tool_use blocks and their
// deltas, the finish chunk (from message_delta, with usage); message_stop
// ends the stream. Nothing is decoded after the finish.
func (d *decoder) Decode(ev sdk.MessageStreamEventUnion) (llm.Chunk, bool, error) {
	var c llm.Chunk
	switch ev.Type {
	case "message_start":
		d.input = int(ev.Message.Usage.InputTokens)
	case "content_block_start":
		if !d.finished {
			d.blockStart(ev.Index, ev.ContentBlock, &c)
		}
	case "content_block_delta":
		if !d.finished {
			d.blockDelta(ev.Index, ev.Delta, &c)
		}
	case "message_delta":
		if ev.Delta.StopReason != "" && !d.finished {
			d.finished = true
			input := d.input
			if ev.Usage.InputTokens > 0 {
				input = int(ev.Usage.InputTokens)
			}
			c.FinishReason = stopReason(ev.Delta.StopReason)
			c.Usage = &llm.Usage{PromptTokens: input, CompletionTokens: int(ev.Usage.OutputTokens)}
		}
	case "message_stop":
		if d.finished {
			return c, true, io.EOF
		}
		return c, true, fmt.Errorf("%s: %w: %w (message_stop without stop_reason, after %d chunks)", d.name, llm.ErrUpstream, llm.ErrStreamCut, d.chunks)
	}
	if upstream.Carries(c) {
		d.chunks++
	}
	return c, false, nil
}

// blockStart maps the start of a content block. A tool_use block starts a
// tool call, numbered from 0 in the order the calls come; its input
// follows as input_json_delta pieces (the API sends an empty object here,
// but a gateway that sends the whole input here is not lost).
func (d *decoder) blockStart(index int64, b sdk.ContentBlockStartEventContentBlockUnion, c *llm.Chunk) {
	switch b.Type {
	case "text":
		c.Text = b.Text
	case "thinking":
		c.Reasoning = b.Thinking
	case "tool_use":
		if d.tools == nil {
			d.tools = make(map[int64]int)
		}
		call := llm.ToolCallDelta{Index: len(d.tools), ID: b.ID, Name: b.Name}
		d.tools[index] = call.Index
		if in, ok := b.Input.(map[string]any); ok && len(in) > 0 {
			if raw, err := json.Marshal(in); err == nil {
				call.Arguments = string(raw)
			}
		}
		c.ToolCalls = []llm.ToolCallDelta{call}
	}
}

// blockDelta maps a delta: text, thinking (as reasoning) or a piece of a
// tool call's input. Signatures, citations and deltas of blocks that are
// not tool calls carry nothing for the reader.
func (d *decoder) blockDelta(index int64, delta sdk.MessageStreamEventUnionDelta, c *llm.Chunk) {
	switch delta.Type {
	case "text_delta":
		c.Text = delta.Text
	case "thinking_delta":
		c.Reasoning = delta.Thinking
	case "input_json_delta":
		if call, ok := d.tools[index]; ok && delta.PartialJSON != "" {
			c.ToolCalls = []llm.ToolCallDelta{{Index: call, Arguments: delta.PartialJSON}}
		}
	}
}

// stopReason maps a Messages stop_reason. tool_use asks the client to run
// the calls; pause_turn (a server tool's long turn, which this provider
// never asks for) ends the answer like a stop; refusal withholds the rest
// of the answer like a content filter; hitting the context window is a
// length limit. Unknown values are treated as stop, since the server did
// say the answer ended.
func stopReason(r sdk.StopReason) llm.FinishReason {
	switch r {
	case sdk.StopReasonToolUse:
		return llm.FinishToolCalls
	case sdk.StopReasonMaxTokens, sdk.StopReasonModelContextWindowExceeded:
		return llm.FinishLength
	case sdk.StopReasonRefusal:
		return llm.FinishContentFilter
	default: // end_turn, stop_sequence, pause_turn, others
		return llm.FinishStop
	}
}
