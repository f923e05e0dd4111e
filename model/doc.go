// Package model is the request lifecycle as data: states, terminal statuses
// and reasons, the event log record, the events that drive a request and the
// effects it asks for, and the pure transition function Step.
//
// # Purity
//
// Nothing here does I/O, reads a clock, or starts a goroutine; the package
// imports only the standard library (a test enforces it). Time enters as a
// field of each Event (At), so every rule is deterministic and testable as a
// table. The actor shell in package actors converts messages into events,
// calls Step, and executes the returned effects in order. For a Tokens
// event it calls StepTokens, the same step with the appended records
// returned apart, so that a paced token's step allocates nothing.
//
// # Rules
//
//   - Seq 1 of every log is a state record "pending"; "streaming" is
//     appended when the producer starts; exactly one end record closes the
//     log, and nothing follows it.
//   - The first terminal event wins (completed, cancelled, failed); every
//     later token or terminal event is ignored.
//   - Cancel is recorded (the end record appended) before the producer is
//     told to stop; the producer's resulting error is a late event.
//   - Timers carry a generation; a timer that fires after it was superseded
//     is ignored, so the shell never has to cancel one to be correct.
//   - Cleanup is decided here: the request stops after its end record has
//     reached every attached subscriber and Linger has passed, or after
//     PickupTimeout when nobody picks it up.
package model
