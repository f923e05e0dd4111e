package anthropic

import (
	"encoding/json"
	"fmt"

	sdk "github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/packages/param"

	"github.com/armistice-go/armistice/llm"
)

// Capabilities returns the settings the Messages API honours. Refused:
// temperature, top_p and top_k, which API version 2026-10-21 (the one
// anthropic-sdk-go v2 speaks) removed and answers with a 400; seed,
// presence and frequency penalties, logit_bias, logprobs and top_logprobs,
// which it never had; response_format (see doc.go); and service_tier,
// whose values ("auto", "standard_only") do not match OpenAI's.
func (p *Provider) Capabilities() llm.Capabilities {
	return llm.Capabilities{
		llm.FieldMaxTokens:           true,
		llm.FieldMaxCompletionTokens: true,
		llm.FieldMaxOutputTokens:     true,
		llm.FieldStop:                true,
		llm.FieldUser:                true,
		llm.FieldReasoningEffort:     true,
		llm.FieldTools:               true,
		llm.FieldToolChoice:          true,
		llm.FieldParallelToolCalls:   true,
		llm.FieldToolMessages:        true,
	}
}

var (
	_ llm.Capable        = (*Provider)(nil)
	_ llm.RequestChecker = (*Provider)(nil)
)

// CheckRequest reports what Stream would refuse without calling the
// upstream (a thinking budget that cannot fit the cap, a tool message
// without tool_call_id, ...), so llm.Check refuses it at submit time.
func (p *Provider) CheckRequest(req llm.Request) error {
	_, err := p.params(req)
	return err
}

// Thinking budgets (budget_tokens) for each reasoning_effort. Anthropic
// takes no fewer than MinThinkingBudget; thinking counts towards
// max_tokens.
const (
	MinThinkingBudget    = 1024
	ThinkingBudgetLow    = 4096
	ThinkingBudgetMedium = 8192
	ThinkingBudgetHigh   = 16384
)

// thinkingBudgets maps reasoning_effort onto budget_tokens.
var thinkingBudgets = map[string]int{
	"minimal": MinThinkingBudget,
	"low":     ThinkingBudgetLow,
	"medium":  ThinkingBudgetMedium,
	"high":    ThinkingBudgetHigh,
}

// params builds the Messages request: the conversation (see messages),
// then every setting the request carries. Capabilities lists them all, so
// nothing set here is dropped.
func (p *Provider) params(req llm.Request) (sdk.MessageNewParams, error) {
	system, msgs, err := p.messages(req.Messages)
	if err != nil {
		return sdk.MessageNewParams{}, err
	}
	model := req.Model
	if model == "" {
		model = p.cfg.Model
	}
	s := req.Settings
	params := sdk.MessageNewParams{
		Model:         sdk.Model(model),
		Messages:      msgs,
		System:        system,
		StopSequences: s.Stop,
	}
	// Anthropic has only max_tokens: whichever name the client used, the
	// cap goes there.
	maxTokens := req.MaxTokens
	if err := p.thinking(&params, s.ReasoningEffort, &maxTokens); err != nil {
		return sdk.MessageNewParams{}, err
	}
	params.MaxTokens = int64(maxTokens)
	if s.User != "" {
		params.Metadata = sdk.MetadataParam{UserID: sdk.String(s.User)}
	}
	for _, t := range s.Tools {
		params.Tools = append(params.Tools, tool(t))
	}
	params.ToolChoice = toolChoice(s.ToolChoice, s.ParallelToolCalls)
	return params, nil
}

// thinking maps reasoning_effort onto extended thinking and settles
// max_tokens (*maxTokens is the client's cap, 0 for none). "none" turns
// thinking off. Otherwise thinking is enabled with the effort's budget:
// without a cap from the client, max_tokens is Config.MaxTokens plus the
// budget, so the answer keeps its usual room; with one, the cap covers
// thinking and answer (as OpenAI's max_completion_tokens covers reasoning)
// and the budget shrinks to stay below it, down to Anthropic's minimum.
func (p *Provider) thinking(params *sdk.MessageNewParams, effort string, maxTokens *int) error {
	if effort == "" {
		if *maxTokens <= 0 {
			*maxTokens = p.cfg.MaxTokens
		}
		return nil
	}
	if effort == "none" {
		params.Thinking = sdk.ThinkingConfigParamUnion{OfDisabled: &sdk.ThinkingConfigDisabledParam{}}
		if *maxTokens <= 0 {
			*maxTokens = p.cfg.MaxTokens
		}
		return nil
	}
	budget, ok := thinkingBudgets[effort]
	if !ok {
		return fmt.Errorf("%s: %w: unknown reasoning_effort %q (minimal, low, medium, high or none)", p.cfg.Name, llm.ErrInvalidRequest, effort)
	}
	switch {
	case *maxTokens <= 0:
		*maxTokens = p.cfg.MaxTokens + budget
	case *maxTokens <= MinThinkingBudget:
		return fmt.Errorf("%s: %w: reasoning_effort needs a token cap above %d (Anthropic's smallest thinking budget), got %d",
			p.cfg.Name, llm.ErrInvalidRequest, MinThinkingBudget, *maxTokens)
	default:
		budget = min(budget, *maxTokens-1)
	}
	params.Thinking = sdk.ThinkingConfigParamOfEnabled(int64(budget))
	return nil
}

// tool maps a function tool; its parameters are sent as input_schema
// byte for byte (no parameters: an object schema without properties).
func tool(t llm.Tool) sdk.ToolUnionParam {
	schema := json.RawMessage(t.Parameters)
	if len(schema) == 0 {
		schema = json.RawMessage(`{"type":"object","properties":{}}`)
	}
	tp := &sdk.ToolParam{
		Name:        t.Name,
		InputSchema: param.Override[sdk.ToolInputSchemaParam](schema),
	}
	if t.Description != "" {
		tp.Description = sdk.String(t.Description)
	}
	if t.Strict != nil {
		tp.Strict = sdk.Bool(*t.Strict)
	}
	return sdk.ToolUnionParam{OfTool: tp}
}

// toolChoice maps tool_choice (auto → auto, required → any, function →
// tool, none → none) and parallel_tool_calls, which Anthropic carries on
// the tool choice as disable_parallel_tool_use: a client that sets
// parallel_tool_calls without a tool_choice gets {"type":"auto"} with it.
// "none" has no such field; it calls no tool at all.
func toolChoice(tc *llm.ToolChoice, parallel *bool) sdk.ToolChoiceUnionParam {
	if tc == nil && parallel == nil {
		return sdk.ToolChoiceUnionParam{}
	}
	mode := llm.ToolChoiceAuto
	if tc != nil {
		mode = tc.Mode
	}
	var disable param.Opt[bool]
	if parallel != nil {
		disable = sdk.Bool(!*parallel)
	}
	switch mode {
	case llm.ToolChoiceNone:
		return sdk.ToolChoiceUnionParam{OfNone: &sdk.ToolChoiceNoneParam{}}
	case llm.ToolChoiceRequired:
		return sdk.ToolChoiceUnionParam{OfAny: &sdk.ToolChoiceAnyParam{DisableParallelToolUse: disable}}
	case llm.ToolChoiceFunction:
		return sdk.ToolChoiceUnionParam{OfTool: &sdk.ToolChoiceToolParam{Name: tc.Name, DisableParallelToolUse: disable}}
	default:
		return sdk.ToolChoiceUnionParam{OfAuto: &sdk.ToolChoiceAutoParam{DisableParallelToolUse: disable}}
	}
}

// messages splits the conversation into the system parameter (one text
// block per system message, in order) and the turns. An assistant turn
// with tool calls becomes [text?, tool_use...]; tool results become
// tool_result blocks of a user turn, consecutive results sharing one turn
// as Anthropic requires.
func (p *Provider) messages(in []llm.Message) ([]sdk.TextBlockParam, []sdk.MessageParam, error) {
	if len(in) == 0 {
		return nil, nil, fmt.Errorf("%s: %w: no messages", p.cfg.Name, llm.ErrInvalidRequest)
	}
	var system []sdk.TextBlockParam
	msgs := make([]sdk.MessageParam, 0, len(in))
	results := false // the last turn holds tool results
	for i, m := range in {
		isResult := false
		switch m.Role {
		case llm.RoleSystem:
			system = append(system, sdk.TextBlockParam{Text: m.Content})
			isResult = results // a system message between results does not split them
		case llm.RoleUser:
			msgs = append(msgs, sdk.NewUserMessage(sdk.NewTextBlock(m.Content)))
		case llm.RoleAssistant:
			blocks, err := p.assistant(i, m)
			if err != nil {
				return nil, nil, err
			}
			msgs = append(msgs, sdk.NewAssistantMessage(blocks...))
		case llm.RoleTool:
			if m.ToolCallID == "" {
				return nil, nil, fmt.Errorf("%s: %w: message %d (tool) has no tool_call_id", p.cfg.Name, llm.ErrInvalidRequest, i)
			}
			isResult = true
			b := toolResult(m)
			if results {
				last := &msgs[len(msgs)-1]
				last.OfUser.Content = append(last.OfUser.Content, b)
			} else {
				msgs = append(msgs, sdk.NewUserMessage(b))
			}
		default:
			return nil, nil, fmt.Errorf("%s: %w: message %d has unknown role %q", p.cfg.Name, llm.ErrInvalidRequest, i, m.Role)
		}
		results = isResult
	}
	if len(msgs) == 0 {
		return nil, nil, fmt.Errorf("%s: %w: only system messages", p.cfg.Name, llm.ErrInvalidRequest)
	}
	return system, msgs, nil
}

// assistant returns the blocks of an assistant turn: its text (left out
// when empty and there are tool calls, since Anthropic refuses empty text
// blocks), then a tool_use block per call, whose input is the call's
// arguments parsed as JSON ("" meaning {}).
func (p *Provider) assistant(i int, m llm.Message) ([]sdk.ContentBlockParamUnion, error) {
	blocks := make([]sdk.ContentBlockParamUnion, 0, 1+len(m.ToolCalls))
	if m.Content != "" || len(m.ToolCalls) == 0 {
		blocks = append(blocks, sdk.NewTextBlock(m.Content))
	}
	for j, tc := range m.ToolCalls {
		if tc.ID == "" || tc.Name == "" {
			return nil, fmt.Errorf("%s: %w: message %d tool_calls[%d] needs an id and a name", p.cfg.Name, llm.ErrInvalidRequest, i, j)
		}
		input := json.RawMessage(tc.Arguments)
		if len(input) == 0 {
			input = json.RawMessage(`{}`)
		}
		if !json.Valid(input) {
			return nil, fmt.Errorf("%s: %w: message %d tool_calls[%d].arguments is not JSON", p.cfg.Name, llm.ErrInvalidRequest, i, j)
		}
		blocks = append(blocks, sdk.NewToolUseBlock(tc.ID, input, tc.Name))
	}
	return blocks, nil
}

// toolResult returns the tool_result block of a tool message; its text
// is the result's content (none when empty).
func toolResult(m llm.Message) sdk.ContentBlockParamUnion {
	b := sdk.ToolResultBlockParam{ToolUseID: m.ToolCallID}
	if m.Content != "" {
		b.Content = []sdk.ToolResultBlockParamContentUnion{{OfText: &sdk.TextBlockParam{Text: m.Content}}}
	}
	return sdk.ContentBlockParamUnion{OfToolResult: &b}
}
