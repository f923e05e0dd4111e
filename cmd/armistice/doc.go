// Command armistice runs the Armistice server and its clients.
//
// # Subcommands
//
//	armistice serve [flags]
//	armistice chat [--server URL] [--key K] [--model M] [--max-tokens N] "prompt"
//	armistice demo [flags] "prompt"
//
// serve runs the HTTP/SSE API (package http) on the configured provider,
// 127.0.0.1:8080 by default. Every setting is a flag and an ARMISTICE_*
// environment variable (the flag wins); the README has the table.
// SIGINT or SIGTERM drains: readiness turns 503, submits are refused,
// running requests get the shutdown grace, the rest end as
// failed/shutdown, every attached client receives its end event, and the
// process exits 0. A second signal exits at once.
//
// chat submits a prompt to a server, streams the answer to stdout and
// the final status to stderr, resumes a dropped connection from the last
// event it saw, and turns Ctrl-C into a cancel whose end it waits for.
// It exits 0 only when the request completed.
//
// demo streams one answer from the embedded model through an in-process
// engine, without HTTP.
package main
