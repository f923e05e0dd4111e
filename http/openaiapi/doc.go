// Package openaiapi is Armistice's OpenAI-compatible front door: the Chat
// Completions and Responses APIs, served by the same engine and the same
// request actors as the native API, so that every OpenAI SDK is an
// Armistice client.
//
// # Usage
//
//	srv, _ := armhttp.New(eng, armhttp.DefaultConfig())
//	cfg := openaiapi.DefaultConfig()
//	cfg.Models = []string{"embedded"}
//	if err := openaiapi.Register(srv, cfg); err != nil { ... }
//	srv.Serve(ln)
//
// Point a client at it with base_url "http://host:port/v1" and one of the
// server's API keys.
//
// # Routes
//
//	POST   /v1/chat/completions      chat completion; stream or not; foreground
//	POST   /v1/responses             create a response; stream, background, store
//	GET    /v1/responses/{id}        the response; ?stream=true&starting_after=N resumes
//	POST   /v1/responses/{id}/cancel cancel a background response; idempotent
//	DELETE /v1/responses/{id}        forget a finished response
//	GET    /v1/models, /v1/models/{model}
//
// # Streams are the log
//
// Every event a stream sends is a pure function of the request's log,
// numbered in log order, so a resumed stream (starting_after=N) is the
// full stream without its first N+1 events: no gap, no duplicate. A
// stream is one engine subscription read from the start of the log; the
// package keeps no state about requests of its own. What a response shows
// besides its log (background, store, instructions, the output cap) rides
// in the request's metadata under "openai." keys.
//
// # Settings, tools and reasoning
//
// Every request field is honoured (handed to the provider as
// llm.Settings), refused with a 400 naming it, or a hint listed in
// fieldSet (docs/openai.md); the provider's refusals (llm.Check at
// submit) come back under the client's own name for the field
// (response_format on chat, text.format on Responses). Tool calls,
// reasoning and logprobs are records of the log like tokens: chat
// streams delta.tool_calls and delta.reasoning_content, Responses
// function_call and reasoning items.
//
// # Foreground and background
//
// Chat completions and responses created with background=false are
// foreground: when the client leaves before the end, the request is
// cancelled and the upstream call aborted. Background responses run on
// whatever the clients do, and can be polled, streamed, resumed and
// cancelled.
//
// # Errors
//
// Every error on these routes, including unknown methods, body limits,
// authentication and recovered panics, is {"error":{"message","type",
// "param","code"}}. An upstream refusal before any output keeps its
// status (a 5xx becomes 502 upstream_error), which is why a foreground
// stream sends nothing before its first output. Once a stream has
// started, a failure travels in the stream: a response.failed event, or
// for chat an {"error":{...}} data line with no [DONE] after it.
//
// docs/openai.md lists what is supported and what is not.
package openaiapi
