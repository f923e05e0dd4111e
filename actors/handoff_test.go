package actors

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/armistice-go/armistice/llm"
	"github.com/asynkron/protoactor-go/actor"
)

// firehose streams 1 KB chunks (256 of them, then waits for the end), counting what it was asked for.
type firehose struct{ sent *int }

func (f firehose) Name() string { return "firehose" }
func (f firehose) Stream(ctx context.Context, _ llm.Request) (llm.Stream, error) {
	return &firehoseStream{ctx: ctx, sent: f.sent}, nil
}

type firehoseStream struct {
	ctx  context.Context
	sent *int
}

var kilobyte = strings.Repeat("x", 1024)

func (s *firehoseStream) Recv() (llm.Chunk, error) {
	if *s.sent >= 256<<10 { // enough to show an unbounded buffer; then wait
		<-s.ctx.Done()
	}
	if err := s.ctx.Err(); err != nil {
		return llm.Chunk{}, err
	}
	*s.sent += len(kilobyte)
	return llm.Chunk{Text: kilobyte}, nil
}
func (s *firehoseStream) Close() error { return nil }

// TestProducerStopsReadingAtTheHandoffBound: an actor that does not drain
// its inbox (starved) holds at most the bound plus one chunk; taking what
// waits lets the producer read on. Before the bound, the producer buffered
// without limit.
func TestProducerStopsReadingAtTheHandoffBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		system := actor.NewActorSystem()
		sink := system.Root.Spawn(actor.PropsFromFunc(func(actor.Context) {}))
		ctx, cancel := context.WithCancel(context.Background())
		in := &inbox{limit: 16 << 10}
		sent := 0
		done := make(chan struct{})
		go func() {
			defer close(done)
			runProducer(ctx, firehose{&sent}, llm.Request{}, in, system.Root, sink)
		}()
		synctest.Wait() // the producer is parked: nobody drains
		if in.bytes < in.limit || in.bytes > in.limit+len(kilobyte) || sent != in.bytes {
			t.Fatalf("buffered %d bytes, read %d; want the bound %d plus at most one chunk", in.bytes, sent, in.limit)
		}
		texts, _, _ := in.take(nil, nil)
		if len(texts) != in.limit/len(kilobyte) {
			t.Fatalf("took %d texts", len(texts))
		}
		synctest.Wait()
		if sent != 2*in.limit {
			t.Fatalf("after a take the producer read on to %d bytes; want %d", sent, 2*in.limit)
		}
		cancel()
		<-done
		system.Shutdown()
		time.Sleep(10 * time.Second) // proto.actor's dead-letter throttle
	})
}
