// Package pertoken is the per-token pipeline that two benchmarks measure:
// BenchmarkPerToken in package actors (go test -bench) and the per_token
// scenario of cmd/armistice-bench. Both run the same two paths over the
// same provider stub, so their figures compare.
//
// # The paths
//
//   - the engine: CountingProvider → producer goroutine → request actor
//     (model.Step, log append) → one subscriber pulling batches through
//     actors.Subscription.NextBatch and TryNextBatch, as the server's SSE
//     loop does (RunEngine, on an engine from NewEngine);
//   - the channel: CountingProvider → producer goroutine → buffered
//     chan string (1024) → a consumer that numbers each token into a
//     []model.Record log: the seed's design at its best (RunChannel).
//
// # Usage
//
//	eng, err := pertoken.NewEngine(n)
//	if err != nil { ... }
//	defer eng.Close()
//	// start the clock
//	err = pertoken.RunEngine(ctx, eng, n)
//	// stop the clock; err wraps ErrTokenCount if a token was lost
//
//	err = pertoken.RunChannel(ctx, n)
//
// The callers time the runs; this package only does the work and checks
// that exactly n tokens arrived.
package pertoken
