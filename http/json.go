package http

import (
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/armistice-go/armistice/actors"
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

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string, escaped as encoding/json
// does (HTML-safe, U+2028 and U+2029 escaped, invalid UTF-8 replaced by
// U+FFFD), so the data line never holds a raw newline.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
