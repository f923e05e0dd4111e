package actortest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// LogEntry is one captured log record. Attrs keys are flattened with
// dots ("group.key") so assertions can index them directly.
type LogEntry struct {
	Time    time.Time
	Level   slog.Level
	Message string
	Attrs   map[string]any
}

// LogCapture records log entries in memory so a test can assert on them
// and print them only when it fails, instead of flooding the output.
//
// It is a concurrency-safe slog.Handler (for proto.actor's
// actor.WithLoggerFactory) and, through Writer, a sink for zerolog JSON.
// Handlers derived with WithAttrs/WithGroup share the same entries.
type LogCapture struct {
	store  *logStore
	attrs  []slog.Attr // already qualified with their group prefix
	prefix string      // open groups, "a.b." or ""
}

type logStore struct {
	mu      sync.Mutex
	entries []LogEntry
}

var _ slog.Handler = (*LogCapture)(nil)

// NewLogCapture returns an empty capture.
func NewLogCapture() *LogCapture {
	return &LogCapture{store: &logStore{}}
}

// Enabled reports true for every level: a capture keeps everything, and
// Count/Dump filter afterwards, so a failing test shows the debug detail.
func (l *LogCapture) Enabled(context.Context, slog.Level) bool { return true }

// Handle records r with the handler's attributes and groups applied.
func (l *LogCapture) Handle(_ context.Context, r slog.Record) error {
	attrs := make(map[string]any, len(l.attrs)+r.NumAttrs())
	for _, a := range l.attrs {
		attrs[a.Key] = a.Value.Any()
	}
	r.Attrs(func(a slog.Attr) bool {
		logFlattenAttr(attrs, l.prefix, a)
		return true
	})
	l.store.add(LogEntry{Time: r.Time, Level: r.Level, Message: r.Message, Attrs: attrs})
	return nil
}

// WithAttrs returns a handler that adds attrs (under the open groups) to
// every entry; it shares this capture's entries.
func (l *LogCapture) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return l
	}
	flat := make(map[string]any)
	for _, a := range attrs {
		logFlattenAttr(flat, l.prefix, a)
	}
	cp := *l
	cp.attrs = slices.Clip(cp.attrs)
	for _, k := range slices.Sorted(maps.Keys(flat)) {
		cp.attrs = append(cp.attrs, slog.Any(k, flat[k]))
	}
	return &cp
}

// WithGroup returns a handler that qualifies later attributes with name;
// it shares this capture's entries.
func (l *LogCapture) WithGroup(name string) slog.Handler {
	if name == "" {
		return l
	}
	cp := *l
	cp.prefix = l.prefix + name + "."
	return &cp
}

// logFlattenAttr stores a in dst under prefix, following the slog.Handler
// rules: values are resolved, empty attrs are dropped, groups are
// flattened (inlined when their key is empty) and empty groups dropped.
func logFlattenAttr(dst map[string]any, prefix string, a slog.Attr) {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return
	}
	if a.Value.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p = prefix + a.Key + "."
		}
		for _, g := range a.Value.Group() {
			logFlattenAttr(dst, p, g)
		}
		return
	}
	dst[prefix+a.Key] = a.Value.Any()
}

func (s *logStore) add(e LogEntry) {
	s.mu.Lock()
	s.entries = append(s.entries, e)
	s.mu.Unlock()
}

// Entries returns a copy of everything captured so far, in order.
func (l *LogCapture) Entries() []LogEntry {
	l.store.mu.Lock()
	defer l.store.mu.Unlock()
	out := make([]LogEntry, len(l.store.entries))
	for i, e := range l.store.entries {
		e.Attrs = maps.Clone(e.Attrs)
		out[i] = e
	}
	return out
}

// Count returns how many entries at level or above mention substr in
// their message or in any attribute value (formatted with %v); it is the
// "this was logged exactly n times" assertion.
func (l *LogCapture) Count(level slog.Level, substr string) int {
	l.store.mu.Lock()
	defer l.store.mu.Unlock()
	n := 0
	for _, e := range l.store.entries {
		if e.Level >= level && logEntryMentions(e, substr) {
			n++
		}
	}
	return n
}

func logEntryMentions(e LogEntry, substr string) bool {
	if strings.Contains(e.Message, substr) {
		return true
	}
	for _, v := range e.Attrs {
		if strings.Contains(fmt.Sprint(v), substr) {
			return true
		}
	}
	return false
}

// Dump writes every entry as one text line (time, level, message, sorted
// key=value pairs), for printing the logs of a failed test.
func (l *LogCapture) Dump(w io.Writer) {
	for _, e := range l.Entries() {
		var b strings.Builder
		if !e.Time.IsZero() {
			b.WriteString(e.Time.Format("15:04:05.000000 "))
		}
		b.WriteString(e.Level.String())
		b.WriteByte(' ')
		b.WriteString(e.Message)
		for _, k := range slices.Sorted(maps.Keys(e.Attrs)) {
			s := fmt.Sprint(e.Attrs[k])
			if s == "" || strings.ContainsAny(s, " \t\n\"=") {
				s = strconv.Quote(s)
			}
			fmt.Fprintf(&b, " %s=%s", k, s)
		}
		b.WriteByte('\n')
		_, _ = io.WriteString(w, b.String())
	}
}

// Writer returns an io.Writer that turns zerolog JSON lines into entries,
// so code logging with zerolog can be captured too:
// zerolog.New(capture.Writer()). The level and message fields
// (zerolog.LevelFieldName, zerolog.MessageFieldName) become Level and
// Message; every other field, the timestamp included, becomes an attr
// (numbers as int64 when integral, else float64). The entry's Time is the
// time of the Write. A line that is not a JSON object becomes an Info
// entry holding the raw text.
func (l *LogCapture) Writer() io.Writer { return logWriter{l} }

type logWriter struct{ l *LogCapture }

func (w logWriter) Write(p []byte) (int, error) {
	now := time.Now()
	for line := range bytes.SplitSeq(p, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		w.l.store.add(logParseLine(now, line))
	}
	return len(p), nil
}

func logParseLine(now time.Time, line []byte) LogEntry {
	var fields map[string]any
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	if err := dec.Decode(&fields); err != nil || fields == nil || dec.More() {
		return LogEntry{Time: now, Level: slog.LevelInfo, Message: string(line), Attrs: map[string]any{}}
	}
	e := LogEntry{Time: now, Level: slog.LevelInfo, Attrs: make(map[string]any, len(fields))}
	for k, v := range fields {
		switch {
		case k == zerolog.LevelFieldName:
			if s, ok := v.(string); ok {
				e.Level = logZerologLevel(s)
				continue
			}
		case k == zerolog.MessageFieldName:
			if s, ok := v.(string); ok {
				e.Message = s
				continue
			}
		}
		e.Attrs[k] = logJSONValue(v)
	}
	return e
}

// logZerologLevel maps zerolog's levels onto slog's scale: trace sits
// below Debug, fatal and panic above Error.
func logZerologLevel(s string) slog.Level {
	lvl, err := zerolog.ParseLevel(s)
	if err != nil {
		return slog.LevelInfo
	}
	switch lvl {
	case zerolog.TraceLevel:
		return slog.LevelDebug - 4
	case zerolog.DebugLevel:
		return slog.LevelDebug
	case zerolog.WarnLevel:
		return slog.LevelWarn
	case zerolog.ErrorLevel:
		return slog.LevelError
	case zerolog.FatalLevel:
		return slog.LevelError + 4
	case zerolog.PanicLevel:
		return slog.LevelError + 8
	default:
		return slog.LevelInfo
	}
}

func logJSONValue(v any) any {
	switch v := v.(type) {
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return i
		}
		if f, err := v.Float64(); err == nil {
			return f
		}
		return v.String()
	case map[string]any:
		for k, x := range v {
			v[k] = logJSONValue(x)
		}
		return v
	case []any:
		for i, x := range v {
			v[i] = logJSONValue(x)
		}
		return v
	default:
		return v
	}
}
