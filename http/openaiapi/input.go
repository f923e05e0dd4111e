package openaiapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/armistice-go/armistice/llm"
)

// chatBody is the part of a chat completion request Armistice reads. Other
// fields are ignored; the ones that would change the answer's shape
// (tools, images, audio, several choices, JSON mode, logprobs) are refused
// when set.
type chatBody struct {
	Model               string          `json:"model"`
	Messages            []chatMessage   `json:"messages"`
	Stream              bool            `json:"stream"`
	StreamOptions       *streamOptions  `json:"stream_options"`
	MaxTokens           *int            `json:"max_tokens"`
	MaxCompletionTokens *int            `json:"max_completion_tokens"`
	N                   *int            `json:"n"`
	Tools               json.RawMessage `json:"tools"`
	Functions           json.RawMessage `json:"functions"`
	ToolChoice          json.RawMessage `json:"tool_choice"`
	FunctionCall        json.RawMessage `json:"function_call"`
	ResponseFormat      *formatType     `json:"response_format"`
	Audio               json.RawMessage `json:"audio"`
	Modalities          []string        `json:"modalities"`
	Logprobs            *bool           `json:"logprobs"`
	TopLogprobs         *int            `json:"top_logprobs"`
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

type formatType struct {
	Type string `json:"type"`
}

type chatMessage struct {
	Role         string          `json:"role"`
	Content      json.RawMessage `json:"content"`
	ToolCalls    json.RawMessage `json:"tool_calls"`
	FunctionCall json.RawMessage `json:"function_call"`
	Audio        json.RawMessage `json:"audio"`
}

// contentPart is one element of an array content.
type contentPart struct {
	Type    string `json:"type"`
	Text    string `json:"text"`
	Refusal string `json:"refusal"`
}

// chatRequest is a checked chat completion request.
type chatRequest struct {
	model        string
	messages     []llm.Message
	maxTokens    int
	stream       bool
	includeUsage bool
}

// present reports whether a raw field was sent with a value other than
// null.
func present(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) > 0 && !bytes.Equal(t, []byte("null"))
}

// emptyList reports whether raw is absent, null or [].
func emptyList(raw json.RawMessage) bool {
	if !present(raw) {
		return true
	}
	var list []json.RawMessage
	return json.Unmarshal(raw, &list) == nil && len(list) == 0
}

func unsupported(param, what string) *Error {
	return invalid(param, CodeUnsupportedParam, "Armistice does not support %s.", what)
}

func (a *api) parseChat(data []byte) (chatRequest, error) {
	var body chatBody
	if err := decodeJSON(data, &body); err != nil {
		return chatRequest{}, err
	}
	switch {
	case !emptyList(body.Tools):
		return chatRequest{}, unsupported("tools", "tools or function calling")
	case !emptyList(body.Functions):
		return chatRequest{}, unsupported("functions", "tools or function calling")
	case present(body.ToolChoice) && !rawStringIn(body.ToolChoice, "none", "auto"):
		return chatRequest{}, unsupported("tool_choice", "tools or function calling")
	case present(body.FunctionCall) && !rawStringIn(body.FunctionCall, "none", "auto"):
		return chatRequest{}, unsupported("function_call", "tools or function calling")
	case body.N != nil && *body.N != 1:
		return chatRequest{}, invalid("n", CodeUnsupportedValue, "Armistice generates one choice per request; n must be 1, got %d.", *body.N)
	case body.ResponseFormat != nil && body.ResponseFormat.Type != "" && body.ResponseFormat.Type != "text":
		return chatRequest{}, invalid("response_format", CodeUnsupportedValue, "Armistice does not support response_format %q; only \"text\".", truncate(body.ResponseFormat.Type, 40))
	case present(body.Audio):
		return chatRequest{}, unsupported("audio", "audio output")
	case len(body.Modalities) > 0 && !(len(body.Modalities) == 1 && body.Modalities[0] == "text"):
		return chatRequest{}, invalid("modalities", CodeUnsupportedValue, "Armistice supports only the \"text\" modality.")
	case body.Logprobs != nil && *body.Logprobs:
		return chatRequest{}, unsupported("logprobs", "logprobs")
	case body.TopLogprobs != nil && *body.TopLogprobs > 0:
		return chatRequest{}, unsupported("top_logprobs", "logprobs")
	case len(body.Model) > maxModelBytes:
		return chatRequest{}, invalid("model", CodeInvalidValue, "model is longer than %d bytes.", maxModelBytes)
	case len(body.Messages) == 0:
		return chatRequest{}, invalid("messages", CodeMissingParameter, "Missing required parameter: 'messages' (at least one message).")
	}
	req := chatRequest{model: body.Model, stream: body.Stream}
	if body.StreamOptions != nil {
		req.includeUsage = body.StreamOptions.IncludeUsage
	}
	maxTokens, err := positive("max_completion_tokens", body.MaxCompletionTokens)
	if err != nil {
		return chatRequest{}, err
	}
	if maxTokens == 0 {
		if maxTokens, err = positive("max_tokens", body.MaxTokens); err != nil {
			return chatRequest{}, err
		}
	}
	req.maxTokens = maxTokens
	for i, m := range body.Messages {
		param := fmt.Sprintf("messages[%d]", i)
		role, err := chatRole(param, m.Role)
		if err != nil {
			return chatRequest{}, err
		}
		switch {
		case present(m.ToolCalls) && !emptyList(m.ToolCalls):
			return chatRequest{}, unsupported(param+".tool_calls", "tools or function calling")
		case present(m.FunctionCall):
			return chatRequest{}, unsupported(param+".function_call", "tools or function calling")
		case present(m.Audio):
			return chatRequest{}, unsupported(param+".audio", "audio")
		}
		text, err := contentText(param+".content", m.Content, role == llm.RoleAssistant, chatPart)
		if err != nil {
			return chatRequest{}, err
		}
		req.messages = append(req.messages, llm.Message{Role: role, Content: text})
	}
	if err := a.checkPrompt("messages", req.messages); err != nil {
		return chatRequest{}, err
	}
	return req, nil
}

func rawStringIn(raw json.RawMessage, values ...string) bool {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return false
	}
	for _, v := range values {
		if s == v {
			return true
		}
	}
	return false
}

func positive(param string, v *int) (int, error) {
	if v == nil {
		return 0, nil
	}
	if *v < 1 {
		return 0, invalid(param, CodeInvalidValue, "Invalid '%s': integer below minimum value. Expected a value >= 1, but got %d instead.", param, *v)
	}
	return *v, nil
}

func chatRole(param, role string) (llm.Role, error) {
	switch role {
	case "system", "developer":
		return llm.RoleSystem, nil
	case "user":
		return llm.RoleUser, nil
	case "assistant":
		return llm.RoleAssistant, nil
	case "tool", "function":
		return "", invalid(param+".role", CodeUnsupportedValue, "Armistice does not support %q messages (no tools or function calling).", role)
	case "":
		return "", invalid(param+".role", CodeMissingParameter, "Missing required parameter: '%s.role'.", param)
	}
	return "", invalid(param+".role", CodeInvalidValue, "Invalid value for '%s.role': %q. Supported values are: 'system', 'developer', 'user' and 'assistant'.", param, truncate(role, 40))
}

// partText returns the text of one content part, or an error naming what
// is not supported.
type partText func(param string, p contentPart) (string, error)

func chatPart(param string, p contentPart) (string, error) {
	switch p.Type {
	case "text":
		return p.Text, nil
	case "refusal":
		return p.Refusal, nil
	case "image_url":
		return "", invalid(param+".type", CodeUnsupportedValue, "Armistice does not support image input.")
	case "input_audio":
		return "", invalid(param+".type", CodeUnsupportedValue, "Armistice does not support audio input.")
	case "file":
		return "", invalid(param+".type", CodeUnsupportedValue, "Armistice does not support file input.")
	case "":
		return "", invalid(param+".type", CodeMissingParameter, "Missing required parameter: '%s.type'.", param)
	}
	return "", invalid(param+".type", CodeInvalidValue, "Invalid content part type %q.", truncate(p.Type, 40))
}

func responsesPart(param string, p contentPart) (string, error) {
	switch p.Type {
	case "input_text", "output_text", "text":
		return p.Text, nil
	case "refusal":
		return p.Refusal, nil
	case "input_image":
		return "", invalid(param+".type", CodeUnsupportedValue, "Armistice does not support image input.")
	case "input_audio":
		return "", invalid(param+".type", CodeUnsupportedValue, "Armistice does not support audio input.")
	case "input_file":
		return "", invalid(param+".type", CodeUnsupportedValue, "Armistice does not support file input.")
	case "":
		return "", invalid(param+".type", CodeMissingParameter, "Missing required parameter: '%s.type'.", param)
	}
	return "", invalid(param+".type", CodeInvalidValue, "Invalid content part type %q.", truncate(p.Type, 40))
}

// contentText reads a message content: a string, or an array of text
// parts joined with newlines. null is accepted for assistant messages.
func contentText(param string, raw json.RawMessage, nullOK bool, part partText) (string, error) {
	raw = bytes.TrimSpace(raw)
	switch {
	case !present(raw) && nullOK:
		return "", nil
	case !present(raw):
		return "", invalid(param, CodeMissingParameter, "Missing required parameter: '%s'.", param)
	case raw[0] == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", invalid(param, CodeInvalidType, "Invalid type for '%s': expected a string or an array of content parts.", param)
		}
		return s, nil
	case raw[0] == '[':
		var parts []contentPart
		if err := json.Unmarshal(raw, &parts); err != nil {
			return "", invalid(param, CodeInvalidType, "Invalid type for '%s': expected a string or an array of content parts.", param)
		}
		texts := make([]string, 0, len(parts))
		for j, p := range parts {
			t, err := part(fmt.Sprintf("%s[%d]", param, j), p)
			if err != nil {
				return "", err
			}
			texts = append(texts, t)
		}
		return strings.Join(texts, "\n"), nil
	}
	return "", invalid(param, CodeInvalidType, "Invalid type for '%s': expected a string or an array of content parts.", param)
}

// checkPrompt enforces MaxPromptBytes over all message texts.
func (a *api) checkPrompt(param string, msgs []llm.Message) error {
	n := 0
	for _, m := range msgs {
		n += len(m.Content)
		if !utf8.ValidString(m.Content) {
			return invalid(param, CodeInvalidValue, "The %s must be valid UTF-8.", param)
		}
	}
	if n > a.cfg.MaxPromptBytes {
		return invalid(param, CodeContextLength, "The prompt is %d bytes; this server accepts at most %d.", n, a.cfg.MaxPromptBytes)
	}
	return nil
}

// responsesBody is the part of a Responses create request Armistice
// reads.
type responsesBody struct {
	Model              string            `json:"model"`
	Input              json.RawMessage   `json:"input"`
	Instructions       *string           `json:"instructions"`
	MaxOutputTokens    *int              `json:"max_output_tokens"`
	Stream             bool              `json:"stream"`
	Background         bool              `json:"background"`
	Store              *bool             `json:"store"`
	Metadata           map[string]string `json:"metadata"`
	Tools              json.RawMessage   `json:"tools"`
	ToolChoice         json.RawMessage   `json:"tool_choice"`
	Text               *textBody         `json:"text"`
	PreviousResponseID *string           `json:"previous_response_id"`
	Conversation       json.RawMessage   `json:"conversation"`
	Prompt             json.RawMessage   `json:"prompt"`
}

type textBody struct {
	Format *formatType `json:"format"`
}

type inputItem struct {
	Type    string          `json:"type"`
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// responsesRequest is a checked Responses create request.
type responsesRequest struct {
	model        string
	messages     []llm.Message
	instructions *string
	maxTokens    *int
	stream       bool
	background   bool
	store        bool
	metadata     map[string]string
}

func (a *api) parseResponses(data []byte) (responsesRequest, error) {
	var body responsesBody
	if err := decodeJSON(data, &body); err != nil {
		return responsesRequest{}, err
	}
	switch {
	case !emptyList(body.Tools):
		return responsesRequest{}, unsupported("tools", "tools or function calling")
	case present(body.ToolChoice) && !rawStringIn(body.ToolChoice, "none", "auto"):
		return responsesRequest{}, unsupported("tool_choice", "tools or function calling")
	case body.Text != nil && body.Text.Format != nil && body.Text.Format.Type != "" && body.Text.Format.Type != "text":
		return responsesRequest{}, invalid("text.format.type", CodeUnsupportedValue, "Armistice does not support text format %q; only \"text\".", truncate(body.Text.Format.Type, 40))
	case body.PreviousResponseID != nil && *body.PreviousResponseID != "":
		return responsesRequest{}, unsupported("previous_response_id", "previous_response_id (send the whole conversation as input)")
	case present(body.Conversation):
		return responsesRequest{}, unsupported("conversation", "conversations (send the whole conversation as input)")
	case present(body.Prompt):
		return responsesRequest{}, unsupported("prompt", "prompt templates")
	case len(body.Model) > maxModelBytes:
		return responsesRequest{}, invalid("model", CodeInvalidValue, "model is longer than %d bytes.", maxModelBytes)
	case body.Background && body.Store != nil && !*body.Store:
		return responsesRequest{}, invalid("store", CodeInvalidValue, "Background responses must be stored: store=false cannot be used with background=true.")
	}
	req := responsesRequest{model: body.Model, stream: body.Stream, background: body.Background, store: body.Store == nil || *body.Store}
	max, err := positive("max_output_tokens", body.MaxOutputTokens)
	if err != nil {
		return responsesRequest{}, err
	}
	if max > 0 {
		req.maxTokens = &max
	}
	if err := checkMetadata(body.Metadata); err != nil {
		return responsesRequest{}, err
	}
	req.metadata = body.Metadata
	if body.Instructions != nil {
		req.instructions = body.Instructions
		if *body.Instructions != "" {
			req.messages = append(req.messages, llm.Message{Role: llm.RoleSystem, Content: *body.Instructions})
		}
	}
	input, err := inputMessages(body.Input)
	if err != nil {
		return responsesRequest{}, err
	}
	req.messages = append(req.messages, input...)
	if err := a.checkPrompt("input", req.messages); err != nil {
		return responsesRequest{}, err
	}
	return req, nil
}

func inputMessages(raw json.RawMessage) ([]llm.Message, error) {
	raw = bytes.TrimSpace(raw)
	missing := invalid("input", CodeMissingParameter, "Missing required parameter: 'input'.")
	switch {
	case !present(raw):
		return nil, missing
	case raw[0] == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, invalid("input", CodeInvalidType, "Invalid type for 'input': expected a string or an array of input items.")
		}
		if s == "" {
			return nil, missing
		}
		return []llm.Message{{Role: llm.RoleUser, Content: s}}, nil
	case raw[0] != '[':
		return nil, invalid("input", CodeInvalidType, "Invalid type for 'input': expected a string or an array of input items.")
	}
	var items []inputItem
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, invalid("input", CodeInvalidType, "Invalid type for 'input': expected a string or an array of input items.")
	}
	if len(items) == 0 {
		return nil, missing
	}
	msgs := make([]llm.Message, 0, len(items))
	for i, it := range items {
		param := fmt.Sprintf("input[%d]", i)
		if it.Type != "" && it.Type != "message" {
			return nil, invalid(param+".type", CodeUnsupportedValue, "Armistice supports only message input items, not %q.", truncate(it.Type, 60))
		}
		role, err := chatRole(param, it.Role)
		if err != nil {
			return nil, err
		}
		text, err := contentText(param+".content", it.Content, false, responsesPart)
		if err != nil {
			return nil, err
		}
		msgs = append(msgs, llm.Message{Role: role, Content: text})
	}
	return msgs, nil
}

func checkMetadata(md map[string]string) error {
	if len(md) > maxMetadataEntries {
		return invalid("metadata", CodeInvalidValue, "Invalid 'metadata': too many properties. Expected at most %d, but got %d.", maxMetadataEntries, len(md))
	}
	for k, v := range md {
		switch {
		case k == "" || len(k) > maxMetadataKeyBytes:
			return invalid("metadata", CodeInvalidValue, "Invalid 'metadata': keys must be 1 to %d characters.", maxMetadataKeyBytes)
		case len(v) > maxMetadataValBytes:
			return invalid("metadata", CodeInvalidValue, "Invalid 'metadata': values must be at most %d characters.", maxMetadataValBytes)
		case strings.HasPrefix(k, metaPrefix):
			return invalid("metadata", CodeInvalidValue, "Invalid 'metadata': keys starting with %q are reserved.", metaPrefix)
		}
	}
	return nil
}
