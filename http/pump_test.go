package http

import (
	"context"
	"fmt"
	stdhttp "net/http"
	"testing"

	"github.com/armistice-go/armistice/actors"
	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/llm/scripted"
	"github.com/armistice-go/armistice/model"
	"github.com/labstack/echo/v4"
)

// discardResponse is a ResponseWriter that keeps nothing but a count, so
// that a test measures what Pump itself allocates.
type discardResponse struct {
	header stdhttp.Header
	n      int
}

func (d *discardResponse) Header() stdhttp.Header      { return d.header }
func (d *discardResponse) Write(p []byte) (int, error) { d.n += len(p); return len(p), nil }
func (d *discardResponse) WriteHeader(int)             {}
func (d *discardResponse) Flush()                      {}

// Pump writes a fast stream delivery after delivery into its write
// buffer: it hands encode the log's own records. Through
// Subscription.Next, which merges the deliveries waiting into one new
// slice, a reader that is behind copied every record once more (56 B a
// token; a delivery ends at each of the log's 8 KB chunks). Two streams of
// one request see the same records at the same addresses only when
// neither copied them.
func TestPumpWritesAFastStreamWithoutCopyingIt(t *testing.T) {
	prov := scripted.New()
	eng, err := actors.New(actors.DefaultConfig(prov))
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	snap, err := eng.Submit(ctx, "o", actors.Spec{Messages: []llm.Message{{Role: llm.RoleUser, Content: "p"}}})
	if err != nil {
		t.Fatal(err)
	}
	s, err := prov.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const tokens = 3000
	for i := range tokens {
		s.Token(fmt.Sprint(i % 10))
	}
	s.Finish(llm.FinishStop, nil)

	// pump streams the whole answer and returns where each record was
	// when encode got it.
	pump := func() map[uint64]*model.Record {
		sub, err := eng.Subscribe(ctx, snap.ID, "o", 0)
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
		at := map[uint64]*model.Record{}
		encode := func(b []byte, recs []model.Record) []byte {
			for i := range recs {
				at[recs[i].Seq] = &recs[i]
			}
			return appendEvents(b, recs)
		}
		w := &discardResponse{header: stdhttp.Header{}}
		if got := Pump(ctx, echo.NewResponse(w, echo.New()), sub, 0, encode); got != StreamEnded {
			t.Fatalf("Pump ended with %v", got)
		}
		if len(at) != tokens+3 {
			t.Fatalf("encode got %d records, want %d", len(at), tokens+3)
		}
		return at
	}
	first, second := pump(), pump()
	copied := 0
	for seq, r := range first {
		if second[seq] != r {
			copied++
		}
	}
	if copied > 0 {
		t.Errorf("%d of %d records reached encode as copies, not the log's own", copied, len(first))
	}
}
