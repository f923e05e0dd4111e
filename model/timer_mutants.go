package model

// timerMutant is where the mutation check's timer bugs live (they are
// switched on only in builds with the "mutants" tag; otherwise mutant is
// constant false and this compiles away). Each trusts that a timer's
// firing is current: that a timer disarmed or superseded never fires. It
// does fire when its message was already queued, and the lifecycle's
// generation and state checks are what catch it.
func (l Lifecycle) timerMutant(ev TimerFired) (Lifecycle, []Effect, bool) {
	current := ev.Timer < numTimers && l.Armed[ev.Timer] && ev.Gen == l.Gens[ev.Timer]
	switch {
	case ev.Timer == TimerFirstToken && l.State == StateStreaming && mutant("first-token-after-token"):
		// The first token disarmed the timer, so a firing means no token.
		l.Armed[ev.Timer] = false
		next, effects := l.end(StateDone, StatusFailed, ReasonFirstTokenTimeout, "no token within the first-token timeout", ev.At, nil)
		return next, effects, true
	case ev.Timer == TimerIdle && current && l.State == StateStreaming && mutant("idle-trusts-timer"):
		// Tokens do not re-arm the timer; this forgets to look at the
		// latest token's time.
		l.Armed[ev.Timer] = false
		next, effects := l.end(StateDone, StatusFailed, ReasonIdleTimeout, "no token within the idle timeout", ev.At, nil)
		return next, effects, true
	case ev.Timer == TimerDeadline && !current && mutant("deadline-after-end"):
		// The end disarmed the deadline, so a firing means still running.
		next, effects := l.end(StateDone, StatusFailed, ReasonDeadlineExceeded, "streaming exceeded the maximum duration", ev.At, nil)
		return next, effects, true
	case ev.Timer == TimerQueue && !current && !l.State.Terminal() && mutant("queue-timeout-after-admit"):
		// Admission disarmed the queue timer, so a firing means still queued.
		next, effects := l.end(StateDone, StatusFailed, ReasonQueueTimeout, "no slot within the queue timeout", ev.At, nil)
		return next, effects, true
	}
	return l, nil, false
}
