package openaiapi

import (
	"encoding/json"
	"strconv"

	"github.com/armistice-go/armistice/actors"
	"github.com/armistice-go/armistice/model"
)

// What an OpenAI request needs to be shown again later (its kind, the
// background and store flags, the instructions and output cap) is kept
// in the request's own metadata, under keys with this prefix, so that the
// request actor stays the only owner of everything about a request.
// Clients may not use the prefix in their metadata.
const metaPrefix = "openai."

const (
	metaObject          = metaPrefix + "object" // "response" or "chat.completion"
	metaBackground      = metaPrefix + "background"
	metaStore           = metaPrefix + "store"
	metaInstructions    = metaPrefix + "instructions"
	metaMaxOutputTokens = metaPrefix + "max_output_tokens"
	metaSettings        = metaPrefix + "settings"   // the settingsEcho's JSON
	metaInputFrom       = metaPrefix + "input_from" // where the request's own input starts in its messages
	metaPrevious        = metaPrefix + "previous_response_id"

	objectResponse = "response"
	objectChat     = "chat.completion"
)

// The id prefixes OpenAI's ids carry; the engine's id follows.
const (
	prefixResponse = "resp_"
	prefixChat     = "chatcmpl-"
	prefixMessage  = "msg_"
)

// respMeta is what a Responses object shows besides its log.
type respMeta struct {
	id              string // the engine's id
	model           string
	createdAt       int64
	background      bool
	store           bool
	inputFrom       int // where its own input starts among its messages
	instructions    *string
	maxOutputTokens *int
	previous        *string // previous_response_id as the client sent it
	echo            settingsEcho
	metadata        map[string]string // the client's own
}

// settingsEcho is what a Response shows of the settings it was created
// with, as the client sent them.
type settingsEcho struct {
	Temperature       *float64          `json:"temperature,omitempty"`
	TopP              *float64          `json:"top_p,omitempty"`
	ToolChoice        json.RawMessage   `json:"tool_choice,omitempty"`
	Tools             []json.RawMessage `json:"tools,omitempty"`
	ParallelToolCalls *bool             `json:"parallel_tool_calls,omitempty"`
	Format            json.RawMessage   `json:"format,omitempty"`
}

// show sets r's settings fields; unset ones keep r's defaults.
func (e settingsEcho) show(r *responseJSON) {
	r.Temperature, r.TopP = e.Temperature, e.TopP
	if e.ToolChoice != nil {
		r.ToolChoice = e.ToolChoice
	} else if len(e.Tools) > 0 {
		r.ToolChoice = "auto"
	}
	if e.Tools != nil {
		r.Tools = e.Tools
	}
	if e.ParallelToolCalls != nil {
		r.ParallelToolCalls = *e.ParallelToolCalls
	} else if len(e.Tools) > 0 {
		r.ParallelToolCalls = true
	}
	if e.Format != nil {
		r.Text.Format = e.Format
	}
}

// responseMetadata is the request metadata of a new response.
func responseMetadata(req responsesRequest) map[string]string {
	md := make(map[string]string, len(req.metadata)+5)
	for k, v := range req.metadata {
		md[k] = v
	}
	md[metaObject] = objectResponse
	md[metaBackground] = strconv.FormatBool(req.background)
	md[metaStore] = strconv.FormatBool(req.store)
	if req.instructions != nil {
		md[metaInstructions] = *req.instructions
	}
	if req.maxTokens != nil {
		md[metaMaxOutputTokens] = strconv.Itoa(*req.maxTokens)
	}
	if data, err := json.Marshal(req.echo); err == nil && string(data) != "{}" {
		md[metaSettings] = string(data)
	}
	if req.inputFrom > 0 {
		md[metaInputFrom] = strconv.Itoa(req.inputFrom)
	}
	if req.previousID != "" {
		md[metaPrevious] = req.previousID
	}
	return md
}

// isTombstone reports a lost cluster node's answer for one of its ids
// (package cluster): failed/node_lost, and never created as far as this
// node knows.
func isTombstone(snap actors.Snapshot) bool {
	return snap.Reason == model.ReasonNodeLost && snap.CreatedAt.IsZero()
}

// metaOf reads a response's metadata back from its snapshot. ok is false
// when the request is not a Responses request (a chat completion, or a
// request made through the native API).
func (a *api) metaOf(snap actors.Snapshot) (respMeta, bool) {
	if isTombstone(snap) {
		// A request of a cluster node that was lost: nobody knows what
		// it was any more. Read as a Response it is a failed one
		// (node_lost), stored and streamable, rather than not found.
		return respMeta{id: snap.ID, model: a.displayModel(snap.Model), createdAt: snap.FinishedAt.Unix(),
			background: true, store: true, metadata: map[string]string{}}, true
	}
	if snap.Metadata[metaObject] != objectResponse {
		return respMeta{}, false
	}
	m := respMeta{
		id:         snap.ID,
		model:      a.displayModel(snap.Model),
		createdAt:  snap.CreatedAt.Unix(),
		background: snap.Metadata[metaBackground] == "true",
		store:      snap.Metadata[metaStore] != "false",
		metadata:   map[string]string{},
	}
	if s, ok := snap.Metadata[metaInstructions]; ok {
		m.instructions = &s
	}
	if n, err := strconv.Atoi(snap.Metadata[metaMaxOutputTokens]); err == nil {
		m.maxOutputTokens = &n
	}
	m.inputFrom, _ = strconv.Atoi(snap.Metadata[metaInputFrom])
	if s, ok := snap.Metadata[metaPrevious]; ok {
		m.previous = &s
	}
	if data, ok := snap.Metadata[metaSettings]; ok {
		_ = json.Unmarshal([]byte(data), &m.echo) // written by responseMetadata
	}
	for k, v := range snap.Metadata {
		if len(k) < len(metaPrefix) || k[:len(metaPrefix)] != metaPrefix {
			m.metadata[k] = v
		}
	}
	return m, true
}
