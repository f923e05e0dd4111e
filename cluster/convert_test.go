package cluster

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/armistice-go/armistice/actors"
	"github.com/armistice-go/armistice/cluster/wire"
	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/model"
	"google.golang.org/protobuf/proto"
)

// roundTrip encodes w as protobuf bytes and decodes it, as the network
// does.
func roundTrip[T proto.Message](t *testing.T, w T) T {
	t.Helper()
	b, err := proto.Marshal(w)
	if err != nil {
		t.Fatal(err)
	}
	out := w.ProtoReflect().New().Interface().(T)
	if err := proto.Unmarshal(b, out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestWireRoundTrips: every field of a snapshot, a log and every record
// kind comes back equal after the wire (times to the nanosecond).
func TestWireRoundTrips(t *testing.T) {
	at := time.Unix(1796280894, 123456789)
	snap := actors.Snapshot{ID: "id", Owner: "t", Model: "m", State: model.StateDone, Status: model.StatusFailed,
		Reason: model.ReasonUpstreamError, Message: "boom", CreatedAt: at, StartedAt: at.Add(time.Millisecond),
		FinishedAt: at.Add(time.Second), Tokens: 7, LastSeq: 11, Subscribers: 2, QueuePosition: 3,
		OnDisconnect: model.OnDisconnectCancel, Usage: &model.Usage{PromptTokens: 4, CompletionTokens: 7},
		Metadata: map[string]string{"k": "v"}, Ref: 99, Replayed: true,
		Upstream: &model.UpstreamError{Status: 429, Type: "rate", Code: "rate_limit_exceeded", Param: "p", RetryAfter: 3 * time.Second, BeforeOutput: true}}
	if got := snapshotFromWire(roundTrip(t, snapshotToWire(&snap))); !reflect.DeepEqual(*got, snap) {
		t.Fatalf("snapshot\n got %+v\nwant %+v", *got, snap)
	}
	recs := []model.Record{
		{Seq: 1, Kind: model.KindState, State: model.StatePending},
		{Seq: 2, Kind: model.KindToken, Text: "héllo", Logprobs: &model.TokenLogprobs{Content: []model.Logprob{
			{Token: "h", Logprob: -0.5, Bytes: []int{104}, Top: []model.TopLogprob{{Token: "x", Logprob: -2, Bytes: []int{120}}}},
			{Token: "éllo", Logprob: -0.25}}}},
		{Seq: 3, Kind: model.KindToken, Text: "", Logprobs: &model.TokenLogprobs{Content: []model.Logprob{}}},
		{Seq: 4, Kind: model.KindReasoning, Text: "thinking"},
		{Seq: 5, Kind: model.KindToolCall, ToolCall: &model.ToolCallDelta{Index: 1, ID: "call_1", Name: "f", Arguments: `{"a":`}},
		{Seq: 6, Kind: model.KindEnd, End: &model.End{State: model.StateDone, Status: model.StatusCompleted, Reason: model.ReasonToolCalls,
			Tokens: 2, Message: "m", Usage: &model.Usage{PromptTokens: 1, CompletionTokens: 2}, Upstream: &model.UpstreamError{Status: 500}}},
	}
	input := []llm.Message{{Role: llm.RoleUser, Content: "q"}, {Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{{ID: "c", Name: "f", Arguments: "{}"}}},
		{Role: llm.RoleTool, Content: "42", ToolCallID: "c", Name: "f"}}
	for _, l := range []actors.LogSnapshot{{Snapshot: snap, Records: recs, Input: input, Ref: 5}, {Snapshot: snap, Records: recs[:1]}} {
		if got := logFromWire(roundTrip(t, logToWire(&l))); !reflect.DeepEqual(*got, l) {
			t.Fatalf("log\n got %+v\nwant %+v", *got, l)
		}
	}
	b := roundTrip(t, &wire.Batch{Records: recordsToWire(recs)})
	if got := recordsFromWire(b.Records); !reflect.DeepEqual(got, recs) {
		t.Fatalf("records\n got %v\nwant %v", got, recs)
	}
}

// TestErrorsKeepTheirMeaning: an owner's error reaches the caller with
// its text, its sentinel (errors.Is) and its snapshot.
func TestErrorsKeepTheirMeaning(t *testing.T) {
	snap := &actors.Snapshot{ID: "x", State: model.StateDone}
	for _, s := range sentinels {
		in := &actors.Error{Err: errors.Join(s.err), Snapshot: snap, Command: "cancel"}
		if s.err == actors.ErrQueueFull {
			in.Err = &actors.QueueFullError{RetryAfter: 3 * time.Second}
		}
		got := errorFromWire(roundTrip(t, errorToWire(in, "status", 3)))
		if !errors.Is(got, s.err) || got.Error() != in.Error() || got.Command != "cancel" || got.Ref != 3 || !reflect.DeepEqual(got.Snapshot, snap) {
			t.Errorf("%s: got %v (%+v)", s.code, got, got)
		}
	}
	var qf *actors.QueueFullError
	if got := errorFromWire(roundTrip(t, errorToWire(&actors.QueueFullError{RetryAfter: 3 * time.Second}, "submit", 0))); !errors.As(got, &qf) || qf.RetryAfter != 3*time.Second {
		t.Errorf("a full queue: %v; want its RetryAfter 3s", got)
	}
	if got := errorFromWire(&wire.Error{Code: "from-a-newer-node", Message: "m"}); !errors.Is(got, actors.ErrInternal) {
		t.Errorf("an unknown code: %v; want internal", got)
	}
}

// FuzzOwnerAddr: any id parses without panic, and ids this package makes
// give their address back.
func FuzzOwnerAddr(f *testing.F) {
	f.Add("127.0.0.1:7000")
	f.Add("[::1]:80")
	f.Fuzz(func(t *testing.T, addr string) {
		_ = ownerAddr(addr)
		_ = ownerAddr(addr + "_x")
		id := newID(encodeAddr(addr))
		got := ownerAddr(id)
		if valid := got != ""; valid && got != addr {
			t.Fatalf("ownerAddr(%q) = %q; want %q or none", id, got, addr)
		}
	})
}

// TestSpecRoundTrips: a keyed submit carried to its home node arrives
// whole, every setting included.
func TestSpecRoundTrips(t *testing.T) {
	f, seed, n, yes := 0.5, int64(7), 3, true
	spec := actors.Spec{Model: "m", Messages: []llm.Message{{Role: llm.RoleUser, Content: "q"}, {Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{{ID: "c", Name: "f", Arguments: "{}"}}}},
		MaxTokens: 9, OnDisconnect: model.OnDisconnectCancel, Metadata: map[string]string{"k": "v"}, Retain: time.Hour,
		TraceID: "tr", IdempotencyKey: "key", KeepInput: true, SharesInput: actors.SharedInput{ID: "prev", From: 0, Count: 1},
		Settings: llm.Settings{Temperature: &f, TopP: &f, TopK: &n, MaxTokensField: llm.FieldMaxCompletionTokens, Stop: []string{"a", "b"},
			Seed: &seed, PresencePenalty: &f, FrequencyPenalty: &f, LogitBias: map[string]float64{"1": -1}, User: "u",
			ServiceTier: "auto", ReasoningEffort: "low", Logprobs: true, TopLogprobs: &n,
			ResponseFormat: &llm.ResponseFormat{Type: llm.FormatJSONSchema, Name: "s", Schema: []byte(`{"type":"object"}`)},
			Tools:          []llm.Tool{{Name: "f", Description: "d", Parameters: []byte(`{"type":"object"}`), Strict: &yes}},
			ToolChoice:     &llm.ToolChoice{Mode: llm.ToolChoiceFunction, Name: "f"}, ParallelToolCalls: &yes}}
	w, err := specToWire("t1", spec, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	got, err := specFromWire(roundTrip(t, w))
	if err != nil || !reflect.DeepEqual(got, spec) {
		t.Fatalf("spec\n got %+v (%v)\nwant %+v", got, err, spec)
	}
}
