package openaiapi

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"

	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/model"
)

// The Responses statuses.
const (
	statusQueued     = "queued"
	statusInProgress = "in_progress"
	statusCompleted  = "completed"
	statusFailed     = "failed"
	statusCancelled  = "cancelled"
	statusIncomplete = "incomplete"
)

// The Responses stream event types.
const (
	evCreated          = "response.created"
	evQueued           = "response.queued"
	evInProgress       = "response.in_progress"
	evItemAdded        = "response.output_item.added"
	evPartAdded        = "response.content_part.added"
	evTextDelta        = "response.output_text.delta"
	evTextDone         = "response.output_text.done"
	evPartDone         = "response.content_part.done"
	evItemDone         = "response.output_item.done"
	evArgsDelta        = "response.function_call_arguments.delta"
	evArgsDone         = "response.function_call_arguments.done"
	evReasoningDelta   = "response.reasoning_text.delta"
	evReasoningDone    = "response.reasoning_text.done"
	evCompleted        = "response.completed"
	evFailed           = "response.failed"
	evIncomplete       = "response.incomplete"
	evError            = "error"
	itemStatusProgress = "in_progress"
)

// responseJSON is a Responses object.
type responseJSON struct {
	ID                 string            `json:"id"`
	Object             string            `json:"object"`
	CreatedAt          int64             `json:"created_at"`
	Status             string            `json:"status"`
	Background         bool              `json:"background"`
	Error              *respErrorJSON    `json:"error"`
	IncompleteDetails  *incompleteJSON   `json:"incomplete_details"`
	Instructions       *string           `json:"instructions"`
	MaxOutputTokens    *int              `json:"max_output_tokens"`
	Model              string            `json:"model"`
	Output             []any             `json:"output"`
	ParallelToolCalls  bool              `json:"parallel_tool_calls"`
	PreviousResponseID *string           `json:"previous_response_id"`
	Store              bool              `json:"store"`
	Temperature        *float64          `json:"temperature"`
	Text               textConfigJSON    `json:"text"`
	ToolChoice         any               `json:"tool_choice"`
	Tools              []json.RawMessage `json:"tools"`
	TopP               *float64          `json:"top_p"`
	Truncation         string            `json:"truncation"`
	Usage              *respUsageJSON    `json:"usage"`
	Metadata           map[string]string `json:"metadata"`
}

type respErrorJSON struct {
	Type    string `json:"type"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

type incompleteJSON struct {
	Reason string `json:"reason"`
}

type textConfigJSON struct {
	Format any `json:"format"`
}

type respUsageJSON struct {
	InputTokens         int           `json:"input_tokens"`
	InputTokensDetails  cachedJSON    `json:"input_tokens_details"`
	OutputTokens        int           `json:"output_tokens"`
	OutputTokensDetails reasoningJSON `json:"output_tokens_details"`
	TotalTokens         int           `json:"total_tokens"`
}

type cachedJSON struct {
	CachedTokens int `json:"cached_tokens"`
}

type reasoningJSON struct {
	ReasoningTokens int `json:"reasoning_tokens"`
}

// The output items: a message, a reasoning item, a function call.
type outputItemJSON struct {
	ID      string           `json:"id"`
	Type    string           `json:"type"`
	Status  string           `json:"status"`
	Role    string           `json:"role"`
	Content []outputTextJSON `json:"content"`
}

type reasoningItemJSON struct {
	ID      string          `json:"id"`
	Type    string          `json:"type"`
	Status  string          `json:"status"`
	Summary []struct{}      `json:"summary"`
	Content []reasoningPart `json:"content"`
}

type reasoningPart struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type functionCallItemJSON struct {
	ID        string `json:"id"`
	Type      string `json:"type"`
	Status    string `json:"status"`
	CallID    string `json:"call_id"`
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

type outputTextJSON struct {
	Type        string          `json:"type"`
	Text        string          `json:"text"`
	Annotations []struct{}      `json:"annotations"`
	Logprobs    []model.Logprob `json:"logprobs"`
}

// The event payloads; each starts with its type and sequence number.
type responseEventJSON struct {
	Type           string        `json:"type"`
	SequenceNumber int64         `json:"sequence_number"`
	Response       *responseJSON `json:"response"`
}

type itemEventJSON struct {
	Type           string `json:"type"`
	SequenceNumber int64  `json:"sequence_number"`
	OutputIndex    int    `json:"output_index"`
	Item           any    `json:"item"`
}

type partEventJSON struct {
	Type           string `json:"type"`
	SequenceNumber int64  `json:"sequence_number"`
	ItemID         string `json:"item_id"`
	OutputIndex    int    `json:"output_index"`
	ContentIndex   int    `json:"content_index"`
	Part           any    `json:"part"`
}

type textDoneEventJSON struct {
	Type           string          `json:"type"`
	SequenceNumber int64           `json:"sequence_number"`
	ItemID         string          `json:"item_id"`
	OutputIndex    int             `json:"output_index"`
	ContentIndex   int             `json:"content_index"`
	Text           string          `json:"text"`
	Logprobs       []model.Logprob `json:"logprobs"`
}

type reasoningDoneEventJSON struct {
	Type           string `json:"type"`
	SequenceNumber int64  `json:"sequence_number"`
	ItemID         string `json:"item_id"`
	OutputIndex    int    `json:"output_index"`
	ContentIndex   int    `json:"content_index"`
	Text           string `json:"text"`
}

type argsDoneEventJSON struct {
	Type           string `json:"type"`
	SequenceNumber int64  `json:"sequence_number"`
	ItemID         string `json:"item_id"`
	OutputIndex    int    `json:"output_index"`
	Name           string `json:"name"`
	Arguments      string `json:"arguments"`
}

type errorEventJSON struct {
	Type           string  `json:"type"`
	SequenceNumber int64   `json:"sequence_number"`
	Code           string  `json:"code"`
	Message        string  `json:"message"`
	Param          *string `json:"param"`
}

// respConv turns a request's log into the Responses event stream. It is
// a pure function of the log: each record yields a fixed list of events
// (pending: created, queued; streaming: in_progress; output: the events
// of its item, opening it first, and closing the item before it, when it
// belongs to another; end: the done events of the open item, then
// exactly one terminal event), numbered from 0 in log order. So the same
// log always gives the same numbers, and a stream resumed after N is the
// full stream with the events up to N left out. Only events numbered
// above after are written.
//
// Output items open in the order their first record comes: a message
// (msg_<id>) for answer text, a reasoning item (rs_<id>) for reasoning,
// a function call (fc_<id>_<index>) per tool call.
type respConv struct {
	meta respMeta
	// input is the response's conversation as submitted (load only, for a
	// stored response), instructions included.
	input []llm.Message
	after int64
	next  int64 // the number of the next event

	status string
	items  []respItem
	open   int // the index of the open item, -1 when none
	tokens int
	end    *model.End
}

type itemKind uint8

const (
	itemMessage itemKind = iota + 1
	itemReasoning
	itemFunctionCall
)

// respItem is one output item as far as it has streamed.
type respItem struct {
	kind     itemKind
	id       string
	text     strings.Builder // the message's text, the reasoning, or the call's arguments
	logprobs []model.Logprob
	index    int // the tool call's index
	callID   string
	name     string
	status   string // set once closed
	// deltaPrefix is a message's text delta from item_id to "delta":,
	// rendered once: the per-token path only appends it.
	deltaPrefix string
}

// newRespConv starts a converter that writes the events after after (-1
// for all of them).
func newRespConv(meta respMeta, after int64) *respConv {
	return &respConv{meta: meta, after: after, status: statusQueued, open: -1}
}

// silentConv follows the log without writing anything: for snapshots.
func silentConv(meta respMeta) *respConv { return newRespConv(meta, math.MaxInt64) }

// append renders recs.
func (c *respConv) append(b []byte, recs []model.Record) []byte {
	for _, r := range recs {
		b = c.record(b, r)
	}
	return b
}

// apply follows recs without rendering them.
func (c *respConv) apply(recs []model.Record) { _ = c.append(nil, recs) }

func (c *respConv) record(b []byte, r model.Record) []byte {
	if c.end != nil {
		return b // nothing follows the end
	}
	switch r.Kind {
	case model.KindState:
		switch r.State {
		case model.StatePending:
			c.status = statusQueued
			b = c.emitResponse(b, evCreated)
			b = c.emitResponse(b, evQueued)
		case model.StateStreaming:
			c.status = statusInProgress
			b = c.emitResponse(b, evInProgress)
		}
	case model.KindToken:
		if c.open < 0 || c.items[c.open].kind != itemMessage {
			b = c.openItem(b, itemMessage, nil)
		}
		it := &c.items[c.open]
		it.text.WriteString(r.Text)
		if r.Logprobs != nil {
			it.logprobs = append(it.logprobs, r.Logprobs.Content...)
		}
		c.tokens++
		if c.next > c.after {
			b = append(b, "event: "+evTextDelta+"\ndata: {\"type\":\""+evTextDelta+"\",\"sequence_number\":"...)
			b = strconv.AppendInt(b, c.next, 10)
			b = append(b, it.deltaPrefix...)
			b = appendJSONString(b, r.Text)
			if r.Logprobs == nil {
				b = append(b, ",\"logprobs\":[]}\n\n"...)
			} else {
				b = append(b, `,"logprobs":`...)
				b = appendJSON(b, r.Logprobs.Content)
				b = append(b, "}\n\n"...)
			}
		}
		c.next++
	case model.KindReasoning:
		if c.open < 0 || c.items[c.open].kind != itemReasoning {
			b = c.openItem(b, itemReasoning, nil)
		}
		i := c.open
		c.items[i].text.WriteString(r.Text)
		b = c.emit(b, evReasoningDelta, func(seq int64) any {
			return textDeltaJSON{Type: evReasoningDelta, SequenceNumber: seq, ItemID: c.items[i].id, OutputIndex: i, Delta: r.Text}
		})
	case model.KindToolCall:
		d := r.ToolCall
		if d == nil {
			return b
		}
		i := c.callItem(d.Index)
		if i < 0 {
			b = c.openItem(b, itemFunctionCall, d)
			i = c.open
		}
		if d.Arguments != "" {
			c.items[i].text.WriteString(d.Arguments)
			b = c.emit(b, evArgsDelta, func(seq int64) any {
				return textDeltaJSON{Type: evArgsDelta, SequenceNumber: seq, ItemID: c.items[i].id, OutputIndex: i, Delta: d.Arguments}
			})
		}
	case model.KindEnd:
		end := r.End
		if end == nil { // never written by the engine; kept total
			end = &model.End{State: model.StateDone, Status: model.StatusFailed, Reason: model.ReasonInternalError}
		}
		c.end = end
		t := terminalOf(end)
		c.status = t.status
		b = c.closeItem(b, t.itemStatus)
		b = c.emitResponse(b, t.event)
	}
	return b
}

// textDeltaJSON is a reasoning_text or function_call_arguments delta.
type textDeltaJSON struct {
	Type           string `json:"type"`
	SequenceNumber int64  `json:"sequence_number"`
	ItemID         string `json:"item_id"`
	OutputIndex    int    `json:"output_index"`
	ContentIndex   *int   `json:"content_index,omitempty"`
	Delta          string `json:"delta"`
}

// callItem is the output index of tool call index, -1 if not yet seen.
func (c *respConv) callItem(index int) int {
	for i := range c.items {
		if c.items[i].kind == itemFunctionCall && c.items[i].index == index {
			return i
		}
	}
	return -1
}

// openItem closes the open item and opens one of kind.
func (c *respConv) openItem(b []byte, kind itemKind, call *model.ToolCallDelta) []byte {
	b = c.closeItem(b, statusCompleted)
	c.items = append(c.items, respItem{kind: kind})
	c.open = len(c.items) - 1
	i := c.open
	it := &c.items[i]
	it.id = c.newItemID(kind, call)
	if call != nil {
		it.index, it.callID, it.name = call.Index, call.ID, call.Name
		if it.callID == "" {
			it.callID = callID(c.meta.id, call.Index)
		}
	}
	if kind == itemMessage {
		p := appendJSONString([]byte(`,"item_id":`), it.id)
		p = append(p, `,"output_index":`...)
		p = strconv.AppendInt(p, int64(i), 10)
		it.deltaPrefix = string(append(p, `,"content_index":0,"delta":`...))
	}
	b = c.emit(b, evItemAdded, func(seq int64) any {
		return itemEventJSON{Type: evItemAdded, SequenceNumber: seq, OutputIndex: i, Item: c.itemJSON(i, itemStatusProgress, true)}
	})
	switch kind {
	case itemMessage:
		b = c.emit(b, evPartAdded, func(seq int64) any {
			return partEventJSON{Type: evPartAdded, SequenceNumber: seq, ItemID: it.id, OutputIndex: i, Part: outputText("", nil)}
		})
	case itemReasoning:
		b = c.emit(b, evPartAdded, func(seq int64) any {
			return partEventJSON{Type: evPartAdded, SequenceNumber: seq, ItemID: it.id, OutputIndex: i, Part: reasoningPart{Type: "reasoning_text"}}
		})
	}
	return b
}

// closeItem sends the done events of the open item, if any.
func (c *respConv) closeItem(b []byte, status string) []byte {
	if c.open < 0 {
		return b
	}
	i := c.open
	it := &c.items[i]
	c.open = -1
	it.status = status
	text := it.text.String()
	switch it.kind {
	case itemMessage:
		b = c.emit(b, evTextDone, func(seq int64) any {
			return textDoneEventJSON{Type: evTextDone, SequenceNumber: seq, ItemID: it.id, OutputIndex: i, Text: text, Logprobs: nonNil(it.logprobs)}
		})
		b = c.emit(b, evPartDone, func(seq int64) any {
			return partEventJSON{Type: evPartDone, SequenceNumber: seq, ItemID: it.id, OutputIndex: i, Part: outputText(text, it.logprobs)}
		})
	case itemReasoning:
		b = c.emit(b, evReasoningDone, func(seq int64) any {
			return reasoningDoneEventJSON{Type: evReasoningDone, SequenceNumber: seq, ItemID: it.id, OutputIndex: i, Text: text}
		})
		b = c.emit(b, evPartDone, func(seq int64) any {
			return partEventJSON{Type: evPartDone, SequenceNumber: seq, ItemID: it.id, OutputIndex: i, Part: reasoningPart{Type: "reasoning_text", Text: text}}
		})
	case itemFunctionCall:
		b = c.emit(b, evArgsDone, func(seq int64) any {
			return argsDoneEventJSON{Type: evArgsDone, SequenceNumber: seq, ItemID: it.id, OutputIndex: i, Name: it.name, Arguments: text}
		})
	}
	return c.emit(b, evItemDone, func(seq int64) any {
		return itemEventJSON{Type: evItemDone, SequenceNumber: seq, OutputIndex: i, Item: c.itemJSON(i, status, false)}
	})
}

// newItemID names a new item: the first of its kind gets the plain id.
func (c *respConv) newItemID(kind itemKind, call *model.ToolCallDelta) string {
	if kind == itemFunctionCall {
		return "fc_" + c.meta.id + "_" + strconv.Itoa(call.Index)
	}
	prefix := prefixMessage
	if kind == itemReasoning {
		prefix = "rs_"
	}
	n := 0
	for i := range c.items[:len(c.items)-1] {
		if c.items[i].kind == kind {
			n++
		}
	}
	if n == 0 {
		return prefix + c.meta.id
	}
	return prefix + c.meta.id + "_" + strconv.Itoa(n)
}

// itemJSON shows item i with status; added is the item as first
// announced (no content yet).
func (c *respConv) itemJSON(i int, status string, added bool) any {
	it := &c.items[i]
	text := it.text.String()
	switch it.kind {
	case itemReasoning:
		item := reasoningItemJSON{ID: it.id, Type: "reasoning", Status: status, Summary: []struct{}{}, Content: []reasoningPart{}}
		if !added {
			item.Content = append(item.Content, reasoningPart{Type: "reasoning_text", Text: text})
		}
		return item
	case itemFunctionCall:
		if added {
			text = ""
		}
		return functionCallItemJSON{ID: it.id, Type: "function_call", Status: status, CallID: it.callID, Name: it.name, Arguments: text}
	}
	item := outputItemJSON{ID: it.id, Type: "message", Status: status, Role: "assistant", Content: []outputTextJSON{}}
	if !added {
		item.Content = append(item.Content, outputText(text, it.logprobs))
	}
	return item
}

// emit writes one event if it is numbered after c.after, and counts it.
func (c *respConv) emit(b []byte, typ string, payload func(seq int64) any) []byte {
	if c.next > c.after {
		b = append(b, "event: "...)
		b = append(b, typ...)
		b = append(b, "\ndata: "...)
		b = appendJSON(b, payload(c.next))
		b = append(b, "\n\n"...)
	}
	c.next++
	return b
}

func (c *respConv) emitResponse(b []byte, typ string) []byte {
	return c.emit(b, typ, func(seq int64) any {
		return responseEventJSON{Type: typ, SequenceNumber: seq, Response: c.response()}
	})
}

// errorEvent renders a stream's last words when the request stopped
// before its end record reached the stream.
func (c *respConv) errorEvent(b []byte) []byte {
	return c.emit(b, evError, func(seq int64) any {
		return errorEventJSON{Type: evError, SequenceNumber: seq, Code: CodeRequestGone,
			Message: "The response is no longer available: it stopped before its end could be sent."}
	})
}

func outputText(text string, logprobs []model.Logprob) outputTextJSON {
	return outputTextJSON{Type: "output_text", Text: text, Annotations: []struct{}{}, Logprobs: nonNil(logprobs)}
}

func nonNil(lp []model.Logprob) []model.Logprob {
	if lp == nil {
		return []model.Logprob{}
	}
	return lp
}

// response is the Responses object as of the records seen so far.
func (c *respConv) response() *responseJSON {
	r := &responseJSON{
		ID:                 prefixResponse + c.meta.id,
		Object:             objectResponse,
		CreatedAt:          c.meta.createdAt,
		Status:             c.status,
		Background:         c.meta.background,
		Instructions:       c.meta.instructions,
		MaxOutputTokens:    c.meta.maxOutputTokens,
		PreviousResponseID: c.meta.previous,
		Model:              c.meta.model,
		Output:             []any{},
		Store:              c.meta.store,
		Text:               textConfigJSON{Format: formatType{Type: "text"}},
		ToolChoice:         "none",
		Tools:              []json.RawMessage{},
		Truncation:         "disabled",
		Metadata:           c.meta.metadata,
	}
	if r.Metadata == nil {
		r.Metadata = map[string]string{}
	}
	c.meta.echo.show(r)
	if c.end != nil {
		t := terminalOf(c.end)
		r.Error, r.IncompleteDetails = t.err, t.incomplete
		in, out := usageOf(c.end)
		r.Usage = &respUsageJSON{InputTokens: in, OutputTokens: out, TotalTokens: in + out}
	}
	for i := range c.items {
		status := c.items[i].status
		if status == "" {
			status = itemStatusProgress
		}
		r.Output = append(r.Output, c.itemJSON(i, status, false))
	}
	return r
}

// terminal is how an end record shows in the Responses API.
type terminal struct {
	event      string
	status     string
	itemStatus string
	incomplete *incompleteJSON
	err        *respErrorJSON
}

func terminalOf(end *model.End) terminal {
	switch {
	case end.Status == model.StatusCompleted && end.Reason == model.ReasonLength:
		return terminal{event: evIncomplete, status: statusIncomplete, itemStatus: statusIncomplete,
			incomplete: &incompleteJSON{Reason: "max_output_tokens"}}
	case end.Status == model.StatusCompleted && end.Reason == model.ReasonContentFilter:
		return terminal{event: evIncomplete, status: statusIncomplete, itemStatus: statusIncomplete,
			incomplete: &incompleteJSON{Reason: "content_filter"}}
	case end.Status == model.StatusCompleted:
		return terminal{event: evCompleted, status: statusCompleted, itemStatus: statusCompleted}
	case end.Status == model.StatusCancelled || end.State == model.StateCancelled:
		// OpenAI ends a live stream of a cancelled response with
		// response.failed whose status is "cancelled".
		return terminal{event: evFailed, status: statusCancelled, itemStatus: statusIncomplete}
	}
	if end.Upstream != nil {
		e := upstreamError(end)
		return terminal{event: evFailed, status: statusFailed, itemStatus: statusIncomplete,
			err: &respErrorJSON{Type: e.Type, Code: e.Code, Message: e.Message}}
	}
	return terminal{event: evFailed, status: statusFailed, itemStatus: statusIncomplete,
		err: &respErrorJSON{Type: TypeServer, Code: end.Reason.String(), Message: failureMessage(end)}}
}

// usageOf is the provider's usage when it reported one; otherwise no
// input tokens and one output token per token record.
func usageOf(end *model.End) (in, out int) {
	if end.Usage != nil {
		return end.Usage.PromptTokens, end.Usage.CompletionTokens
	}
	return 0, end.Tokens
}

// failureMessage explains a failed end.
func failureMessage(end *model.End) string {
	if end.Message != "" {
		return end.Message
	}
	switch end.Reason {
	case model.ReasonUpstreamError:
		return "The model provider failed while generating the response."
	case model.ReasonFirstTokenTimeout:
		return "The model produced no output in time."
	case model.ReasonIdleTimeout:
		return "The model stopped producing output."
	case model.ReasonDeadlineExceeded:
		return "The response took longer than the server allows."
	case model.ReasonQueueTimeout:
		return "The response waited too long for a free slot."
	case model.ReasonOutputTooLarge:
		return "The response grew larger than the server allows."
	case model.ReasonShutdown:
		return "The server shut down before the response finished."
	case model.ReasonNodeLost:
		return "The server node that ran the response left the cluster before it finished."
	case model.ReasonClientCancel, model.ReasonClientDisconnected:
		return "The response was cancelled."
	}
	return "The server had an error while generating the response."
}

// outputMessages is the response's output as conversation turns: its text
// and its function calls as one assistant message (reasoning is not
// carried; Armistice's reasoning items hold no encrypted content).
func (c *respConv) outputMessages() []llm.Message {
	msg := llm.Message{Role: llm.RoleAssistant}
	has := false
	for i := range c.items {
		it := &c.items[i]
		switch it.kind {
		case itemMessage:
			msg.Content += it.text.String()
			has = true
		case itemFunctionCall:
			msg.ToolCalls = append(msg.ToolCalls, llm.ToolCall{ID: it.callID, Name: it.name, Arguments: it.text.String()})
			has = true
		}
	}
	if !has {
		return nil
	}
	return []llm.Message{msg}
}
