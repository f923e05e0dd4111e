package actortest

import (
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// deadLetters remembers when a system last had a dead letter. proto.actor
// starts a goroutine on the first dead letter of a throttle period and it
// lives one DeadLetterThrottleInterval, so a bubble may end only once that
// long has passed since the last one.
type deadLetters struct {
	system *actor.ActorSystem
	mu     sync.Mutex
	last   time.Time
}

func watchDeadLetters(system *actor.ActorSystem) *deadLetters {
	d := &deadLetters{system: system}
	system.EventStream.Subscribe(func(msg any) {
		if _, ok := msg.(*actor.DeadLetterEvent); ok {
			d.mu.Lock()
			d.last = time.Now()
			d.mu.Unlock()
		}
	})
	return d
}

// waitOut lets virtual time pass until the throttle goroutine of the last
// dead letter is gone; settle runs before each look, since a late timer
// can still make a dead letter while we wait.
func (d *deadLetters) waitOut(settle func()) {
	interval := d.system.Config.DeadLetterThrottleInterval
	for {
		settle()
		d.mu.Lock()
		last := d.last
		d.mu.Unlock()
		if last.IsZero() {
			return
		}
		wait := last.Add(interval).Sub(time.Now())
		if wait <= 0 {
			return
		}
		time.Sleep(wait + time.Millisecond)
	}
}
