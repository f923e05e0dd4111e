// Package llmtest provides fake LLM upstreams for tests and benchmarks:
// HTTP servers on a loopback address that speak OpenAI's Chat Completions
// streaming and Anthropic's Messages streaming byte for byte, scripted per
// request.
//
// # Servers
//
// NewOpenAIServer and NewAnthropicServer start a server for a test and close
// it when the test ends; StartOpenAI and StartAnthropic do the same without
// a *testing.T (for benchmark tools) and return a Server to Close. Server.URL
// is the base URL to configure a provider with. The i-th request gets the
// i-th Script; requests beyond the last script get the last one again, so
// one Status(500, "") script is an upstream that always fails.
//
// # Scripts
//
// A Script answers an error status (Status, with Retry-After), hangs up
// without answering (Hangup), replays raw bytes (Raw, Replay, Fixture), or
// streams Steps after the format's preamble: text deltas, a finish, the
// usage chunk, the end marker ([DONE] or message_stop), an error object
// inside the stream, a malformed event, a cut connection, and stalls.
// Answer, Finished, CutAfter, EndAfter, ErrorAfter, MalformedAfter and
// StallAfter build the usual ones.
//
// In the OpenAI format a Step can also carry a reasoning delta
// (Step.Reasoning, sent as delta.reasoning_content), tool-call pieces
// (Step.ToolCalls, sent as delta.tool_calls exactly as OpenAI streams
// them; end with Finish llm.FinishToolCalls) and per-token logprobs
// (Step.Logprobs, sent as the choice's logprobs.content), all in the
// step's one chunk. ToolCall builds a script streaming one complete call.
// An error answer's body can carry a chosen error.type, error.code and
// error.param (Script.ErrorType, ErrorCode, ErrorParam; StatusBody), as
// OpenAI sends for context_length_exceeded or model_not_found.
//
// # Stalls and disconnects
//
// A stall blocks the handler until the client goes away, the test calls
// Release, or the server closes; nothing sleeps. WaitStalled reports a
// request reaching a stall. The server records every client disconnect it
// observes (its request context is done, or a write fails) with the time it
// saw it; WaitDisconnect and Disconnects hand them out, so a test can
// measure the time from cancelling a request to the upstream seeing the
// connection go.
//
// # Recording
//
// Requests returns every request received (headers, body, model, max
// tokens, include_usage), for asserting what a provider sent, for instance
// its Authorization header.
//
// # Fixtures
//
// testdata/ holds the exact bytes the servers send for canonical scripts
// (openai_stream.txt, anthropic_stream.txt, the usage chunk, an error in
// the middle of a stream, error bodies, tool calls with reasoning,
// logprobs); the package's golden test keeps the
// servers and the files in step (go test ./llm/llmtest -update rewrites
// them). Fixture returns them.
package llmtest
