package pertoken

import (
	"context"
	"errors"
	"testing"

	"go.uber.org/goleak"
)

// proto.actor's dead-letter throttle waits out its period on a goroutine
// of its own after a dead letter; it is the library's, not a leak.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/asynkron/protoactor-go/actor.NewDeadLetter.NewThrottle.func4.1"))
}

func TestPaths(t *testing.T) {
	ctx := context.Background()
	eng, err := NewEngine(1000)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	if err := RunEngine(ctx, eng, 1000); err != nil {
		t.Errorf("engine: %v", err)
	}
	if err := RunChannel(ctx, 1000); err != nil {
		t.Errorf("channel: %v", err)
	}
}

// TestCountChecked: a run that does not see exactly n tokens fails.
func TestCountChecked(t *testing.T) {
	eng, err := NewEngine(5)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	if err := RunEngine(context.Background(), eng, 6); !errors.Is(err, ErrTokenCount) {
		t.Errorf("engine with 5 of 6 tokens: %v, want ErrTokenCount", err)
	}
}
