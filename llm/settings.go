package llm

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
)

// Settings are the generation settings a client asked for. The zero value
// asks for nothing: every setting is the provider's default. A pointer or
// a non-empty value means the client set it, and the provider must honour
// it or refuse the request (Check): nothing is silently dropped.
type Settings struct {
	// Temperature and TopP are the sampling settings; TopK is Anthropic's.
	Temperature *float64
	TopP        *float64
	TopK        *int
	// MaxTokensField is the name the client used for the output-token cap
	// (Request.MaxTokens): FieldMaxTokens, FieldMaxCompletionTokens or
	// FieldMaxOutputTokens. Providers forward the cap under the same
	// name where their API has it (reasoning models refuse max_tokens);
	// empty means max_tokens.
	MaxTokensField Field
	// Stop ends the answer before the first of these sequences.
	Stop []string
	// Seed asks for a reproducible answer.
	Seed *int64
	// PresencePenalty and FrequencyPenalty are OpenAI's repetition
	// penalties.
	PresencePenalty  *float64
	FrequencyPenalty *float64
	// LogitBias maps token ids (as decimal strings) to a bias of -100..100.
	LogitBias map[string]float64
	// User identifies the end user to the provider.
	User string
	// ServiceTier is OpenAI's processing tier ("auto", "default", "flex",
	// "priority", ...).
	ServiceTier string
	// ReasoningEffort is a reasoning model's effort ("minimal", "low",
	// "medium", "high").
	ReasoningEffort string
	// Logprobs asks for the log probability of each output token;
	// TopLogprobs for that many alternatives at each position.
	Logprobs    bool
	TopLogprobs *int
	// ResponseFormat asks for plain text, any JSON object, or a document
	// valid for a JSON schema; nil means text.
	ResponseFormat *ResponseFormat
	// Tools are the functions the model may call; ToolChoice says whether
	// and which it must call; ParallelToolCalls whether it may call
	// several in one turn.
	Tools             []Tool
	ToolChoice        *ToolChoice
	ParallelToolCalls *bool
}

// FormatType is the kind of ResponseFormat.
type FormatType string

// The response formats.
const (
	FormatText       FormatType = "text"
	FormatJSONObject FormatType = "json_object"
	FormatJSONSchema FormatType = "json_schema"
)

// ResponseFormat asks for structured output.
type ResponseFormat struct {
	Type FormatType `json:"type"`
	// Name, Description, Schema and Strict describe a json_schema format.
	Name        string          `json:"name,omitempty"`
	Description string          `json:"description,omitempty"`
	Schema      json.RawMessage `json:"schema,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
}

// Tool is a function the model may call.
type Tool struct {
	// Name is the function's name, Description what it does.
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Parameters is the JSON schema of the function's arguments; empty
	// means no arguments.
	Parameters json.RawMessage `json:"parameters,omitempty"`
	// Strict asks the provider to follow the schema exactly.
	Strict *bool `json:"strict,omitempty"`
}

// ToolChoiceMode says whether the model must call a tool.
type ToolChoiceMode string

// The tool choice modes.
const (
	ToolChoiceAuto     ToolChoiceMode = "auto"     // the model decides
	ToolChoiceNone     ToolChoiceMode = "none"     // no tool call
	ToolChoiceRequired ToolChoiceMode = "required" // at least one tool call
	ToolChoiceFunction ToolChoiceMode = "function" // a call of Name
)

// ToolChoice says which tool, if any, the model must call.
type ToolChoice struct {
	Mode ToolChoiceMode `json:"mode"`
	// Name is the function to call when Mode is ToolChoiceFunction.
	Name string `json:"name,omitempty"`
}

// Field names one request setting, by its OpenAI Chat Completions name.
// Front doors translate it to the name their client used when they refuse
// a request.
type Field string

// The fields a request can set beyond its model and messages.
const (
	FieldTemperature         Field = "temperature"
	FieldTopP                Field = "top_p"
	FieldTopK                Field = "top_k"
	FieldMaxTokens           Field = "max_tokens"
	FieldMaxCompletionTokens Field = "max_completion_tokens"
	FieldMaxOutputTokens     Field = "max_output_tokens"
	FieldStop                Field = "stop"
	FieldSeed                Field = "seed"
	FieldPresencePenalty     Field = "presence_penalty"
	FieldFrequencyPenalty    Field = "frequency_penalty"
	FieldLogitBias           Field = "logit_bias"
	FieldUser                Field = "user"
	FieldServiceTier         Field = "service_tier"
	FieldReasoningEffort     Field = "reasoning_effort"
	FieldLogprobs            Field = "logprobs"
	FieldTopLogprobs         Field = "top_logprobs"
	FieldResponseFormat      Field = "response_format"
	FieldTools               Field = "tools"
	FieldToolChoice          Field = "tool_choice"
	FieldParallelToolCalls   Field = "parallel_tool_calls"
	// FieldToolMessages covers a conversation that carries tool calls or
	// tool results (assistant tool_calls, role tool).
	FieldToolMessages Field = "messages.tool_calls"
)

// AllFields lists every field, in the order of the constants.
var AllFields = []Field{
	FieldTemperature, FieldTopP, FieldTopK, FieldMaxTokens, FieldMaxCompletionTokens,
	FieldMaxOutputTokens, FieldStop, FieldSeed, FieldPresencePenalty, FieldFrequencyPenalty,
	FieldLogitBias, FieldUser, FieldServiceTier, FieldReasoningEffort, FieldLogprobs,
	FieldTopLogprobs, FieldResponseFormat, FieldTools, FieldToolChoice, FieldParallelToolCalls,
	FieldToolMessages,
}

// AllCapabilities honours every field: for test providers, which hand the
// request to the test as it came.
func AllCapabilities() Capabilities {
	c := make(Capabilities, len(AllFields))
	for _, f := range AllFields {
		c[f] = true
	}
	return c
}

// Fields returns the fields req sets, sorted by name.
func (r Request) Fields() []Field {
	s := r.Settings
	var fs []Field
	add := func(set bool, f Field) {
		if set {
			fs = append(fs, f)
		}
	}
	if r.MaxTokens > 0 {
		f := s.MaxTokensField
		if f == "" {
			f = FieldMaxTokens
		}
		fs = append(fs, f)
	}
	add(s.Temperature != nil, FieldTemperature)
	add(s.TopP != nil, FieldTopP)
	add(s.TopK != nil, FieldTopK)
	add(len(s.Stop) > 0, FieldStop)
	add(s.Seed != nil, FieldSeed)
	add(s.PresencePenalty != nil, FieldPresencePenalty)
	add(s.FrequencyPenalty != nil, FieldFrequencyPenalty)
	add(len(s.LogitBias) > 0, FieldLogitBias)
	add(s.User != "", FieldUser)
	add(s.ServiceTier != "", FieldServiceTier)
	add(s.ReasoningEffort != "", FieldReasoningEffort)
	add(s.Logprobs, FieldLogprobs)
	add(s.TopLogprobs != nil, FieldTopLogprobs)
	add(s.ResponseFormat != nil && s.ResponseFormat.Type != FormatText && s.ResponseFormat.Type != "", FieldResponseFormat)
	add(len(s.Tools) > 0, FieldTools)
	add(s.ToolChoice != nil, FieldToolChoice)
	add(s.ParallelToolCalls != nil, FieldParallelToolCalls)
	hasToolMessages := false
	for _, m := range r.Messages {
		if m.Role == RoleTool || len(m.ToolCalls) > 0 {
			hasToolMessages = true
			break
		}
	}
	add(hasToolMessages, FieldToolMessages)
	sort.Slice(fs, func(i, j int) bool { return fs[i] < fs[j] })
	return fs
}

// Capabilities is the set of fields a provider honours.
type Capabilities map[Field]bool

// Capable is implemented by providers that honour settings. A provider
// that does not implement it honours only the model, plain messages and
// max_tokens.
type Capable interface {
	Capabilities() Capabilities
}

// BasicCapabilities are what every provider honours.
func BasicCapabilities() Capabilities { return Capabilities{FieldMaxTokens: true} }

// CapabilitiesOf returns what p honours.
func CapabilitiesOf(p Provider) Capabilities {
	if c, ok := p.(Capable); ok {
		return c.Capabilities()
	}
	return BasicCapabilities()
}

// RequestChecker is implemented by providers that refuse some values of
// the fields they honour (a schema they cannot satisfy, a value outside
// their range) or whose rules span fields and messages (Anthropic's
// thinking budget must fit the token cap). Check calls CheckRequest once
// every field is honoured, so the refusal comes at submit time, before
// any answer; its errors should wrap ErrInvalidRequest. Wrappers
// (llm/resilient) pass it through.
type RequestChecker interface {
	CheckRequest(req Request) error
}

// UnsupportedError says that a provider cannot honour a field the request
// set. It wraps ErrUnsupported.
type UnsupportedError struct {
	// Field is the setting, Provider the provider's name.
	Field    Field
	Provider string
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("%s: provider %q does not support %s", ErrUnsupported.Error(), e.Provider, e.Field)
}

// Unwrap returns ErrUnsupported.
func (e *UnsupportedError) Unwrap() error { return ErrUnsupported }

// Check reports the first field of req that p cannot honour, as an
// *UnsupportedError, or a malformed setting as ErrInvalidRequest, then
// what p's CheckRequest reports when p is a RequestChecker. Front doors
// call it at submit time, before they answer.
func Check(p Provider, req Request) error {
	if err := req.Settings.Validate(); err != nil {
		return err
	}
	caps := CapabilitiesOf(p)
	for _, f := range req.Fields() {
		if !caps[f] {
			return &UnsupportedError{Field: f, Provider: p.Name()}
		}
	}
	if rc, ok := p.(RequestChecker); ok {
		return rc.CheckRequest(req)
	}
	return nil
}

// Validate reports a malformed setting (a tool without a name, a named
// tool choice without a name, a json_schema format without a schema).
func (s Settings) Validate() error {
	for i, t := range s.Tools {
		if t.Name == "" {
			return fmt.Errorf("%w: tools[%d] has no name", ErrInvalidRequest, i)
		}
		if len(t.Parameters) > 0 && !json.Valid(t.Parameters) {
			return fmt.Errorf("%w: tools[%d].parameters is not JSON", ErrInvalidRequest, i)
		}
	}
	if tc := s.ToolChoice; tc != nil {
		switch tc.Mode {
		case ToolChoiceAuto, ToolChoiceNone, ToolChoiceRequired:
		case ToolChoiceFunction:
			if tc.Name == "" {
				return fmt.Errorf("%w: tool_choice names no function", ErrInvalidRequest)
			}
			found := false
			for _, t := range s.Tools {
				found = found || t.Name == tc.Name
			}
			if !found {
				return fmt.Errorf("%w: tool_choice names %q, which is not in tools", ErrInvalidRequest, tc.Name)
			}
		default:
			return fmt.Errorf("%w: unknown tool_choice %q", ErrInvalidRequest, tc.Mode)
		}
		if tc.Mode != ToolChoiceNone && tc.Mode != ToolChoiceAuto && len(s.Tools) == 0 {
			return fmt.Errorf("%w: tool_choice %q without tools", ErrInvalidRequest, tc.Mode)
		}
	}
	if rf := s.ResponseFormat; rf != nil {
		switch rf.Type {
		case FormatText, FormatJSONObject, "":
		case FormatJSONSchema:
			if len(rf.Schema) == 0 || !json.Valid(rf.Schema) {
				return fmt.Errorf("%w: response_format json_schema needs a JSON schema", ErrInvalidRequest)
			}
		default:
			return fmt.Errorf("%w: unknown response_format type %q", ErrInvalidRequest, rf.Type)
		}
	}
	switch s.MaxTokensField {
	case "", FieldMaxTokens, FieldMaxCompletionTokens, FieldMaxOutputTokens:
	default:
		return fmt.Errorf("%w: unknown token cap field %q", ErrInvalidRequest, s.MaxTokensField)
	}
	return nil
}

// Clone returns a copy of s that shares no slice or map with it.
func (s Settings) Clone() Settings {
	s.Stop = slices.Clone(s.Stop)
	s.LogitBias = maps.Clone(s.LogitBias)
	s.Tools = slices.Clone(s.Tools)
	if s.ResponseFormat != nil {
		rf := *s.ResponseFormat
		s.ResponseFormat = &rf
	}
	if s.ToolChoice != nil {
		tc := *s.ToolChoice
		s.ToolChoice = &tc
	}
	return s
}
