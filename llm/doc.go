// Package llm defines what Armistice asks of a language model: a Provider
// that opens a context-aware Stream of Chunks (text deltas, a finish reason,
// token usage).
//
// # Contract
//
// A Provider opens one Stream per request. Stream.Recv blocks until the next
// chunk, the end of the stream (io.EOF) or an error. When the context passed
// to Provider.Stream is cancelled, Recv must return promptly with an error
// wrapping the context's error, and the provider must release its resources
// (for a network provider: abort the upstream HTTP request).
//
// A well-formed stream ends with a chunk whose FinishReason is set, followed
// by io.EOF. A stream that reaches io.EOF without a finish reason was cut
// short; the engine records it as a failed request (upstream_error) and keeps
// the text already delivered.
//
// Errors returned by Provider.Stream happen before the first token (the
// request may be retried elsewhere); errors returned by Recv after text was
// delivered are mid-stream failures. Providers wrap their errors with the
// sentinels in errors.go so callers can tell them apart with errors.Is.
//
// # Implementations
//
//   - llm/embedded: the default model, deterministic and offline.
//   - llm/scripted: a provider whose every token, stall, error and end is
//     decided by a test.
//   - llm/openai, llm/anthropic: OpenAI-compatible Chat Completions and
//     Anthropic Messages over HTTP (llm/openai on net/http, llm/anthropic on
//     its official SDK); llm/resilient wraps
//     them with retries, backoff, fallbacks and error kinds (status.go holds
//     the error types they share), and llm/llmtest fakes their upstreams.
//   - llm/upstreamhttp: an HTTP client for those two (their
//     Config.HTTPClient) that also speaks HTTP/2 without TLS to a
//     plain-HTTP upstream that answers its one-time probe; `armistice
//     serve` uses it, their own default client does not probe.
package llm
