package actors

import (
	"bytes"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// TestARequestBuildsItsLoggerOnItsFirstLoggedEvent: a request holds no
// logger context (its fields rendered into a buffer, about 500 bytes)
// until it logs something at a level that is logged; then every event
// carries its id, tenant and trace id.
func TestARequestBuildsItsLoggerOnItsFirstLoggedEvent(t *testing.T) {
	var out bytes.Buffer
	cfg := &Config{Logger: zerolog.New(&out).Level(zerolog.InfoLevel)}
	r := newRequestActor(cfg, "req-1", "tenant-a", Spec{TraceID: "trace-9"})
	if r.logger != nil {
		t.Fatal("a new request built its logger")
	}
	r.event(zerolog.DebugLevel).Msg("not logged")
	if r.logger != nil || out.Len() != 0 {
		t.Fatalf("an event below the level built the logger (%q)", out.String())
	}
	r.event(zerolog.InfoLevel).Msg("logged")
	for _, want := range []string{`"request_id":"req-1"`, `"tenant":"tenant-a"`, `"req_id":"trace-9"`, `"level":"info"`, `"message":"logged"`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("%q lacks %s", out.String(), want)
		}
	}
}
