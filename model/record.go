package model

import "fmt"

// Kind is the type of a log record.
type Kind uint8

// The record kinds.
const (
	KindState Kind = iota + 1 // a state change: pending, streaming
	KindToken                 // a piece of text
	KindEnd                   // the terminal record, always last, exactly once
)

var kindNames = [...]string{"", "state", "token", "end"}

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
}

// Record is one entry of a request's event log. Records are immutable once
// appended; Seq starts at 1 and rises by one with no gaps.
type Record struct {
	Seq  uint64
	Kind Kind
	// State is set on state records.
	State State
	// Text is set on token records.
	Text string
	// End is set on the end record.
	End *End
}

func (r Record) String() string {
	switch r.Kind {
	case KindState:
		return fmt.Sprintf("#%d state %s", r.Seq, r.State)
	case KindToken:
		return fmt.Sprintf("#%d token %q", r.Seq, r.Text)
	case KindEnd:
		if r.End == nil {
			return fmt.Sprintf("#%d end <nil>", r.Seq)
		}
		return fmt.Sprintf("#%d end %s/%s/%s tokens=%d", r.Seq, r.End.State, r.End.Status, r.End.Reason, r.End.Tokens)
	}
	return fmt.Sprintf("#%d %s", r.Seq, r.Kind)
}
