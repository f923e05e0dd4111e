package model

import (
	"fmt"
	"time"
)

// Kind is the type of a log record.
type Kind uint8

// The record kinds.
const (
	KindState     Kind = iota + 1 // a state change: pending, streaming
	KindToken                     // a piece of text
	KindEnd                       // the terminal record, always last, exactly once
	KindReasoning                 // a piece of reasoning text, kept apart from the answer
	KindToolCall                  // a piece of a tool call
)

var kindNames = [...]string{"", "state", "token", "end", "reasoning", "tool_call"}

func (k Kind) String() string {
	if int(k) < len(kindNames) && k != 0 {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// MarshalText implements encoding.TextMarshaler.
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// Usage counts tokens as the provider reported them.
type Usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
}

// ToolCallDelta is one piece of a streamed tool call: the first piece of a
// call carries its Index, ID and Name, the later ones only Index and more
// Arguments. Concatenating the Arguments of one Index gives the call's
// JSON arguments.
type ToolCallDelta struct {
	Index     int    `json:"index"`
	ID        string `json:"id,omitempty"`
	Name      string `json:"name,omitempty"`
	Arguments string `json:"arguments"`
}

// Logprob is the log probability of one output token, with the most
// likely alternatives when they were asked for.
type Logprob struct {
	Token   string       `json:"token"`
	Logprob float64      `json:"logprob"`
	Bytes   []int        `json:"bytes,omitempty"`
	Top     []TopLogprob `json:"top_logprobs,omitempty"`
}

// TokenLogprobs are the log probabilities of one token record's text,
// one entry per model token, as OpenAI's logprobs.content.
type TokenLogprobs struct {
	Content []Logprob `json:"content"`
}

// TopLogprob is one alternative at a position.
type TopLogprob struct {
	Token   string  `json:"token"`
	Logprob float64 `json:"logprob"`
	Bytes   []int   `json:"bytes,omitempty"`
}

// UpstreamError is what the provider answered when it refused or failed a
// request: its HTTP status and its own error type, code and parameter, so
// front doors can tell a client what really happened.
type UpstreamError struct {
	// Status is the upstream's HTTP status, 0 when the failure had none
	// (a refused connection, an error inside an open stream).
	Status int
	// Type, Code and Param are the upstream's error.type, error.code and
	// error.param, empty when it gave none.
	Type  string
	Code  string
	Param string
	// RetryAfter is how long the upstream asked clients to wait.
	RetryAfter time.Duration
	// BeforeOutput is set when the failure came before any output, so a
	// front door that has sent nothing yet may mirror Status.
	BeforeOutput bool
}

// End is the payload of the end record.
type End struct {
	// State is the final state: cancelled or done.
	State State
	// Status and Reason are the outcome.
	Status Status
	Reason Reason
	// Tokens is the number of token records in the log.
	Tokens int
	// Message is a human explanation for failures; empty otherwise.
	Message string
	// Usage is what the provider reported, if anything.
	Usage *Usage
	// Upstream is set on failures the provider reported.
	Upstream *UpstreamError
}

// Record is one entry of a request's event log. Records are immutable once
// appended; Seq starts at 1 and rises by one with no gaps.
type Record struct {
	Seq  uint64
	Kind Kind
	// State is set on state records.
	State State
	// Text is set on token and reasoning records.
	Text string
	// ToolCall is set on tool-call records.
	ToolCall *ToolCallDelta
	// Logprobs are the log probabilities of a token record's text, when
	// they were asked for (behind a pointer: most records have none, and a
	// small record keeps the log and its copies cheap).
	Logprobs *TokenLogprobs
	// End is set on the end record.
	End *End
}

func (r Record) String() string {
	switch r.Kind {
	case KindState:
		return fmt.Sprintf("#%d state %s", r.Seq, r.State)
	case KindToken:
		return fmt.Sprintf("#%d token %q", r.Seq, r.Text)
	case KindReasoning:
		return fmt.Sprintf("#%d reasoning %q", r.Seq, r.Text)
	case KindToolCall:
		if r.ToolCall == nil {
			return fmt.Sprintf("#%d tool_call <nil>", r.Seq)
		}
		return fmt.Sprintf("#%d tool_call %d %s %q", r.Seq, r.ToolCall.Index, r.ToolCall.Name, r.ToolCall.Arguments)
	case KindEnd:
		if r.End == nil {
			return fmt.Sprintf("#%d end <nil>", r.Seq)
		}
		return fmt.Sprintf("#%d end %s/%s/%s tokens=%d", r.Seq, r.End.State, r.End.Status, r.End.Reason, r.End.Tokens)
	}
	return fmt.Sprintf("#%d %s", r.Seq, r.Kind)
}
