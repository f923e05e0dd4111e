package llm

import (
	"context"
	"strings"
)

// Role says who wrote a Message.
type Role string

// The roles a conversation may hold.
const (
	RoleSystem    Role = "system"
	RoleUser      Role = "user"
	RoleAssistant Role = "assistant"
	// RoleTool holds the result of a tool call (ToolCallID names it).
	RoleTool Role = "tool"
)

// Message is one turn of a conversation.
type Message struct {
	Role    Role   `json:"role"`
	Content string `json:"content"`
	// ToolCalls are the calls an assistant turn asked for.
	ToolCalls []ToolCall `json:"tool_calls,omitempty"`
	// ToolCallID names the call a RoleTool message answers; Name is that
	// call's function, where the client gave it.
	ToolCallID string `json:"tool_call_id,omitempty"`
	Name       string `json:"name,omitempty"`
}

// ToolCall is one complete function call of an assistant turn.
type ToolCall struct {
	// ID is the provider's id of the call ("call_...", "toolu_...").
	ID string `json:"id"`
	// Name is the function; Arguments its JSON arguments.
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

// ToolCallDelta is one streamed piece of a tool call. The first delta of
// a call carries its Index, ID and Name; later ones append to Arguments.
type ToolCallDelta struct {
	// Index tells apart the calls of one answer, from 0.
	Index int
	// ID and Name are set on the first delta of a call.
	ID   string
	Name string
	// Arguments is a piece of the call's JSON arguments.
	Arguments string
}

// TokenLogprob is the log probability of one output token, with the most
// likely alternatives when they were asked for.
type TokenLogprob struct {
	Token   string  `json:"token"`
	Logprob float64 `json:"logprob"`
	Bytes   []int   `json:"bytes,omitempty"`
	// Top are the alternatives at this position, most likely first.
	Top []TopLogprob `json:"top_logprobs,omitempty"`
}

// TopLogprob is one alternative token at a position.
type TopLogprob struct {
	Token   string  `json:"token"`
	Logprob float64 `json:"logprob"`
	Bytes   []int   `json:"bytes,omitempty"`
}

// Request is what a provider is asked to continue.
type Request struct {
	// Model names the upstream model; empty means the provider's default.
	Model string
	// Messages is the conversation, oldest first. It holds at least one
	// message.
	Messages []Message
	// MaxTokens caps the number of tokens generated; 0 means the provider's
	// default. Settings.MaxTokensField says which name the client used.
	MaxTokens int
	// Settings are the other generation settings; the zero value asks for
	// the provider's defaults.
	Settings Settings
}

// Prompt returns a request holding one user message.
func Prompt(text string) Request {
	return Request{Messages: []Message{{Role: RoleUser, Content: text}}}
}

// Text joins the request's messages into one string, each prefixed by its
// role. Providers without a notion of turns (the embedded model) use it.
func (r Request) Text() string {
	var b strings.Builder
	for i, m := range r.Messages {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(string(m.Role))
		b.WriteString(": ")
		b.WriteString(m.Content)
		for _, tc := range m.ToolCalls {
			b.WriteString(" [call ")
			b.WriteString(tc.Name)
			b.WriteString(tc.Arguments)
			b.WriteByte(']')
		}
	}
	return b.String()
}

// FinishReason says why a provider stopped generating.
type FinishReason string

// The finish reasons the engine understands. Providers map their own
// vocabulary onto these.
const (
	// FinishNone means the chunk does not end the stream.
	FinishNone FinishReason = ""
	// FinishStop: the model finished its answer (or hit a stop sequence).
	FinishStop FinishReason = "stop"
	// FinishLength: the answer was cut at the token limit.
	FinishLength FinishReason = "length"
	// FinishContentFilter: the provider withheld the rest of the answer.
	FinishContentFilter FinishReason = "content_filter"
	// FinishToolCalls: the model stopped to let the client run its tool
	// calls.
	FinishToolCalls FinishReason = "tool_calls"
)

// Usage counts tokens as the provider reports them.
type Usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
}

// Total returns prompt plus completion tokens.
func (u Usage) Total() int { return u.PromptTokens + u.CompletionTokens }

// Chunk is one piece of a streamed answer. A chunk may carry text, a finish
// reason, usage, or several of them at once.
type Chunk struct {
	// Text is the new text (a delta, never the cumulative answer).
	Text string
	// Reasoning is new reasoning text (a reasoning model's thinking), kept
	// apart from the answer.
	Reasoning string
	// ToolCalls are pieces of tool calls, in order.
	ToolCalls []ToolCallDelta
	// Logprobs are the log probabilities of Text's tokens, when the
	// request asked for them and the provider returned them.
	Logprobs []TokenLogprob
	// FinishReason is set on the chunk that ends the answer.
	FinishReason FinishReason
	// Usage is set when the provider reports token counts, usually on or
	// after the finishing chunk.
	Usage *Usage
}

// Stream is an open answer. It is used by one goroutine.
type Stream interface {
	// Recv returns the next chunk. It returns io.EOF after the last chunk,
	// and an error wrapping the context's error once the context passed to
	// Provider.Stream is cancelled.
	Recv() (Chunk, error)
	// Close releases the stream; it is safe to call more than once and
	// after Recv returned an error.
	Close() error
}

// Waiter is a Stream that can wait for its next chunk to begin arriving
// without decoding it. A reader that calls Wait before each Recv parks
// between chunks in Wait's few small frames instead of under Recv and the
// decoder: a goroutine keeps the stack its parked depth needs, so a
// silent stream's reader can hold a smaller stack. Wait returns at once
// when the stream has ended, been closed, or has data waiting; it reports
// nothing itself: the Recv after it returns what arrived, or the error.
type Waiter interface {
	Wait()
}

// Provider opens streams. Implementations are safe for concurrent use.
type Provider interface {
	// Name identifies the provider in logs and metrics ("embedded",
	// "openai", ...).
	Name() string
	// Stream starts generating an answer to req. The returned stream stops
	// promptly once ctx is cancelled.
	Stream(ctx context.Context, req Request) (Stream, error)
}
