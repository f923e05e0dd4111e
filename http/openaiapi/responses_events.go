package openaiapi

import (
	"math"
	"strconv"
	"strings"

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
	Output             []outputItemJSON  `json:"output"`
	ParallelToolCalls  bool              `json:"parallel_tool_calls"`
	PreviousResponseID *string           `json:"previous_response_id"`
	Store              bool              `json:"store"`
	Temperature        *float64          `json:"temperature"`
	Text               textConfigJSON    `json:"text"`
	ToolChoice         string            `json:"tool_choice"`
	Tools              []struct{}        `json:"tools"`
	TopP               *float64          `json:"top_p"`
	Truncation         string            `json:"truncation"`
	Usage              *respUsageJSON    `json:"usage"`
	Metadata           map[string]string `json:"metadata"`
}

type respErrorJSON struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

type incompleteJSON struct {
	Reason string `json:"reason"`
}

type textConfigJSON struct {
	Format formatType `json:"format"`
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

type outputItemJSON struct {
	ID      string           `json:"id"`
	Type    string           `json:"type"`
	Status  string           `json:"status"`
	Role    string           `json:"role"`
	Content []outputTextJSON `json:"content"`
}

type outputTextJSON struct {
	Type        string     `json:"type"`
	Text        string     `json:"text"`
	Annotations []struct{} `json:"annotations"`
	Logprobs    []struct{} `json:"logprobs"`
}

// The event payloads; each starts with its type and sequence number.
type responseEventJSON struct {
	Type           string        `json:"type"`
	SequenceNumber int64         `json:"sequence_number"`
	Response       *responseJSON `json:"response"`
}

type itemEventJSON struct {
	Type           string         `json:"type"`
	SequenceNumber int64          `json:"sequence_number"`
	OutputIndex    int            `json:"output_index"`
	Item           outputItemJSON `json:"item"`
}

type partEventJSON struct {
	Type           string         `json:"type"`
	SequenceNumber int64          `json:"sequence_number"`
	ItemID         string         `json:"item_id"`
	OutputIndex    int            `json:"output_index"`
	ContentIndex   int            `json:"content_index"`
	Part           outputTextJSON `json:"part"`
}

type textDoneEventJSON struct {
	Type           string     `json:"type"`
	SequenceNumber int64      `json:"sequence_number"`
	ItemID         string     `json:"item_id"`
	OutputIndex    int        `json:"output_index"`
	ContentIndex   int        `json:"content_index"`
	Text           string     `json:"text"`
	Logprobs       []struct{} `json:"logprobs"`
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
// (pending: created, queued; streaming: in_progress, output_item.added,
// content_part.added; token: output_text.delta; end: output_text.done,
// content_part.done, output_item.done when an item was added, then
// exactly one terminal event), numbered from 0 in log order. So the same
// log always gives the same numbers, and a stream resumed after N is the
// full stream with the events up to N left out. Only events numbered
// above after are written.
type respConv struct {
	meta  respMeta
	after int64
	next  int64 // the number of the next event

	status  string
	started bool // the output item was added
	text    strings.Builder
	tokens  int
	end     *model.End
}

// newRespConv starts a converter that writes the events after after (-1
// for all of them).
func newRespConv(meta respMeta, after int64) *respConv {
	return &respConv{meta: meta, after: after, status: statusQueued}
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
			c.started = true
			b = c.emit(b, evItemAdded, func(seq int64) any {
				item := c.item(itemStatusProgress)
				item.Content = []outputTextJSON{}
				return itemEventJSON{Type: evItemAdded, SequenceNumber: seq, Item: item}
			})
			b = c.emit(b, evPartAdded, func(seq int64) any {
				return partEventJSON{Type: evPartAdded, SequenceNumber: seq, ItemID: c.itemID(), Part: outputText("")}
			})
		}
	case model.KindToken:
		c.text.WriteString(r.Text)
		c.tokens++
		if c.next > c.after {
			b = append(b, "event: "+evTextDelta+"\ndata: {\"type\":\""+evTextDelta+"\",\"sequence_number\":"...)
			b = strconv.AppendInt(b, c.next, 10)
			b = append(b, `,"item_id":"`+prefixMessage...)
			b = append(b, c.meta.id...)
			b = append(b, `","output_index":0,"content_index":0,"delta":`...)
			b = appendJSONString(b, r.Text)
			b = append(b, ",\"logprobs\":[]}\n\n"...)
		}
		c.next++
	case model.KindEnd:
		end := r.End
		if end == nil { // never written by the engine; kept total
			end = &model.End{State: model.StateDone, Status: model.StatusFailed, Reason: model.ReasonInternalError}
		}
		c.end = end
		t := terminalOf(end)
		c.status = t.status
		if c.started {
			text := c.text.String()
			b = c.emit(b, evTextDone, func(seq int64) any {
				return textDoneEventJSON{Type: evTextDone, SequenceNumber: seq, ItemID: c.itemID(), Text: text, Logprobs: []struct{}{}}
			})
			b = c.emit(b, evPartDone, func(seq int64) any {
				return partEventJSON{Type: evPartDone, SequenceNumber: seq, ItemID: c.itemID(), Part: outputText(text)}
			})
			b = c.emit(b, evItemDone, func(seq int64) any {
				return itemEventJSON{Type: evItemDone, SequenceNumber: seq, Item: c.item(t.itemStatus)}
			})
		}
		b = c.emitResponse(b, t.event)
	}
	return b
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

func (c *respConv) itemID() string { return prefixMessage + c.meta.id }

func (c *respConv) item(status string) outputItemJSON {
	return outputItemJSON{ID: c.itemID(), Type: "message", Status: status, Role: "assistant",
		Content: []outputTextJSON{outputText(c.text.String())}}
}

func outputText(text string) outputTextJSON {
	return outputTextJSON{Type: "output_text", Text: text, Annotations: []struct{}{}, Logprobs: []struct{}{}}
}

// response is the Responses object as of the records seen so far.
func (c *respConv) response() *responseJSON {
	r := &responseJSON{
		ID:              prefixResponse + c.meta.id,
		Object:          objectResponse,
		CreatedAt:       c.meta.createdAt,
		Status:          c.status,
		Background:      c.meta.background,
		Instructions:    c.meta.instructions,
		MaxOutputTokens: c.meta.maxOutputTokens,
		Model:           c.meta.model,
		Output:          []outputItemJSON{},
		Store:           c.meta.store,
		Text:            textConfigJSON{Format: formatType{Type: "text"}},
		ToolChoice:      "none",
		Tools:           []struct{}{},
		Truncation:      "disabled",
		Metadata:        c.meta.metadata,
	}
	if r.Metadata == nil {
		r.Metadata = map[string]string{}
	}
	itemStatus := itemStatusProgress
	if c.end != nil {
		t := terminalOf(c.end)
		itemStatus = t.itemStatus
		r.Error, r.IncompleteDetails = t.err, t.incomplete
		in, out := usageOf(c.end)
		r.Usage = &respUsageJSON{InputTokens: in, OutputTokens: out, TotalTokens: in + out}
	}
	if c.started {
		r.Output = append(r.Output, c.item(itemStatus))
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
	return terminal{event: evFailed, status: statusFailed, itemStatus: statusIncomplete,
		err: &respErrorJSON{Code: end.Reason.String(), Message: failureMessage(end)}}
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
	case model.ReasonClientCancel, model.ReasonClientDisconnected:
		return "The response was cancelled."
	}
	return "The server had an error while generating the response."
}
