package cluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/armistice-go/armistice/actors"
	"github.com/armistice-go/armistice/cluster/wire"
	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/model"
)

// The conversions between the actors protocol and its wire form. Each
// pair is tested to round-trip (convert_test.go).

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

func usageToWire(u *model.Usage) *wire.Usage {
	if u == nil {
		return nil
	}
	return &wire.Usage{PromptTokens: int64(u.PromptTokens), CompletionTokens: int64(u.CompletionTokens)}
}

func usageFromWire(u *wire.Usage) *model.Usage {
	if u == nil {
		return nil
	}
	return &model.Usage{PromptTokens: int(u.PromptTokens), CompletionTokens: int(u.CompletionTokens)}
}

func upstreamToWire(u *model.UpstreamError) *wire.UpstreamError {
	if u == nil {
		return nil
	}
	return &wire.UpstreamError{Status: int32(u.Status), Type: u.Type, Code: u.Code, Param: u.Param,
		RetryAfterNs: int64(u.RetryAfter), BeforeOutput: u.BeforeOutput}
}

func upstreamFromWire(u *wire.UpstreamError) *model.UpstreamError {
	if u == nil {
		return nil
	}
	return &model.UpstreamError{Status: int(u.Status), Type: u.Type, Code: u.Code, Param: u.Param,
		RetryAfter: time.Duration(u.RetryAfterNs), BeforeOutput: u.BeforeOutput}
}

func snapshotToWire(s *actors.Snapshot) *wire.Snapshot {
	if s == nil {
		return nil
	}
	return &wire.Snapshot{
		Id: s.ID, Owner: s.Owner, Model: s.Model,
		State: uint32(s.State), Status: uint32(s.Status), Reason: uint32(s.Reason), Message: s.Message,
		CreatedAtNs: unixNano(s.CreatedAt), StartedAtNs: unixNano(s.StartedAt), FinishedAtNs: unixNano(s.FinishedAt),
		Tokens: int64(s.Tokens), LastSeq: s.LastSeq, Subscribers: int64(s.Subscribers),
		QueuePosition: int64(s.QueuePosition), OnDisconnect: uint32(s.OnDisconnect),
		Usage: usageToWire(s.Usage), Metadata: s.Metadata, Upstream: upstreamToWire(s.Upstream),
		Ref: s.Ref, Replayed: s.Replayed,
	}
}

func snapshotFromWire(s *wire.Snapshot) *actors.Snapshot {
	if s == nil {
		return nil
	}
	return &actors.Snapshot{
		ID: s.Id, Owner: s.Owner, Model: s.Model,
		State: model.State(s.State), Status: model.Status(s.Status), Reason: model.Reason(s.Reason), Message: s.Message,
		CreatedAt: fromUnixNano(s.CreatedAtNs), StartedAt: fromUnixNano(s.StartedAtNs), FinishedAt: fromUnixNano(s.FinishedAtNs),
		Tokens: int(s.Tokens), LastSeq: s.LastSeq, Subscribers: int(s.Subscribers),
		QueuePosition: int(s.QueuePosition), OnDisconnect: model.DisconnectPolicy(s.OnDisconnect),
		Usage: usageFromWire(s.Usage), Metadata: s.Metadata, Upstream: upstreamFromWire(s.Upstream),
		Ref: s.Ref, Replayed: s.Replayed,
	}
}

func intsToWire(b []int) []int32 {
	if b == nil {
		return nil
	}
	out := make([]int32, len(b))
	for i, v := range b {
		out[i] = int32(v)
	}
	return out
}

func intsFromWire(b []int32) []int {
	if b == nil {
		return nil
	}
	out := make([]int, len(b))
	for i, v := range b {
		out[i] = int(v)
	}
	return out
}

func recordToWire(r *model.Record) *wire.Record {
	w := &wire.Record{Seq: r.Seq, Kind: uint32(r.Kind), State: uint32(r.State), Text: r.Text}
	if tc := r.ToolCall; tc != nil {
		w.ToolCall = &wire.ToolCallDelta{Index: int64(tc.Index), Id: tc.ID, Name: tc.Name, Arguments: tc.Arguments}
	}
	if lp := r.Logprobs; lp != nil {
		w.LogprobsSet = true
		w.Logprobs = make([]*wire.Logprob, len(lp.Content))
		for i, c := range lp.Content {
			top := make([]*wire.TopLogprob, len(c.Top))
			for j, t := range c.Top {
				top[j] = &wire.TopLogprob{Token: t.Token, Logprob: t.Logprob, Bytes: intsToWire(t.Bytes)}
			}
			w.Logprobs[i] = &wire.Logprob{Token: c.Token, Logprob: c.Logprob, Bytes: intsToWire(c.Bytes), Top: top}
		}
	}
	if e := r.End; e != nil {
		w.End = &wire.End{State: uint32(e.State), Status: uint32(e.Status), Reason: uint32(e.Reason),
			Tokens: int64(e.Tokens), Message: e.Message, Usage: usageToWire(e.Usage), Upstream: upstreamToWire(e.Upstream)}
	}
	return w
}

func recordFromWire(w *wire.Record) model.Record {
	r := model.Record{Seq: w.Seq, Kind: model.Kind(w.Kind), State: model.State(w.State), Text: w.Text}
	if tc := w.ToolCall; tc != nil {
		r.ToolCall = &model.ToolCallDelta{Index: int(tc.Index), ID: tc.Id, Name: tc.Name, Arguments: tc.Arguments}
	}
	if w.LogprobsSet {
		lp := &model.TokenLogprobs{Content: make([]model.Logprob, len(w.Logprobs))}
		for i, c := range w.Logprobs {
			var top []model.TopLogprob
			if len(c.Top) > 0 {
				top = make([]model.TopLogprob, len(c.Top))
				for j, t := range c.Top {
					top[j] = model.TopLogprob{Token: t.Token, Logprob: t.Logprob, Bytes: intsFromWire(t.Bytes)}
				}
			}
			lp.Content[i] = model.Logprob{Token: c.Token, Logprob: c.Logprob, Bytes: intsFromWire(c.Bytes), Top: top}
		}
		r.Logprobs = lp
	}
	if e := w.End; e != nil {
		r.End = &model.End{State: model.State(e.State), Status: model.Status(e.Status), Reason: model.Reason(e.Reason),
			Tokens: int(e.Tokens), Message: e.Message, Usage: usageFromWire(e.Usage), Upstream: upstreamFromWire(e.Upstream)}
	}
	return r
}

func recordsToWire(recs []model.Record) []*wire.Record {
	out := make([]*wire.Record, len(recs))
	for i := range recs {
		out[i] = recordToWire(&recs[i])
	}
	return out
}

func recordsFromWire(ws []*wire.Record) []model.Record {
	out := make([]model.Record, len(ws))
	for i, w := range ws {
		out[i] = recordFromWire(w)
	}
	return out
}

func messagesToWire(ms []llm.Message) []*wire.Message {
	out := make([]*wire.Message, len(ms))
	for i, m := range ms {
		w := &wire.Message{Role: string(m.Role), Content: m.Content, ToolCallId: m.ToolCallID, Name: m.Name}
		for _, tc := range m.ToolCalls {
			w.ToolCalls = append(w.ToolCalls, &wire.ToolCall{Id: tc.ID, Name: tc.Name, Arguments: tc.Arguments})
		}
		out[i] = w
	}
	return out
}

func messagesFromWire(ws []*wire.Message) []llm.Message {
	out := make([]llm.Message, len(ws))
	for i, w := range ws {
		m := llm.Message{Role: llm.Role(w.Role), Content: w.Content, ToolCallID: w.ToolCallId, Name: w.Name}
		for _, tc := range w.ToolCalls {
			m.ToolCalls = append(m.ToolCalls, llm.ToolCall{ID: tc.Id, Name: tc.Name, Arguments: tc.Arguments})
		}
		out[i] = m
	}
	return out
}

func logToWire(l *actors.LogSnapshot) *wire.LogSnapshot {
	w := &wire.LogSnapshot{Snapshot: snapshotToWire(&l.Snapshot), Records: recordsToWire(l.Records), Ref: l.Ref}
	if l.Input != nil {
		w.InputSet, w.Input = true, messagesToWire(l.Input)
	}
	return w
}

func logFromWire(w *wire.LogSnapshot) *actors.LogSnapshot {
	l := &actors.LogSnapshot{Records: recordsFromWire(w.Records), Ref: w.Ref}
	if s := snapshotFromWire(w.Snapshot); s != nil {
		l.Snapshot = *s
	}
	if w.InputSet {
		l.Input = messagesFromWire(w.Input)
	}
	return l
}

// sentinels are the actors errors a command may fail with, by wire code.
var sentinels = []struct {
	code string
	err  error
}{
	{"not_found", actors.ErrNotFound},
	{"expired", actors.ErrExpired},
	{"already_finished", actors.ErrAlreadyFinished},
	{"not_finished", actors.ErrNotFinished},
	{"invalid_cursor", actors.ErrInvalidCursor},
	{"too_many_subscribers", actors.ErrTooManySubscribers},
	{"shutting_down", actors.ErrShuttingDown},
	{"invalid_request", actors.ErrInvalidRequest},
	{"no_answer", actors.ErrNoAnswer},
	{"closed", actors.ErrClosed},
	{"internal", actors.ErrInternal},
	{"queue_full", actors.ErrQueueFull},
	{"idempotency_conflict", actors.ErrIdempotencyConflict},
}

// remoteError is an owner's error as the caller sees it: the owner's
// text, and errors.Is the sentinel it wrapped.
type remoteError struct {
	msg      string
	sentinel error
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.sentinel }

func errorToWire(err error, command string, ref uint64) *wire.Error {
	w := &wire.Error{Code: "internal", Message: err.Error(), Command: command, Ref: ref}
	for _, s := range sentinels {
		if errors.Is(err, s.err) {
			w.Code = s.code
			break
		}
	}
	var ae *actors.Error
	if errors.As(err, &ae) {
		w.Snapshot = snapshotToWire(ae.Snapshot)
		if ae.Command != "" {
			w.Command = ae.Command
		}
	}
	var qf *actors.QueueFullError
	if errors.As(err, &qf) {
		w.RetryAfterNs = int64(qf.RetryAfter)
	}
	return w
}

func errorFromWire(w *wire.Error) *actors.Error {
	sentinel := actors.ErrInternal
	for _, s := range sentinels {
		if s.code == w.Code {
			sentinel = s.err
			break
		}
	}
	var cause error = &remoteError{msg: w.Message, sentinel: sentinel}
	if sentinel == actors.ErrQueueFull {
		// The HTTP layer reads the estimate from the typed error.
		cause = &actors.QueueFullError{RetryAfter: time.Duration(w.RetryAfterNs)}
	}
	return &actors.Error{Err: cause, Snapshot: snapshotFromWire(w.Snapshot), Command: w.Command, Ref: w.Ref}
}

func specToWire(owner string, s actors.Spec, timeout time.Duration) (*wire.Submit, error) {
	settings, err := json.Marshal(s.Settings)
	if err != nil {
		return nil, fmt.Errorf("%w: settings: %w", actors.ErrInvalidRequest, err)
	}
	return &wire.Submit{Owner: owner, Model: s.Model, Messages: messagesToWire(s.Messages), MaxTokens: int64(s.MaxTokens),
		SettingsJson: settings, OnDisconnect: uint32(s.OnDisconnect), Metadata: s.Metadata, RetainNs: int64(s.Retain),
		TraceId: s.TraceID, IdempotencyKey: s.IdempotencyKey, KeepInput: s.KeepInput,
		SharesInputId: s.SharesInput.ID, SharesInputFrom: int64(s.SharesInput.From), SharesInputCount: int64(s.SharesInput.Count),
		TimeoutNs: int64(timeout)}, nil
}

func specFromWire(w *wire.Submit) (actors.Spec, error) {
	s := actors.Spec{Model: w.Model, Messages: messagesFromWire(w.Messages), MaxTokens: int(w.MaxTokens),
		OnDisconnect: model.DisconnectPolicy(w.OnDisconnect), Metadata: w.Metadata, Retain: time.Duration(w.RetainNs),
		TraceID: w.TraceId, IdempotencyKey: w.IdempotencyKey, KeepInput: w.KeepInput,
		SharesInput: actors.SharedInput{ID: w.SharesInputId, From: int(w.SharesInputFrom), Count: int(w.SharesInputCount)}}
	if err := json.Unmarshal(w.SettingsJson, &s.Settings); err != nil {
		return actors.Spec{}, fmt.Errorf("%w: settings: %w", actors.ErrInvalidRequest, err)
	}
	return s, nil
}
