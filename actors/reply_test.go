package actors

import (
	"context"
	"testing"
	"time"
)

// An answer that has come is the call's result even when the caller's
// context ended (or its timeout fired) before the caller looked: a submit
// answered while its HTTP handler was not yet scheduled, then withdrawn
// because the client had just left, left a request that vanished 0.25 ms
// after it started (TestChatWithoutStreamDisconnectCancels failed so in a
// cold run on a loaded machine). Go's select picks at random among ready
// cases, so each round of the old wait failed with probability one half.
func TestAReplyThatCameIsTakenEvenWhenTheCallerGaveUp(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	fired := make(chan time.Time, 1)
	for round := range 200 {
		replies := make(chan any, 1)
		replies <- "the answer"
		timeout := (<-chan time.Time)(nil)
		waitCtx := ctx
		if round%2 == 1 { // the timeout fired instead of ctx
			fired <- time.Time{}
			timeout, waitCtx = fired, context.Background()
		}
		res, gaveUp, err := awaitReply(waitCtx, replies, timeout)
		if gaveUp || err != nil || res != "the answer" {
			t.Fatalf("round %d: got %v, gave up %v, %v; want the answer that had come", round, res, gaveUp, err)
		}
		select {
		case <-fired:
		default:
		}
	}
	// With no answer, the caller gives up.
	if _, gaveUp, err := awaitReply(ctx, make(chan any), nil); !gaveUp || err != context.Canceled {
		t.Fatalf("no answer: gave up %v, %v", gaveUp, err)
	}
}
