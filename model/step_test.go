package model

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

type stepCase struct {
	name        string
	given       setup
	when        Event
	wantState   State
	wantStatus  Status
	wantReason  Reason
	wantEffects string
	// same demands that Step return the given lifecycle unchanged.
	same bool
	// consumes lists timers whose firing counted: each must have been
	// armed before, and Step must return the given lifecycle with only
	// their Armed flags cleared (same generation). Exclusive with same.
	consumes []Timer
	// check runs extra assertions on the new lifecycle.
	check func(*testing.T, Lifecycle)
}

func runStepCases(t *testing.T, cases []stepCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := tc.given.build()
			before := cloneLifecycle(l)
			got, effects := Step(l, tc.when)
			if !reflect.DeepEqual(l, before) {
				t.Errorf("Step mutated its input:\n got %+v\nwant %+v", l, before)
			}
			if got.State != tc.wantState || got.Status != tc.wantStatus || got.Reason != tc.wantReason {
				t.Errorf("state/status/reason = %s/%s/%s; want %s/%s/%s",
					got.State, got.Status, got.Reason, tc.wantState, tc.wantStatus, tc.wantReason)
			}
			if r := renderEffects(effects); r != tc.wantEffects {
				t.Errorf("effects\n got: %s\nwant: %s", r, tc.wantEffects)
			}
			if tc.same && !reflect.DeepEqual(got, before) {
				t.Errorf("lifecycle changed by an ignored event:\n got %+v\nwant %+v", got, before)
			}
			if len(tc.consumes) > 0 {
				want := cloneLifecycle(before)
				for _, tm := range tc.consumes {
					if !before.Armed[tm] {
						t.Errorf("%s was not armed before the step; the case is wrong", tm)
					}
					want.Armed[tm] = false
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("a counted firing must only disarm %v:\n got %+v\nwant %+v", tc.consumes, got, want)
				}
			}
			if tc.check != nil {
				tc.check(t, got)
			}
		})
	}
}

const pickupArm = "arm(pickup,g1,10m0s)"

// TestStepPending covers every event in the pending state.
func TestStepPending(t *testing.T) {
	const (
		cancelEnd = "append[#2 end cancelled/cancelled/client_cancel tokens=0] " +
			"finished(cancelled/cancelled/client_cancel tokens=0) reply " + pickupArm
		queueEnd = `append[#2 end done/failed/queue_timeout tokens=0 msg="no slot within the queue timeout"] ` +
			`finished(done/failed/queue_timeout tokens=0 msg="no slot within the queue timeout") ` + pickupArm
		disconnectEnd = "append[#2 end cancelled/cancelled/client_disconnected tokens=0] " +
			"finished(cancelled/cancelled/client_disconnected tokens=0) " + pickupArm
	)
	runStepCases(t, []stepCase{
		{
			name:  "admit starts the producer and arms first-token and deadline",
			given: givenPending(), when: Admit{At: at(1)},
			wantState:   StateStreaming,
			wantEffects: "append[#2 state streaming] start arm(first_token,g1,20s) arm(deadline,g1,5m0s)",
			check: checkAll(func(t *testing.T, l Lifecycle) {
				if !l.StartedAt.Equal(at(1)) || l.LastSeq != 2 {
					t.Errorf("StartedAt, LastSeq = %v, %d; want %v, 2", l.StartedAt, l.LastSeq, at(1))
				}
			},
				wantTimer(TimerQueue, 2, false), // disarmed
				wantTimer(TimerFirstToken, 1, true), wantTimer(TimerDeadline, 1, true)),
		},
		{
			name: "admit with first-token and deadline disabled arms nothing",
			given: givenPending().with(func(l *Limits) {
				l.FirstTokenTimeout, l.MaxDuration = 0, 0
			}),
			when:        Admit{At: at(1)},
			wantState:   StateStreaming,
			wantEffects: "append[#2 state streaming] start",
			check:       checkAll(wantTimer(TimerFirstToken, 0, false), wantTimer(TimerDeadline, 0, false)),
		},
		{
			name:        "admit with the queue timer disabled: disarming the unarmed queue timer changes nothing",
			given:       givenPending().with(func(l *Limits) { l.QueueTimeout = 0 }),
			when:        Admit{At: at(1)},
			wantState:   StateStreaming,
			wantEffects: "append[#2 state streaming] start arm(first_token,g1,20s) arm(deadline,g1,5m0s)",
			check:       wantTimer(TimerQueue, 0, false),
		},
		{
			name:  "tokens before admission are ignored",
			given: givenPending(), when: Tokens{Texts: []string{"a"}, At: at(1)},
			wantState: StatePending, same: true,
		},
		{
			name:  "finish before admission is ignored",
			given: givenPending(), when: Finish{Reason: ReasonStop, At: at(1)},
			wantState: StatePending, same: true,
		},
		{
			name:  "fail ends without stopping a producer that never started",
			given: givenPending(), when: Fail{Reason: ReasonShutdown, Message: "draining", At: at(1)},
			wantState: StateDone, wantStatus: StatusFailed, wantReason: ReasonShutdown,
			wantEffects: `append[#2 end done/failed/shutdown tokens=0 msg="draining"] ` +
				`finished(done/failed/shutdown tokens=0 msg="draining") ` + pickupArm,
			check: func(t *testing.T, l Lifecycle) {
				if l.Message != "draining" || !l.FinishedAt.Equal(at(1)) {
					t.Errorf("Message, FinishedAt = %q, %v; want draining, %v", l.Message, l.FinishedAt, at(1))
				}
			},
		},
		{
			name:  "cancel gives no StopProducer",
			given: givenPending(), when: Cancel{At: at(1)},
			wantState: StateCancelled, wantStatus: StatusCancelled, wantReason: ReasonClientCancel,
			wantEffects: cancelEnd,
		},
		{
			name:  "attach counts the subscriber; the unarmed detach grace is left alone",
			given: givenPending(), when: Attach{At: at(1)},
			wantState: StatePending,
			check:     checkAll(wantCounts(1, 0, false), wantTimer(TimerDetachGrace, 0, false)),
		},
		{
			name:  "detach with nobody attached is ignored",
			given: givenPending(), when: Detach{At: at(1)},
			wantState: StatePending, same: true,
		},
		{
			name:  "last detach under continue arms nothing",
			given: givenPending().then(Attach{At: at(1)}), when: Detach{At: at(2)},
			wantState: StatePending,
			check:     wantCounts(0, 0, false),
		},
		{
			name:  "last detach under cancel arms the detach grace",
			given: givenPending().with(cancelOnDisconnect).then(Attach{At: at(1)}), when: Detach{At: at(2)},
			wantState:   StatePending,
			wantEffects: "arm(detach_grace,g1,5s)", // Attach's disarm of the unarmed timer spent no generation
			check:       wantTimer(TimerDetachGrace, 1, true),
		},
		{
			name:  "end delivered before the end is ignored",
			given: givenPending(), when: EndDelivered{At: at(1)},
			wantState: StatePending, same: true,
		},
		{
			name:  "queue timer fires",
			given: givenPending(), when: TimerFired{Timer: TimerQueue, Gen: 1, At: at(10)},
			wantState: StateDone, wantStatus: StatusFailed, wantReason: ReasonQueueTimeout,
			wantEffects: queueEnd,
			check:       checkAll(wantTimer(TimerQueue, 1, false), wantTimer(TimerPickup, 1, true)),
		},
		{
			name:      "queue timer fired twice: the second is ignored",
			given:     givenPending().then(TimerFired{Timer: TimerQueue, Gen: 1, At: at(10)}),
			when:      TimerFired{Timer: TimerQueue, Gen: 1, At: at(11)},
			wantState: StateDone, wantStatus: StatusFailed, wantReason: ReasonQueueTimeout, same: true,
		},
		{
			// Regression: with QueueTimeout 0 the queue timer is never armed,
			// and generation 0 used to be taken for the current one.
			name:      "queue timer never armed (QueueTimeout 0), generation 0, is ignored",
			given:     givenPending().with(func(l *Limits) { l.QueueTimeout = 0 }),
			when:      TimerFired{Timer: TimerQueue, Gen: 0, At: at(10)},
			wantState: StatePending, same: true,
		},
		{
			name:      "queue timer never armed (QueueTimeout 0), generation 1, is ignored",
			given:     givenPending().with(func(l *Limits) { l.QueueTimeout = 0 }),
			when:      TimerFired{Timer: TimerQueue, Gen: 1, At: at(10)},
			wantState: StatePending, same: true,
		},
		{
			name:  "queue timer generation 0 (never issued) is ignored",
			given: givenPending(), when: TimerFired{Timer: TimerQueue, Gen: 0, At: at(10)},
			wantState: StatePending, same: true,
		},
		{
			name:  "queue timer with a future generation is ignored",
			given: givenPending(), when: TimerFired{Timer: TimerQueue, Gen: 2, At: at(10)},
			wantState: StatePending, same: true,
		},
		{
			name:  "first-token timer while pending is ignored",
			given: givenPending(), when: TimerFired{Timer: TimerFirstToken, Gen: 0, At: at(10)},
			wantState: StatePending, same: true,
		},
		{
			name:  "idle timer while pending is ignored",
			given: givenPending(), when: TimerFired{Timer: TimerIdle, Gen: 0, At: at(10)},
			wantState: StatePending, same: true,
		},
		{
			name:  "deadline timer while pending is ignored",
			given: givenPending(), when: TimerFired{Timer: TimerDeadline, Gen: 0, At: at(10)},
			wantState: StatePending, same: true,
		},
		{
			name: "detach grace fires with nobody back: cancelled without StopProducer",
			given: givenPending().with(cancelOnDisconnect).
				then(Attach{At: at(1)}, Detach{At: at(2)}),
			when:      TimerFired{Timer: TimerDetachGrace, Gen: 1, At: at(7)},
			wantState: StateCancelled, wantStatus: StatusCancelled, wantReason: ReasonClientDisconnected,
			wantEffects: disconnectEnd,
			check:       checkAll(wantTimer(TimerQueue, 2, false), wantTimer(TimerDetachGrace, 1, false)),
		},
		{
			name: "detach grace with a stale generation is ignored",
			given: givenPending().with(cancelOnDisconnect).
				then(Attach{At: at(1)}, Detach{At: at(2)}, Attach{At: at(3)}, Detach{At: at(4)}), // g1 armed, g2 disarm, g3 armed
			when:      TimerFired{Timer: TimerDetachGrace, Gen: 1, At: at(7)},
			wantState: StatePending, same: true,
		},
		{
			name: "detach grace current but disarmed by a re-attach is ignored",
			given: givenPending().with(cancelOnDisconnect).
				then(Attach{At: at(1)}, Detach{At: at(2)}, Attach{At: at(3)}), // g1 armed, g2 disarmed
			when:      TimerFired{Timer: TimerDetachGrace, Gen: 2, At: at(7)},
			wantState: StatePending, same: true,
		},
		{
			name: "detach grace never armed while somebody is attached is ignored",
			given: givenPending().with(cancelOnDisconnect).
				then(Attach{At: at(1)}),
			when:      TimerFired{Timer: TimerDetachGrace, Gen: 0, At: at(7)},
			wantState: StatePending, same: true,
		},
		{
			// Regression: under continue the detach grace is never armed;
			// generation 0 with nobody attached used to cancel the request.
			name:  "detach grace never armed (continue), generation 0, nobody attached, is ignored",
			given: givenPending(), when: TimerFired{Timer: TimerDetachGrace, Gen: 0, At: at(7)},
			wantState: StatePending, same: true,
		},
		{
			name:  "linger timer while pending is ignored",
			given: givenPending(), when: TimerFired{Timer: TimerLinger, Gen: 0, At: at(10)},
			wantState: StatePending, same: true,
		},
		{
			name:  "pickup timer while pending is ignored",
			given: givenPending(), when: TimerFired{Timer: TimerPickup, Gen: 0, At: at(10)},
			wantState: StatePending, same: true,
		},
		{
			name:  "a timer out of range is ignored",
			given: givenPending(), when: TimerFired{Timer: Timer(NumTimers), Gen: 0, At: at(10)},
			wantState: StatePending, same: true,
		},
		{
			name:  "a nil event is ignored",
			given: givenPending(), when: nil,
			wantState: StatePending, same: true,
		},
	})
}

// TestStepStreaming covers every event while streaming, before and after
// the first token.
func TestStepStreaming(t *testing.T) {
	const (
		cancelEnd0 = "append[#3 end cancelled/cancelled/client_cancel tokens=0] stop " +
			"finished(cancelled/cancelled/client_cancel tokens=0) reply " + pickupArm
		cancelEnd1 = "append[#4 end cancelled/cancelled/client_cancel tokens=1] stop " +
			"finished(cancelled/cancelled/client_cancel tokens=1) reply " + pickupArm
		firstTokenEnd = `append[#3 end done/failed/first_token_timeout tokens=0 msg="no token within the first-token timeout"] stop ` +
			`finished(done/failed/first_token_timeout tokens=0 msg="no token within the first-token timeout") ` + pickupArm
		deadlineEnd0 = `append[#3 end done/failed/deadline_exceeded tokens=0 msg="streaming exceeded the maximum duration"] stop ` +
			`finished(done/failed/deadline_exceeded tokens=0 msg="streaming exceeded the maximum duration") ` + pickupArm
		deadlineEnd1 = `append[#4 end done/failed/deadline_exceeded tokens=1 msg="streaming exceeded the maximum duration"] stop ` +
			`finished(done/failed/deadline_exceeded tokens=1 msg="streaming exceeded the maximum duration") ` + pickupArm
		idleEnd1 = `append[#4 end done/failed/idle_timeout tokens=1 msg="no token within the idle timeout"] stop ` +
			`finished(done/failed/idle_timeout tokens=1 msg="no token within the idle timeout") ` + pickupArm
		disconnectEnd = "append[#3 end cancelled/cancelled/client_disconnected tokens=0] stop " +
			"finished(cancelled/cancelled/client_disconnected tokens=0) " + pickupArm
	)
	stop := func(r Reason) string {
		return "append[#4 end done/completed/" + r.String() + " tokens=1] stop finished(done/completed/" +
			r.String() + " tokens=1) " + pickupArm
	}
	detached := givenStreaming().with(cancelOnDisconnect).then(Attach{At: at(2)}, Detach{At: at(3)}) // detach_grace g1*
	runStepCases(t, []stepCase{
		// Admit.
		{
			name:  "a second admit is ignored",
			given: givenStreaming(), when: Admit{At: at(2)},
			wantState: StateStreaming, same: true,
		},
		// Tokens.
		{
			name:  "first tokens are appended, empty texts skipped, idle armed once",
			given: givenStreaming(), when: Tokens{Texts: []string{"a", "", "bc"}, At: at(5)},
			wantState:   StateStreaming,
			wantEffects: `append[#3 token "a", #4 token "bc"] arm(idle,g1,30s)`,
			check: checkAll(func(t *testing.T, l Lifecycle) {
				if l.Tokens != 2 || l.OutputBytes != 3 || l.LastSeq != 4 {
					t.Errorf("Tokens, OutputBytes, LastSeq = %d, %d, %d; want 2, 3, 4", l.Tokens, l.OutputBytes, l.LastSeq)
				}
				if !l.FirstTokenAt.Equal(at(5)) || !l.LastTokenAt.Equal(at(5)) {
					t.Errorf("FirstTokenAt, LastTokenAt = %v, %v; want %v, %v", l.FirstTokenAt, l.LastTokenAt, at(5), at(5))
				}
			},
				wantTimer(TimerFirstToken, 2, false), // disarmed by the first token
				wantTimer(TimerIdle, 1, true)),
		},
		{
			name:  "only empty texts change nothing",
			given: givenStreaming(), when: Tokens{Texts: []string{"", ""}, At: at(5)},
			wantState: StateStreaming, same: true,
		},
		{
			name:  "no texts change nothing",
			given: givenStreaming(), when: Tokens{At: at(5)},
			wantState: StateStreaming, same: true,
		},
		{
			name:  "first token with idle disabled arms nothing",
			given: givenStreaming().with(func(l *Limits) { l.IdleTimeout = 0 }), when: Tokens{Texts: []string{"a"}, At: at(5)},
			wantState:   StateStreaming,
			wantEffects: `append[#3 token "a"]`,
			check:       wantTimer(TimerIdle, 0, false),
		},
		{
			name:        "first token with first-token disabled: disarming the unarmed timer changes nothing",
			given:       givenPending().with(func(l *Limits) { l.FirstTokenTimeout = 0 }).then(Admit{At: at(1)}),
			when:        Tokens{Texts: []string{"a"}, At: at(5)},
			wantState:   StateStreaming,
			wantEffects: `append[#3 token "a"] arm(idle,g1,30s)`,
			check:       wantTimer(TimerFirstToken, 0, false),
		},
		{
			name:  "later tokens do not re-arm idle",
			given: givenStreamingWithToken(), when: Tokens{Texts: []string{"", "b", "c"}, At: at(4)},
			wantState:   StateStreaming,
			wantEffects: `append[#4 token "b", #5 token "c"]`,
			check: func(t *testing.T, l Lifecycle) {
				if !l.FirstTokenAt.Equal(at(2)) || !l.LastTokenAt.Equal(at(4)) || l.Tokens != 3 {
					t.Errorf("FirstTokenAt, LastTokenAt, Tokens = %v, %v, %d; want %v, %v, 3",
						l.FirstTokenAt, l.LastTokenAt, l.Tokens, at(2), at(4))
				}
			},
		},
		// Finish.
		{
			name:  "finish length with usage",
			given: givenStreaming(), when: Finish{Reason: ReasonLength, Usage: &Usage{PromptTokens: 3, CompletionTokens: 5}, At: at(5)},
			wantState: StateDone, wantStatus: StatusCompleted, wantReason: ReasonLength,
			wantEffects: "append[#3 end done/completed/length tokens=0 usage=3/5] stop " +
				"finished(done/completed/length tokens=0 usage=3/5) " + pickupArm,
		},
		{
			name:  "finish stop",
			given: givenStreamingWithToken(), when: Finish{Reason: ReasonStop, At: at(5)},
			wantState: StateDone, wantStatus: StatusCompleted, wantReason: ReasonStop,
			wantEffects: stop(ReasonStop),
		},
		{
			name:  "finish content_filter",
			given: givenStreamingWithToken(), when: Finish{Reason: ReasonContentFilter, At: at(5)},
			wantState: StateDone, wantStatus: StatusCompleted, wantReason: ReasonContentFilter,
			wantEffects: stop(ReasonContentFilter),
		},
		{
			name:  "finish with no reason counts as stop",
			given: givenStreamingWithToken(), when: Finish{At: at(5)},
			wantState: StateDone, wantStatus: StatusCompleted, wantReason: ReasonStop,
			wantEffects: stop(ReasonStop),
		},
		{
			name:  "finish with a failure reason counts as stop",
			given: givenStreamingWithToken(), when: Finish{Reason: ReasonUpstreamError, At: at(5)},
			wantState: StateDone, wantStatus: StatusCompleted, wantReason: ReasonStop,
			wantEffects: stop(ReasonStop),
		},
		{
			name:  "finish with an unknown reason counts as stop",
			given: givenStreamingWithToken(), when: Finish{Reason: Reason(200), At: at(5)},
			wantState: StateDone, wantStatus: StatusCompleted, wantReason: ReasonStop,
			wantEffects: stop(ReasonStop),
		},
		// Fail.
		{
			name:  "fail without a reason is internal_error",
			given: givenStreaming(), when: Fail{At: at(5)},
			wantState: StateDone, wantStatus: StatusFailed, wantReason: ReasonInternalError,
			wantEffects: "append[#3 end done/failed/internal_error tokens=0] stop " +
				"finished(done/failed/internal_error tokens=0) " + pickupArm,
		},
		{
			name:      "fail with reason, message and usage",
			given:     givenStreamingWithToken(),
			when:      Fail{Reason: ReasonUpstreamError, Message: "connection reset", Usage: &Usage{PromptTokens: 7, CompletionTokens: 1}, At: at(5)},
			wantState: StateDone, wantStatus: StatusFailed, wantReason: ReasonUpstreamError,
			wantEffects: `append[#4 end done/failed/upstream_error tokens=1 msg="connection reset" usage=7/1] stop ` +
				`finished(done/failed/upstream_error tokens=1 msg="connection reset" usage=7/1) ` + pickupArm,
		},
		{
			name:  "fail with internal_error keeps it",
			given: givenStreaming(), when: Fail{Reason: ReasonInternalError, Message: "panic", At: at(5)},
			wantState: StateDone, wantStatus: StatusFailed, wantReason: ReasonInternalError,
			wantEffects: `append[#3 end done/failed/internal_error tokens=0 msg="panic"] stop ` +
				`finished(done/failed/internal_error tokens=0 msg="panic") ` + pickupArm,
		},
		// Regression: Fail used to record any reason as is, so a failed
		// status could go with a completion or cancel reason.
		{
			name:  "fail with stop is internal_error",
			given: givenStreamingWithToken(), when: Fail{Reason: ReasonStop, Message: "odd", At: at(5)},
			wantState: StateDone, wantStatus: StatusFailed, wantReason: ReasonInternalError,
			wantEffects: `append[#4 end done/failed/internal_error tokens=1 msg="odd"] stop ` +
				`finished(done/failed/internal_error tokens=1 msg="odd") ` + pickupArm,
		},
		{
			name:  "fail with client_cancel is internal_error",
			given: givenStreamingWithToken(), when: Fail{Reason: ReasonClientCancel, At: at(5)},
			wantState: StateDone, wantStatus: StatusFailed, wantReason: ReasonInternalError,
			wantEffects: "append[#4 end done/failed/internal_error tokens=1] stop " +
				"finished(done/failed/internal_error tokens=1) " + pickupArm,
		},
		{
			name:  "fail with an unknown reason (99) is internal_error",
			given: givenStreamingWithToken(), when: Fail{Reason: Reason(99), At: at(5)},
			wantState: StateDone, wantStatus: StatusFailed, wantReason: ReasonInternalError,
			wantEffects: "append[#4 end done/failed/internal_error tokens=1] stop " +
				"finished(done/failed/internal_error tokens=1) " + pickupArm,
		},
		// Cancel.
		{
			name:  "cancel before the first token: append, stop, finished, reply, pickup",
			given: givenStreaming(), when: Cancel{At: at(5)},
			wantState: StateCancelled, wantStatus: StatusCancelled, wantReason: ReasonClientCancel,
			wantEffects: cancelEnd0,
		},
		{
			name:  "cancel after a token: append, stop, finished, reply, pickup",
			given: givenStreamingWithToken(), when: Cancel{At: at(5)},
			wantState: StateCancelled, wantStatus: StatusCancelled, wantReason: ReasonClientCancel,
			wantEffects: cancelEnd1,
			check: func(t *testing.T, l Lifecycle) {
				// Idle and deadline were running and are disarmed; queue and
				// first_token were disarmed already, detach_grace and linger
				// never armed: their generations stay. Only pickup runs.
				wantGens := [NumTimers]uint32{2, 2, 2, 2, 0, 0, 1}
				wantArmed := [NumTimers]bool{TimerPickup: true}
				if l.Gens != wantGens || l.Armed != wantArmed || !l.FinishedAt.Equal(at(5)) {
					t.Errorf("Gens, Armed, FinishedAt = %v, %v, %v; want %v, %v, %v",
						l.Gens, l.Armed, l.FinishedAt, wantGens, wantArmed, at(5))
				}
			},
		},
		// Attach and Detach.
		{
			name:  "attach counts the subscriber",
			given: givenStreaming(), when: Attach{At: at(5)},
			wantState: StateStreaming,
			check:     wantCounts(1, 0, false),
		},
		{
			name:  "detach with nobody attached is ignored",
			given: givenStreaming(), when: Detach{At: at(5)},
			wantState: StateStreaming, same: true,
		},
		{
			name:  "last detach under continue arms nothing",
			given: givenStreaming().then(Attach{At: at(2)}), when: Detach{At: at(5)},
			wantState: StateStreaming,
			check:     wantCounts(0, 0, false),
		},
		{
			name:  "last detach under cancel arms the detach grace",
			given: givenStreaming().with(cancelOnDisconnect).then(Attach{At: at(2)}), when: Detach{At: at(5)},
			wantState:   StateStreaming,
			wantEffects: "arm(detach_grace,g1,5s)",
			check:       wantTimer(TimerDetachGrace, 1, true),
		},
		{
			name:  "a second grace after a re-attach takes a new generation",
			given: detached.then(Attach{At: at(4)}), when: Detach{At: at(5)},
			wantState:   StateStreaming,
			wantEffects: "arm(detach_grace,g3,5s)", // g2 was spent by the re-attach's disarm
			check:       wantTimer(TimerDetachGrace, 3, true),
		},
		{
			name: "last detach under cancel with zero grace arms at once",
			given: givenStreaming().with(func(l *Limits) { l.OnDisconnect, l.DetachGrace = OnDisconnectCancel, 0 }).
				then(Attach{At: at(2)}),
			when:        Detach{At: at(5)},
			wantState:   StateStreaming,
			wantEffects: "arm(detach_grace,g1,0s)",
		},
		{
			name:  "detach of one of two under cancel arms nothing",
			given: givenStreaming().with(cancelOnDisconnect).then(Attach{At: at(2)}, Attach{At: at(2)}), when: Detach{At: at(5)},
			wantState: StateStreaming,
			check:     wantCounts(1, 0, false),
		},
		{
			name:  "re-attach within the grace disarms it",
			given: detached, when: Attach{At: at(4)},
			wantState: StateStreaming,
			check:     checkAll(wantCounts(1, 0, false), wantTimer(TimerDetachGrace, 2, false)),
		},
		// EndDelivered.
		{
			name:  "end delivered before the end is ignored",
			given: givenStreaming().then(Attach{At: at(2)}), when: EndDelivered{At: at(5)},
			wantState: StateStreaming, same: true,
		},
		// Timers.
		{
			name:  "queue timer (current, disarmed by admit) is ignored",
			given: givenStreaming(), when: TimerFired{Timer: TimerQueue, Gen: 2, At: at(10)},
			wantState: StateStreaming, same: true,
		},
		{
			name:  "queue timer (stale) is ignored",
			given: givenStreaming(), when: TimerFired{Timer: TimerQueue, Gen: 1, At: at(10)},
			wantState: StateStreaming, same: true,
		},
		{
			name:  "first-token timer fires with no token",
			given: givenStreaming(), when: TimerFired{Timer: TimerFirstToken, Gen: 1, At: at(21)},
			wantState: StateDone, wantStatus: StatusFailed, wantReason: ReasonFirstTokenTimeout,
			wantEffects: firstTokenEnd,
		},
		{
			name:  "first-token timer generation 0 (never issued) is ignored",
			given: givenStreaming(), when: TimerFired{Timer: TimerFirstToken, Gen: 0, At: at(21)},
			wantState: StateStreaming, same: true,
		},
		{
			name:  "first-token timer future generation is ignored",
			given: givenStreaming(), when: TimerFired{Timer: TimerFirstToken, Gen: 2, At: at(21)},
			wantState: StateStreaming, same: true,
		},
		{
			name:  "first-token timer after a token (stale) is ignored",
			given: givenStreamingWithToken(), when: TimerFired{Timer: TimerFirstToken, Gen: 1, At: at(21)},
			wantState: StateStreaming, same: true,
		},
		{
			name:  "first-token timer after a token (current, disarmed) is ignored",
			given: givenStreamingWithToken(), when: TimerFired{Timer: TimerFirstToken, Gen: 2, At: at(21)},
			wantState: StateStreaming, same: true,
		},
		{
			name:  "idle timer fires when the last token is IdleTimeout old",
			given: givenStreamingWithToken(), when: TimerFired{Timer: TimerIdle, Gen: 1, At: at(32)},
			wantState: StateDone, wantStatus: StatusFailed, wantReason: ReasonIdleTimeout,
			wantEffects: idleEnd1,
			check:       wantTimer(TimerIdle, 1, false),
		},
		{
			name:  "idle timer fired early re-arms for the rest",
			given: givenStreamingWithToken(), when: TimerFired{Timer: TimerIdle, Gen: 1, At: at(20)},
			wantState:   StateStreaming,
			wantEffects: "arm(idle,g2,12s)",
			check:       wantTimer(TimerIdle, 2, true),
		},
		{
			name:        "idle timer re-arms itself when a token arrived meanwhile",
			given:       givenStreamingWithToken().then(Tokens{Texts: []string{"b"}, At: at(25)}),
			when:        TimerFired{Timer: TimerIdle, Gen: 1, At: at(32)},
			wantState:   StateStreaming,
			wantEffects: "arm(idle,g2,23s)",
			check:       wantTimer(TimerIdle, 2, true),
		},
		{
			name: "re-armed idle timer fires",
			given: givenStreamingWithToken().then(Tokens{Texts: []string{"b"}, At: at(25)},
				TimerFired{Timer: TimerIdle, Gen: 1, At: at(32)}),
			when:      TimerFired{Timer: TimerIdle, Gen: 2, At: at(55)},
			wantState: StateDone, wantStatus: StatusFailed, wantReason: ReasonIdleTimeout,
			wantEffects: `append[#5 end done/failed/idle_timeout tokens=2 msg="no token within the idle timeout"] stop ` +
				`finished(done/failed/idle_timeout tokens=2 msg="no token within the idle timeout") ` + pickupArm,
		},
		{
			name: "idle timer superseded by its re-arm is ignored",
			given: givenStreamingWithToken().then(Tokens{Texts: []string{"b"}, At: at(25)},
				TimerFired{Timer: TimerIdle, Gen: 1, At: at(32)}),
			when:      TimerFired{Timer: TimerIdle, Gen: 1, At: at(100)},
			wantState: StateStreaming, same: true,
		},
		{
			name:  "idle timer generation 0 (never issued) is ignored",
			given: givenStreamingWithToken(), when: TimerFired{Timer: TimerIdle, Gen: 0, At: at(100)},
			wantState: StateStreaming, same: true,
		},
		{
			// Regression: before the first token the idle timer is never
			// armed; generation 0 used to end the request as idle_timeout,
			// measured from the zero LastTokenAt.
			name:  "idle timer never armed (before any token), generation 0, is ignored",
			given: givenStreaming(), when: TimerFired{Timer: TimerIdle, Gen: 0, At: at(100)},
			wantState: StateStreaming, same: true,
		},
		{
			name:      "idle timer fired twice: the second is ignored",
			given:     givenStreamingWithToken().then(TimerFired{Timer: TimerIdle, Gen: 1, At: at(20)}), // re-armed g2
			when:      TimerFired{Timer: TimerIdle, Gen: 1, At: at(40)},
			wantState: StateStreaming, same: true,
		},
		{
			name:  "deadline fires before the first token",
			given: givenStreaming(), when: TimerFired{Timer: TimerDeadline, Gen: 1, At: at(301)},
			wantState: StateDone, wantStatus: StatusFailed, wantReason: ReasonDeadlineExceeded,
			wantEffects: deadlineEnd0,
		},
		{
			name:  "deadline fires after a token",
			given: givenStreamingWithToken(), when: TimerFired{Timer: TimerDeadline, Gen: 1, At: at(301)},
			wantState: StateDone, wantStatus: StatusFailed, wantReason: ReasonDeadlineExceeded,
			wantEffects: deadlineEnd1,
		},
		{
			name:  "deadline generation 0 (never issued) is ignored",
			given: givenStreamingWithToken(), when: TimerFired{Timer: TimerDeadline, Gen: 0, At: at(301)},
			wantState: StateStreaming, same: true,
		},
		{
			name:      "deadline never armed (MaxDuration 0), generation 0, is ignored",
			given:     givenPending().with(func(l *Limits) { l.MaxDuration = 0 }).then(Admit{At: at(1)}),
			when:      TimerFired{Timer: TimerDeadline, Gen: 0, At: at(301)},
			wantState: StateStreaming, same: true,
		},
		{
			name:  "detach grace fires with nobody back: cancelled/client_disconnected",
			given: detached, when: TimerFired{Timer: TimerDetachGrace, Gen: 1, At: at(8)},
			wantState: StateCancelled, wantStatus: StatusCancelled, wantReason: ReasonClientDisconnected,
			wantEffects: disconnectEnd,
			check:       wantTimer(TimerDetachGrace, 1, false),
		},
		{
			name:      "detach grace (stale) is ignored",
			given:     detached.then(Attach{At: at(4)}, Detach{At: at(5)}), // g2 disarm, g3 armed
			when:      TimerFired{Timer: TimerDetachGrace, Gen: 1, At: at(8)},
			wantState: StateStreaming, same: true,
		},
		{
			name:  "detach grace generation 0 (never issued) is ignored",
			given: detached, when: TimerFired{Timer: TimerDetachGrace, Gen: 0, At: at(8)},
			wantState: StateStreaming, same: true,
		},
		{
			// Regression: under continue the detach grace is never armed;
			// generation 0 with nobody attached used to cancel the request.
			name:      "detach grace never armed (continue), generation 0, nobody attached, is ignored",
			given:     givenStreaming().then(Attach{At: at(2)}, Detach{At: at(3)}),
			when:      TimerFired{Timer: TimerDetachGrace, Gen: 0, At: at(8)},
			wantState: StateStreaming, same: true,
		},
		{
			name:  "detach grace superseded by a re-attach is ignored",
			given: detached.then(Attach{At: at(4)}), when: TimerFired{Timer: TimerDetachGrace, Gen: 1, At: at(8)},
			wantState: StateStreaming, same: true,
		},
		{
			name:  "detach grace current but disarmed by a re-attach is ignored",
			given: detached.then(Attach{At: at(4)}), when: TimerFired{Timer: TimerDetachGrace, Gen: 2, At: at(8)},
			wantState: StateStreaming, same: true,
		},
		{
			name:  "linger while streaming is ignored",
			given: givenStreamingWithToken(), when: TimerFired{Timer: TimerLinger, Gen: 0, At: at(10)},
			wantState: StateStreaming, same: true,
		},
		{
			name:  "pickup while streaming is ignored",
			given: givenStreamingWithToken(), when: TimerFired{Timer: TimerPickup, Gen: 0, At: at(10)},
			wantState: StateStreaming, same: true,
		},
	})
}

// terminalCases are the rows shared by the cancelled and done states, which
// have the same seqs and timer generations (see givenCancelled).
func terminalCases(given setup, state State, status Status, reason Reason) []stepCase {
	ignored := func(name string, ev Event) stepCase {
		return stepCase{name: name, given: given, when: ev,
			wantState: state, wantStatus: status, wantReason: reason, same: true}
	}
	return []stepCase{
		ignored("admit after the end is ignored", Admit{At: at(5)}),
		ignored("tokens after the end are ignored", Tokens{Texts: []string{"late"}, At: at(5)}),
		ignored("finish after the end is ignored", Finish{Reason: ReasonLength, At: at(5)}),
		ignored("fail after the end is ignored", Fail{Reason: ReasonUpstreamError, Message: "x", At: at(5)}),
		ignored("detach with nobody attached is ignored", Detach{At: at(5)}),
		ignored("end delivered with nobody owed is ignored", EndDelivered{At: at(5)}),
		ignored("queue timer (current, disarmed) is ignored", TimerFired{Timer: TimerQueue, Gen: 2, At: at(10)}),
		ignored("queue timer (stale) is ignored", TimerFired{Timer: TimerQueue, Gen: 1, At: at(10)}),
		ignored("queue timer (future generation) is ignored", TimerFired{Timer: TimerQueue, Gen: 3, At: at(10)}),
		ignored("first-token timer (current, disarmed) is ignored", TimerFired{Timer: TimerFirstToken, Gen: 2, At: at(10)}),
		ignored("first-token timer (stale) is ignored", TimerFired{Timer: TimerFirstToken, Gen: 1, At: at(10)}),
		ignored("idle timer (current, disarmed by the end) is ignored", TimerFired{Timer: TimerIdle, Gen: 2, At: at(100)}),
		ignored("idle timer (stale) is ignored", TimerFired{Timer: TimerIdle, Gen: 1, At: at(100)}),
		ignored("deadline (current, disarmed by the end) is ignored", TimerFired{Timer: TimerDeadline, Gen: 2, At: at(400)}),
		ignored("deadline (stale) is ignored", TimerFired{Timer: TimerDeadline, Gen: 1, At: at(400)}),
		ignored("detach grace (never armed, generation 0) is ignored", TimerFired{Timer: TimerDetachGrace, Gen: 0, At: at(10)}),
		ignored("detach grace (never armed, generation 1) is ignored", TimerFired{Timer: TimerDetachGrace, Gen: 1, At: at(10)}),
		ignored("pickup (generation 0, never issued) is ignored", TimerFired{Timer: TimerPickup, Gen: 0, At: at(600)}),
		ignored("pickup (future generation) is ignored", TimerFired{Timer: TimerPickup, Gen: 2, At: at(600)}),
		ignored("linger (future generation) is ignored", TimerFired{Timer: TimerLinger, Gen: 1, At: at(60)}),
		// Regression: linger is armed only once the end reached somebody;
		// generation 0 right after an end with nobody attached used to
		// stop the request at once.
		ignored("linger never armed (nobody attached), generation 0, is ignored", TimerFired{Timer: TimerLinger, Gen: 0, At: at(60)}),
		{
			name: "attach after the end is owed the end", given: given, when: Attach{At: at(5)},
			wantState: state, wantStatus: status, wantReason: reason,
			check: wantCounts(1, 1, false),
		},
		{
			name: "pickup timer stops the request", given: given, when: TimerFired{Timer: TimerPickup, Gen: 1, At: at(603)},
			wantState: state, wantStatus: status, wantReason: reason,
			wantEffects: "stopself", consumes: []Timer{TimerPickup},
		},
		{
			name:      "pickup timer fired twice: the second is ignored",
			given:     given.then(TimerFired{Timer: TimerPickup, Gen: 1, At: at(603)}),
			when:      TimerFired{Timer: TimerPickup, Gen: 1, At: at(604)},
			wantState: state, wantStatus: status, wantReason: reason, same: true,
		},
		{
			name:      "linger timer stops the request once the end is delivered",
			given:     given.then(Attach{At: at(4)}, EndDelivered{At: at(4)}), // linger g1*
			when:      TimerFired{Timer: TimerLinger, Gen: 1, At: at(64)},
			wantState: state, wantStatus: status, wantReason: reason,
			wantEffects: "stopself", consumes: []Timer{TimerLinger},
		},
		{
			name: "linger timer (stale) is ignored",
			given: given.then(Attach{At: at(4)}, EndDelivered{At: at(4)}, // linger g1*
				Attach{At: at(5)}, EndDelivered{At: at(5)}), // linger g2*
			when:      TimerFired{Timer: TimerLinger, Gen: 1, At: at(64)},
			wantState: state, wantStatus: status, wantReason: reason, same: true,
		},
		{
			name:      "linger timer (current) after its subscriber detached still stops the request",
			given:     given.then(Attach{At: at(4)}, EndDelivered{At: at(4)}, Detach{GotEnd: true, At: at(5)}), // linger g1*
			when:      TimerFired{Timer: TimerLinger, Gen: 1, At: at(64)},
			wantState: state, wantStatus: status, wantReason: reason,
			wantEffects: "stopself", consumes: []Timer{TimerLinger},
		},
	}
}

// TestStepCancelled covers every event after a cancel; the first terminal
// event wins.
func TestStepCancelled(t *testing.T) {
	cases := terminalCases(givenCancelled(), StateCancelled, StatusCancelled, ReasonClientCancel)
	cases = append(cases,
		stepCase{
			name:  "cancel again is accepted again (idempotent)",
			given: givenCancelled(), when: Cancel{At: at(5)},
			wantState: StateCancelled, wantStatus: StatusCancelled, wantReason: ReasonClientCancel,
			wantEffects: "reply", same: true,
		},
		stepCase{
			name:  "finish after a cancel changes nothing and appends nothing",
			given: givenCancelled(), when: Finish{Reason: ReasonStop, Usage: &Usage{PromptTokens: 1}, At: at(5)},
			wantState: StateCancelled, wantStatus: StatusCancelled, wantReason: ReasonClientCancel, same: true,
		},
		stepCase{
			name:  "admit after a cancel while pending does not start the producer",
			given: givenPending().then(Cancel{At: at(1)}), when: Admit{At: at(2)},
			wantState: StateCancelled, wantStatus: StatusCancelled, wantReason: ReasonClientCancel, same: true,
		},
		stepCase{
			name:      "client_disconnected end: cancel answers accepted",
			given:     givenStreaming().with(cancelOnDisconnect).then(Attach{At: at(2)}, Detach{At: at(3)}, TimerFired{Timer: TimerDetachGrace, Gen: 1, At: at(8)}),
			when:      Cancel{At: at(9)},
			wantState: StateCancelled, wantStatus: StatusCancelled, wantReason: ReasonClientDisconnected,
			wantEffects: "reply", same: true,
		},
	)
	runStepCases(t, cases)
}

// TestStepDone covers every event after a completion or failure.
func TestStepDone(t *testing.T) {
	cases := terminalCases(givenDone(), StateDone, StatusCompleted, ReasonStop)
	cases = append(cases,
		stepCase{
			name:  "cancel after done answers already finished",
			given: givenDone(), when: Cancel{At: at(5)},
			wantState: StateDone, wantStatus: StatusCompleted, wantReason: ReasonStop,
			wantEffects: "reply(already_finished)", same: true,
		},
		stepCase{
			name:  "cancel after a failure answers already finished",
			given: givenPending().then(Fail{Reason: ReasonShutdown, At: at(1)}), when: Cancel{At: at(5)},
			wantState: StateDone, wantStatus: StatusFailed, wantReason: ReasonShutdown,
			wantEffects: "reply(already_finished)", same: true,
		},
		stepCase{
			name:      "fail after a failure keeps the first",
			given:     givenStreaming().then(TimerFired{Timer: TimerFirstToken, Gen: 1, At: at(21)}),
			when:      Fail{Reason: ReasonUpstreamError, Message: "context canceled", At: at(22)},
			wantState: StateDone, wantStatus: StatusFailed, wantReason: ReasonFirstTokenTimeout, same: true,
		},
		stepCase{
			name:  "admit after a queue timeout does not start the producer",
			given: givenPending().then(TimerFired{Timer: TimerQueue, Gen: 1, At: at(10)}), when: Admit{At: at(11)},
			wantState: StateDone, wantStatus: StatusFailed, wantReason: ReasonQueueTimeout, same: true,
		},
	)
	runStepCases(t, cases)
}

// TestStepMaxOutputBytes: the token that would exceed the cap is not
// appended; tokens before it in the same batch are, before the end.
func TestStepMaxOutputBytes(t *testing.T) {
	capped := givenStreaming().with(func(l *Limits) { l.MaxOutputBytes = 5 })
	big := strings.Repeat("x", 1<<16)
	tooLarge := func(seq string, records string, tokens string) string {
		end := `done/failed/output_too_large tokens=` + tokens + ` msg="output exceeds 5 bytes"`
		return "append[" + records + "#" + seq + " end " + end + "] stop finished(" + end + ") " + pickupArm
	}
	runStepCases(t, []stepCase{
		{
			name:  "tokens before the excess are appended before the end",
			given: capped, when: Tokens{Texts: []string{"ab", "", "cd", "ef", "g"}, At: at(5)},
			wantState: StateDone, wantStatus: StatusFailed, wantReason: ReasonOutputTooLarge,
			wantEffects: tooLarge("5", `#3 token "ab", #4 token "cd", `, "2"),
			check: func(t *testing.T, l Lifecycle) {
				if l.Tokens != 2 || l.OutputBytes != 4 || l.LastSeq != 5 || l.Message != "output exceeds 5 bytes" {
					t.Errorf("Tokens, OutputBytes, LastSeq, Message = %d, %d, %d, %q", l.Tokens, l.OutputBytes, l.LastSeq, l.Message)
				}
			},
		},
		{
			name:  "exactly the cap is allowed",
			given: capped, when: Tokens{Texts: []string{"abcde", ""}, At: at(5)},
			wantState:   StateStreaming,
			wantEffects: `append[#3 token "abcde"] arm(idle,g1,30s)`,
		},
		{
			name:  "one byte over in a later batch",
			given: capped.then(Tokens{Texts: []string{"abcde"}, At: at(5)}), when: Tokens{Texts: []string{"f"}, At: at(6)},
			wantState: StateDone, wantStatus: StatusFailed, wantReason: ReasonOutputTooLarge,
			wantEffects: tooLarge("4", "", "1"),
		},
		{
			name:  "a first token over the cap ends with no token",
			given: capped, when: Tokens{Texts: []string{"abcdef", "g"}, At: at(5)},
			wantState: StateDone, wantStatus: StatusFailed, wantReason: ReasonOutputTooLarge,
			wantEffects: tooLarge("3", "", "0"),
		},
		{
			name:  "tokens after output_too_large are ignored",
			given: capped.then(Tokens{Texts: []string{"abcdef"}, At: at(5)}), when: Tokens{Texts: []string{"g"}, At: at(6)},
			wantState: StateDone, wantStatus: StatusFailed, wantReason: ReasonOutputTooLarge, same: true,
		},
		{
			name:  "no cap when MaxOutputBytes is 0",
			given: givenStreaming(), when: Tokens{Texts: []string{big}, At: at(5)},
			wantState:   StateStreaming,
			wantEffects: `append[#3 token "` + big + `"] arm(idle,g1,30s)`,
			check: func(t *testing.T, l Lifecycle) {
				if l.OutputBytes != len(big) {
					t.Errorf("OutputBytes = %d; want %d", l.OutputBytes, len(big))
				}
			},
		},
	})
}

// TestStepCleanup covers the end-delivery accounting that decides when the
// request stops.
func TestStepCleanup(t *testing.T) {
	twoAttached := givenStreamingWithToken().then(Attach{At: at(2)}, Attach{At: at(2)})
	endedWithTwo := twoAttached.then(Cancel{At: at(3)})
	oneAttached := givenStreamingWithToken().then(Attach{At: at(2)}, Cancel{At: at(3)})
	const (
		cancelled = StateCancelled
		status    = StatusCancelled
		reason    = ReasonClientCancel
	)
	runStepCases(t, []stepCase{
		{
			name:  "end with two attached owes the end to both; only pickup armed",
			given: twoAttached, when: Cancel{At: at(3)},
			wantState: cancelled, wantStatus: status, wantReason: reason,
			wantEffects: "append[#4 end cancelled/cancelled/client_cancel tokens=1] stop " +
				"finished(cancelled/cancelled/client_cancel tokens=1) reply " + pickupArm,
			check: wantCounts(2, 2, false),
		},
		{
			name:  "first of two deliveries arms nothing",
			given: endedWithTwo, when: EndDelivered{At: at(4)},
			wantState: cancelled, wantStatus: status, wantReason: reason,
			check: wantCounts(2, 1, true),
		},
		{
			name:  "second of two deliveries arms the linger",
			given: endedWithTwo.then(EndDelivered{At: at(4)}), when: EndDelivered{At: at(4)},
			wantState: cancelled, wantStatus: status, wantReason: reason,
			wantEffects: "arm(linger,g1,1m0s)",
			check:       wantCounts(2, 0, true),
		},
		{
			name:  "a third delivery is ignored",
			given: endedWithTwo.then(EndDelivered{At: at(4)}, EndDelivered{At: at(4)}), when: EndDelivered{At: at(4)},
			wantState: cancelled, wantStatus: status, wantReason: reason, same: true,
		},
		{
			name: "zero linger is armed to fire at once",
			given: twoAttached.with(func(l *Limits) { l.Linger = 0 }).
				then(Cancel{At: at(3)}, EndDelivered{At: at(4)}),
			when:      EndDelivered{At: at(4)},
			wantState: cancelled, wantStatus: status, wantReason: reason,
			wantEffects: "arm(linger,g1,0s)",
		},
		{
			name:  "detach without the end lowers what is owed and arms the linger",
			given: endedWithTwo.then(EndDelivered{At: at(4)}), when: Detach{GotEnd: false, At: at(5)},
			wantState: cancelled, wantStatus: status, wantReason: reason,
			wantEffects: "arm(linger,g1,1m0s)",
			check:       wantCounts(1, 0, true),
		},
		{
			name:  "detach without the end, nobody picked up: nothing armed",
			given: oneAttached, when: Detach{GotEnd: false, At: at(5)},
			wantState: cancelled, wantStatus: status, wantReason: reason,
			check: wantCounts(0, 0, false),
		},
		{
			name:  "detach after the end was delivered keeps what is owed",
			given: endedWithTwo.then(EndDelivered{At: at(4)}), when: Detach{GotEnd: true, At: at(5)},
			wantState: cancelled, wantStatus: status, wantReason: reason,
			check: wantCounts(1, 1, true),
		},
		{
			// The linger is armed when the end reaches the last subscriber
			// owed it; leaving afterwards does not extend the retention.
			name:  "detach after everyone got the end does not re-arm the linger",
			given: oneAttached.then(EndDelivered{At: at(4)}), when: Detach{GotEnd: true, At: at(5)},
			wantState: cancelled, wantStatus: status, wantReason: reason,
			check: checkAll(wantCounts(0, 0, true), wantTimer(TimerLinger, 1, true)),
		},
		{
			name:      "detach after the linger fired arms nothing",
			given:     oneAttached.then(EndDelivered{At: at(4)}, TimerFired{Timer: TimerLinger, Gen: 1, At: at(64)}),
			when:      Detach{GotEnd: true, At: at(65)},
			wantState: cancelled, wantStatus: status, wantReason: reason,
			check: checkAll(wantCounts(0, 0, true), wantTimer(TimerLinger, 1, false)),
		},
		{
			name:  "attaching after the end raises what is owed",
			given: oneAttached.then(EndDelivered{At: at(4)}), when: Attach{At: at(5)},
			wantState: cancelled, wantStatus: status, wantReason: reason,
			check: wantCounts(2, 1, true),
		},
		{
			// The firing counts (the timer is spent) but has no effect.
			name:  "linger does not stop while a late subscriber is owed the end",
			given: oneAttached.then(EndDelivered{At: at(4)}, Attach{At: at(5)}), when: TimerFired{Timer: TimerLinger, Gen: 1, At: at(64)},
			wantState: cancelled, wantStatus: status, wantReason: reason, consumes: []Timer{TimerLinger},
		},
		{
			name:  "the late subscriber's delivery re-arms the linger",
			given: oneAttached.then(EndDelivered{At: at(4)}, Attach{At: at(5)}), when: EndDelivered{At: at(6)},
			wantState: cancelled, wantStatus: status, wantReason: reason,
			wantEffects: "arm(linger,g2,1m0s)",
			check:       checkAll(wantCounts(2, 0, true), wantTimer(TimerLinger, 2, true)),
		},
		{
			name: "the late subscriber's delivery re-arms a linger that already fired",
			given: oneAttached.then(EndDelivered{At: at(4)}, Attach{At: at(5)},
				TimerFired{Timer: TimerLinger, Gen: 1, At: at(64)}),
			when:      EndDelivered{At: at(70)},
			wantState: cancelled, wantStatus: status, wantReason: reason,
			wantEffects: "arm(linger,g2,1m0s)",
			check:       checkAll(wantCounts(2, 0, true), wantTimer(TimerLinger, 2, true)),
		},
		{
			name:  "the late subscriber leaving without the end re-arms the linger",
			given: oneAttached.then(EndDelivered{At: at(4)}, Attach{At: at(5)}), when: Detach{GotEnd: false, At: at(6)},
			wantState: cancelled, wantStatus: status, wantReason: reason,
			wantEffects: "arm(linger,g2,1m0s)",
			check:       wantCounts(1, 0, true),
		},
		{
			name:  "pickup stops even while the end is owed",
			given: endedWithTwo, when: TimerFired{Timer: TimerPickup, Gen: 1, At: at(603)},
			wantState: cancelled, wantStatus: status, wantReason: reason,
			wantEffects: "stopself", consumes: []Timer{TimerPickup},
		},
		// Regression: a subscriber that got the end may be reported as
		// detached (GotEnd) before its EndDelivered. EndPending is capped at
		// Attached, so the other subscriber's delivery still arms the
		// linger instead of leaving the request stuck until pickup.
		{
			name:  "detach with the end before its delivery is reported caps what is owed",
			given: endedWithTwo, when: Detach{GotEnd: true, At: at(4)},
			wantState: cancelled, wantStatus: status, wantReason: reason,
			check: func(t *testing.T, l Lifecycle) {
				if l.Attached != 1 || l.EndPending != 1 || !l.PickedUp {
					t.Errorf("Attached, EndPending, PickedUp = %d, %d, %t; want 1, 1, true", l.Attached, l.EndPending, l.PickedUp)
				}
			},
		},
		{
			name:  "after an early detach with the end, the other's delivery arms the linger",
			given: endedWithTwo.then(Detach{GotEnd: true, At: at(4)}), when: EndDelivered{At: at(5)},
			wantState: cancelled, wantStatus: status, wantReason: reason,
			wantEffects: "arm(linger,g1,1m0s)",
			check:       checkAll(wantCounts(1, 0, true), wantTimer(TimerLinger, 1, true)),
		},
		{
			name:  "the early detacher's late delivery is then ignored",
			given: endedWithTwo.then(Detach{GotEnd: true, At: at(4)}, EndDelivered{At: at(5)}), when: EndDelivered{At: at(6)},
			wantState: cancelled, wantStatus: status, wantReason: reason, same: true,
		},

		{
			name:  "nobody attached at the end: only pickup armed, nothing owed",
			given: givenStreamingWithToken(), when: Finish{Reason: ReasonStop, At: at(3)},
			wantState: StateDone, wantStatus: StatusCompleted, wantReason: ReasonStop,
			wantEffects: "append[#4 end done/completed/stop tokens=1] stop finished(done/completed/stop tokens=1) " + pickupArm,
			check:       wantCounts(0, 0, false),
		},
		{
			name:  "detaching subscribers before the end owe nothing",
			given: twoAttached.then(Detach{At: at(2)}), when: Cancel{At: at(3)},
			wantState: cancelled, wantStatus: status, wantReason: reason,
			wantEffects: "append[#4 end cancelled/cancelled/client_cancel tokens=1] stop " +
				"finished(cancelled/cancelled/client_cancel tokens=1) reply " + pickupArm,
			check: wantCounts(1, 1, false),
		},
	})
}

// TestStepFailReasons: a failed status goes only with a failure reason;
// Fail with any other reason (none, a completion or cancel reason, an
// unknown value) records internal_error.
func TestStepFailReasons(t *testing.T) {
	failures := map[Reason]bool{
		ReasonUpstreamError: true, ReasonFirstTokenTimeout: true, ReasonIdleTimeout: true,
		ReasonDeadlineExceeded: true, ReasonQueueTimeout: true, ReasonOutputTooLarge: true,
		ReasonShutdown: true, ReasonInternalError: true,
	}
	for r := range 256 {
		reason := Reason(r)
		want := ReasonInternalError
		if failures[reason] {
			want = reason
		}
		for _, given := range []setup{givenPending(), givenStreamingWithToken()} {
			l, effects := Step(given.build(), Fail{Reason: reason, Message: "m", At: at(5)})
			if l.State != StateDone || l.Status != StatusFailed || l.Reason != want {
				t.Errorf("Fail(%s) = %s/%s/%s; want done/failed/%s", reason, l.State, l.Status, l.Reason, want)
			}
			var end *End
			for _, e := range effects {
				if f, ok := e.(Finished); ok {
					end = &f.End
				}
			}
			if end == nil || end.Reason != want || end.Status != StatusFailed || end.Message != "m" {
				t.Errorf("Fail(%s) effects %s; want a failed/%s end", reason, renderEffects(effects), want)
			}
		}
	}
}

// TestStepDetachWithEndBeforeReportSoleSubscriber: a sole subscriber that
// got the end is reported as detached (GotEnd) before its EndDelivered.
// It did pick the end up, so the linger must run.
func TestStepDetachWithEndBeforeReportSoleSubscriber(t *testing.T) {
	l := givenStreamingWithToken().then(Attach{At: at(2)}, Cancel{At: at(3)}).build()
	l, effects := Step(l, Detach{GotEnd: true, At: at(4)})
	late, lateEffects := Step(l, EndDelivered{At: at(4)})
	if !l.PickedUp || renderEffects(effects)+renderEffects(lateEffects) != "arm(linger,g1,1m0s)" {
		t.Errorf("detach then late delivery: PickedUp %t, effects %q then %q; want the linger armed once",
			late.PickedUp, renderEffects(effects), renderEffects(lateEffects))
	}
}

// TestStepCopiesUsage: the End carries a copy of the reported usage, so
// the producer may reuse its value.
func TestStepCopiesUsage(t *testing.T) {
	for _, tc := range []struct {
		name string
		when func(*Usage) Event
	}{
		{"finish", func(u *Usage) Event { return Finish{Reason: ReasonStop, Usage: u, At: at(5)} }},
		{"fail", func(u *Usage) Event { return Fail{Reason: ReasonUpstreamError, Usage: u, At: at(5)} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := &Usage{PromptTokens: 11, CompletionTokens: 22}
			l, effects := Step(givenStreamingWithToken().build(), tc.when(u))
			u.PromptTokens, u.CompletionTokens = -1, -1

			want := Usage{PromptTokens: 11, CompletionTokens: 22}
			if l.Usage == nil || *l.Usage != want {
				t.Errorf("Lifecycle.Usage = %+v; want %+v", l.Usage, want)
			}
			var appended, finished *End
			for _, e := range effects {
				switch e := e.(type) {
				case Append:
					appended = e.Records[len(e.Records)-1].End
				case Finished:
					finished = &e.End
				}
			}
			if appended == nil || appended.Usage == nil || *appended.Usage != want {
				t.Errorf("end record usage = %+v; want %+v", appended, want)
			}
			if finished == nil || finished.Usage == nil || *finished.Usage != want {
				t.Errorf("Finished usage = %+v; want %+v", finished, want)
			}
			if appended != nil && finished != nil && !reflect.DeepEqual(*appended, *finished) {
				t.Errorf("Finished.End = %+v; end record = %+v", *finished, *appended)
			}
		})
	}
}

// TestNew covers the opening of the log.
func TestNew(t *testing.T) {
	for _, tc := range []struct {
		name        string
		limits      Limits
		wantEffects string
	}{
		{"queue timeout armed", testLimits, "append[#1 state pending] arm(queue,g1,10s)"},
		{"queue timeout disabled", Limits{PickupTimeout: time.Minute}, "append[#1 state pending]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, effects := New(tc.limits, t0)
			if r := renderEffects(effects); r != tc.wantEffects {
				t.Errorf("effects\n got: %s\nwant: %s", r, tc.wantEffects)
			}
			if l.State != StatePending || l.Status != StatusNone || l.Reason != ReasonNone ||
				l.LastSeq != 1 || !l.CreatedAt.Equal(t0) || l.Limits != tc.limits {
				t.Errorf("New = %+v", l)
			}
		})
	}
}
