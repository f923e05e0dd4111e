package actors

import (
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/rs/zerolog"
)

// withSlog points Logger at SlogHandler when one is set.
func (c Config) withSlog() Config {
	if c.SlogHandler == nil {
		return c
	}
	level := zerolog.Disabled
	for _, l := range []struct {
		slog slog.Level
		zero zerolog.Level
	}{{slog.LevelError, zerolog.ErrorLevel}, {slog.LevelWarn, zerolog.WarnLevel}, {slog.LevelInfo, zerolog.InfoLevel}, {slog.LevelDebug, zerolog.DebugLevel}} {
		if c.SlogHandler.Enabled(context.Background(), l.slog) {
			level = l.zero
		}
	}
	c.Logger = zerolog.New(slogWriter{c.SlogHandler}).Level(level).With().Timestamp().Logger()
	return c
}

// slogWriter turns zerolog's JSON lines into slog records: zerolog writes
// each event whole in one Write.
type slogWriter struct{ h slog.Handler }

var slogLevels = map[string]slog.Level{
	"trace": slog.LevelDebug - 4, "debug": slog.LevelDebug, "info": slog.LevelInfo,
	"warn": slog.LevelWarn, "error": slog.LevelError, "fatal": slog.LevelError + 4, "panic": slog.LevelError + 8,
}

func (w slogWriter) Write(p []byte) (int, error) {
	var fields map[string]any
	if err := json.Unmarshal(p, &fields); err != nil {
		// Not JSON: pass it on as the message rather than lose it.
		rec := slog.NewRecord(time.Now(), slog.LevelInfo, string(p), 0)
		return len(p), w.h.Handle(context.Background(), rec)
	}
	level, ok := slogLevels[stringField(fields, zerolog.LevelFieldName)]
	if !ok {
		level = slog.LevelInfo
	}
	at := time.Now()
	if t, err := time.Parse(zerolog.TimeFieldFormat, stringField(fields, zerolog.TimestampFieldName)); err == nil {
		at = t
	}
	rec := slog.NewRecord(at, level, stringField(fields, zerolog.MessageFieldName), 0)
	delete(fields, zerolog.LevelFieldName)
	delete(fields, zerolog.MessageFieldName)
	delete(fields, zerolog.TimestampFieldName)
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		rec.AddAttrs(slog.Any(k, fields[k]))
	}
	if !w.h.Enabled(context.Background(), level) {
		return len(p), nil
	}
	return len(p), w.h.Handle(context.Background(), rec)
}

func stringField(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}
