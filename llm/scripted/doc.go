// Package scripted provides language-model providers whose every token,
// stall, error and end is decided by a test.
//
// # Interactive scripts
//
// A Provider hands each stream it opens to the test as a *Script, in opening
// order (Provider.Next). The test then drives the stream step by step:
// Token, Chunk, Finish, Fail, Cut and Panic each hand one step to the
// stream's Recv and block until Recv has taken it; ToolCall hands it the
// chunks of one streamed tool call. A stall is simply not
// sending anything. Done, Cancelled and Closed tell the test how the consumer
// let go of the stream.
//
// # Players
//
// Play returns a provider that replays a fixed list of Steps on every stream,
// waiting Step.After before each step; Words builds the usual list of n
// tokens followed by a finish, ToolCall the chunks of one streamed tool call.
//
// # Synctest
//
// Both are meant for tests running inside a testing/synctest bubble. All
// blocking happens on channels, timers and context cancellation, which are
// durably blocking, so synctest.Wait and the virtual clock work as expected;
// mutexes are only held briefly and never while blocking. No goroutine runs
// per stream: Recv and the Script methods watch the context themselves, and
// the only helper is context.AfterFunc's callback, which Close unregisters.
// Create a Provider inside the bubble that uses it.
package scripted
