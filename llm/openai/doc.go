// Package openai is an llm.Provider for OpenAI's Chat Completions API and
// every server that speaks it (vLLM, llama.cpp's server, Ollama's /v1,
// LiteLLM and other gateways), on net/http. (It was built on the official
// SDK github.com/openai/openai-go/v3, of which nothing but Client.Post was
// left in use; importing the SDK linked all of its services into the
// binary, see docs/benchmarks.md. The tests still drive Armistice's own
// OpenAI API with that SDK.)
//
// # Requests
//
// A request becomes POST {BaseURL}/chat/completions with "stream": true and
// "stream_options": {"include_usage": true}. Messages keep their roles
// (system, user, assistant, tool) and a name where one was given (a tool
// message has none: its "tool_call_id" names the call it answers, and it
// needs one); an assistant turn's tool calls go out as "tool_calls"
// ({"id", "type": "function", "function": {"name", "arguments"}}), with
// "content": null when the turn holds nothing else. Request.Model
// overrides Config.Model.
//
// Every setting of llm.Settings is forwarded under its Chat Completions
// name, and only when the request set it (so an unset one stays the
// server's default, and temperature 0 or seed 0 is sent): temperature,
// top_p, stop (always an array), seed, presence_penalty,
// frequency_penalty, logit_bias, user, service_tier, reasoning_effort,
// logprobs, top_logprobs, response_format ({"type": "text"},
// {"type": "json_object"}, or {"type": "json_schema", "json_schema":
// {"name", "description", "schema", "strict"}}), tools ([{"type":
// "function", "function": {"name", "description", "parameters",
// "strict"}}]), tool_choice ("auto", "none", "required" or {"type":
// "function", "function": {"name"}}) and parallel_tool_calls. top_k has no
// Chat Completions name: Capabilities leaves it out, so llm.Check refuses
// it, and Stream refuses it too (an *llm.UnsupportedError).
//
// Request.MaxTokens, when positive, is sent under the name the client used
// (Settings.MaxTokensField): "max_tokens" (also when no name is given: the
// field every OpenAI-compatible server accepts) or
// "max_completion_tokens"; a Responses client's "max_output_tokens" is
// sent as "max_completion_tokens", which caps the same tokens. Set
// Config.MaxCompletionTokens to send "max_completion_tokens" whatever the
// client used, for an upstream serving only OpenAI's reasoning models.
//
// The body is encoded by this package (body.go, encoding/json); letting
// the SDK marshal ChatCompletionNewParams had cost about a fifth of a
// request's time in BenchmarkStreamStart and grown the calling goroutine's
// stack to 32 KB, kept while it reads the stream. The stream's chunks are
// decoded by this package (wire.go) into the few fields it reads, because
// the SDK's generic decoder cost about 20 µs per chunk (see
// docs/benchmarks.md). Text, role, finish, usage, reasoning and tool-call
// chunks go through a decoder of its own (fastwire.go, about 0.5 µs and
// one allocation for a text chunk); everything else (logprobs, an error
// object, a string with a surrogate escape or invalid UTF-8, a key in
// another case or given twice, malformed JSON) goes to encoding/json
// (about 2.2 µs and nine allocations), which is also the reference: the
// fast decoder takes a chunk only when its result is exactly
// encoding/json's, and a fuzz test holds it to that.
//
// The request (post.go) goes to the base URL's path as a directory joined
// with "chat/completions" (".../v1" and ".../v1/" both give
// ".../v1/chat/completions"), with Content-Type and Accept
// application/json, "Authorization: Bearer <APIKey>" when there is a key,
// User-Agent "armistice", the two X-Stainless headers the SDK sent that say
// something (X-Stainless-Lang: go, X-Stainless-Retry-Count: 0), and the
// ExtraHeaders last, so they may replace any of these. It goes through
// Config.HTTPClient (its Timeout, if any, included); a redirect is followed
// only within the base URL's origin (scheme, host, port), so the key, the
// headers and the prompt are never sent elsewhere. It is sent once:
// retrying belongs to llm/resilient, which does it once for every provider.
// The provider reads no OPENAI_* environment variable; its Config is the
// whole truth.
//
// # Chunks
//
// Each "chat.completion.chunk" of choice 0 becomes an llm.Chunk: the
// delta's content as Text; its "reasoning_content" (vLLM, DeepSeek,
// llama.cpp) or else "reasoning" (newer vLLM, OpenRouter, Ollama) as
// Reasoning (a value that is not a string is ignored); each of its
// "tool_calls" pieces (index, id, function.name, function.arguments) as a
// ToolCallDelta, in order, and a legacy "function_call" as one more,
// index 0 and no id; the choice's "logprobs.content" as Logprobs. The
// first chunk (the role, with empty content) and any other chunk carrying
// nothing are skipped; so are refusal deltas. finish_reason maps onto
// llm.FinishReason: "stop" → stop, "length" → length, "content_filter" →
// content_filter, "tool_calls" and "function_call" → tool_calls; unknown
// values → stop. The usage chunk (empty choices, "usage" set) becomes a
// chunk carrying only Usage; it follows the finish chunk.
//
// # Errors
//
// Stream returns an error wrapping:
//   - llm.ErrInvalidRequest for a request with no messages, an unknown
//     role, a tool message without a tool_call_id, or a malformed setting;
//   - llm.ErrUnsupported (an *llm.UnsupportedError) for top_k;
//   - the context's error when it ends before the response headers arrive;
//   - llm.ErrUpstream with an *llm.StatusError for an HTTP error status:
//     the status, Retry-After (or retry-after-ms), and the body's
//     error.type, error.code, error.param and error.message as the
//     upstream wrote them (a numeric code as its digits; the status text
//     when there is no message);
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
