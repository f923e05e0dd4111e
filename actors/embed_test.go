package actors

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/llm/scripted"
	"github.com/armistice-go/armistice/model"
	"github.com/asynkron/protoactor-go/actor"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestSlogHandlerReceivesEveryLog: with SlogHandler set, the engine's own
// lines reach it with their fields and level.
func TestSlogHandlerReceivesEveryLog(t *testing.T) {
	var buf lockedBuffer
	h := slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})
	synctest.Test(t, func(t *testing.T) {
		hs := newHarness(t, scripted.New(), func(c *Config) { c.SlogHandler = h })
		defer hs.close()
		snap := hs.submit(prompt("p"))
		hs.script().Finish(llm.FinishStop, nil)
		synctest.Wait()
		out := buf.String()
		if !strings.Contains(out, `"msg":"request finished"`) || !strings.Contains(out, `"request_id":"`+snap.ID+`"`) || !strings.Contains(out, `"level":"INFO"`) {
			t.Fatalf("slog got:\n%s", out)
		}
		if strings.Contains(out, `"level":"DEBUG"`) {
			t.Fatalf("debug lines passed an info handler:\n%s", out)
		}
	})
}

// TestAttachAndParentRestart: an Engine over a supervisor that runs as the
// child of a user's actor serves Submit and Subscribe; when the supervisor
// crashes, the parent's default strategy restarts it: its requests are
// stopped (their subscribers get a failed/shutdown end, nothing hangs) and
// the new instance, empty, serves new requests.
func TestAttachAndParentRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		prov := scripted.New()
		hs := newHarness(t, prov, nil) // for its system and config
		defer hs.close()
		props, err := SupervisorProps(hs.eng.cfg)
		if err != nil {
			t.Fatal(err)
		}
		supc := make(chan *actor.PID, 1)
		root := hs.eng.system.Root
		host := root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
			if _, ok := c.Message().(*actor.Started); ok {
				supc <- c.Spawn(props)
			}
		}))
		defer root.Stop(host)
		eng, err := Attach(hs.eng.system, <-supc, hs.eng.cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer eng.Close()
		ctx := context.Background()
		snap, err := eng.Submit(ctx, owner, prompt("p"))
		if err != nil {
			t.Fatal(err)
		}
		sub, err := eng.Subscribe(ctx, snap.ID, owner, 0)
		if err != nil {
			t.Fatal(err)
		}
		s, _ := prov.Next(ctx)
		s.Token("a")
		synctest.Wait()

		root.Send(eng.Supervisor(), &panicNow{value: "boom"})
		synctest.Wait()
		var recs []model.Record
		for {
			r, err := sub.Next(ctx)
			recs = append(recs, r...)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("Next: %v", err)
			}
		}
		wantEnd(t, recs, model.StateDone, model.StatusFailed, model.ReasonShutdown)
		if _, err := eng.Status(ctx, snap.ID, owner); !errors.Is(err, ErrNotFound) {
			t.Fatalf("after the restart the old request: %v; want ErrNotFound", err)
		}
		again, err := eng.Submit(ctx, owner, prompt("q"))
		if err != nil || again.State == 0 {
			t.Fatalf("a submit after the restart: %+v, %v", again, err)
		}
		prov.Next(ctx)
		eng.Close()
		if _, err := hs.eng.Stats(ctx); err != nil {
			t.Fatalf("closing an attached Engine stopped the system: %v", err)
		}
	})
}

func TestAttachValidates(t *testing.T) {
	if _, err := Attach(nil, nil, DefaultConfig(scripted.New())); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("Attach(nil) = %v", err)
	}
}
