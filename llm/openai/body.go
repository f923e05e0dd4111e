package openai

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/armistice-go/armistice/llm"
)

// The request body is encoded here and sent as raw bytes (post.go). When
// the provider was built on openai-go, building an
// sdk.ChatCompletionNewParams and letting the SDK marshal it went through
// its reflective encoder: about a third of the SDK's CPU per request in
// BenchmarkStreamStart, and deep enough to grow the calling goroutine's
// stack to 32 KB, which that goroutine (the engine's producer) then keeps
// while it reads the stream.

// chatRequest is the body of a streaming Chat Completions request: the
// fields this provider sends, named as OpenAI's API names them. Exactly
// one of MaxTokens and MaxCompletionTokens is sent when the request has a
// limit, neither when it has none; every other setting is sent only when
// the request set it (pointers and omitempty), so an unset setting stays
// the server's default.
type chatRequest struct {
	Messages            []chatMessage      `json:"messages"`
	Model               string             `json:"model"`
	MaxTokens           int                `json:"max_tokens,omitempty"`
	MaxCompletionTokens int                `json:"max_completion_tokens,omitempty"`
	StreamOptions       streamOptions      `json:"stream_options"`
	Stream              bool               `json:"stream"`
	Temperature         *float64           `json:"temperature,omitempty"`
	TopP                *float64           `json:"top_p,omitempty"`
	Stop                []string           `json:"stop,omitempty"`
	Seed                *int64             `json:"seed,omitempty"`
	PresencePenalty     *float64           `json:"presence_penalty,omitempty"`
	FrequencyPenalty    *float64           `json:"frequency_penalty,omitempty"`
	LogitBias           map[string]float64 `json:"logit_bias,omitempty"`
	User                string             `json:"user,omitempty"`
	ServiceTier         string             `json:"service_tier,omitempty"`
	ReasoningEffort     string             `json:"reasoning_effort,omitempty"`
	Logprobs            bool               `json:"logprobs,omitempty"`
	TopLogprobs         *int               `json:"top_logprobs,omitempty"`
	ResponseFormat      *responseFormat    `json:"response_format,omitempty"`
	Tools               []chatTool         `json:"tools,omitempty"`
	ToolChoice          any                `json:"tool_choice,omitempty"` // a mode string or a namedChoice
	ParallelToolCalls   *bool              `json:"parallel_tool_calls,omitempty"`
}

// chatMessage is one message. Content is null only for an assistant turn
// that holds nothing but tool calls, as OpenAI itself writes it.
type chatMessage struct {
	Content    *string        `json:"content"`
	Role       string         `json:"role"`
	Name       string         `json:"name,omitempty"`
	ToolCalls  []chatToolCall `json:"tool_calls,omitempty"`
	ToolCallID string         `json:"tool_call_id,omitempty"`
}

type chatToolCall struct {
	ID       string       `json:"id"`
	Type     string       `json:"type"` // "function"
	Function chatFunction `json:"function"`
}

type chatFunction struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

type responseFormat struct {
	Type       string      `json:"type"`
	JSONSchema *jsonSchema `json:"json_schema,omitempty"`
}

type jsonSchema struct {
	Name        string          `json:"name,omitempty"`
	Description string          `json:"description,omitempty"`
	Schema      json.RawMessage `json:"schema,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
}

type chatTool struct {
	Type     string       `json:"type"` // "function"
	Function toolFunction `json:"function"`
}

type toolFunction struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
}

type namedChoice struct {
	Type     string `json:"type"` // "function"
	Function struct {
		Name string `json:"name"`
	} `json:"function"`
}

// capabilities are the fields this provider forwards: every field of
// llm.Settings but top_k, which Chat Completions does not have.
var capabilities = func() llm.Capabilities {
	c := llm.AllCapabilities()
	delete(c, llm.FieldTopK)
	return c
}()

// body encodes req as a Chat Completions request, or returns an error
// wrapping llm.ErrInvalidRequest (no messages, an unknown role, a tool
// message without its call id, a malformed setting) or an
// *llm.UnsupportedError (top_k): Check refuses these before a request
// reaches the provider, and the provider refuses them again rather than
// drop them.
func (p *Provider) body(req llm.Request) ([]byte, error) {
	if len(req.Messages) == 0 {
		return nil, fmt.Errorf("%s: %w: no messages", p.cfg.Name, llm.ErrInvalidRequest)
	}
	s := &req.Settings
	if s.TopK != nil {
		return nil, fmt.Errorf("%s: %w", p.cfg.Name, &llm.UnsupportedError{Field: llm.FieldTopK, Provider: p.cfg.Name})
	}
	r := chatRequest{
		Messages:          make([]chatMessage, len(req.Messages)),
		Model:             req.Model,
		StreamOptions:     streamOptions{IncludeUsage: true},
		Stream:            true,
		Temperature:       s.Temperature,
		TopP:              s.TopP,
		Stop:              s.Stop,
		Seed:              s.Seed,
		PresencePenalty:   s.PresencePenalty,
		FrequencyPenalty:  s.FrequencyPenalty,
		LogitBias:         s.LogitBias,
		User:              s.User,
		ServiceTier:       s.ServiceTier,
		ReasoningEffort:   s.ReasoningEffort,
		Logprobs:          s.Logprobs,
		TopLogprobs:       s.TopLogprobs,
		ParallelToolCalls: s.ParallelToolCalls,
	}
	for i := range req.Messages {
		if err := p.message(&r.Messages[i], &req.Messages[i], i); err != nil {
			return nil, err
		}
	}
	if r.Model == "" {
		r.Model = p.cfg.Model
	}
	if req.MaxTokens > 0 {
		switch {
		case p.cfg.MaxCompletionTokens, s.MaxTokensField == llm.FieldMaxCompletionTokens, s.MaxTokensField == llm.FieldMaxOutputTokens:
			// Responses' max_output_tokens caps the same tokens,
			// reasoning included, as max_completion_tokens.
			r.MaxCompletionTokens = req.MaxTokens
		default:
			r.MaxTokens = req.MaxTokens
		}
	}
	if len(s.Tools) > 0 || s.ToolChoice != nil || s.ResponseFormat != nil {
		if err := s.Validate(); err != nil {
			return nil, fmt.Errorf("%s: %w", p.cfg.Name, err)
		}
	}
	if rf := s.ResponseFormat; rf != nil && rf.Type != "" {
		r.ResponseFormat = &responseFormat{Type: string(rf.Type)}
		if rf.Type == llm.FormatJSONSchema {
			r.ResponseFormat.JSONSchema = &jsonSchema{Name: rf.Name, Description: rf.Description, Schema: rf.Schema, Strict: rf.Strict}
		}
	}
	if len(s.Tools) > 0 {
		r.Tools = make([]chatTool, len(s.Tools))
		for i, t := range s.Tools {
			r.Tools[i] = chatTool{Type: "function", Function: toolFunction{Name: t.Name, Description: t.Description, Parameters: t.Parameters, Strict: t.Strict}}
		}
	}
	if tc := s.ToolChoice; tc != nil {
		if tc.Mode == llm.ToolChoiceFunction {
			var named namedChoice
			named.Type, named.Function.Name = "function", tc.Name
			r.ToolChoice = named
		} else {
			r.ToolChoice = string(tc.Mode)
		}
	}
	// As openai-go did: <, > and & are not escaped (they need not be in
	// JSON); invalid UTF-8 becomes U+FFFD, U+2028 and U+2029 are escaped.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&r); err != nil {
		// Only a raw schema that is not JSON can fail, and Validate
		// refused that already.
		return nil, fmt.Errorf("%s: %w: encoding the request: %w", p.cfg.Name, llm.ErrInvalidRequest, err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// message encodes m, the i-th message, into out.
func (p *Provider) message(out *chatMessage, m *llm.Message, i int) error {
	*out = chatMessage{Content: &m.Content, Role: string(m.Role)}
	switch m.Role {
	case llm.RoleSystem, llm.RoleUser:
		out.Name = m.Name
	case llm.RoleAssistant:
		out.Name = m.Name
		if len(m.ToolCalls) > 0 {
			out.ToolCalls = make([]chatToolCall, len(m.ToolCalls))
			for j, tc := range m.ToolCalls {
				out.ToolCalls[j] = chatToolCall{ID: tc.ID, Type: "function", Function: chatFunction{Name: tc.Name, Arguments: tc.Arguments}}
			}
			if m.Content == "" {
				out.Content = nil
			}
		}
	case llm.RoleTool:
		// A tool message has no name in Chat Completions: its
		// tool_call_id says which call it answers.
		if m.ToolCallID == "" {
			return fmt.Errorf("%s: %w: message %d (role tool) has no tool_call_id", p.cfg.Name, llm.ErrInvalidRequest, i)
		}
		out.ToolCallID = m.ToolCallID
	default:
		return fmt.Errorf("%s: %w: message %d has unknown role %q", p.cfg.Name, llm.ErrInvalidRequest, i, m.Role)
	}
	return nil
}
