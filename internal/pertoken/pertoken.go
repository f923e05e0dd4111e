package pertoken

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/armistice-go/armistice/actors"
	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/model"
)

// CountingProvider streams N tokens (" token" each) as fast as they are
// read, then a stop. It allocates nothing per token, so the benchmarks
// measure the path, not the provider.
type CountingProvider struct{ N int }

type countingStream struct {
	ctx  context.Context
	left int
	done bool
}

// Name implements llm.Provider.
func (p CountingProvider) Name() string { return "counting" }

// Stream implements llm.Provider; the request is ignored.
func (p CountingProvider) Stream(ctx context.Context, _ llm.Request) (llm.Stream, error) {
	return &countingStream{ctx: ctx, left: p.N}, nil
}

func (s *countingStream) Recv() (llm.Chunk, error) {
	if err := s.ctx.Err(); err != nil {
		return llm.Chunk{}, err
	}
	switch {
	case s.left > 0:
		s.left--
		return llm.Chunk{Text: " token"}, nil
	case !s.done:
		s.done = true
		return llm.Chunk{FinishReason: llm.FinishStop}, nil
	}
	return llm.Chunk{}, io.EOF
}

func (s *countingStream) Close() error { return nil }

// NewEngine returns an engine (actors.DefaultConfig, no output cap) whose
// provider is CountingProvider{N: n}: every request it runs streams n
// tokens. The caller closes it.
func NewEngine(n int) (*actors.Engine, error) {
	cfg := actors.DefaultConfig(CountingProvider{N: n})
	cfg.MaxOutputBytes = 0
	return actors.New(cfg)
}

// RunEngine submits one request to eng (from NewEngine(n)) and reads its
// log to the end through one subscription. It returns an error wrapping
// ErrTokenCount unless exactly n tokens arrived.
func RunEngine(ctx context.Context, eng *actors.Engine, n int) error {
	snap, err := eng.Submit(ctx, "bench", actors.Spec{Messages: []llm.Message{{Role: llm.RoleUser, Content: "p"}}})
	if err != nil {
		return err
	}
	sub, err := eng.Subscribe(ctx, snap.ID, "bench", 0)
	if err != nil {
		return err
	}
	defer sub.Close()
	tokens := 0
	count := func(recs []model.Record) {
		for i := range recs {
			if recs[i].Kind == model.KindToken {
				tokens++
			}
		}
	}
	for {
		// As the server's SSE loop reads (http.Pump): one delivery, then
		// those already waiting, each a view of the log, never copied.
		recs, err := sub.NextBatch(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		count(recs)
		for more, ok := sub.TryNextBatch(); ok; more, ok = sub.TryNextBatch() {
			count(more)
		}
	}
	if tokens != n {
		return fmt.Errorf("%w: engine read %d tokens, want %d", ErrTokenCount, tokens, n)
	}
	return nil
}

// RunChannel streams n tokens from a CountingProvider through a producer
// goroutine and a buffered channel (1024: the baseline at its best) into
// a consumer that numbers each token into a model.Record log. It returns
// an error wrapping ErrTokenCount unless exactly n tokens arrived.
func RunChannel(ctx context.Context, n int) error {
	stream, err := CountingProvider{N: n}.Stream(ctx, llm.Request{})
	if err != nil {
		return err
	}
	ch := make(chan string, 1024)
	go func() {
		defer close(ch)
		for {
			c, err := stream.Recv()
			if err != nil {
				return
			}
			if c.Text != "" {
				select {
				case ch <- c.Text:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	var log []model.Record
	for text := range ch {
		log = append(log, model.Record{Seq: uint64(len(log) + 1), Kind: model.KindToken, Text: text})
	}
	if len(log) != n {
		return fmt.Errorf("%w: channel read %d tokens, want %d", ErrTokenCount, len(log), n)
	}
	return nil
}
