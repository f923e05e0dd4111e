package model

import (
	"encoding"
	"encoding/json"
	"errors"
	"testing"
	"time"
)

// textEnum is what every named enum implements.
type textEnum interface {
	comparable
	String() string
	MarshalText() ([]byte, error)
}

// roundTrip checks String, MarshalText and UnmarshalText for each name.
func roundTrip[E textEnum, P interface {
	*E
	encoding.TextUnmarshaler
}](t *testing.T, want map[E]string) {
	t.Helper()
	for v, name := range want {
		if got := v.String(); got != name {
			t.Errorf("%T(%v).String() = %q; want %q", v, v, got, name)
		}
		b, err := v.MarshalText()
		if err != nil || string(b) != name {
			t.Errorf("%T(%v).MarshalText() = %q, %v; want %q, nil", v, v, b, err, name)
		}
		var back E
		if err := P(&back).UnmarshalText(b); err != nil || back != v {
			t.Errorf("UnmarshalText(%q) = %v, %v; want %v, nil", b, back, err, v)
		}
	}
}

// unknownNames checks that each input is rejected with ErrUnknownName.
func unknownNames[E any, P interface {
	*E
	encoding.TextUnmarshaler
}](t *testing.T, inputs ...string) {
	t.Helper()
	for _, in := range inputs {
		var v E
		err := P(&v).UnmarshalText([]byte(in))
		if !errors.Is(err, ErrUnknownName) {
			t.Errorf("%T.UnmarshalText(%q) error = %v; want ErrUnknownName", v, in, err)
		}
	}
}

func TestStateText(t *testing.T) {
	roundTrip(t, map[State]string{
		StatePending: "pending", StateStreaming: "streaming",
		StateCancelled: "cancelled", StateDone: "done",
	})
	unknownNames[State](t, "", "Pending", "running", "state(1)", "cancelled ")
	for s, want := range map[State]string{0: "state(0)", 5: "state(5)", 255: "state(255)"} {
		if got := s.String(); got != want {
			t.Errorf("State(%d).String() = %q; want %q", uint8(s), got, want)
		}
	}
}

func TestStateTerminal(t *testing.T) {
	for s, want := range map[State]bool{
		0: false, StatePending: false, StateStreaming: false,
		StateCancelled: true, StateDone: true, 5: false,
	} {
		if got := s.Terminal(); got != want {
			t.Errorf("%s.Terminal() = %t; want %t", s, got, want)
		}
	}
}

func TestStatusText(t *testing.T) {
	// StatusNone is "" and round-trips (an unfinished request's status).
	roundTrip(t, map[Status]string{
		StatusNone: "", StatusCompleted: "completed", StatusCancelled: "cancelled", StatusFailed: "failed",
	})
	unknownNames[Status](t, "none", "Completed", "done", "status(9)")
	for s, want := range map[Status]string{4: "status(4)", 255: "status(255)"} {
		if got := s.String(); got != want {
			t.Errorf("Status(%d).String() = %q; want %q", uint8(s), got, want)
		}
	}
}

func TestReasonText(t *testing.T) {
	// ReasonNone is "" and round-trips.
	roundTrip(t, map[Reason]string{
		ReasonNone: "", ReasonStop: "stop", ReasonLength: "length", ReasonContentFilter: "content_filter",
		ReasonClientCancel: "client_cancel", ReasonClientDisconnected: "client_disconnected",
		ReasonUpstreamError: "upstream_error", ReasonFirstTokenTimeout: "first_token_timeout",
		ReasonIdleTimeout: "idle_timeout", ReasonDeadlineExceeded: "deadline_exceeded",
		ReasonQueueTimeout: "queue_timeout", ReasonOutputTooLarge: "output_too_large",
		ReasonShutdown: "shutdown", ReasonInternalError: "internal_error",
	})
	unknownNames[Reason](t, "none", "STOP", "content-filter", "timeout", "reason(16)")
	for r, want := range map[Reason]string{ReasonToolCalls: "tool_calls", ReasonNodeLost: "node_lost", 16: "reason(16)", 255: "reason(255)"} {
		if got := r.String(); got != want {
			t.Errorf("Reason(%d).String() = %q; want %q", uint8(r), got, want)
		}
	}
}

// TestNoneUnmarshalOverwrites: "" (and nil) reset a set Status or Reason
// to None, like any other name.
func TestNoneUnmarshalOverwrites(t *testing.T) {
	for _, b := range [][]byte{nil, {}} {
		s := StatusFailed
		if err := s.UnmarshalText(b); err != nil || s != StatusNone {
			t.Errorf("Status.UnmarshalText(%q) = %v, %v; want none, nil", b, s, err)
		}
		r := ReasonIdleTimeout
		if err := r.UnmarshalText(b); err != nil || r != ReasonNone {
			t.Errorf("Reason.UnmarshalText(%q) = %v, %v; want none, nil", b, r, err)
		}
	}
}

// TestNoneJSON: an unfinished request's status and reason survive JSON.
func TestNoneJSON(t *testing.T) {
	type doc struct {
		Status Status `json:"status"`
		Reason Reason `json:"reason"`
	}
	b, err := json.Marshal(doc{})
	if err != nil || string(b) != `{"status":"","reason":""}` {
		t.Fatalf("json.Marshal = %s, %v", b, err)
	}
	back := doc{Status: StatusFailed, Reason: ReasonShutdown}
	if err := json.Unmarshal(b, &back); err != nil || back != (doc{}) {
		t.Errorf("json.Unmarshal(%s) = %+v, %v; want none/none", b, back, err)
	}
}

func TestDisconnectPolicyText(t *testing.T) {
	roundTrip(t, map[DisconnectPolicy]string{
		OnDisconnectContinue: "continue", OnDisconnectCancel: "cancel",
	})
	unknownNames[DisconnectPolicy](t, "Cancel", "stop", "policy(2)")
	var p DisconnectPolicy = OnDisconnectCancel
	if err := p.UnmarshalText(nil); err != nil || p != OnDisconnectContinue {
		t.Errorf(`UnmarshalText("") = %v, %v; want continue, nil`, p, err)
	}
	if got := DisconnectPolicy(2).String(); got != "policy(2)" {
		t.Errorf("DisconnectPolicy(2).String() = %q", got)
	}
}

func TestKindAndTimerNames(t *testing.T) {
	for k, want := range map[Kind]string{
		0: "kind(0)", KindState: "state", KindToken: "token", KindEnd: "end", KindReasoning: "reasoning", KindToolCall: "tool_call", 6: "kind(6)",
	} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q; want %q", uint8(k), got, want)
		}
		if b, err := k.MarshalText(); err != nil || string(b) != want {
			t.Errorf("Kind(%d).MarshalText() = %q, %v; want %q", uint8(k), b, err, want)
		}
	}
	timers := map[Timer]string{
		TimerQueue: "queue", TimerFirstToken: "first_token", TimerIdle: "idle", TimerDeadline: "deadline",
		TimerDetachGrace: "detach_grace", TimerLinger: "linger", TimerPickup: "pickup", 7: "timer(7)",
	}
	if len(timers) != NumTimers+1 {
		t.Fatalf("test covers %d timers; NumTimers = %d", len(timers)-1, NumTimers)
	}
	for tm, want := range timers {
		if got := tm.String(); got != want {
			t.Errorf("Timer(%d).String() = %q; want %q", uint8(tm), got, want)
		}
	}
}

func TestRecordString(t *testing.T) {
	for _, tc := range []struct {
		r    Record
		want string
	}{
		{Record{Seq: 1, Kind: KindState, State: StatePending}, "#1 state pending"},
		{Record{Seq: 3, Kind: KindToken, Text: "a\nb"}, `#3 token "a\nb"`},
		{Record{Seq: 4, Kind: KindEnd, End: &End{State: StateDone, Status: StatusFailed, Reason: ReasonIdleTimeout, Tokens: 2}},
			"#4 end done/failed/idle_timeout tokens=2"},
		{Record{Seq: 5, Kind: KindEnd}, "#5 end <nil>"},
		{Record{Seq: 6}, "#6 kind(0)"},
	} {
		if got := tc.r.String(); got != tc.want {
			t.Errorf("String() = %q; want %q", got, tc.want)
		}
	}
}

func TestLimitsValidate(t *testing.T) {
	valid := Limits{PickupTimeout: time.Nanosecond}
	with := func(f func(*Limits)) Limits {
		l := valid
		f(&l)
		return l
	}
	for _, tc := range []struct {
		name    string
		given   Limits
		wantErr string // "" for valid
	}{
		{"minimal", valid, ""},
		{"all set", testLimits, ""},
		{"cancel policy", with(func(l *Limits) { l.OnDisconnect = OnDisconnectCancel }), ""},
		{"zero value", Limits{}, "model: invalid limits: PickupTimeout must be positive, got 0s"},
		{"negative pickup", with(func(l *Limits) { l.PickupTimeout = -time.Second }),
			"model: invalid limits: PickupTimeout must be positive, got -1s"},
		{"negative queue", with(func(l *Limits) { l.QueueTimeout = -1 }),
			"model: invalid limits: QueueTimeout must not be negative, got -1ns"},
		{"negative first token", with(func(l *Limits) { l.FirstTokenTimeout = -time.Second }),
			"model: invalid limits: FirstTokenTimeout must not be negative, got -1s"},
		{"negative idle", with(func(l *Limits) { l.IdleTimeout = -time.Second }),
			"model: invalid limits: IdleTimeout must not be negative, got -1s"},
		{"negative max duration", with(func(l *Limits) { l.MaxDuration = -time.Second }),
			"model: invalid limits: MaxDuration must not be negative, got -1s"},
		{"negative detach grace", with(func(l *Limits) { l.DetachGrace = -time.Second }),
			"model: invalid limits: DetachGrace must not be negative, got -1s"},
		{"negative linger", with(func(l *Limits) { l.Linger = -time.Second }),
			"model: invalid limits: Linger must not be negative, got -1s"},
		{"negative max output", with(func(l *Limits) { l.MaxOutputBytes = -1 }),
			"model: invalid limits: MaxOutputBytes must not be negative, got -1"},
		{"unknown policy", with(func(l *Limits) { l.OnDisconnect = 2 }),
			"model: invalid limits: unknown OnDisconnect policy(2)"},
		{"the first invalid is reported", Limits{Linger: -time.Second, QueueTimeout: -time.Second, MaxOutputBytes: -1},
			"model: invalid limits: QueueTimeout must not be negative, got -1s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.given.Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate() = %v; want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidLimits) {
				t.Fatalf("Validate() = %v; want ErrInvalidLimits", err)
			}
			if err.Error() != tc.wantErr {
				t.Errorf("Validate() = %q; want %q", err, tc.wantErr)
			}
		})
	}
}
