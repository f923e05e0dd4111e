package openai

import (
	"context"
	"net/http"

	sdk "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/llm/internal/upstream"
)

// Provider streams Chat Completions from an OpenAI-compatible server. It is
// safe for concurrent use.
type Provider struct {
	cfg    Config
	client sdk.Client // only its Options are set: Stream posts a raw body
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
	// The client carries the options exactly as the SDK's own
	// ChatCompletionService holds them (one inherited layer); its Post
	// sends a []byte body as it is, with Content-Type application/json.
	// Its services are left zero: only Post is used.
	return &Provider{cfg: cfg, client: sdk.Client{Options: sdk.NewChatCompletionService(opts...).Options}}, nil
}

// Name returns Config.Name.
func (p *Provider) Name() string { return p.cfg.Name }

// Stream sends the request and returns once the response headers arrived.
// Its errors wrap llm.ErrInvalidRequest (no messages, an unknown role), the
// context's error, or llm.ErrUpstream: an *llm.StatusError for an HTTP
// error status, the transport's error for a failed connection.
func (p *Provider) Stream(ctx context.Context, req llm.Request) (llm.Stream, error) {
	body, err := p.body(req)
	if err != nil {
		return nil, err
	}
	var res *http.Response
	// The body is encoded here (body.go) and handed over raw: the SDK
	// sends the request (base URL, auth, headers, HTTP errors) and hands
	// back the response unread; the stream is decoded here (wire.go).
	err = p.client.Post(ctx, "chat/completions", body, &res)
	if err != nil {
		if res != nil && res.Body != nil {
			res.Body.Close()
		}
		return nil, upstream.OpenError(ctx, p.cfg.Name, p.cfg.APIKey, res, err)
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
// for more). (A chunk whose choices are not an array fails to decode, as
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
	for _, ch := range ev.Choices {
		if ch.Index != 0 {
			continue
		}
		c.Text = ch.Delta.Content
		if ch.FinishReason != "" {
			c.FinishReason = finishReason(ch.FinishReason)
			d.finished = true
		}
	}
	return c, false, nil
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
