package main

import (
	"strconv"

	"github.com/asynkron/protoactor-go/actor"
)

// protoactor's process registry is 1,024 buckets of 32-shard concurrent
// maps: 32,768 Go maps. Each allocates its first group (8 slots, about
// 288 bytes) the first time a key lands in it, and Go maps never shrink,
// so a new actor system's heap grows by up to 32,768 × 288 B ≈ 9 MB over
// its first ~10⁵ registrations (every actor and every RequestFuture
// registers a fresh id), then stays flat. prewarmRegistry puts the
// registry in that steady state at once, by adding and removing enough
// ids to touch every shard map (a coupon collector: 400,000 ids leave
// about one map in 10⁵ untouched).
func prewarmRegistry(sys *actor.ActorSystem) {
	reg := sys.ProcessRegistry
	for i := range 400_000 {
		pid, ok := reg.Add(nopProcess{}, "bench-warm-"+strconv.Itoa(i))
		if ok {
			reg.Remove(pid)
		}
	}
}

type nopProcess struct{}

func (nopProcess) SendUserMessage(*actor.PID, any)   {}
func (nopProcess) SendSystemMessage(*actor.PID, any) {}
func (nopProcess) Stop(*actor.PID)                   {}
