package model

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// A source drives the sequence generator: fuzz bytes or a seeded PRNG.
type source interface {
	// intn returns a number in [0, n); n is at most 256.
	intn(n int) int
	// exhausted reports that the source has no more input.
	exhausted() bool
}

// byteSource reads one byte per choice; once exhausted it answers 0.
type byteSource struct {
	b []byte
	i int
}

func (s *byteSource) intn(n int) int {
	if s.i >= len(s.b) {
		return 0
	}
	v := int(s.b[s.i]) % n
	s.i++
	return v
}

func (s *byteSource) exhausted() bool { return s.i >= len(s.b) }

type randSource struct{ r *rand.Rand }

func (s randSource) intn(n int) int  { return s.r.IntN(n) }
func (s randSource) exhausted() bool { return false }

// pick draws one of options.
func pick[T any](s source, options ...T) T { return options[s.intn(len(options))] }

// genLimits draws valid limits: each timeout disabled, short or long.
func genLimits(s source) Limits {
	return Limits{
		QueueTimeout:      pick(s, 0, 5*time.Second, 30*time.Second),
		FirstTokenTimeout: pick(s, 0, 10*time.Second, 30*time.Second),
		IdleTimeout:       pick(s, 0, 10*time.Second, 30*time.Second),
		MaxDuration:       pick(s, 0, time.Minute, 5*time.Minute),
		MaxOutputBytes:    pick(s, 0, 3, 8, 20),
		OnDisconnect:      pick(s, OnDisconnectContinue, OnDisconnectCancel),
		DetachGrace:       pick(s, 0, 5*time.Second),
		Linger:            pick(s, 0, time.Minute),
		PickupTimeout:     10 * time.Minute,
	}
}

// subscriber is the checker's model of one attached client, as a correct
// shell tracks it: it detaches with GotEnd set iff its EndDelivered was
// sent. The checker also plays a shell that reports a subscriber detached
// with the end before (instead of) its EndDelivered; see lostReports.
type subscriber struct{ gotEnd bool }

type stepRecord struct {
	ev      Event
	effects []Effect
}

// checker plays a correct shell around Step: it executes Append effects
// into a log, remembers the timer generations it was given, keeps the
// subscribers, and checks the invariants after every step.
type checker struct {
	limits Limits
	l      Lifecycle
	now    time.Time
	log    []Record
	// logText is each record rendered when it was appended, to notice a
	// record changed afterwards through shared memory.
	logText []string

	issued [NumTimers][]uint32 // generations handed out by ArmTimer, in order
	fired  [NumTimers][]uint32 // generations already sent in a TimerFired
	subs   []subscriber
	// lostReports counts subscribers that left with Detach{GotEnd: true}
	// although their EndDelivered was never sent (it was still queued
	// and is dropped). After one, the model may owe more than the truth
	// (never less): EndPending is only bounded by it.
	lostReports  int
	starts       int
	finished     int
	pickupArms   int
	history      []stepRecord // rendered only when a check fails
	terminalSnap *Lifecycle   // the lifecycle right after the end
}

func newChecker(limits Limits) (*checker, error) {
	c := &checker{limits: limits, now: t0}
	l, effects := New(limits, t0)
	c.history = append(c.history, stepRecord{nil, effects})
	return c, c.check(Lifecycle{}, nil, l, effects)
}

// next draws the next event the way a correct shell could send it, with
// two kinds of disorder the model must absorb: a subscriber reported as
// detached with the end whose EndDelivered is dropped, and firings of
// generations no ArmTimer handed out.
func (c *checker) next(s source) Event {
	c.now = c.now.Add(time.Duration(s.intn(40)) * time.Second)
	now := c.now
	switch s.intn(11) {
	case 0:
		return Admit{At: now}
	case 1, 2:
		texts := make([]string, s.intn(4))
		for i := range texts {
			texts[i] = pick(s, "", "a", "bc", "def", "ghij")
		}
		return Tokens{Texts: texts, At: now}
	case 3:
		return Finish{Reason: Reason(s.intn(16)), Usage: pick(s, nil, &Usage{PromptTokens: 2, CompletionTokens: 3}), At: now}
	case 4:
		// The failure reasons a producer or the engine reports, and
		// reasons that are no failure (none, completion, cancel, unknown),
		// which the model records as internal_error.
		reason := pick(s, ReasonNone, ReasonUpstreamError, ReasonShutdown, ReasonInternalError,
			ReasonStop, ReasonLength, ReasonClientCancel, ReasonClientDisconnected, ReasonIdleTimeout, Reason(99))
		return Fail{Reason: reason, Message: pick(s, "", "boom"), Usage: pick(s, nil, &Usage{PromptTokens: 1}), At: now}
	case 5:
		return Cancel{At: now}
	case 6:
		c.subs = append(c.subs, subscriber{})
		return Attach{At: now}
	case 7:
		if len(c.subs) == 0 {
			return Detach{GotEnd: s.intn(2) == 1, At: now} // nobody attached: ignored
		}
		i := s.intn(len(c.subs))
		got := c.subs[i].gotEnd
		if !got && c.hasEnd() && s.intn(4) == 0 {
			// It got the end, but the shell reports the detach first and
			// drops the EndDelivered.
			got = true
			c.lostReports++
		}
		c.subs = append(c.subs[:i], c.subs[i+1:]...)
		return Detach{GotEnd: got, At: now}
	case 8:
		if c.hasEnd() {
			var owed []int
			for i, sub := range c.subs {
				if !sub.gotEnd {
					owed = append(owed, i)
				}
			}
			if len(owed) > 0 {
				c.subs[owed[s.intn(len(owed))]].gotEnd = true
			}
		}
		// With nobody owed the model must ignore it, unless reports were
		// lost: then it is the late report of one of them.
		return EndDelivered{At: now}
	default:
		var armed []Timer
		for t := range Timer(NumTimers) {
			if len(c.issued[t]) > 0 {
				armed = append(armed, t)
			}
		}
		if len(armed) == 0 {
			return c.neverIssued(s, now)
		}
		t := armed[s.intn(len(armed))]
		gens := c.issued[t]
		gen := gens[len(gens)-1] // the latest: current unless disarmed or fired since
		switch s.intn(6) {
		case 0:
			gen = gens[s.intn(len(gens))] // any handed-out one, usually stale
		case 5:
			return c.neverIssued(s, now)
		}
		return TimerFired{Timer: t, Gen: gen, At: now}
	}
}

// neverIssued draws a firing no ArmTimer asked for (as from a buggy or
// confused shell): generation 0, the one after the latest handed out, or
// the lifecycle's current one, which may have been spent by a disarm
// without ever being handed out; rarely a timer out of range.
func (c *checker) neverIssued(s source, now time.Time) TimerFired {
	t := Timer(s.intn(NumTimers + 1))
	if int(t) >= NumTimers {
		return TimerFired{Timer: t, Gen: c.l.Gens[0], At: now}
	}
	var latest uint32
	if gens := c.issued[t]; len(gens) > 0 {
		latest = gens[len(gens)-1]
	}
	return TimerFired{Timer: t, Gen: pick(s, 0, latest+1, c.l.Gens[t]), At: now}
}

// step applies ev and checks the result.
func (c *checker) step(ev Event) error {
	prev := c.l
	snap := cloneLifecycle(prev)
	next, effects := Step(prev, ev)
	c.history = append(c.history, stepRecord{ev, effects})
	if !sameLifecycle(prev, snap) {
		return fmt.Errorf("Step mutated its input: %+v, was %+v", prev, snap)
	}
	if tf, ok := ev.(TimerFired); ok {
		if err := c.checkFiring(prev, tf, next, effects); err != nil {
			return err
		}
	}
	return c.check(prev, ev, next, effects)
}

// checkFiring checks which firings count. One that counts disarms its
// timer; any other changes nothing at all.
func (c *checker) checkFiring(prev Lifecycle, tf TimerFired, next Lifecycle, effects []Effect) error {
	ignored := len(effects) == 0 && sameLifecycle(next, prev)
	if int(tf.Timer) >= NumTimers {
		if !ignored {
			return fmt.Errorf("%s of an unknown timer was not ignored: %s", renderEvent(tf), renderEffects(effects))
		}
		return nil
	}
	t := tf.Timer
	gens := c.issued[t]
	var why string
	switch {
	case !slices.Contains(gens, tf.Gen):
		why = "never-issued"
	case tf.Gen != gens[len(gens)-1]:
		why = "stale" // superseded by a later ArmTimer
	case slices.Contains(c.fired[t], tf.Gen):
		why = "repeated" // a timer fires once
	case !prev.Armed[t] || prev.Gens[t] != tf.Gen:
		why = "disarmed"
	}
	if why != "never-issued" { // a future one may still be handed out
		c.fired[t] = append(c.fired[t], tf.Gen)
	}
	if why != "" {
		if !ignored {
			return fmt.Errorf("%s %s was not ignored: %s", why, renderEvent(tf), renderEffects(effects))
		}
		return nil
	}
	// It counts: the timer is spent, unless it re-armed itself.
	rearmed := false
	for _, e := range effects {
		if a, ok := e.(ArmTimer); ok && a.Timer == t {
			rearmed = true
		}
	}
	if next.Armed[t] != rearmed {
		return fmt.Errorf("%s: armed %t after it fired, re-armed %t", renderEvent(tf), next.Armed[t], rearmed)
	}
	if len(effects) == 0 {
		want := prev
		want.Armed[t] = false
		if !sameLifecycle(next, want) {
			return fmt.Errorf("%s without effect changed more than its Armed flag: %+v", renderEvent(tf), next)
		}
	}
	return nil
}

// owed counts the subscribers still owed the end.
func (c *checker) owed() int {
	n := 0
	for _, s := range c.subs {
		if !s.gotEnd {
			n++
		}
	}
	return n
}

func (c *checker) hasEnd() bool {
	return len(c.log) > 0 && c.log[len(c.log)-1].Kind == KindEnd
}

func (c *checker) endRecord() *End {
	if !c.hasEnd() {
		return nil
	}
	return c.log[len(c.log)-1].End
}

// check runs every invariant for one step; prev is the zero Lifecycle and
// ev nil for New.
func (c *checker) check(prev Lifecycle, ev Event, next Lifecycle, effects []Effect) error {
	c.l = next
	endBefore := c.hasEnd()
	var (
		endedHere bool
		replies   int
		lastArm   = map[Timer]uint32{}
	)
	for i, e := range effects {
		switch e := e.(type) {
		case Append:
			if len(e.Records) == 0 {
				return errors.New("empty Append")
			}
			if c.hasEnd() {
				return fmt.Errorf("Append after the end record: %s", renderEffect(e))
			}
			for j, r := range e.Records {
				if want := uint64(len(c.log) + 1); r.Seq != want {
					return fmt.Errorf("record seq %d; want %d (contiguous from 1)", r.Seq, want)
				}
				switch r.Kind {
				case KindState:
					if len(c.log) == 0 && r.State != StatePending {
						return fmt.Errorf("record 1 is %s; want state pending", renderRecord(r))
					}
					if len(c.log) > 0 && r.State != StateStreaming {
						return fmt.Errorf("state record %s after record 1", renderRecord(r))
					}
					if r.State == StateStreaming && (len(c.log) != 1 || prev.State != StatePending) {
						return fmt.Errorf("streaming record %s not right after pending", renderRecord(r))
					}
				case KindToken:
					if r.Text == "" {
						return fmt.Errorf("empty token record %s", renderRecord(r))
					}
					if prev.State != StateStreaming {
						return fmt.Errorf("token record while %s", prev.State)
					}
				case KindEnd:
					if r.End == nil || !r.End.State.Terminal() {
						return fmt.Errorf("bad end record %s", renderRecord(r))
					}
					if j != len(e.Records)-1 {
						return fmt.Errorf("end record %s is not last in its Append", renderRecord(r))
					}
					endedHere = true
				default:
					return fmt.Errorf("record of unknown kind %s", renderRecord(r))
				}
				if len(c.log) == 0 && r.Kind != KindState {
					return fmt.Errorf("record 1 is %s; want state pending", renderRecord(r))
				}
				c.log = append(c.log, r)
				c.logText = append(c.logText, renderRecord(r))
			}
		case StartProducer:
			c.starts++
			if c.starts > 1 {
				return errors.New("StartProducer twice")
			}
			if i == 0 || !lastRecordIs(effects[i-1], KindState) {
				return errors.New("StartProducer not right after the streaming record")
			}
		case StopProducer:
			if i == 0 || !lastRecordIs(effects[i-1], KindEnd) {
				return errors.New("StopProducer not right after an Append with the end")
			}
			if prev.State != StateStreaming {
				return fmt.Errorf("StopProducer while %s", prev.State)
			}
		case Finished:
			c.finished++
			end := c.endRecord()
			if !endedHere || end == nil || !reflect.DeepEqual(e.End, *end) {
				return fmt.Errorf("Finished(%s) does not repeat this step's end record", renderEnd(e.End))
			}
		case CancelReply:
			replies++
			if _, ok := ev.(Cancel); !ok {
				return errors.New("CancelReply without a Cancel")
			}
			if e.AlreadyFinished != (prev.State == StateDone) {
				return fmt.Errorf("CancelReply{AlreadyFinished: %t} while %s", e.AlreadyFinished, prev.State)
			}
		case ArmTimer:
			if e.Timer >= Timer(NumTimers) {
				return fmt.Errorf("ArmTimer of unknown timer %d", e.Timer)
			}
			if e.After < 0 {
				return fmt.Errorf("ArmTimer(%s) with negative After %s", e.Timer, e.After)
			}
			if gens := c.issued[e.Timer]; len(gens) > 0 && e.Gen <= gens[len(gens)-1] {
				return fmt.Errorf("ArmTimer(%s, g%d) reuses a generation (last g%d)", e.Timer, e.Gen, gens[len(gens)-1])
			}
			if e.Gen == 0 {
				return fmt.Errorf("ArmTimer(%s) with generation 0", e.Timer)
			}
			c.issued[e.Timer] = append(c.issued[e.Timer], e.Gen)
			lastArm[e.Timer] = e.Gen
			if err := c.checkArm(prev, ev, next, e); err != nil {
				return err
			}
		case StopSelf:
			if !next.State.Terminal() {
				return fmt.Errorf("StopSelf while %s", next.State)
			}
			tf, ok := ev.(TimerFired)
			if !ok || !(tf.Timer == TimerPickup || tf.Timer == TimerLinger && next.EndPending == 0 && c.owed() == 0) {
				return errors.New("StopSelf not from pickup, or from linger with the end owed")
			}
		default:
			return fmt.Errorf("unknown effect %T", e)
		}
	}

	// Replies: exactly one per Cancel.
	_, isCancel := ev.(Cancel)
	if isCancel != (replies == 1) || replies > 1 {
		return fmt.Errorf("%d CancelReply for %s", replies, renderEvent(ev))
	}
	// Every timer armed in this step is the current generation.
	for t, g := range lastArm {
		if next.Gens[t] != g {
			return fmt.Errorf("armed %s g%d but the lifecycle holds g%d", t, g, next.Gens[t])
		}
	}
	// Timers: a generation is spent only by arming or by disarming a
	// running timer (disarming one that is not running changes nothing);
	// a running timer is the latest handed out and not yet fired; the end
	// stops every timer but linger and pickup, which only run after it.
	for t := range Timer(NumTimers) {
		arms := uint32(0)
		for _, e := range effects {
			if a, ok := e.(ArmTimer); ok && a.Timer == t {
				arms++
			}
		}
		// The end may also disarm a timer armed earlier in the same step
		// (idle, by a first token in the batch that then overflows), whose
		// ArmTimer it drops: two generations without an effect.
		maxSpent := uint32(0)
		if prev.Armed[t] {
			maxSpent = 1
		}
		if endedHere && t == TimerIdle && !prev.Armed[t] {
			maxSpent = 2
		}
		if next.Gens[t] < prev.Gens[t]+arms || next.Gens[t]-prev.Gens[t]-arms > maxSpent {
			return fmt.Errorf("%s went g%d → g%d with %d ArmTimer (armed before: %t)", t, prev.Gens[t], next.Gens[t], arms, prev.Armed[t])
		}
		if next.Armed[t] {
			gens := c.issued[t]
			if len(gens) == 0 || next.Gens[t] != gens[len(gens)-1] || slices.Contains(c.fired[t], next.Gens[t]) {
				return fmt.Errorf("%s g%d is armed but not the latest unfired generation handed out", t, next.Gens[t])
			}
		}
		endTimer := t == TimerLinger || t == TimerPickup
		if next.Armed[t] && next.State.Terminal() != endTimer {
			return fmt.Errorf("%s armed while %s", t, next.State)
		}
	}
	// The timers whose firing always acts run exactly while their rule
	// says so (the detach grace and linger may have been outlived).
	streaming := next.State == StateStreaming
	for t, want := range map[Timer]bool{
		TimerQueue:      next.State == StatePending && c.limits.QueueTimeout > 0,
		TimerFirstToken: streaming && next.Tokens == 0 && c.limits.FirstTokenTimeout > 0,
		TimerIdle:       streaming && next.Tokens > 0 && c.limits.IdleTimeout > 0,
		TimerDeadline:   streaming && c.limits.MaxDuration > 0,
		TimerPickup:     next.State.Terminal() && !slices.Contains(c.fired[TimerPickup], next.Gens[TimerPickup]),
	} {
		if next.Armed[t] != want {
			return fmt.Errorf("%s armed %t while %s with %d tokens; want %t", t, next.Armed[t], next.State, next.Tokens, want)
		}
	}
	if next.Armed[TimerDetachGrace] && (next.Attached > 0 || c.limits.OnDisconnect != OnDisconnectCancel) {
		return fmt.Errorf("detach_grace armed with %d attached under %s", next.Attached, c.limits.OnDisconnect)
	}
	// The linger starts when the end has just reached everyone owed it.
	if prev.EndPending > 0 && next.EndPending == 0 && next.PickedUp {
		if _, ok := lastArm[TimerLinger]; !ok {
			return fmt.Errorf("the end reached everyone (%s) but the linger was not armed", renderEvent(ev))
		}
	}

	// The log.
	if len(c.log) == 0 || c.log[0].Kind != KindState || c.log[0].State != StatePending {
		return errors.New("record 1 is not state pending")
	}
	if next.LastSeq != uint64(len(c.log)) {
		return fmt.Errorf("LastSeq %d; log has %d records", next.LastSeq, len(c.log))
	}
	tokens, bytes := 0, 0
	for _, r := range c.log {
		if r.Kind == KindToken {
			tokens++
			bytes += len(r.Text)
		}
	}
	if next.Tokens != tokens || next.OutputBytes != bytes {
		return fmt.Errorf("Tokens, OutputBytes = %d, %d; log has %d, %d", next.Tokens, next.OutputBytes, tokens, bytes)
	}
	if max := c.limits.MaxOutputBytes; max > 0 && bytes > max {
		return fmt.Errorf("log holds %d bytes of text; MaxOutputBytes is %d", bytes, max)
	}
	if (c.finished == 1) != c.hasEnd() || c.finished > 1 {
		return fmt.Errorf("%d Finished with end record %t", c.finished, c.hasEnd())
	}

	// States.
	if next.State < StatePending || next.State > StateDone {
		return fmt.Errorf("invalid state %s", next.State)
	}
	if next.State.Terminal() != c.hasEnd() {
		return fmt.Errorf("state %s but end record %t", next.State, c.hasEnd())
	}
	if next.State == StateStreaming && c.starts != 1 {
		return errors.New("streaming without StartProducer")
	}
	if ev != nil && next.State != prev.State && !allowed(prev.State, next.State) {
		return fmt.Errorf("transition %s → %s", prev.State, next.State)
	}
	if endBefore {
		// Once terminal nothing about the outcome changes.
		s := c.terminalSnap
		if next.State != s.State || next.Status != s.Status || next.Reason != s.Reason || next.Message != s.Message ||
			!next.FinishedAt.Equal(s.FinishedAt) || !reflect.DeepEqual(next.Usage, s.Usage) ||
			next.Tokens != s.Tokens || next.LastSeq != s.LastSeq {
			return fmt.Errorf("terminal outcome changed: %s/%s/%s → %s/%s/%s",
				s.State, s.Status, s.Reason, next.State, next.Status, next.Reason)
		}
	}
	if endedHere {
		snap := cloneLifecycle(next)
		c.terminalSnap = &snap
		if err := c.checkEnd(prev, ev, next, effects); err != nil {
			return err
		}
	}
	if !next.State.Terminal() && (next.Status != StatusNone || next.Reason != ReasonNone) {
		return fmt.Errorf("%s with status %s, reason %s", next.State, next.Status, next.Reason)
	}

	// Subscribers.
	if next.Attached != len(c.subs) {
		return fmt.Errorf("Attached %d; the shell has %d subscribers", next.Attached, len(c.subs))
	}
	if next.EndPending < 0 || next.EndPending > next.Attached {
		return fmt.Errorf("EndPending %d with Attached %d", next.EndPending, next.Attached)
	}
	if next.State.Terminal() {
		owed := c.owed()
		if next.EndPending < owed || c.lostReports == 0 && next.EndPending != owed {
			return fmt.Errorf("EndPending %d; %d subscribers are owed the end (%d reports lost)", next.EndPending, owed, c.lostReports)
		}
	} else if next.EndPending != 0 || next.PickedUp {
		return fmt.Errorf("EndPending %d, PickedUp %t before the end", next.EndPending, next.PickedUp)
	}
	return nil
}

// checkEnd checks the step that appended the end record.
func (c *checker) checkEnd(prev Lifecycle, ev Event, next Lifecycle, effects []Effect) error {
	end := c.endRecord()
	if end.State != next.State || end.Status != next.Status || end.Reason != next.Reason ||
		end.Tokens != next.Tokens || end.Message != next.Message || !reflect.DeepEqual(end.Usage, next.Usage) {
		return fmt.Errorf("end record %s does not match the lifecycle %s/%s/%s", renderEnd(*end), next.State, next.Status, next.Reason)
	}
	if !next.FinishedAt.Equal(ev.at()) {
		return fmt.Errorf("FinishedAt %v; event at %v", next.FinishedAt, ev.at())
	}
	var kinds []string
	for _, e := range effects {
		kinds = append(kinds, strings.SplitN(strings.SplitN(renderEffect(e), "[", 2)[0], "(", 2)[0])
	}
	want := []string{"append"}
	if prev.State == StateStreaming {
		want = append(want, "stop")
	}
	want = append(want, "finished")
	if _, ok := ev.(Cancel); ok {
		want = append(want, "reply")
	}
	want = append(want, "arm")
	if strings.Join(kinds, " ") != strings.Join(want, " ") {
		return fmt.Errorf("end effects %v; want %v", kinds, want)
	}
	// Status and reason agree, and the cause was real.
	ok := false
	switch next.Status {
	case StatusCompleted:
		ok = next.State == StateDone && (next.Reason == ReasonStop || next.Reason == ReasonLength || next.Reason == ReasonContentFilter || next.Reason == ReasonToolCalls)
	case StatusCancelled:
		ok = next.State == StateCancelled && (next.Reason == ReasonClientCancel || next.Reason == ReasonClientDisconnected)
	case StatusFailed:
		ok = next.State == StateDone && next.Reason >= ReasonUpstreamError && next.Reason <= ReasonInternalError
	}
	if !ok {
		return fmt.Errorf("inconsistent end %s/%s/%s", next.State, next.Status, next.Reason)
	}
	tf, isTimer := ev.(TimerFired)
	fired := func(t Timer) bool { return isTimer && tf.Timer == t }
	var cause bool
	if f, ok := ev.(Fail); ok {
		want := ReasonInternalError
		switch f.Reason {
		case ReasonUpstreamError, ReasonFirstTokenTimeout, ReasonIdleTimeout, ReasonDeadlineExceeded,
			ReasonQueueTimeout, ReasonOutputTooLarge, ReasonShutdown, ReasonInternalError:
			want = f.Reason
		}
		cause = next.Reason == want && next.Message == f.Message
	} else {
		switch next.Reason {
		case ReasonClientCancel:
			_, cause = ev.(Cancel)
		case ReasonClientDisconnected:
			cause = fired(TimerDetachGrace) && c.limits.OnDisconnect == OnDisconnectCancel && prev.Attached == 0
		case ReasonQueueTimeout:
			cause = fired(TimerQueue) && prev.State == StatePending
		case ReasonFirstTokenTimeout:
			cause = fired(TimerFirstToken) && prev.State == StateStreaming && prev.Tokens == 0
		case ReasonIdleTimeout:
			cause = fired(TimerIdle) && prev.State == StateStreaming && prev.Tokens > 0 &&
				tf.At.Sub(prev.LastTokenAt) >= c.limits.IdleTimeout
		case ReasonDeadlineExceeded:
			cause = fired(TimerDeadline) && prev.State == StateStreaming
		case ReasonOutputTooLarge:
			_, isTokens := ev.(Tokens)
			cause = isTokens && c.limits.MaxOutputBytes > 0
		case ReasonStop, ReasonLength, ReasonContentFilter, ReasonToolCalls:
			_, cause = ev.(Finish)
			cause = cause && prev.State == StateStreaming
		}
	}
	if !cause {
		return fmt.Errorf("end %s/%s caused by %s from %s", next.Status, next.Reason, renderEvent(ev), prev.State)
	}
	return nil
}

// checkArm checks that a timer is armed only when its rule says so.
func (c *checker) checkArm(prev Lifecycle, ev Event, next Lifecycle, a ArmTimer) error {
	var ok bool
	switch a.Timer {
	case TimerQueue:
		ok = ev == nil && a.After == c.limits.QueueTimeout && a.After > 0
	case TimerFirstToken:
		_, ok = ev.(Admit)
		ok = ok && a.After == c.limits.FirstTokenTimeout && a.After > 0
	case TimerDeadline:
		_, ok = ev.(Admit)
		ok = ok && a.After == c.limits.MaxDuration && a.After > 0
	case TimerIdle:
		ok = next.State == StateStreaming && a.After > 0 && a.After <= c.limits.IdleTimeout
	case TimerDetachGrace:
		ok = !next.State.Terminal() && next.Attached == 0 && c.limits.OnDisconnect == OnDisconnectCancel &&
			a.After == c.limits.DetachGrace
	case TimerLinger:
		// Only when the end has just reached the last one owed it.
		_, delivered := ev.(EndDelivered)
		_, detached := ev.(Detach)
		ok = (delivered || detached) && next.State.Terminal() && prev.EndPending > 0 && next.EndPending == 0 &&
			next.PickedUp && a.After == c.limits.Linger
	case TimerPickup:
		c.pickupArms++
		ok = c.pickupArms == 1 && next.State.Terminal() && a.After == c.limits.PickupTimeout
	}
	if !ok {
		return fmt.Errorf("unexpected %s after %s", renderEffect(a), renderEvent(ev))
	}
	return nil
}

// finish runs the checks that need the whole run.
func (c *checker) finish() error {
	for i, r := range c.log {
		if got := renderRecord(r); got != c.logText[i] {
			return fmt.Errorf("record %d changed after it was appended: %s, was %s", i+1, got, c.logText[i])
		}
	}
	return nil
}

// sameLifecycle is a fast reflect.DeepEqual for lifecycles: every field
// is comparable but the Usage pointer, compared by value.
func sameLifecycle(a, b Lifecycle) bool {
	ua, ub := a.Usage, b.Usage
	if (ua == nil) != (ub == nil) || ua != nil && *ua != *ub {
		return false
	}
	a.Usage, b.Usage = nil, nil
	return a == b
}

func lastRecordIs(e Effect, k Kind) bool {
	a, ok := e.(Append)
	return ok && len(a.Records) > 0 && a.Records[len(a.Records)-1].Kind == k
}

func allowed(from, to State) bool {
	switch from {
	case StatePending:
		return to == StateStreaming || to.Terminal()
	case StateStreaming:
		return to.Terminal()
	}
	return false
}

// runSequence draws limits and up to maxEvents events from s and checks
// every step.
func runSequence(s source, maxEvents int) (*checker, error) {
	c, err := newChecker(genLimits(s))
	if err != nil {
		return c, err
	}
	for range maxEvents {
		if s.exhausted() {
			break
		}
		if err := c.step(c.next(s)); err != nil {
			return c, err
		}
	}
	return c, c.finish()
}

func (c *checker) report(t *testing.T, err error) {
	t.Helper()
	t.Fatalf("%v\n%s", err, c.dump())
}

// dump renders the limits and every step so far.
func (c *checker) dump() string {
	var b strings.Builder
	fmt.Fprintf(&b, "limits: %+v\ntranscript:", c.limits)
	for _, h := range c.history {
		name := "New"
		if h.ev != nil {
			name = renderEvent(h.ev)
		}
		fmt.Fprintf(&b, "\n  %-34s → %s", name, renderEffects(h.effects))
	}
	return b.String()
}

// fuzzSeeds are scenario byte strings for genLimits followed by events;
// each event is [time step, op, op arguments...] (see checker.next).
var fuzzSeeds = [][]byte{
	// All limits on, cancel policy: admit, tokens, cancel, attach, deliver.
	{1, 1, 1, 1, 0, 1, 1, 1 /**/, 1, 0 /**/, 1, 1, 2, 1, 2 /**/, 1, 5 /**/, 1, 6 /**/, 1, 8, 0 /**/, 1, 7, 0},
	// Output cap 3: admit, a batch that overflows.
	{0, 0, 0, 0, 1, 0, 0, 0 /**/, 1, 0 /**/, 1, 1, 3, 2, 2, 3},
	// Attach, admit, token, finish, deliver, linger and pickup firings.
	{2, 2, 2, 2, 0, 0, 0, 1 /**/, 1, 6 /**/, 1, 0 /**/, 1, 1, 1, 1 /**/, 1, 3, 1, 0 /**/, 1, 8, 0 /**/, 39, 9, 4, 1 /**/, 39, 10, 5, 1},
	// Cancel policy: attach, detach, then the detach grace fires.
	{0, 0, 0, 0, 0, 1, 1, 0 /**/, 1, 0 /**/, 1, 6 /**/, 1, 7, 0 /**/, 10, 9, 0, 1},
	// Timers only.
	{1, 1, 1, 1, 0, 0, 0, 0, 30, 9, 0, 1, 30, 9, 1, 0, 30, 10, 2, 0},
	// Linger on, everything else off: two attach, cancel, one leaves with
	// the end before its delivery is reported (lost), the other's
	// delivery arms the linger, which fires.
	{0, 0, 0, 0, 0, 0, 0, 1 /**/, 1, 0 /**/, 1, 6 /**/, 1, 6 /**/, 1, 5 /**/, 1, 7, 0, 0 /**/, 1, 8, 0 /**/, 39, 9, 0, 1},
	// Never-issued firings: queue g0 (queue off), detach grace g0 under
	// continue, a timer out of range; admit; idle g0 before any token; a
	// token; idle fires; linger g0 after the end; pickup fires.
	{0, 1, 1, 1, 0, 0, 0, 0 /**/, 1, 9, 0, 0 /**/, 1, 9, 4, 0 /**/, 1, 9, 7 /**/, 1, 0 /**/, 1, 9, 0, 5, 2, 0 /**/, 1, 1, 1, 1 /**/, 15, 9, 1, 1 /**/, 1, 9, 0, 5, 5, 0 /**/, 1, 9, 3, 1},
}

func FuzzStep(f *testing.F) {
	for _, seed := range fuzzSeeds {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if c, err := runSequence(&byteSource{b: data}, 1000); err != nil {
			c.report(t, err)
		}
	})
}

// TestRandomSequences runs the FuzzStep checker over many sequences from a
// fixed seed, so the invariants are exercised without -fuzz.
func TestRandomSequences(t *testing.T) {
	n := 20000
	if testing.Short() {
		n = 2000
	}
	r := rand.New(rand.NewPCG(0xa7, 0x15))
	for i := range n {
		if c, err := runSequence(randSource{r}, 1+r.IntN(60)); err != nil {
			t.Logf("sequence %d", i)
			c.report(t, err)
		}
	}
}

// TestFuzzSeeds runs the seed corpus, and checks that the checker itself
// notices a broken log.
func TestFuzzSeeds(t *testing.T) {
	for i, seed := range fuzzSeeds {
		c, err := runSequence(&byteSource{b: seed}, 1000)
		if err != nil {
			t.Logf("seed %d", i)
			c.report(t, err)
		}
	}
	c, err := newChecker(testLimits)
	if err != nil {
		c.report(t, err)
	}
	bogus := []Effect{Append{Records: []Record{{Seq: 3, Kind: KindToken, Text: "x"}}}}
	if err := c.check(c.l, Tokens{At: t0}, c.l, bogus); err == nil {
		t.Error("checker accepted a gap in the seqs")
	}
	// A never-issued firing that acts, and a counted one that leaves its
	// timer armed, are both noticed.
	acted := c.l
	acted.Attached = 1
	if err := c.checkFiring(c.l, TimerFired{Timer: TimerDetachGrace, At: t0}, acted, nil); err == nil {
		t.Error("checker accepted a never-issued firing that changed the lifecycle")
	}
	if err := c.checkFiring(c.l, TimerFired{Timer: TimerQueue, Gen: 1, At: t0}, c.l, nil); err == nil {
		t.Error("checker accepted a counted firing that left its timer armed")
	}
}
