package actortest_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"testing"
	"testing/slogtest"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"github.com/armistice-go/armistice/actors/actortest"
)

// TestLogCaptureSlogtest runs the standard library's handler conformance
// suite. Attrs are flat ("g.k"), so the result is rebuilt as nested maps.
func TestLogCaptureSlogtest(t *testing.T) {
	var capture *actortest.LogCapture
	slogtest.Run(t, func(*testing.T) slog.Handler {
		capture = actortest.NewLogCapture()
		return capture
	}, func(t *testing.T) map[string]any {
		entries := capture.Entries()
		if len(entries) != 1 {
			t.Fatalf("captured %d entries, want 1", len(entries))
		}
		e := entries[0]
		m := map[string]any{slog.LevelKey: e.Level, slog.MessageKey: e.Message}
		if !e.Time.IsZero() {
			m[slog.TimeKey] = e.Time
		}
		for k, v := range e.Attrs {
			parts := strings.Split(k, ".")
			dst := m
			for _, g := range parts[:len(parts)-1] {
				sub, ok := dst[g].(map[string]any)
				if !ok {
					sub = map[string]any{}
					dst[g] = sub
				}
				dst = sub
			}
			dst[parts[len(parts)-1]] = v
		}
		return m
	})
}

func TestLogCaptureAttrsGroupsAndSharing(t *testing.T) {
	capture := actortest.NewLogCapture()
	base := slog.New(capture)
	derived := base.With("a", 1).WithGroup("g").With("b", 2)
	derived.Info("hello", "c", 3, slog.Group("h", "d", 4))
	base.Debug("plain")

	entries := capture.Entries()
	if len(entries) != 2 {
		t.Fatalf("captured %d entries, want 2 (derived handlers share the store)", len(entries))
	}
	want := map[string]any{"a": int64(1), "g.b": int64(2), "g.c": int64(3), "g.h.d": int64(4)}
	if got := entries[0].Attrs; !maps.Equal(got, want) {
		t.Errorf("attrs = %v, want %v", got, want)
	}
	if e := entries[1]; e.Level != slog.LevelDebug || e.Message != "plain" || len(e.Attrs) != 0 {
		t.Errorf("second entry = %+v", e)
	}

	// Entries returns a copy.
	entries[0].Attrs["a"] = "changed"
	if got := capture.Entries()[0].Attrs["a"]; got != int64(1) {
		t.Errorf("Entries aliases the store: a = %v", got)
	}
}

func TestLogCaptureCount(t *testing.T) {
	capture := actortest.NewLogCapture()
	log := slog.New(capture)
	log.Debug("dropped frame", "stream", "s1")
	log.Info("request started", "id", "r-42")
	log.Warn("slow upstream", "latency", 3*time.Second)
	log.Error("request failed", "id", "r-42", "err", errors.New("boom"))

	for _, c := range []struct {
		level  slog.Level
		substr string
		want   int
	}{
		{slog.LevelDebug, "", 4},
		{slog.LevelInfo, "", 3},
		{slog.LevelInfo, "r-42", 2},   // attr values
		{slog.LevelWarn, "r-42", 1},   // level filter
		{slog.LevelInfo, "3s", 1},     // %v of a Duration
		{slog.LevelInfo, "boom", 1},   // %v of an error
		{slog.LevelDebug, "frame", 1}, // message
		{slog.LevelDebug, "id", 0},    // keys do not count
	} {
		if got := capture.Count(c.level, c.substr); got != c.want {
			t.Errorf("Count(%v, %q) = %d, want %d", c.level, c.substr, got, c.want)
		}
	}
}

func TestLogCaptureDump(t *testing.T) {
	capture := actortest.NewLogCapture()
	at := time.Date(2000, 1, 1, 0, 0, 1, 500000000, time.UTC)
	r := slog.NewRecord(at, slog.LevelWarn, "slow upstream", 0)
	r.AddAttrs(slog.String("who", "llm a"), slog.Int("n", 2), slog.String("empty", ""))
	if err := capture.Handle(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	capture.Dump(&b)
	if got, want := b.String(), "00:00:01.500000 WARN slow upstream empty=\"\" n=2 who=\"llm a\"\n"; got != want {
		t.Errorf("Dump =\n%q\nwant\n%q", got, want)
	}
}

func TestLogCaptureConcurrent(t *testing.T) {
	capture := actortest.NewLogCapture()
	log := slog.New(capture).With("worker", true)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 100 {
				log.Info("tick", "w", w, "i", i)
				_, _ = fmt.Fprintf(capture.Writer(), `{"level":"info","message":"zl","w":%d}`+"\n", w)
			}
		})
	}
	wg.Wait()
	if got := capture.Count(slog.LevelInfo, "tick"); got != 800 {
		t.Errorf("Count(tick) = %d, want 800", got)
	}
	if got := capture.Count(slog.LevelInfo, "zl"); got != 800 {
		t.Errorf("Count(zl) = %d, want 800", got)
	}
}

func TestLogCaptureProtoActorLogs(t *testing.T) {
	actortest.RunSim(t, func(s *actortest.Sim) {
		t := s.T
		if n := s.Logs.Count(slog.LevelInfo, "actor system started"); n != 1 {
			t.Errorf("Count(actor system started) = %d, want 1", n)
		}
		if n := s.Logs.Count(slog.LevelInfo, s.System.ID); n != 1 {
			t.Errorf("no entry carries the system id %q", s.System.ID)
		}

		gone := s.Spawn(actor.PropsFromFunc(func(actor.Context) {}))
		if err := s.Root.StopFuture(gone).Wait(); err != nil {
			t.Fatal(err)
		}
		s.Root.Send(gone, "for nobody")
		s.Quiesce()
		if n := s.Logs.Count(slog.LevelInfo, "for nobody"); n != 1 {
			t.Errorf("dead letter logged %d times, want 1:\n%v", n, s.Logs.Entries())
		}
	})
}

func TestLogCaptureZerologWriter(t *testing.T) {
	capture := actortest.NewLogCapture()
	log := zerolog.New(capture.Writer()).With().Str("component", "engine").Logger()
	log.Warn().Int("n", 42).Float64("ratio", 1.5).Bool("ok", false).Msg("slow upstream")
	log.Error().Err(errors.New("boom")).Msg("request failed")
	log.Trace().Msg("noise")
	log.Log().Msg("no level")
	_, _ = capture.Writer().Write([]byte("plain text line\n"))

	entries := capture.Entries()
	if len(entries) != 5 {
		t.Fatalf("captured %d entries, want 5: %+v", len(entries), entries)
	}
	warn := entries[0]
	if warn.Level != slog.LevelWarn || warn.Message != "slow upstream" {
		t.Errorf("entry 0 = %+v", warn)
	}
	want := map[string]any{"component": "engine", "n": int64(42), "ratio": 1.5, "ok": false}
	if !maps.Equal(warn.Attrs, want) {
		t.Errorf("attrs = %v, want %v", warn.Attrs, want)
	}
	if e := entries[1]; e.Level != slog.LevelError || e.Attrs[zerolog.ErrorFieldName] != "boom" {
		t.Errorf("entry 1 = %+v", e)
	}
	if e := entries[2]; e.Level >= slog.LevelDebug {
		t.Errorf("trace entry level = %v, want below Debug", e.Level)
	}
	if e := entries[3]; e.Level != slog.LevelInfo || e.Message != "no level" {
		t.Errorf("entry 3 = %+v", e)
	}
	if e := entries[4]; e.Level != slog.LevelInfo || e.Message != "plain text line" || len(e.Attrs) != 0 {
		t.Errorf("non-JSON entry = %+v", e)
	}
	if n := capture.Count(slog.LevelError, "boom"); n != 1 {
		t.Errorf("Count(Error, boom) = %d, want 1", n)
	}
}
