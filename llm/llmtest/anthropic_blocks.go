package llmtest

import (
	"fmt"
	"strings"

	"github.com/armistice-go/armistice/llm"
)

// AnthropicBlock is one content block of an answer scripted with
// AnthropicAnswer: text, thinking or a tool call.
type AnthropicBlock struct {
	// Kind is "text", "thinking" or "tool_use".
	Kind string
	// Pieces are the block's deltas: text_delta texts, thinking_delta
	// thoughts, or input_json_delta partial_json pieces.
	Pieces []string
	// ID and Name are a tool_use block's.
	ID, Name string
}

// AnthropicText is a text block streamed as pieces.
func AnthropicText(pieces ...string) AnthropicBlock {
	return AnthropicBlock{Kind: "text", Pieces: pieces}
}

// AnthropicThinking is a thinking block streamed as pieces, then a
// signature_delta, as the API sends it.
func AnthropicThinking(pieces ...string) AnthropicBlock {
	return AnthropicBlock{Kind: "thinking", Pieces: pieces}
}

// AnthropicToolUse is a tool_use block whose input arrives as the
// input_json_delta pieces, after the empty one the API sends first.
func AnthropicToolUse(id, name string, input ...string) AnthropicBlock {
	return AnthropicBlock{Kind: "tool_use", ID: id, Name: name, Pieces: input}
}

// AnthropicAnswer returns a script that streams blocks the way the
// Messages API does: message_start (input tokens from usage), for each
// block content_block_start, its deltas and content_block_stop (with a
// ping after the first start), then message_delta with stopReason
// ("end_turn", "tool_use", ...) and the output tokens, and message_stop.
// The events are sent as Raw, so the script plays the same for every
// request.
func AnthropicAnswer(stopReason string, usage llm.Usage, blocks ...AnthropicBlock) Script {
	var b strings.Builder
	event := func(typ, data string) {
		fmt.Fprintf(&b, "event: %s\ndata: %s\n\n", typ, data)
	}
	event("message_start", fmt.Sprintf(`{"type":"message_start","message":{"id":"msg_llmtest","type":"message","role":"assistant","model":"claude-llmtest","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":%d,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":1}}}`, usage.PromptTokens))
	for i, bl := range blocks {
		delta := func(d string) {
			event("content_block_delta", fmt.Sprintf(`{"type":"content_block_delta","index":%d,"delta":%s}`, i, d))
		}
		switch bl.Kind {
		case "thinking":
			event("content_block_start", fmt.Sprintf(`{"type":"content_block_start","index":%d,"content_block":{"type":"thinking","thinking":"","signature":""}}`, i))
		case "tool_use":
			event("content_block_start", fmt.Sprintf(`{"type":"content_block_start","index":%d,"content_block":{"type":"tool_use","id":%s,"name":%s,"input":{}}}`, i, quote(bl.ID), quote(bl.Name)))
		default:
			event("content_block_start", fmt.Sprintf(`{"type":"content_block_start","index":%d,"content_block":{"type":"text","text":""}}`, i))
		}
		if i == 0 {
			event("ping", `{"type": "ping"}`)
		}
		if bl.Kind == "tool_use" {
			delta(`{"type":"input_json_delta","partial_json":""}`)
		}
		for _, piece := range bl.Pieces {
			switch bl.Kind {
			case "thinking":
				delta(fmt.Sprintf(`{"type":"thinking_delta","thinking":%s}`, quote(piece)))
			case "tool_use":
				delta(fmt.Sprintf(`{"type":"input_json_delta","partial_json":%s}`, quote(piece)))
			default:
				delta(fmt.Sprintf(`{"type":"text_delta","text":%s}`, quote(piece)))
			}
		}
		if bl.Kind == "thinking" {
			delta(`{"type":"signature_delta","signature":"c2lnbmF0dXJl"}`)
		}
		event("content_block_stop", fmt.Sprintf(`{"type":"content_block_stop","index":%d}`, i))
	}
	event("message_delta", fmt.Sprintf(`{"type":"message_delta","delta":{"stop_reason":%s,"stop_sequence":null},"usage":{"output_tokens":%d}}`, quote(stopReason), usage.CompletionTokens))
	event("message_stop", `{"type":"message_stop"}`)
	return Script{Raw: b.String()}
}
