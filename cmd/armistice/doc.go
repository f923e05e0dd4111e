// Command armistice runs the Armistice engine.
//
// # Subcommands
//
//	armistice demo [flags] "prompt"
//
// demo streams one answer from the embedded model through the in-process
// engine (a supervisor and a request actor) to stdout, prints the final
// status to stderr, and exits 0 only when the request completed. Ctrl-C
// cancels the request and still prints its end. The HTTP server
// (armistice serve) and its client (armistice chat) come with the server
// issue.
package main
