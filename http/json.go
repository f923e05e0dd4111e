package http

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/armistice-go/armistice/actors"
	"github.com/armistice-go/armistice/http/internal/jsonenc"
	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/model"
)

// SnapshotJSON is a request as the API shows it. Status and reason appear
// once the request is terminal, queue_position only while it is pending.
type SnapshotJSON struct {
	ID            string       `json:"id"`
	State         model.State  `json:"state"`
	Status        model.Status `json:"status,omitzero"`
	Reason        model.Reason `json:"reason,omitzero"`
	Message       string       `json:"message,omitempty"`
	Model         string       `json:"model,omitempty"`
	CreatedAt     time.Time    `json:"created_at,omitzero"` // zero only on a lost node's tombstone
	StartedAt     time.Time    `json:"started_at,omitzero"`
	FinishedAt    time.Time    `json:"finished_at,omitzero"`
	Tokens        int          `json:"tokens"`
	LastSeq       uint64       `json:"last_seq"`
	Subscribers   int          `json:"subscribers"`
	QueuePosition int          `json:"queue_position,omitzero"`
	OnDisconnect  string       `json:"on_disconnect"`
	Usage         *model.Usage `json:"usage,omitempty"`
	upstreamJSON
	Metadata map[string]string `json:"metadata,omitempty"`
}

// upstreamJSON is what the provider answered when it failed a request:
// its HTTP status (0 when it had none: a refused connection, an error
// inside an open stream), error type, code and parameter, and how long it
// asked clients to wait (whole seconds, rounded up).
type upstreamJSON struct {
	UpstreamStatus     int    `json:"upstream_status,omitzero"`
	UpstreamType       string `json:"upstream_type,omitempty"`
	UpstreamCode       string `json:"upstream_code,omitempty"`
	UpstreamParam      string `json:"upstream_param,omitempty"`
	UpstreamRetryAfter int    `json:"upstream_retry_after,omitzero"`
}

func upstreamOf(u *model.UpstreamError) upstreamJSON {
	if u == nil {
		return upstreamJSON{}
	}
	out := upstreamJSON{UpstreamStatus: u.Status, UpstreamType: u.Type, UpstreamCode: u.Code, UpstreamParam: u.Param}
	if u.RetryAfter > 0 {
		out.UpstreamRetryAfter = retryAfterSeconds(u.RetryAfter)
	}
	return out
}

func (s *Server) snapshotJSON(snap actors.Snapshot) *SnapshotJSON {
	out := &SnapshotJSON{
		ID:            snap.ID,
		State:         snap.State,
		Message:       snap.Message,
		Model:         snap.Model,
		CreatedAt:     snap.CreatedAt.UTC(),
		StartedAt:     utcOrZero(snap.StartedAt),
		FinishedAt:    utcOrZero(snap.FinishedAt),
		Tokens:        snap.Tokens,
		LastSeq:       snap.LastSeq,
		Subscribers:   snap.Subscribers,
		OnDisconnect:  snap.OnDisconnect.String(),
		Usage:         snap.Usage,
		upstreamJSON:  upstreamOf(snap.Upstream),
		Metadata:      snap.Metadata,
		QueuePosition: snap.QueuePosition,
	}
	if out.Model == "" {
		out.Model = s.cfg.DefaultModel
	}
	if snap.State.Terminal() {
		out.Status, out.Reason = snap.Status, snap.Reason
	}
	if snap.State != model.StatePending {
		out.QueuePosition = 0
	}
	return out
}

func utcOrZero(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC()
}

// submitBody is the body of POST /v1/requests. The settings carry
// OpenAI's Chat Completions names; tools, response_format and messages
// take llm's flat shapes (docs/api.md).
type submitBody struct {
	Prompt            *string             `json:"prompt"`
	Messages          []llm.Message       `json:"messages"`
	Model             string              `json:"model"`
	MaxTokens         *int                `json:"max_tokens"`
	Temperature       *float64            `json:"temperature"`
	TopP              *float64            `json:"top_p"`
	TopK              *int                `json:"top_k"`
	Stop              json.RawMessage     `json:"stop"`
	Seed              *int64              `json:"seed"`
	PresencePenalty   *float64            `json:"presence_penalty"`
	FrequencyPenalty  *float64            `json:"frequency_penalty"`
	LogitBias         map[string]float64  `json:"logit_bias"`
	User              string              `json:"user"`
	ServiceTier       string              `json:"service_tier"`
	ReasoningEffort   string              `json:"reasoning_effort"`
	Logprobs          bool                `json:"logprobs"`
	TopLogprobs       *int                `json:"top_logprobs"`
	ResponseFormat    *llm.ResponseFormat `json:"response_format"`
	Tools             []llm.Tool          `json:"tools"`
	ToolChoice        json.RawMessage     `json:"tool_choice"`
	ParallelToolCalls *bool               `json:"parallel_tool_calls"`
	OnDisconnect      *string             `json:"on_disconnect"`
	Metadata          map[string]string   `json:"metadata"`
}

// endJSON is the data of an end event.
type endJSON struct {
	Seq     uint64       `json:"seq"`
	State   model.State  `json:"state"`
	Status  model.Status `json:"status"`
	Reason  model.Reason `json:"reason"`
	Message string       `json:"message,omitempty"`
	Tokens  int          `json:"tokens"`
	Usage   *model.Usage `json:"usage,omitempty"`
	upstreamJSON
}

// toolCallJSON is the data of a tool_call event.
type toolCallJSON struct {
	Seq uint64 `json:"seq"`
	model.ToolCallDelta
}

// appendEvent appends one record as an SSE event. Token and state events
// are written by hand: they are the hot path, and their JSON is a seq and
// one string.
func appendEvent(b []byte, r model.Record) []byte {
	b = append(b, "id: "...)
	b = strconv.AppendUint(b, r.Seq, 10)
	switch r.Kind {
	case model.KindToken:
		b = append(b, "\nevent: token\ndata: {\"seq\":"...)
		b = strconv.AppendUint(b, r.Seq, 10)
		b = append(b, `,"text":`...)
		b = appendJSONString(b, r.Text)
		if r.Logprobs != nil {
			b = append(b, `,"logprobs":`...)
			b = appendJSON(b, r.Logprobs.Content)
		}
		b = append(b, "}\n\n"...)
	case model.KindReasoning:
		b = append(b, "\nevent: reasoning\ndata: {\"seq\":"...)
		b = strconv.AppendUint(b, r.Seq, 10)
		b = append(b, `,"text":`...)
		b = appendJSONString(b, r.Text)
		b = append(b, "}\n\n"...)
	case model.KindToolCall:
		b = append(b, "\nevent: tool_call\ndata: "...)
		tc := toolCallJSON{Seq: r.Seq}
		if r.ToolCall != nil {
			tc.ToolCallDelta = *r.ToolCall
		}
		b = appendJSON(b, tc)
		b = append(b, "\n\n"...)
	case model.KindState:
		b = append(b, "\nevent: state\ndata: {\"seq\":"...)
		b = strconv.AppendUint(b, r.Seq, 10)
		b = append(b, `,"state":`...)
		b = appendJSONString(b, r.State.String())
		b = append(b, "}\n\n"...)
	case model.KindEnd:
		b = append(b, "\nevent: end\ndata: "...)
		end := endJSON{Seq: r.Seq}
		if r.End != nil {
			end.State, end.Status, end.Reason, end.Message, end.Tokens, end.Usage =
				r.End.State, r.End.Status, r.End.Reason, r.End.Message, r.End.Tokens, r.End.Usage
			end.upstreamJSON = upstreamOf(r.End.Upstream)
		}
		b = appendJSON(b, end)
		b = append(b, "\n\n"...)
	}
	return b
}

// appendJSONString appends s as a JSON string (see jsonenc.AppendString).
func appendJSONString(b []byte, s string) []byte { return jsonenc.AppendString(b, s, true) }
