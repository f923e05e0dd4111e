// Package http is Armistice's HTTP edge: an echo v4 server that exposes an
// actors.Engine as a JSON and Server-Sent Events API.
//
// # Routes
//
//	POST /v1/requests              submit; 202 with the snapshot and a Location
//	GET  /v1/requests/{id}         the snapshot
//	GET  /v1/requests/{id}/events  the request's log as SSE, resumable
//	POST /v1/requests/{id}/cancel  cancel; idempotent
//	GET  /healthz, /readyz, /metrics
//
// docs/api.md describes every field, event and error code.
//
// # Streams
//
// Each log record is one SSE event whose id is the record's seq, so a
// browser's EventSource resumes on its own with Last-Event-ID. A stream
// holds one subscription: it pulls what is ready, writes it in one go,
// flushes, and pulls again; a slow client slows only its own stream. The
// response ends right after the end record. A resume at or past the end
// answers 204, which tells EventSource to stop reconnecting.
//
// # Errors
//
// Every error is {"error":{"code":"<snake_case>","message":"..."}} with
// the matching status; handlers return *APIError values and one error
// handler writes them. Nothing a client sends can panic the server; a
// panic in a handler is recovered and answered 500 internal_error.
//
// # Shutdown
//
// Server.Shutdown turns /readyz to 503 and refuses submits, drains the
// engine (running requests get a grace period, the rest end as
// failed/shutdown), lets every open stream write its end event, and then
// closes the listener.
package http
