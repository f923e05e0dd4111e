package llmtest

import (
	"net/http"
	"strconv"
	"time"

	"github.com/armistice-go/armistice/llm"
)

// Script is what a fake server does with one request.
//
// With Status set (other than 0 and 200) the server answers that status with
// an error body in its format and sends no stream. With Hangup it closes the
// connection without answering. With Raw it sends the stream headers and
// then Raw verbatim. Otherwise it sends the stream headers and the format's
// preamble (OpenAI: the role chunk; Anthropic: message_start,
// content_block_start and a ping), flushes, and plays Steps in order. When
// the steps run out the response ends normally (a clean end of the body,
// with or without a [DONE] or message_stop, whatever the steps said).
type Script struct {
	// Status, when not 0 or 200, is the HTTP status of an error answer.
	Status int
	// RetryAfter is sent as the Retry-After header of an error answer.
	RetryAfter string
	// Message is the error.message of an error answer; default the status
	// text.
	Message string
	// ErrorType, ErrorCode and ErrorParam replace the error body's
	// error.type, error.code and error.param (OpenAI format; Anthropic:
	// ErrorType only). Empty keeps the defaults: OpenAI sends type
	// "requests" and code "rate_limit_exceeded" for 429,
	// "server_error" and null for 5xx, "invalid_request_error" and null
	// otherwise, and param null.
	ErrorType, ErrorCode, ErrorParam string
	// Hangup closes the connection after reading the request, before any
	// byte of an answer: the client sees EOF on a fresh connection.
	Hangup bool
	// StallHeaders stalls (see Step.Stall) before the response headers.
	StallHeaders bool
	// Raw, when not empty, is sent verbatim after the stream headers
	// instead of the preamble and the steps (see Fixture).
	Raw string
	// Steps are played after the preamble.
	Steps []Step
	// Usage is the usage the server reports; nil means computed: prompt
	// tokens are the words of the request's messages, completion tokens the
	// Text steps played so far.
	Usage *llm.Usage
}

// Step is one move of a streaming answer. A step may set several fields;
// they are played in the order of the fields below (Stall first, Cut
// last), each written and flushed as its own SSE event or events.
type Step struct {
	// Stall blocks until the client goes away (the request's context is
	// done, which the server records as a Disconnect), the test calls
	// Server.Release, or the server closes. A stalled server never sleeps.
	Stall bool
	// Reasoning is a reasoning delta (OpenAI format:
	// delta.reasoning_content, in the same chunk as Text, ToolCalls and
	// the finish). Servers that name it delta.reasoning can be played
	// with Raw.
	Reasoning string
	// Text is a text delta. With Finish or WireFinish in the same step, the
	// OpenAI format sends both in one chunk.
	Text string
	// ToolCalls are tool-call pieces sent as delta.tool_calls in the
	// step's chunk, exactly as OpenAI streams them: index always; id,
	// "type":"function" and function.name only when ID or Name is set
	// (the first piece of a call); function.arguments always. End the
	// answer with Finish llm.FinishToolCalls ("tool_calls"). OpenAI
	// format only.
	ToolCalls []llm.ToolCallDelta
	// Logprobs are sent as the step's choice logprobs
	// ({"content":[...],"refusal":null}) instead of null. OpenAI format
	// only.
	Logprobs []llm.TokenLogprob
	// Finish ends the answer with this reason in the format's words
	// (OpenAI: a chunk with finish_reason "stop", "length",
	// "content_filter"; Anthropic: content_block_stop, then message_delta
	// with stop_reason "end_turn", "max_tokens", "refusal" and the output
	// usage).
	Finish llm.FinishReason
	// WireFinish is a finish reason sent verbatim ("tool_calls",
	// "stop_sequence", ...), instead of Finish.
	WireFinish string
	// Usage sends the OpenAI usage chunk (empty choices, usage set), if the
	// request asked for it with stream_options.include_usage. The
	// Anthropic format carries usage in message_start and message_delta,
	// so there it sends nothing.
	Usage bool
	// Error sends an error object inside the stream with this message
	// (OpenAI: data: {"error":{...}}; Anthropic: an "error" event of type
	// overloaded_error).
	Error string
	// Malformed sends an event whose data is truncated JSON.
	Malformed bool
	// Raw is sent verbatim.
	Raw string
	// Done ends the stream the format's way (OpenAI: data: [DONE];
	// Anthropic: message_stop).
	Done bool
	// Cut aborts the connection: the chunked body is left unterminated, so
	// the client's read fails with an unexpected EOF.
	Cut bool
}

// Answer streams words as text deltas, then finishes with stop, the usage
// chunk and the end of the stream.
func Answer(words ...string) Script {
	return Finished(llm.FinishStop, words...)
}

// Finished streams words, then finishes with reason, the usage chunk and
// the end of the stream.
func Finished(reason llm.FinishReason, words ...string) Script {
	return Script{Steps: append(texts(words), Step{Finish: reason}, Step{Usage: true}, Step{Done: true})}
}

// Status answers code with an error body and, when retryAfter is not
// empty, a Retry-After header.
func Status(code int, retryAfter string) Script {
	return Script{Status: code, RetryAfter: retryAfter}
}

// RetryAfterSeconds formats a Retry-After header value in seconds.
func RetryAfterSeconds(s int) string { return strconv.Itoa(s) }

// RetryAfterDate formats a Retry-After header value as an HTTP date.
func RetryAfterDate(t time.Time) string { return t.UTC().Format(http.TimeFormat) }

// CutAfter streams words, then aborts the connection without a finish.
func CutAfter(words ...string) Script {
	return Script{Steps: append(texts(words), Step{Cut: true})}
}

// EndAfter streams words, then ends the body cleanly without a finish
// reason or end marker.
func EndAfter(words ...string) Script {
	return Script{Steps: texts(words)}
}

// ErrorAfter streams words, then an error object with message.
func ErrorAfter(message string, words ...string) Script {
	return Script{Steps: append(texts(words), Step{Error: message})}
}

// MalformedAfter streams words, then an event whose data is truncated JSON.
func MalformedAfter(words ...string) Script {
	return Script{Steps: append(texts(words), Step{Malformed: true})}
}

// StallAfter streams words, stalls, and (once released) finishes like
// Answer with the rest.
func StallAfter(words []string, rest ...string) Script {
	s := Answer(rest...)
	s.Steps = append(append(texts(words), Step{Stall: true}), s.Steps...)
	return s
}

// ToolCall streams one complete tool call as OpenAI does: a piece with
// index, id and name and empty arguments, then the arguments in the given
// pieces, then finish_reason "tool_calls", the usage chunk and [DONE].
func ToolCall(id, name string, arguments ...string) Script {
	steps := []Step{{ToolCalls: []llm.ToolCallDelta{{ID: id, Name: name}}}}
	for _, a := range arguments {
		steps = append(steps, Step{ToolCalls: []llm.ToolCallDelta{{Arguments: a}}})
	}
	return Script{Steps: append(steps, Step{Finish: llm.FinishToolCalls}, Step{Usage: true}, Step{Done: true})}
}

// StatusBody answers code with an OpenAI error body carrying typ, errCode,
// param and message (empty ones take the defaults), and Retry-After when
// retryAfter is not empty.
func StatusBody(code int, retryAfter, typ, errCode, param, message string) Script {
	return Script{Status: code, RetryAfter: retryAfter, ErrorType: typ, ErrorCode: errCode, ErrorParam: param, Message: message}
}

// texts returns one Text step per word.
func texts(words []string) []Step {
	steps := make([]Step, 0, len(words)+3)
	for _, w := range words {
		steps = append(steps, Step{Text: w})
	}
	return steps
}

// statusText is the default message of an error answer.
func statusText(code int) string {
	if t := http.StatusText(code); t != "" {
		return t
	}
	if code == 529 {
		return "Overloaded"
	}
	return "error " + strconv.Itoa(code)
}
