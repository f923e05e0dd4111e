package cluster

import (
	"context"
	"errors"
	"testing"
	"time"
)

// A cross-node call takes the answer that has come even when its context
// ended, its timeout fired or the owner was reported lost in the same
// instant: Go's select picks at random among ready cases, so each round
// of the old wait failed with probability one half.
func TestACallTakesTheAnswerThatCame(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for round := range 300 {
		ch := make(chan any, 1)
		ch <- "the answer"
		ctx := context.Background()
		fired := make(chan time.Time, 1)
		var timeout, poll <-chan time.Time
		switch round % 3 {
		case 0:
			ctx = cancelled
		case 1:
			fired <- time.Time{}
			timeout = fired
		case 2:
			fired <- time.Time{}
			poll = fired
		}
		res, err := awaitAnswer(ctx, ch, timeout, poll, func() bool { return true })
		if err != nil || res != "the answer" {
			t.Fatalf("round %d: %v, %v; want the answer that had come", round, res, err)
		}
	}
	// Without an answer: the context's error, the timeout, the loss.
	fired := make(chan time.Time, 1)
	if _, err := awaitAnswer(cancelled, make(chan any), nil, nil, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	fired <- time.Time{}
	if _, err := awaitAnswer(context.Background(), make(chan any), fired, nil, nil); !errors.Is(err, errTimedOut) {
		t.Errorf("timed out: %v", err)
	}
	fired <- time.Time{}
	if _, err := awaitAnswer(context.Background(), make(chan any), nil, fired, func() bool { return true }); !errors.Is(err, errLost) {
		t.Errorf("lost: %v", err)
	}
}
