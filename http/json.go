package http

import (
	"strconv"
	"time"

	"github.com/armistice-go/armistice/actors"
	"github.com/armistice-go/armistice/http/internal/jsonenc"
	"github.com/armistice-go/armistice/model"
)

// SnapshotJSON is a request as the API shows it. Status and reason appear
// once the request is terminal, queue_position only while it is pending.
type SnapshotJSON struct {
	ID            string            `json:"id"`
	State         model.State       `json:"state"`
	Status        model.Status      `json:"status,omitzero"`
	Reason        model.Reason      `json:"reason,omitzero"`
	Message       string            `json:"message,omitempty"`
	Model         string            `json:"model,omitempty"`
	CreatedAt     time.Time         `json:"created_at"`
	StartedAt     time.Time         `json:"started_at,omitzero"`
	FinishedAt    time.Time         `json:"finished_at,omitzero"`
	Tokens        int               `json:"tokens"`
	LastSeq       uint64            `json:"last_seq"`
	Subscribers   int               `json:"subscribers"`
	QueuePosition int               `json:"queue_position,omitzero"`
	OnDisconnect  string            `json:"on_disconnect"`
	Usage         *model.Usage      `json:"usage,omitempty"`
	Metadata      map[string]string `json:"metadata,omitempty"`
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

// submitBody is the body of POST /v1/requests.
type submitBody struct {
	Prompt       *string           `json:"prompt"`
	Model        string            `json:"model"`
	MaxTokens    *int              `json:"max_tokens"`
	OnDisconnect *string           `json:"on_disconnect"`
	Metadata     map[string]string `json:"metadata"`
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
		b = append(b, "}\n\n"...)
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
		}
		b = appendJSON(b, end)
		b = append(b, "\n\n"...)
	}
	return b
}

// appendJSONString appends s as a JSON string (see jsonenc.AppendString).
func appendJSONString(b []byte, s string) []byte { return jsonenc.AppendString(b, s, true) }
