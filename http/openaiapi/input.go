package openaiapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/armistice-go/armistice/actors"
	"github.com/armistice-go/armistice/llm"
)

// chatBody is a chat completion request. Every field is honoured,
// refused, or a hint listed in chatFields; the rest are refused.
type chatBody struct {
	samplingBody
	Model               string             `json:"model"`
	Messages            []chatMessage      `json:"messages"`
	Stream              bool               `json:"stream"`
	StreamOptions       *streamOptions     `json:"stream_options"`
	MaxTokens           *int               `json:"max_tokens"`
	MaxCompletionTokens *int               `json:"max_completion_tokens"`
	N                   *int               `json:"n"`
	PresencePenalty     *float64           `json:"presence_penalty"`
	FrequencyPenalty    *float64           `json:"frequency_penalty"`
	Stop                json.RawMessage    `json:"stop"`
	Seed                *int64             `json:"seed"`
	LogitBias           map[string]float64 `json:"logit_bias"`
	ReasoningEffort     string             `json:"reasoning_effort"`
	Logprobs            *bool              `json:"logprobs"`
	ResponseFormat      json.RawMessage    `json:"response_format"`
	Functions           json.RawMessage    `json:"functions"`
	FunctionCall        json.RawMessage    `json:"function_call"`
	Audio               json.RawMessage    `json:"audio"`
	Modalities          []string           `json:"modalities"`
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
	Name         string          `json:"name"`
	ToolCalls    json.RawMessage `json:"tool_calls"`
	ToolCallID   string          `json:"tool_call_id"`
	FunctionCall json.RawMessage `json:"function_call"`
	Audio        json.RawMessage `json:"audio"`
}

// chatToolCall is one call of an assistant message.
type chatToolCall struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
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
	settings     llm.Settings
	stream       bool
	includeUsage bool
}

// name is the chat name of a refused field.
func (r chatRequest) name(f llm.Field) string {
	if f == llm.FieldToolMessages {
		return "messages"
	}
	return string(f)
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
	if err := chatFields.check(data); err != nil {
		return chatRequest{}, err
	}
	switch {
	case !emptyList(body.Functions):
		return chatRequest{}, unsupported("functions", "the deprecated functions (use tools)")
	case present(body.FunctionCall) && !rawStringIn(body.FunctionCall, "none", "auto"):
		return chatRequest{}, unsupported("function_call", "the deprecated function_call (use tool_choice)")
	case body.N != nil && *body.N != 1:
		return chatRequest{}, invalid("n", CodeUnsupportedValue, "Armistice generates one choice per request; n must be 1, got %d.", *body.N)
	case present(body.Audio):
		return chatRequest{}, unsupported("audio", "audio output")
	case len(body.Modalities) > 0 && !(len(body.Modalities) == 1 && body.Modalities[0] == "text"):
		return chatRequest{}, invalid("modalities", CodeUnsupportedValue, "Armistice supports only the \"text\" modality.")
	case body.TopLogprobs != nil && (body.Logprobs == nil || !*body.Logprobs):
		return chatRequest{}, invalid("top_logprobs", CodeInvalidValue, "'top_logprobs' needs 'logprobs' set to true.")
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
	if maxTokens > 0 {
		req.settings.MaxTokensField = llm.FieldMaxCompletionTokens
	} else {
		if maxTokens, err = positive("max_tokens", body.MaxTokens); err != nil {
			return chatRequest{}, err
		}
		if maxTokens > 0 {
			req.settings.MaxTokensField = llm.FieldMaxTokens
		}
	}
	req.maxTokens = maxTokens
	if err := body.chatSettings(&req.settings); err != nil {
		return chatRequest{}, err
	}
	for i, m := range body.Messages {
		msg, err := chatMessageOf(fmt.Sprintf("messages[%d]", i), m)
		if err != nil {
			return chatRequest{}, err
		}
		req.messages = append(req.messages, msg)
	}
	if err := a.checkPrompt("messages", req.messages); err != nil {
		return chatRequest{}, err
	}
	return req, nil
}

// chatSettings reads the chat-only settings, then the shared ones.
func (b chatBody) chatSettings(s *llm.Settings) error {
	var err error
	if s.PresencePenalty, err = inRange("presence_penalty", b.PresencePenalty, -2, 2); err != nil {
		return err
	}
	if s.FrequencyPenalty, err = inRange("frequency_penalty", b.FrequencyPenalty, -2, 2); err != nil {
		return err
	}
	if s.Stop, err = parseStop(b.Stop); err != nil {
		return err
	}
	s.Seed = b.Seed
	for k, v := range b.LogitBias {
		if v < -100 || v > 100 {
			return invalid("logit_bias", CodeInvalidValue, "Invalid 'logit_bias': biases must be from -100 to 100, got %g for %q.", v, truncate(k, 20))
		}
	}
	if len(b.LogitBias) > 0 {
		s.LogitBias = b.LogitBias
	}
	if s.ReasoningEffort, err = parseEffort("reasoning_effort", b.ReasoningEffort); err != nil {
		return err
	}
	s.Logprobs = b.Logprobs != nil && *b.Logprobs
	if s.ResponseFormat, err = parseFormat("response_format", b.ResponseFormat); err != nil {
		return err
	}
	if s.ResponseFormat != nil && s.ResponseFormat.Type == llm.FormatText {
		s.ResponseFormat = nil // the default, asked for explicitly
	}
	return b.samplingBody.settings(s, false)
}

// chatMessageOf reads one message: system, developer, user, assistant
// (with tool_calls) or tool.
func chatMessageOf(param string, m chatMessage) (llm.Message, error) {
	role, err := chatRole(param, m.Role)
	if err != nil {
		return llm.Message{}, err
	}
	switch {
	case present(m.FunctionCall):
		return llm.Message{}, unsupported(param+".function_call", "the deprecated function_call (use tool_calls)")
	case present(m.Audio):
		return llm.Message{}, unsupported(param+".audio", "audio")
	case m.Name != "" && role != llm.RoleTool:
		return llm.Message{}, unsupported(param+".name", "participant names")
	case present(m.ToolCalls) && !emptyList(m.ToolCalls) && role != llm.RoleAssistant:
		return llm.Message{}, invalid(param+".tool_calls", CodeInvalidValue, "Only assistant messages carry tool_calls.")
	}
	msg := llm.Message{Role: role}
	if role == llm.RoleTool {
		if m.ToolCallID == "" {
			return llm.Message{}, invalid(param+".tool_call_id", CodeMissingParameter, "Missing required parameter: '%s.tool_call_id'.", param)
		}
		msg.ToolCallID, msg.Name = m.ToolCallID, m.Name
	}
	if !emptyList(m.ToolCalls) {
		var calls []chatToolCall
		if json.Unmarshal(m.ToolCalls, &calls) != nil {
			return llm.Message{}, invalid(param+".tool_calls", CodeInvalidType, "Invalid type for '%s.tool_calls': expected an array of tool calls.", param)
		}
		for j, tc := range calls {
			cp := fmt.Sprintf("%s.tool_calls[%d]", param, j)
			switch {
			case tc.Type != "" && tc.Type != "function":
				return llm.Message{}, invalid(cp+".type", CodeUnsupportedValue, "Armistice supports only function tool calls, not %q.", truncate(tc.Type, 40))
			case tc.ID == "":
				return llm.Message{}, invalid(cp+".id", CodeMissingParameter, "Missing required parameter: '%s.id'.", cp)
			case tc.Function.Name == "":
				return llm.Message{}, invalid(cp+".function.name", CodeMissingParameter, "Missing required parameter: '%s.function.name'.", cp)
			}
			msg.ToolCalls = append(msg.ToolCalls, llm.ToolCall{ID: tc.ID, Name: tc.Function.Name, Arguments: tc.Function.Arguments})
		}
	}
	text, err := contentText(param+".content", m.Content, role == llm.RoleAssistant, chatPart)
	if err != nil {
		return llm.Message{}, err
	}
	msg.Content = text
	return msg, nil
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
	case "tool":
		return llm.RoleTool, nil
	case "function":
		return "", invalid(param+".role", CodeUnsupportedValue, "Armistice does not support the deprecated \"function\" messages (use \"tool\").")
	case "":
		return "", invalid(param+".role", CodeMissingParameter, "Missing required parameter: '%s.role'.", param)
	}
	return "", invalid(param+".role", CodeInvalidValue, "Invalid value for '%s.role': %q. Supported values are: 'system', 'developer', 'user', 'assistant' and 'tool'.", param, truncate(role, 40))
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

// responsesBody is a Responses create request. Every field is honoured,
// refused, or a hint listed in responsesFields; the rest are refused.
type responsesBody struct {
	samplingBody
	Model              string            `json:"model"`
	Input              json.RawMessage   `json:"input"`
	Instructions       *string           `json:"instructions"`
	MaxOutputTokens    *int              `json:"max_output_tokens"`
	Stream             bool              `json:"stream"`
	Background         bool              `json:"background"`
	Store              *bool             `json:"store"`
	Metadata           map[string]string `json:"metadata"`
	Text               *textBody         `json:"text"`
	Reasoning          *reasoningBody    `json:"reasoning"`
	Include            []string          `json:"include"`
	Truncation         string            `json:"truncation"`
	MaxToolCalls       *int              `json:"max_tool_calls"`
	PreviousResponseID *string           `json:"previous_response_id"`
	Conversation       json.RawMessage   `json:"conversation"`
	Prompt             json.RawMessage   `json:"prompt"`
}

type textBody struct {
	Format    json.RawMessage `json:"format"`
	Verbosity *string         `json:"verbosity"`
}

type reasoningBody struct {
	Effort          string  `json:"effort"`
	Summary         *string `json:"summary"`
	GenerateSummary *string `json:"generate_summary"`
}

// The include values Armistice knows: logprobs are honoured; encrypted
// reasoning is a hint (reasoning items carry none).
const (
	includeLogprobs          = "message.output_text.logprobs"
	includeEncryptedReasonig = "reasoning.encrypted_content"
)

type inputItem struct {
	Type      string          `json:"type"`
	Role      string          `json:"role"`
	Content   json.RawMessage `json:"content"`
	CallID    string          `json:"call_id"`
	Name      string          `json:"name"`
	Arguments string          `json:"arguments"`
	Output    json.RawMessage `json:"output"`
	ID        string          `json:"id"`
}

// roleItemRef marks an item_reference in the parsed input until the
// create handler resolves it against the tenant's stored responses
// (resolveRefs): Content holds the id, ToolCallID the parameter name.
const roleItemRef llm.Role = "armistice.item_reference"

// responsesRequest is a checked Responses create request.
type responsesRequest struct {
	// previousID is previous_response_id: the stored response whose
	// input and output come before this request's input.
	previousID string
	// inputFrom is where the request's own input starts in messages
	// (after its instructions and the turns previous_response_id adds).
	inputFrom int
	// refShares names the leading messages that resolving item_reference
	// items made shared with a stored response (shareTurns).
	refShares    actors.SharedInput
	model        string
	messages     []llm.Message
	instructions *string
	maxTokens    *int
	settings     llm.Settings
	stream       bool
	background   bool
	store        bool
	metadata     map[string]string
	// logprobsVia names the field that asked for logprobs (include or
	// top_logprobs), userVia the one that set the user.
	logprobsVia string
	userVia     string
	// echo is what the Response shows of the settings.
	echo settingsEcho
}

// name is the Responses name of a refused field.
func (r responsesRequest) name(f llm.Field) string {
	switch f {
	case llm.FieldMaxTokens, llm.FieldMaxCompletionTokens, llm.FieldMaxOutputTokens:
		return "max_output_tokens"
	case llm.FieldResponseFormat:
		return "text.format"
	case llm.FieldReasoningEffort:
		return "reasoning.effort"
	case llm.FieldLogprobs:
		return r.logprobsVia
	case llm.FieldUser:
		return r.userVia
	case llm.FieldToolMessages:
		return "input"
	}
	return string(f)
}

func (a *api) parseResponses(data []byte) (responsesRequest, error) {
	var body responsesBody
	if err := decodeJSON(data, &body); err != nil {
		return responsesRequest{}, err
	}
	if err := responsesFields.check(data); err != nil {
		return responsesRequest{}, err
	}
	switch {
	case present(body.Conversation):
		return responsesRequest{}, unsupported("conversation", "conversations (send the whole conversation as input)")
	case present(body.Prompt):
		return responsesRequest{}, unsupported("prompt", "prompt templates")
	case body.MaxToolCalls != nil:
		return responsesRequest{}, unsupported("max_tool_calls", "max_tool_calls")
	case body.Text != nil && body.Text.Verbosity != nil:
		return responsesRequest{}, unsupported("text.verbosity", "text.verbosity")
	case body.Truncation != "" && body.Truncation != "disabled" && body.Truncation != "auto":
		return responsesRequest{}, invalid("truncation", CodeInvalidValue, "Invalid value for 'truncation': %q. Supported values are 'auto' and 'disabled'.", truncate(body.Truncation, 40))
	case len(body.Model) > maxModelBytes:
		return responsesRequest{}, invalid("model", CodeInvalidValue, "model is longer than %d bytes.", maxModelBytes)
	case body.Background && body.Store != nil && !*body.Store:
		return responsesRequest{}, invalid("store", CodeInvalidValue, "Background responses must be stored: store=false cannot be used with background=true.")
	}
	req := responsesRequest{model: body.Model, stream: body.Stream, background: body.Background, store: body.Store == nil || *body.Store}
	if body.PreviousResponseID != nil {
		req.previousID = *body.PreviousResponseID
	}
	max, err := positive("max_output_tokens", body.MaxOutputTokens)
	if err != nil {
		return responsesRequest{}, err
	}
	if max > 0 {
		req.maxTokens = &max
		req.settings.MaxTokensField = llm.FieldMaxOutputTokens
	}
	if err := req.readSettings(body); err != nil {
		return responsesRequest{}, err
	}
	req.echo = echoOf(body)
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
	req.inputFrom = len(req.messages)
	req.messages = append(req.messages, input...)
	if err := a.checkPrompt("input", req.messages); err != nil {
		return responsesRequest{}, err
	}
	return req, nil
}

func (req *responsesRequest) readSettings(body responsesBody) error {
	s := &req.settings
	for i, inc := range body.Include {
		switch inc {
		case includeLogprobs:
			s.Logprobs, req.logprobsVia = true, "include"
		case includeEncryptedReasonig:
		default:
			return invalid(fmt.Sprintf("include[%d]", i), CodeUnsupportedValue, "Armistice does not support include %q.", truncate(inc, 60))
		}
	}
	if body.TopLogprobs != nil {
		s.Logprobs, req.logprobsVia = true, "top_logprobs"
	}
	req.userVia = "user"
	if body.User == "" && body.SafetyIdentifier != "" {
		req.userVia = "safety_identifier"
	}
	if body.Reasoning != nil {
		var err error
		if s.ReasoningEffort, err = parseEffort("reasoning.effort", body.Reasoning.Effort); err != nil {
			return err
		}
	}
	if body.Text != nil {
		var err error
		if s.ResponseFormat, err = parseFormat("text.format", body.Text.Format); err != nil {
			return err
		}
		if s.ResponseFormat != nil && s.ResponseFormat.Type == llm.FormatText {
			s.ResponseFormat = nil
		}
	}
	if err := body.samplingBody.settings(s, true); err != nil {
		var oe *Error
		if errors.As(err, &oe) && oe.Param == "response_format" {
			oe.Param = "text.format"
		}
		return err
	}
	return nil
}

// echoOf keeps the settings a Response shows, as the client sent them
// (checked by then).
func echoOf(body responsesBody) settingsEcho {
	e := settingsEcho{Temperature: body.Temperature, TopP: body.TopP, ParallelToolCalls: body.ParallelToolCalls}
	if present(body.ToolChoice) {
		e.ToolChoice = compact(body.ToolChoice)
	}
	if !emptyList(body.Tools) {
		var tools []json.RawMessage
		_ = json.Unmarshal(body.Tools, &tools)
		for _, t := range tools {
			e.Tools = append(e.Tools, compact(t))
		}
	}
	if body.Text != nil && present(body.Text.Format) {
		e.Format = compact(body.Text.Format)
	}
	return e
}

func compact(raw json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return nil
	}
	return b.Bytes()
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
		if it.Type == "" && it.Role == "" && it.ID != "" {
			it.Type = "item_reference" // its type is optional; the SDKs leave it out
		}
		switch it.Type {
		case "", "message":
			role, err := chatRole(param, it.Role)
			if err != nil {
				return nil, err
			}
			if role == llm.RoleTool {
				return nil, invalid(param+".role", CodeInvalidValue, "Tool results are function_call_output items, not messages with role 'tool'.")
			}
			text, err := contentText(param+".content", it.Content, false, responsesPart)
			if err != nil {
				return nil, err
			}
			msgs = append(msgs, llm.Message{Role: role, Content: text})
		case "function_call":
			switch {
			case it.CallID == "":
				return nil, invalid(param+".call_id", CodeMissingParameter, "Missing required parameter: '%s.call_id'.", param)
			case it.Name == "":
				return nil, invalid(param+".name", CodeMissingParameter, "Missing required parameter: '%s.name'.", param)
			}
			call := llm.ToolCall{ID: it.CallID, Name: it.Name, Arguments: it.Arguments}
			// Calls join the assistant turn they follow, as in chat.
			if n := len(msgs); n > 0 && msgs[n-1].Role == llm.RoleAssistant {
				msgs[n-1].ToolCalls = append(msgs[n-1].ToolCalls, call)
			} else {
				msgs = append(msgs, llm.Message{Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{call}})
			}
		case "function_call_output":
			if it.CallID == "" {
				return nil, invalid(param+".call_id", CodeMissingParameter, "Missing required parameter: '%s.call_id'.", param)
			}
			out, err := contentText(param+".output", it.Output, false, responsesPart)
			if err != nil {
				return nil, err
			}
			msgs = append(msgs, llm.Message{Role: llm.RoleTool, ToolCallID: it.CallID, Content: out})
		case "item_reference":
			if it.ID == "" {
				return nil, invalid(param+".id", CodeMissingParameter, "Missing required parameter: '%s.id'.", param)
			}
			msgs = append(msgs, llm.Message{Role: roleItemRef, Content: it.ID, ToolCallID: param + ".id"})
		default:
			return nil, invalid(param+".type", CodeUnsupportedValue, "Armistice supports message, function_call, function_call_output and item_reference input items, not %q.", truncate(it.Type, 60))
		}
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
