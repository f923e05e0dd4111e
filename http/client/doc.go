// Package client is the Go client of Armistice's HTTP API (docs/api.md):
// submit a prompt, read the answer as it streams, look a request up,
// cancel it.
//
// # Usage
//
//	c, err := client.New("http://127.0.0.1:8080", client.WithAPIKey(key))
//	snap, events, err := c.Chat(ctx, client.Request{Prompt: "Tell me a story"})
//	for ev, err := range events {
//		if err != nil { ... }            // the stream could not be resumed
//		switch ev.Name {
//		case "token": fmt.Print(ev.Text)
//		case "end":   fmt.Println(ev.End.Status, ev.End.Reason)
//		}
//	}
//
// SubmitAndStream does the same in one HTTP exchange (the submit is
// answered with the event stream) and returns the request's id where Chat
// returns the submit's snapshot.
//
// # Streams resume by themselves
//
// Stream (and Chat and SubmitAndStream) read a request's event log as Server-Sent Events. When
// the connection drops, stays silent past RetryPolicy.IdleTimeout, or the
// server answers 429 or 5xx, the stream reconnects with Last-Event-ID set
// to the last seq received, after a jittered exponential backoff
// (llm/resilient.Backoff) or the server's Retry-After (llm.ParseRetryAfter),
// so every record is yielded once, in order, and the iteration ends with
// exactly one "end" event. It gives up after RetryPolicy.MaxAttempts failed
// attempts in a row without a new record (ErrGaveUp).
//
// Event names the client does not know (newer servers add kinds such as
// "reasoning" and "tool_call") are passed through with their raw data.
//
// # Errors
//
// An error answer is a *Error with the HTTP status and the API's code and
// message; errors.Is matches it against the sentinels (ErrNotFound,
// ErrAlreadyFinished, ErrUnauthorized, ErrTooManyRequests, ...).
//
// # Submits and idempotency
//
// A submit refused with 429 (queue_full), or 503 with a Retry-After
// (the engine did not answer in time), is retried up to
// RetryPolicy.SubmitRetries times after the server's Retry-After, and a
// submit whose connection failed before the answer after a backoff. Every
// attempt of one submit carries the same Idempotency-Key header, and the
// server answers a retry with the request the first attempt created
// (docs/api.md, "Idempotent submits"), so the request is created once.
//
// # Delete
//
// The API has no delete route: a finished request is forgotten by the
// server after its linger time (docs/api.md, "Retention and expiry"), so
// the client has no Delete. Cancel ends a running request.
package client
