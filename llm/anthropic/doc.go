// Package anthropic is an llm.Provider for Anthropic's Messages API, built
// on the official SDK github.com/anthropics/anthropic-sdk-go/v2.
//
// # Requests
//
// A request becomes POST {BaseURL}/v1/messages with "stream": true. System
// messages go to the "system" parameter (one text block each, in order);
// user and assistant messages keep their order. Request.Model overrides
// Config.Model. The Messages API requires max_tokens: a positive
// Request.MaxTokens is sent, under whichever name the client used
// (max_tokens, max_completion_tokens, max_output_tokens), else
// Config.MaxTokens (default 1024).
//
// # Settings
//
// Provider.Capabilities lists what is forwarded; llm.Check refuses the
// rest before any request is sent. Provider.CheckRequest lets
// llm.Check refuse at submit time, too, what Stream would refuse with
// llm.ErrInvalidRequest (below).
//
//   - stop → stop_sequences; user → metadata.user_id;
//   - tools → tools[{name, description, input_schema, strict}], the
//     parameters schema sent byte for byte (none: {"type":"object",
//     "properties":{}});
//   - tool_choice auto → {"type":"auto"}, required → {"type":"any"}, a
//     function → {"type":"tool","name":...}, none → {"type":"none"};
//   - parallel_tool_calls → disable_parallel_tool_use (its negation) on the
//     tool choice, {"type":"auto"} when the client set no tool_choice;
//     tool_choice none carries none, since no tool is called at all;
//   - reasoning_effort → extended thinking, {"type":"enabled",
//     "budget_tokens": B} with B = 1024 (minimal), 4096 (low), 8192
//     (medium), 16384 (high); "none" → {"type":"disabled"}; other values
//     are an llm.ErrInvalidRequest. Thinking counts towards max_tokens:
//     without a cap from the client max_tokens is Config.MaxTokens + B;
//     with one, the cap covers thinking and answer and B shrinks to
//     cap-1 when it would not fit; a cap of 1024 or less cannot hold
//     Anthropic's smallest budget and is an llm.ErrInvalidRequest.
//   - assistant messages with tool calls → content [text (when not
//     empty), tool_use{id, name, input}...], input being the arguments
//     parsed as JSON ("" → {}); tool messages → tool_result{tool_use_id,
//     content} blocks of a user turn, consecutive results (system messages
//     between them aside) in one turn.
//
// Refused: temperature, top_p and top_k (API version 2026-10-21, which
// anthropic-sdk-go v2 sends, removed them and answers them with a 400);
// seed, presence_penalty, frequency_penalty, logit_bias, logprobs and
// top_logprobs (no such parameters); response_format (Anthropic's
// output_config.format covers json_schema only, with its own schema
// rules); service_tier (Anthropic's tiers, "auto" and "standard_only",
// are not OpenAI's).
//
// The SDK's own retries are switched off (option.WithMaxRetries(0)):
// retrying belongs to llm/resilient, which does it once for every
// provider. The SDK's OpenTelemetry spans are off, and the provider reads no
// ANTHROPIC_* environment variable, credential file or profile; its Config
// is the whole truth.
//
// # Events
//
//   - message_start: its usage.input_tokens is kept for the finish chunk;
//   - content_block_start: of a text block, its text, if any, is a chunk;
//     of a thinking block, its thinking is Chunk.Reasoning; of a tool_use
//     block, a chunk with one llm.ToolCallDelta{Index, ID, Name}, Index
//     counting the answer's tool_use blocks from 0 in order (an input the
//     block already holds, which the API leaves empty, is its Arguments);
//   - content_block_delta: text_delta → Chunk.Text; thinking_delta →
//     Chunk.Reasoning; input_json_delta → llm.ToolCallDelta{Index,
//     Arguments: partial_json} of its block's call (empty pieces skipped);
//     signatures and citations are skipped;
//   - message_delta with a stop_reason: the finish chunk, carrying
//     llm.Usage{PromptTokens: input_tokens (from message_start, or from
//     message_delta when it repeats them), CompletionTokens: output_tokens};
//   - message_stop: the end, io.EOF;
//   - ping and content_block_stop: skipped (the SDK drops pings itself);
//   - error: the stream fails (see Errors).
//
// stop_reason maps onto llm.FinishReason: end_turn and stop_sequence → stop;
// tool_use → tool_calls; max_tokens and model_context_window_exceeded →
// length; refusal → content_filter; pause_turn (which needs server tools
// this provider never sends) and unknown values → stop.
//
// # Errors
//
// Stream returns an error wrapping:
//   - llm.ErrInvalidRequest for a request with no messages, only system
//     messages, an unknown role, a tool message without tool_call_id, a
//     tool call without id or name or whose arguments are not JSON, an
//     unknown reasoning_effort, or one whose thinking cannot fit the cap;
//   - the context's error when it ends before the response headers arrive;
//   - llm.ErrUpstream with an *llm.StatusError (status code, Retry-After,
//     the body's error.type as Type, "rate_limit_error", and error.message
//     as Message) for an HTTP error status (429, 529 overloaded, ...);
//   - llm.ErrUpstream and the transport's error when the connection fails.
//
// Recv returns io.EOF after message_stop, or an error wrapping:
//   - the context's error once it is cancelled (the response body is closed,
//     which aborts the upstream HTTP request);
//   - llm.ErrUpstream and llm.ErrStreamCut when the body ends, or
//     message_stop comes, before any stop_reason;
//   - llm.ErrUpstream and an *llm.StreamError (the event's error.type and
//     error.message) for an "error" event;
//   - llm.ErrUpstream and llm.ErrMalformed for an event whose data is not
//     JSON.
//
// Once the stop_reason was delivered the answer is complete: a body that
// ends after it without message_stop still ends with io.EOF. The API key
// never appears in an error string.
package anthropic
