package openai

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/armistice-go/armistice/llm"
)

// The request body is encoded here and handed to the SDK as raw bytes; the
// SDK still sends it (base URL, auth, headers, HTTP errors). Building an
// sdk.ChatCompletionNewParams and letting the SDK marshal it went through
// its reflective encoder: about a third of the SDK's CPU per request in
// BenchmarkStreamStart, and deep enough to grow the calling goroutine's
// stack to 32 KB, which that goroutine (the engine's producer) then keeps
// while it reads the stream.

// chatRequest is the body of a streaming Chat Completions request: the
// fields this provider sends, in the order the SDK wrote them. Exactly one
// of MaxTokens and MaxCompletionTokens is sent when the request has a
// limit, neither when it has none.
type chatRequest struct {
	Messages            []chatMessage `json:"messages"`
	Model               string        `json:"model"`
	MaxTokens           int           `json:"max_tokens,omitempty"`
	MaxCompletionTokens int           `json:"max_completion_tokens,omitempty"`
	StreamOptions       streamOptions `json:"stream_options"`
	Stream              bool          `json:"stream"`
}

type chatMessage struct {
	Content string `json:"content"`
	Role    string `json:"role"`
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// body encodes req as a Chat Completions request, or returns an error
// wrapping llm.ErrInvalidRequest (no messages, an unknown role).
func (p *Provider) body(req llm.Request) ([]byte, error) {
	if len(req.Messages) == 0 {
		return nil, fmt.Errorf("%s: %w: no messages", p.cfg.Name, llm.ErrInvalidRequest)
	}
	r := chatRequest{
		Messages:      make([]chatMessage, len(req.Messages)),
		Model:         req.Model,
		StreamOptions: streamOptions{IncludeUsage: true},
		Stream:        true,
	}
	for i, m := range req.Messages {
		switch m.Role {
		case llm.RoleSystem, llm.RoleUser, llm.RoleAssistant:
			r.Messages[i] = chatMessage{Content: m.Content, Role: string(m.Role)}
		default:
			return nil, fmt.Errorf("%s: %w: message %d has unknown role %q", p.cfg.Name, llm.ErrInvalidRequest, i, m.Role)
		}
	}
	if r.Model == "" {
		r.Model = p.cfg.Model
	}
	if req.MaxTokens > 0 {
		if p.cfg.MaxCompletionTokens {
			r.MaxCompletionTokens = req.MaxTokens
		} else {
			r.MaxTokens = req.MaxTokens
		}
	}
	// As the SDK did: <, > and & are not escaped (they need not be in
	// JSON); invalid UTF-8 becomes U+FFFD, U+2028 and U+2029 are escaped.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&r); err != nil {
		return nil, fmt.Errorf("%s: encoding the request: %w", p.cfg.Name, err) // cannot happen: strings, ints and bools
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
