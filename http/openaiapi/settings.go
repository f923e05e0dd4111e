package openaiapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/armistice-go/armistice/actors"
	"github.com/armistice-go/armistice/llm"
)

// CodeUnknownParam is the code of a request field OpenAI's API does not
// have (OpenAI answers the same).
const CodeUnknownParam = "unknown_parameter"

// fieldSet says what happens to each top-level field of a request body:
// parsed (honoured or refused by the parser) or a hint (accepted and
// ignored because it cannot change the answer; docs/openai.md lists
// them). Any other field is refused, so nothing is silently dropped.
type fieldSet struct {
	parsed []string
	hints  []string
}

var chatFields = fieldSet{
	parsed: []string{"model", "messages", "stream", "stream_options", "max_tokens", "max_completion_tokens", "n",
		"temperature", "top_p", "presence_penalty", "frequency_penalty", "stop", "seed", "logit_bias", "user",
		"safety_identifier", "service_tier", "reasoning_effort", "logprobs", "top_logprobs", "response_format",
		"tools", "tool_choice", "parallel_tool_calls", "functions", "function_call", "audio", "modalities"},
	hints: []string{"store", "metadata", "prompt_cache_key", "prompt_cache_retention", "prediction"},
}

var responsesFields = fieldSet{
	parsed: []string{"model", "input", "instructions", "max_output_tokens", "stream", "background", "store",
		"metadata", "tools", "tool_choice", "text", "previous_response_id", "conversation", "prompt",
		"temperature", "top_p", "parallel_tool_calls", "reasoning", "top_logprobs", "include", "user",
		"safety_identifier", "service_tier", "truncation", "max_tool_calls"},
	hints: []string{"stream_options", "prompt_cache_key", "prompt_cache_retention"},
}

// check refuses the first field of data (a JSON object) that is neither
// parsed nor a hint; null counts as absent. Fields are checked in sorted
// order so that the error does not depend on map order.
func (fs fieldSet) check(data []byte) error {
	var top map[string]json.RawMessage
	if json.Unmarshal(data, &top) != nil {
		return nil // decodeJSON reports it
	}
	keys := make([]string, 0, len(top))
	for k, v := range top {
		if present(v) && !slices.Contains(fs.parsed, k) && !slices.Contains(fs.hints, k) {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	slices.Sort(keys)
	return invalid(truncate(keys[0], 64), CodeUnknownParam, "Unrecognized request argument supplied: %s. Armistice refuses what it cannot honour.", truncate(keys[0], 64))
}

// samplingBody holds the settings Chat Completions and Responses share.
type samplingBody struct {
	Temperature       *float64        `json:"temperature"`
	TopP              *float64        `json:"top_p"`
	User              string          `json:"user"`
	SafetyIdentifier  string          `json:"safety_identifier"`
	ServiceTier       string          `json:"service_tier"`
	TopLogprobs       *int            `json:"top_logprobs"`
	Tools             json.RawMessage `json:"tools"`
	ToolChoice        json.RawMessage `json:"tool_choice"`
	ParallelToolCalls *bool           `json:"parallel_tool_calls"`
}

// settings reads the shared settings into s; responses selects the
// Responses shapes of tools and tool_choice.
func (b samplingBody) settings(s *llm.Settings, responses bool) error {
	var err error
	if s.Temperature, err = inRange("temperature", b.Temperature, 0, 2); err != nil {
		return err
	}
	if s.TopP, err = inRange("top_p", b.TopP, 0, 1); err != nil {
		return err
	}
	s.User = b.User
	if s.User == "" {
		s.User = b.SafetyIdentifier
	}
	s.ServiceTier = b.ServiceTier
	if b.TopLogprobs != nil && (*b.TopLogprobs < 0 || *b.TopLogprobs > 20) {
		return invalid("top_logprobs", CodeInvalidValue, "Invalid 'top_logprobs': expected an integer from 0 to 20, got %d.", *b.TopLogprobs)
	}
	s.TopLogprobs = b.TopLogprobs
	if s.Tools, err = parseTools(b.Tools, responses); err != nil {
		return err
	}
	if s.ToolChoice, err = parseToolChoice(b.ToolChoice, responses); err != nil {
		return err
	}
	s.ParallelToolCalls = b.ParallelToolCalls
	return validateSettings(*s)
}

// validateSettings turns llm's checks (a tool choice naming no tool, ...)
// into a 400 naming the field.
func validateSettings(s llm.Settings) error {
	if err := s.Validate(); err != nil {
		param, msg := "", err.Error()
		switch {
		case strings.Contains(msg, "tool_choice"):
			param = "tool_choice"
		case strings.Contains(msg, "tools"):
			param = "tools"
		case strings.Contains(msg, "response_format"):
			param = "response_format"
		}
		return invalid(param, CodeInvalidValue, "%s", strings.TrimPrefix(msg, llm.ErrInvalidRequest.Error()+": "))
	}
	return nil
}

func inRange(param string, v *float64, lo, hi float64) (*float64, error) {
	if v != nil && (*v < lo || *v > hi) {
		return nil, invalid(param, CodeInvalidValue, "Invalid '%s': expected a number from %g to %g, got %g.", param, lo, hi, *v)
	}
	return v, nil
}

// chatTool is a Chat Completions tool; responsesTool a Responses one.
type chatTool struct {
	Type     string        `json:"type"`
	Function *functionJSON `json:"function"`
}

type functionJSON struct {
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Parameters  json.RawMessage `json:"parameters"`
	Strict      *bool           `json:"strict"`
}

type responsesTool struct {
	Type string `json:"type"`
	functionJSON
}

func parseTools(raw json.RawMessage, responses bool) ([]llm.Tool, error) {
	if emptyList(raw) {
		return nil, nil
	}
	var items []json.RawMessage
	if json.Unmarshal(raw, &items) != nil {
		return nil, invalid("tools", CodeInvalidType, "Invalid type for 'tools': expected an array of tools.")
	}
	tools := make([]llm.Tool, 0, len(items))
	for i, it := range items {
		param := fmt.Sprintf("tools[%d]", i)
		var f functionJSON
		var typ string
		if responses {
			var t responsesTool
			if json.Unmarshal(it, &t) != nil {
				return nil, invalid(param, CodeInvalidType, "Invalid type for '%s': expected a tool object.", param)
			}
			typ, f = t.Type, t.functionJSON
		} else {
			var t chatTool
			if json.Unmarshal(it, &t) != nil {
				return nil, invalid(param, CodeInvalidType, "Invalid type for '%s': expected a tool object.", param)
			}
			typ = t.Type
			if t.Function != nil {
				f = *t.Function
			} else if typ == "function" {
				return nil, invalid(param+".function", CodeMissingParameter, "Missing required parameter: '%s.function'.", param)
			}
		}
		if typ != "function" {
			return nil, invalid(param+".type", CodeUnsupportedValue, "Armistice supports only function tools, not %q.", truncate(typ, 40))
		}
		if f.Name == "" {
			namePath := param + ".function.name"
			if responses {
				namePath = param + ".name"
			}
			return nil, invalid(namePath, CodeMissingParameter, "Missing required parameter: '%s'.", namePath)
		}
		t := llm.Tool{Name: f.Name, Description: f.Description, Strict: f.Strict}
		if present(f.Parameters) && !isObject(f.Parameters) {
			pp := param + ".function.parameters"
			if responses {
				pp = param + ".parameters"
			}
			return nil, invalid(pp, CodeInvalidType, "Invalid type for '%s': expected a JSON schema object.", pp)
		}
		if present(f.Parameters) {
			t.Parameters = append(json.RawMessage(nil), bytes.TrimSpace(f.Parameters)...)
		}
		tools = append(tools, t)
	}
	return tools, nil
}

func isObject(raw json.RawMessage) bool {
	var m map[string]json.RawMessage
	return json.Unmarshal(raw, &m) == nil
}

// parseToolChoice reads "none", "auto", "required" or a named function:
// {"type":"function","function":{"name"}} on chat, {"type":"function",
// "name"} on Responses.
func parseToolChoice(raw json.RawMessage, responses bool) (*llm.ToolChoice, error) {
	if !present(raw) {
		return nil, nil
	}
	var mode string
	if json.Unmarshal(raw, &mode) == nil {
		switch m := llm.ToolChoiceMode(mode); m {
		case llm.ToolChoiceNone, llm.ToolChoiceAuto, llm.ToolChoiceRequired:
			return &llm.ToolChoice{Mode: m}, nil
		}
		return nil, invalid("tool_choice", CodeInvalidValue, "Invalid value for 'tool_choice': %q. Supported values are 'none', 'auto', 'required' or a function.", truncate(mode, 40))
	}
	var obj struct {
		Type     string `json:"type"`
		Name     string `json:"name"`
		Function *struct {
			Name string `json:"name"`
		} `json:"function"`
	}
	if json.Unmarshal(raw, &obj) != nil {
		return nil, invalid("tool_choice", CodeInvalidType, "Invalid type for 'tool_choice': expected a string or an object.")
	}
	if obj.Type != "function" {
		return nil, invalid("tool_choice.type", CodeUnsupportedValue, "Armistice supports only function tool choices, not %q.", truncate(obj.Type, 40))
	}
	name := obj.Name
	if !responses || name == "" {
		if obj.Function != nil {
			name = obj.Function.Name
		}
	}
	if name == "" {
		return nil, invalid("tool_choice", CodeMissingParameter, "Missing required parameter: the function's name in 'tool_choice'.")
	}
	return &llm.ToolChoice{Mode: llm.ToolChoiceFunction, Name: name}, nil
}

// formatJSON is a response_format (chat, with the schema under
// json_schema) or a text.format (Responses, with it inline).
type formatJSON struct {
	Type        string          `json:"type"`
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Schema      json.RawMessage `json:"schema"`
	Strict      *bool           `json:"strict"`
	JSONSchema  *struct {
		Name        string          `json:"name"`
		Description string          `json:"description"`
		Schema      json.RawMessage `json:"schema"`
		Strict      *bool           `json:"strict"`
	} `json:"json_schema"`
}

func parseFormat(param string, raw json.RawMessage) (*llm.ResponseFormat, error) {
	if !present(raw) {
		return nil, nil
	}
	var f formatJSON
	if json.Unmarshal(raw, &f) != nil {
		return nil, invalid(param, CodeInvalidType, "Invalid type for '%s': expected an object.", param)
	}
	if f.JSONSchema != nil {
		f.Name, f.Description, f.Schema, f.Strict = f.JSONSchema.Name, f.JSONSchema.Description, f.JSONSchema.Schema, f.JSONSchema.Strict
	}
	switch t := llm.FormatType(f.Type); t {
	case llm.FormatText, llm.FormatJSONObject:
		return &llm.ResponseFormat{Type: t}, nil
	case llm.FormatJSONSchema:
		if !present(f.Schema) || !isObject(f.Schema) {
			return nil, invalid(param+".schema", CodeMissingParameter, "Missing required parameter: the JSON schema of '%s'.", param)
		}
		return &llm.ResponseFormat{Type: t, Name: f.Name, Description: f.Description,
			Schema: append(json.RawMessage(nil), bytes.TrimSpace(f.Schema)...), Strict: f.Strict}, nil
	case "":
		return nil, invalid(param+".type", CodeMissingParameter, "Missing required parameter: '%s.type'.", param)
	}
	return nil, invalid(param+".type", CodeInvalidValue, "Invalid value for '%s.type': %q. Supported values are 'text', 'json_object' and 'json_schema'.", param, truncate(f.Type, 40))
}

// parseStop reads a stop sequence or a list of up to four.
func parseStop(raw json.RawMessage) ([]string, error) {
	if !present(raw) {
		return nil, nil
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		if one == "" {
			return nil, nil
		}
		return []string{one}, nil
	}
	var list []string
	if json.Unmarshal(raw, &list) != nil {
		return nil, invalid("stop", CodeInvalidType, "Invalid type for 'stop': expected a string or an array of strings.")
	}
	if len(list) > 4 {
		return nil, invalid("stop", CodeInvalidValue, "Invalid 'stop': at most 4 sequences, got %d.", len(list))
	}
	out := list[:0]
	for _, s := range list {
		if s != "" {
			out = append(out, s)
		}
	}
	return out, nil
}

var reasoningEfforts = []string{"none", "minimal", "low", "medium", "high", "xhigh"}

func parseEffort(param, effort string) (string, error) {
	if effort != "" && !slices.Contains(reasoningEfforts, effort) {
		return "", invalid(param, CodeInvalidValue, "Invalid value for '%s': %q. Supported values are %s.", param, truncate(effort, 40), strings.Join(reasoningEfforts, ", "))
	}
	return effort, nil
}

// names maps a refused llm.Field to the name the client used for it.
type names func(f llm.Field) string

// submitError maps an engine error of a submit: a setting the provider
// cannot honour is a 400 naming the client's field.
func submitError(err error, what string, name names) *Error {
	var ue *llm.UnsupportedError
	if errors.As(err, &ue) && errors.Is(err, actors.ErrInvalidRequest) {
		param := name(ue.Field)
		return &Error{Status: 400, Type: TypeInvalidRequest, Code: CodeUnsupportedParam, Param: param, Err: err,
			Message: fmt.Sprintf("The model provider %q cannot honour '%s'.", ue.Provider, param)}
	}
	if errors.Is(err, llm.ErrInvalidRequest) {
		return &Error{Status: 400, Type: TypeInvalidRequest, Code: CodeInvalidValue, Err: err,
			Message: strings.TrimPrefix(err.Error(), actors.ErrInvalidRequest.Error()+": ")}
	}
	return engineError(err, what, "")
}
