package embedded

import (
	"fmt"
	"strings"

	"github.com/armistice-go/armistice/llm"
)

// chooseTools returns the indexes (into req.Settings.Tools) of the tools the
// answer calls, in order; none means a text answer. The rule:
//
//   - after a tool result (the last message has role tool), no call: the
//     answer is text quoting the result;
//   - tool_choice none: no call;
//   - tool_choice naming a function: one call of it;
//   - otherwise (auto, or no tool_choice) a call of each tool the last user
//     message mentions, by name, case-insensitively, with '_' and '-' read
//     as spaces as well ("get_weather" or "get weather");
//   - required with no tool mentioned: one call of the first tool;
//   - parallel_tool_calls false keeps only the first call.
func chooseTools(req llm.Request) []int {
	set := req.Settings
	msgs := req.Messages
	if len(set.Tools) == 0 || msgs[len(msgs)-1].Role == llm.RoleTool {
		return nil
	}
	mode := llm.ToolChoiceAuto
	if set.ToolChoice != nil {
		mode = set.ToolChoice.Mode
	}
	switch mode {
	case llm.ToolChoiceNone:
		return nil
	case llm.ToolChoiceFunction:
		for i, t := range set.Tools {
			if t.Name == set.ToolChoice.Name {
				return []int{i}
			}
		}
		return nil // Settings.Validate refuses it before
	}
	var said string
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Role == llm.RoleUser {
			said = strings.ToLower(msgs[i].Content)
			break
		}
	}
	var calls []int
	for i, t := range set.Tools {
		name := strings.ToLower(t.Name)
		spaced := strings.NewReplacer("_", " ", "-", " ").Replace(name)
		if strings.Contains(said, name) || strings.Contains(said, spaced) {
			calls = append(calls, i)
		}
	}
	if len(calls) == 0 && mode == llm.ToolChoiceRequired {
		calls = []int{0}
	}
	if len(calls) > 1 && set.ParallelToolCalls != nil && !*set.ParallelToolCalls {
		calls = calls[:1]
	}
	return calls
}

// toolCalls streams the calls: for each, a first chunk with its index, id
// and name, then its arguments, a document valid for the tool's parameters
// schema, in pieces.
func (s *stream) toolCalls(tools []llm.Tool, calls []int, seed uint64) ([]llm.ToolCallDelta, error) {
	var deltas []llm.ToolCallDelta
	for i, ti := range calls {
		t := tools[ti]
		schema := t.Parameters
		if len(schema) == 0 {
			schema = []byte(`{"type":"object"}`)
		}
		pieces, _, err := s.document(schema)
		if err != nil {
			return nil, fmt.Errorf("%w: tools[%d].parameters: %w", llm.ErrInvalidRequest, ti, err)
		}
		deltas = append(deltas, llm.ToolCallDelta{
			Index: i,
			ID:    fmt.Sprintf("call_%016x", splitmix(seed+uint64(i))),
			Name:  t.Name,
		})
		for _, p := range pieces {
			deltas = append(deltas, llm.ToolCallDelta{Index: i, Arguments: p})
		}
	}
	return deltas, nil
}

// splitmix is SplitMix64's finaliser: distinct ids from consecutive inputs.
func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// toolResultLead returns the first tokens of an answer to tool results (the
// conversation's last messages have role tool): one sentence per result,
// "The get_weather tool returned: {...}.", split into words like the
// model's own tokens. It returns nil when the last message is no tool
// result.
func toolResultLead(msgs []llm.Message) []string {
	first := len(msgs)
	for first > 0 && msgs[first-1].Role == llm.RoleTool {
		first--
	}
	if first == len(msgs) {
		return nil
	}
	var b strings.Builder
	for _, m := range msgs[first:] {
		name := m.Name
		if name == "" {
			name = callName(msgs[:first], m.ToolCallID)
		}
		result := strings.TrimSpace(m.Content)
		if result == "" {
			fmt.Fprintf(&b, "The %s tool returned nothing. ", name)
			continue
		}
		fmt.Fprintf(&b, "The %s tool returned: %s ", name, result)
	}
	var lead []string
	for i, w := range strings.Fields(b.String()) {
		if i > 0 {
			w = " " + w
		}
		lead = append(lead, w)
	}
	return lead
}

// callName finds the function of the call id among the assistant turns.
func callName(msgs []llm.Message, id string) string {
	for i := len(msgs) - 1; i >= 0; i-- {
		for _, tc := range msgs[i].ToolCalls {
			if tc.ID == id && tc.Name != "" {
				return tc.Name
			}
		}
	}
	return "tool"
}
