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
)

// Message is one turn of a conversation.
type Message struct {
	Role    Role   `json:"role"`
	Content string `json:"content"`
}

// Request is what a provider is asked to continue.
type Request struct {
	// Model names the upstream model; empty means the provider's default.
	Model string
	// Messages is the conversation, oldest first. It holds at least one
	// message.
	Messages []Message
	// MaxTokens caps the number of tokens generated; 0 means the provider's
	// default.
	MaxTokens int
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

// Provider opens streams. Implementations are safe for concurrent use.
type Provider interface {
	// Name identifies the provider in logs and metrics ("embedded",
	// "openai", ...).
	Name() string
	// Stream starts generating an answer to req. The returned stream stops
	// promptly once ctx is cancelled.
	Stream(ctx context.Context, req Request) (Stream, error)
}
