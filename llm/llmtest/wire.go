package llmtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/armistice-go/armistice/llm"
)

// created is the "created" timestamp of every OpenAI chunk, fixed so the
// bytes are reproducible.
const created = 1700000000

// player plays one script as a streaming answer.
type player struct {
	s      *Server
	w      http.ResponseWriter
	r      *http.Request
	rc     *http.ResponseController
	req    Request
	sc     Script
	prompt int // words of the request's messages

	texts int  // Text steps played
	gone  bool // a write failed: the client went away
}

// play sends the headers, the preamble (or Raw) and the steps.
func (p *player) play() {
	h := p.w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	if p.s.format == Anthropic {
		h.Set("Request-Id", requestID(p.req.Index))
	}
	p.w.WriteHeader(http.StatusOK)
	if p.sc.Raw != "" {
		p.write(p.sc.Raw)
		return
	}
	p.preamble()
	for _, st := range p.sc.Steps {
		if p.gone {
			return
		}
		if st.Stall {
			p.s.stall(p.r, p.req.Index)
		}
		p.step(st)
		if st.Cut {
			// Aborting the handler makes the server close the connection
			// without the chunked body's terminator.
			panic(http.ErrAbortHandler)
		}
	}
}

// write sends s and flushes it, noting a client that went away.
func (p *player) write(s string) {
	if p.gone {
		return
	}
	if _, err := io.WriteString(p.w, s); err == nil {
		err = p.rc.Flush()
		if err == nil {
			return
		}
	}
	p.gone = true
	p.s.disconnected(p.req.Index)
}

// usage is what the server reports after the steps played so far.
func (p *player) usage() llm.Usage {
	if p.sc.Usage != nil {
		return *p.sc.Usage
	}
	return llm.Usage{PromptTokens: p.prompt, CompletionTokens: p.texts}
}

func (p *player) preamble() {
	if p.s.format == Anthropic {
		p.write(fmt.Sprintf("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":%s,\"type\":\"message\",\"role\":\"assistant\",\"model\":%s,\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":%d,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,\"output_tokens\":1}}}\n\n",
			quote(messageID(p.req.Index)), quote(p.req.Model), p.usage().PromptTokens))
		p.write("event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n")
		p.write("event: ping\ndata: {\"type\": \"ping\"}\n\n")
		return
	}
	p.write(p.chunk(`[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]`))
}

// step plays the parts of one step, in Step's field order (the stall was
// handled by play).
func (p *player) step(st Step) {
	finish := st.WireFinish
	if finish == "" && st.Finish != llm.FinishNone {
		finish = p.finishWord(st.Finish)
	}
	if st.Text != "" {
		p.texts++
	}
	if p.s.format == Anthropic {
		p.anthropicStep(st, finish)
	} else {
		p.openAIStep(st, finish)
	}
	if st.Raw != "" {
		p.write(st.Raw)
	}
	if st.Done {
		if p.s.format == Anthropic {
			p.write("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n")
		} else {
			p.write("data: [DONE]\n\n")
		}
	}
}

func (p *player) openAIStep(st Step, finish string) {
	var delta []string
	if st.Reasoning != "" {
		delta = append(delta, `"reasoning_content":`+quote(st.Reasoning))
	}
	if st.Text != "" {
		delta = append(delta, `"content":`+quote(st.Text))
	}
	if len(st.ToolCalls) > 0 {
		delta = append(delta, `"tool_calls":`+toolCalls(st.ToolCalls))
	}
	logprobs := "null"
	if len(st.Logprobs) > 0 {
		logprobs = `{"content":` + marshal(st.Logprobs) + `,"refusal":null}`
	}
	if len(delta) > 0 || finish != "" {
		reason := "null"
		if finish != "" {
			reason = quote(finish)
		}
		p.write(p.chunk(fmt.Sprintf(`[{"index":0,"delta":{%s},"logprobs":%s,"finish_reason":%s}]`, strings.Join(delta, ","), logprobs, reason)))
	}
	if st.Usage && p.req.IncludeUsage {
		u := p.usage()
		p.write(fmt.Sprintf("data: {\"id\":%s,\"object\":\"chat.completion.chunk\",\"created\":%d,\"model\":%s,\"system_fingerprint\":\"fp_llmtest\",\"choices\":[],\"usage\":{\"prompt_tokens\":%d,\"completion_tokens\":%d,\"total_tokens\":%d}}\n\n",
			quote(completionID(p.req.Index)), created, quote(p.req.Model), u.PromptTokens, u.CompletionTokens, u.Total()))
	}
	if st.Error != "" {
		p.write(fmt.Sprintf("data: {\"error\":{\"message\":%s,\"type\":\"server_error\",\"param\":null,\"code\":null}}\n\n", quote(st.Error)))
	}
	if st.Malformed {
		p.write(fmt.Sprintf("data: {\"id\":%s,\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"tru\n\n", quote(completionID(p.req.Index))))
	}
}

func (p *player) anthropicStep(st Step, finish string) {
	if st.Text != "" {
		p.write(fmt.Sprintf("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":%s}}\n\n", quote(st.Text)))
	}
	if finish != "" {
		p.write("event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n")
		p.write(fmt.Sprintf("event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":%s,\"stop_sequence\":null},\"usage\":{\"output_tokens\":%d}}\n\n",
			quote(finish), p.usage().CompletionTokens))
	}
	if st.Error != "" {
		p.write(fmt.Sprintf("event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":%s}}\n\n", quote(st.Error)))
	}
	if st.Malformed {
		p.write("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"tru\n\n")
	}
}

// toolCalls renders tool-call pieces as OpenAI's delta.tool_calls.
func toolCalls(calls []llm.ToolCallDelta) string {
	parts := make([]string, len(calls))
	for i, c := range calls {
		head := fmt.Sprintf(`{"index":%d,`, c.Index)
		if c.ID != "" {
			head += `"id":` + quote(c.ID) + `,"type":"function",`
		}
		fn := `"arguments":` + quote(c.Arguments)
		if c.Name != "" {
			fn = `"name":` + quote(c.Name) + `,` + fn
		}
		parts[i] = head + `"function":{` + fn + `}}`
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// marshal renders v as JSON without HTML escaping.
func marshal(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return strings.TrimSuffix(b.String(), "\n")
}

// chunk renders an OpenAI chunk event with the given choices. Like OpenAI,
// it carries "usage":null when the request asked for usage, and no usage
// field otherwise.
func (p *player) chunk(choices string) string {
	usage := ""
	if p.req.IncludeUsage {
		usage = `,"usage":null`
	}
	return fmt.Sprintf("data: {\"id\":%s,\"object\":\"chat.completion.chunk\",\"created\":%d,\"model\":%s,\"system_fingerprint\":\"fp_llmtest\",\"choices\":%s%s}\n\n",
		quote(completionID(p.req.Index)), created, quote(p.req.Model), choices, usage)
}

// finishWord names reason in the format's words.
func (p *player) finishWord(reason llm.FinishReason) string {
	if p.s.format == Anthropic {
		switch reason {
		case llm.FinishStop:
			return "end_turn"
		case llm.FinishLength:
			return "max_tokens"
		case llm.FinishContentFilter:
			return "refusal"
		}
	}
	return string(reason)
}

// completionID is the OpenAI chunk id of request index.
func completionID(index int) string { return fmt.Sprintf("chatcmpl-llmtest-%d", index+1) }

// messageID is the Anthropic message id of request index.
func messageID(index int) string { return fmt.Sprintf("msg_llmtest_%d", index+1) }
