package llm

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

type capProvider struct{ caps Capabilities }

func (capProvider) Name() string                                    { return "fake" }
func (capProvider) Stream(context.Context, Request) (Stream, error) { return nil, nil }
func (p capProvider) Capabilities() Capabilities                    { return p.caps }

type plainProvider struct{}

func (plainProvider) Name() string                                    { return "plain" }
func (plainProvider) Stream(context.Context, Request) (Stream, error) { return nil, nil }

func ptr[T any](v T) *T { return &v }

func TestRequestFields(t *testing.T) {
	full := Request{
		MaxTokens: 5,
		Messages:  []Message{{Role: RoleAssistant, ToolCalls: []ToolCall{{ID: "c", Name: "f", Arguments: "{}"}}}, {Role: RoleTool, ToolCallID: "c"}},
		Settings: Settings{
			Temperature: ptr(0.0), TopP: ptr(1.0), TopK: ptr(3), MaxTokensField: FieldMaxCompletionTokens,
			Stop: []string{"x"}, Seed: ptr(int64(1)), PresencePenalty: ptr(0.0), FrequencyPenalty: ptr(0.0),
			LogitBias: map[string]float64{"1": 2}, User: "u", ServiceTier: "auto", ReasoningEffort: "low",
			Logprobs: true, TopLogprobs: ptr(2), ResponseFormat: &ResponseFormat{Type: FormatJSONObject},
			Tools: []Tool{{Name: "f"}}, ToolChoice: &ToolChoice{Mode: ToolChoiceAuto}, ParallelToolCalls: ptr(false),
		},
	}
	got := full.Fields()
	want := []Field{
		FieldFrequencyPenalty, FieldLogitBias, FieldLogprobs, FieldMaxCompletionTokens, FieldToolMessages,
		FieldParallelToolCalls, FieldPresencePenalty, FieldReasoningEffort, FieldResponseFormat, FieldSeed,
		FieldServiceTier, FieldStop, FieldTemperature, FieldToolChoice, FieldTools, FieldTopK, FieldTopLogprobs,
		FieldTopP, FieldUser,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Fields =\n%v\nwant\n%v", got, want)
	}
	// temperature 0 is a setting, not an absence of one.
	if got := (Request{Settings: Settings{Temperature: ptr(0.0)}}).Fields(); !reflect.DeepEqual(got, []Field{FieldTemperature}) {
		t.Fatalf("temperature 0: Fields = %v", got)
	}
	// A text response format and an unset cap ask for nothing.
	if got := (Request{Settings: Settings{ResponseFormat: &ResponseFormat{Type: FormatText}}}).Fields(); len(got) != 0 {
		t.Fatalf("text format: Fields = %v", got)
	}
	if got := (Request{MaxTokens: 3}).Fields(); !reflect.DeepEqual(got, []Field{FieldMaxTokens}) {
		t.Fatalf("max_tokens: Fields = %v", got)
	}
}

func TestCheck(t *testing.T) {
	withTemp := Request{Messages: []Message{{Role: RoleUser, Content: "x"}}, Settings: Settings{Temperature: ptr(0.2)}}
	var ue *UnsupportedError
	err := Check(plainProvider{}, withTemp)
	if !errors.As(err, &ue) || ue.Field != FieldTemperature || ue.Provider != "plain" || !errors.Is(err, ErrUnsupported) {
		t.Fatalf("Check(plain, temperature) = %v; want an UnsupportedError for temperature", err)
	}
	if err := Check(plainProvider{}, Request{MaxTokens: 4}); err != nil {
		t.Fatalf("every provider honours max_tokens: %v", err)
	}
	if err := Check(capProvider{Capabilities{FieldTemperature: true}}, withTemp); err != nil {
		t.Fatalf("Check(capable) = %v", err)
	}
	if err := Check(capProvider{AllCapabilities()}, Request{Settings: Settings{Tools: []Tool{{}}}}); !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("a nameless tool: %v; want ErrInvalidRequest", err)
	}
	if len(AllCapabilities()) != len(AllFields) {
		t.Fatalf("AllCapabilities has %d fields, AllFields %d", len(AllCapabilities()), len(AllFields))
	}
}

func TestSettingsValidate(t *testing.T) {
	tools := []Tool{{Name: "f", Parameters: json.RawMessage(`{"type":"object"}`)}}
	for _, tc := range []struct {
		name string
		s    Settings
		ok   bool
	}{
		{"zero", Settings{}, true},
		{"tools and a named choice", Settings{Tools: tools, ToolChoice: &ToolChoice{Mode: ToolChoiceFunction, Name: "f"}}, true},
		{"a named choice of an unknown tool", Settings{Tools: tools, ToolChoice: &ToolChoice{Mode: ToolChoiceFunction, Name: "g"}}, false},
		{"a named choice without a name", Settings{Tools: tools, ToolChoice: &ToolChoice{Mode: ToolChoiceFunction}}, false},
		{"required without tools", Settings{ToolChoice: &ToolChoice{Mode: ToolChoiceRequired}}, false},
		{"none without tools", Settings{ToolChoice: &ToolChoice{Mode: ToolChoiceNone}}, true},
		{"an unknown choice", Settings{Tools: tools, ToolChoice: &ToolChoice{Mode: "any"}}, false},
		{"parameters that are not JSON", Settings{Tools: []Tool{{Name: "f", Parameters: json.RawMessage(`{`)}}}, false},
		{"json_schema without a schema", Settings{ResponseFormat: &ResponseFormat{Type: FormatJSONSchema}}, false},
		{"json_schema", Settings{ResponseFormat: &ResponseFormat{Type: FormatJSONSchema, Schema: json.RawMessage(`{}`)}}, true},
		{"an unknown format", Settings{ResponseFormat: &ResponseFormat{Type: "yaml"}}, false},
		{"an unknown cap field", Settings{MaxTokensField: "max_len"}, false},
	} {
		err := tc.s.Validate()
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrInvalidRequest)) {
			t.Errorf("%s: Validate = %v; want ok=%v", tc.name, err, tc.ok)
		}
	}
}

func TestSettingsClone(t *testing.T) {
	s := Settings{Stop: []string{"a"}, LogitBias: map[string]float64{"1": 1}, Tools: []Tool{{Name: "f"}},
		ResponseFormat: &ResponseFormat{Type: FormatJSONObject}, ToolChoice: &ToolChoice{Mode: ToolChoiceAuto}}
	c := s.Clone()
	c.Stop[0], c.LogitBias["1"], c.Tools[0].Name = "b", 2, "g"
	c.ResponseFormat.Type, c.ToolChoice.Mode = FormatText, ToolChoiceNone
	if s.Stop[0] != "a" || s.LogitBias["1"] != 1 || s.Tools[0].Name != "f" || s.ResponseFormat.Type != FormatJSONObject || s.ToolChoice.Mode != ToolChoiceAuto {
		t.Fatalf("Clone shares memory with the original: %+v", s)
	}
}
