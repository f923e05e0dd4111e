// Package openai is an llm.Provider for OpenAI's Chat Completions API and
// every server that speaks it (vLLM, llama.cpp's server, Ollama's /v1,
// LiteLLM and other gateways), built on the official SDK
// github.com/openai/openai-go/v3.
//
// # Requests
//
// A request becomes POST {BaseURL}/chat/completions with "stream": true and
// "stream_options": {"include_usage": true}. Messages keep their roles
// (system, user, assistant). Request.Model overrides Config.Model.
// Request.MaxTokens, when positive, is sent as "max_tokens": the field every
// OpenAI-compatible server accepts (vLLM, llama.cpp and Ollama all read it);
// set Config.MaxCompletionTokens for OpenAI's reasoning models, which only
// accept "max_completion_tokens".
//
// The body is encoded by this package (body.go, encoding/json) and handed
// to the SDK as raw bytes (Client.Post); the SDK resolves the base URL,
// authenticates, adds the headers, sends the request and turns HTTP error
// statuses into errors. Letting the SDK marshal ChatCompletionNewParams cost
// about a fifth of a request's time in BenchmarkStreamStart and grew the
// calling goroutine's stack to 32 KB, kept while it reads the stream. The
// stream's chunks are decoded by this package (wire.go) into the four
// fields it reads, because the SDK's generic decoder cost about 20 µs per
// chunk (see docs/benchmarks.md).
//
// The SDK's own retries are switched off (option.WithMaxRetries(0)):
// retrying belongs to llm/resilient, which does it once for every
// provider. The provider reads no OPENAI_* environment variable; its Config
// is the whole truth.
//
// # Chunks
//
// Each "chat.completion.chunk" of choice 0 becomes an llm.Chunk with the
// delta's content as Text. The first chunk (the role, with empty content)
// and any other chunk carrying nothing are skipped; so are refusal and
// tool-call deltas, which are not answer text. finish_reason maps onto
// llm.FinishReason: "stop" → stop, "length" → length, "content_filter" →
// content_filter; "tool_calls" and "function_call" (which need tools this
// provider never sends) and unknown values → stop. The usage chunk (empty
// choices, "usage" set) becomes a chunk carrying only Usage; it follows the
// finish chunk.
//
// # Errors
//
// Stream returns an error wrapping:
//   - llm.ErrInvalidRequest for a request with no messages or an unknown role;
//   - the context's error when it ends before the response headers arrive;
//   - llm.ErrUpstream with an *llm.StatusError (status code, Retry-After,
//     the body's error.message) for an HTTP error status;
//   - llm.ErrUpstream and the transport's error when the connection fails.
//
// Recv returns io.EOF after the last chunk, or an error wrapping:
//   - the context's error once it is cancelled (the response body is closed,
//     which aborts the upstream HTTP request);
//   - llm.ErrUpstream and llm.ErrStreamCut when the body ends, cleanly
//     ("data: [DONE]" or EOF) or not, before any finish_reason;
//   - llm.ErrUpstream and an *llm.StreamError for an error object inside the
//     stream (data: {"error":{...}});
//   - llm.ErrUpstream and llm.ErrMalformed for a chunk that is not JSON, or
//     whose choices is not an array.
//
// Once a finish reason was delivered the answer is complete: however the
// body ends after it (with or without the usage chunk and [DONE]), Recv
// returns io.EOF. The API key never appears in an error string: it is
// replaced by "[redacted]" wherever an upstream message or a transport error
// would quote it.
package openai
