// Package actors is the proto.actor shell of Armistice: a supervisor that
// admits and routes requests, and one actor per request that runs the pure
// lifecycle of package model, executes its effects, keeps the request's
// event log and serves its subscribers.
//
// # Usage as a library
//
// Engine is the plain Go API:
//
//	eng, err := actors.New(actors.DefaultConfig(provider))
//	snap, err := eng.Submit(ctx, owner, actors.Spec{Messages: ...})
//	sub, err := eng.Subscribe(ctx, snap.ID, owner, 0)
//	// or both in one call: snap, sub, err := eng.SubmitAndSubscribe(ctx, owner, spec)
//	defer sub.Close()
//	for {
//		records, err := sub.Next(ctx) // io.EOF after the end record
//		...
//	}
//	eng.Cancel(ctx, snap.ID, owner)
//	eng.Drain(ctx, 30*time.Second)
//	eng.Close()
//
// # Usage from other actors
//
// SupervisorProps gives the supervisor's props; spawn it as a child of
// your own actor and send it Submit, GetStatus, Cancel, Subscribe, Drain
// and GetStats with ctx.Request, so that the answer (*Snapshot,
// *Subscribed, *Drained, *Stats or *Error) reaches you. A subscriber actor
// sends Pull to the Subscribed.Request PID and receives *Batch messages,
// one per credit the Pull grants (one when it grants none); it sends
// Unsubscribe when done. The request watches the
// subscriber and detaches it if it stops. Messages that may one day cross
// nodes (Submit, GetStatus, Cancel, Pull, Unsubscribe, Batch, Snapshot) are
// plain data.
//
// # Ownership and races
//
// A request's state, log and subscribers are touched only inside its
// actor's Receive; the id→PID table only inside the supervisor's. Tokens
// reach the request through a small handoff buffer (one message per batch,
// not per token). Subscribers pull: the request sends a subscriber only
// the batches it granted credit for, each a slice of its append-only log,
// so a slow reader gets larger batches later and never blocks anybody,
// and no per-subscriber queue grows past the grant. A request stops
// itself (a message to self) only after its end record reached every
// attached subscriber and Linger passed, or after PickupTimeout; the supervisor forgets it on Terminated.
// A panic stops the request (never a restart, which would replay the LLM
// call); its subscribers still receive a failed/internal_error end.
package actors
