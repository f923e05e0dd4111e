package http

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/armistice-go/armistice/actors"
	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/model"
)

// TestStalledBodyIsCutOff: a client that sends headers and part of a body,
// then stalls, loses its connection after ReadTimeout instead of holding
// a goroutine and a descriptor for ever.
func TestStalledBodyIsCutOff(t *testing.T) {
	e := newEnv(t, withServer(func(c *Config) { c.ReadTimeout = 100 * time.Millisecond }))
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprint(conn, "POST /v1/requests HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"prompt\":")
	// Bounded by a guard far above the timeout; the server must act first.
	_ = conn.SetReadDeadline(time.Now().Add(waitLimit))
	got, err := io.ReadAll(conn)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the server kept a stalled body's connection open (read %q)", got)
	}
	if len(got) > 0 && !strings.HasPrefix(string(got), "HTTP/1.1 4") {
		t.Fatalf("a stalled body got %q", got)
	}
}

// TestReaderThatStopsReadingIsDetached: a client that keeps its connection
// open but stops reading an event stream is detached within WriteTimeout
// (its subscriber slot freed); the request itself goes on.
func TestReaderThatStopsReadingIsDetached(t *testing.T) {
	e := newEnv(t, withServer(func(c *Config) { c.WriteTimeout = 200 * time.Millisecond; c.Heartbeat = 0 }),
		withEngine(func(c *actors.Config) { c.MaxOutputBytes = 64 << 20 }))
	snap := e.submit(`{"prompt":"p"}`)
	s := e.script()
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.(*net.TCPConn).SetReadBuffer(4096)
	fmt.Fprintf(conn, "GET /v1/requests/%s/events HTTP/1.1\r\nHost: x\r\n\r\n", snap.ID)
	br := bufio.NewReader(conn)
	if line, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(line, "HTTP/1.1 200") {
		t.Fatalf("stream: %q, %v", line, err)
	}
	// Now the client reads no more. Big tokens fill the socket buffers
	// (16 MB, far more than loopback buffers hold), then the server's
	// write must give up within the write timeout.
	big := strings.Repeat("z", 64<<10)
	for range 256 {
		s.Chunk(llm.Chunk{Text: big})
	}
	detached := false
	for deadline := time.Now().Add(waitLimit); !detached && time.Now().Before(deadline); {
		_, st := e.status(snap.ID)
		detached = st.Subscribers == 0
	}
	if !detached {
		t.Fatalf("a reader that stopped reading is still attached after %v", waitLimit)
	}
	if _, st := e.status(snap.ID); st.State != model.StateStreaming {
		t.Fatalf("the request = %+v; want it still streaming", st)
	}
	s.Finish(llm.FinishStop, nil)
}

// TestRequestIDIsCapped: an X-Request-Id over 128 bytes, or with control
// characters, is replaced by a fresh id instead of being echoed.
func TestRequestIDIsCapped(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		id   string
		kept bool
	}{
		{"abc-123", true},
		{strings.Repeat("a", 128), true},
		{strings.Repeat("a", 129), false},
		{strings.Repeat("b", 5000), false},
		{"bad id", false},
	} {
		resp, _ := e.do("GET", "/healthz", "", "X-Request-Id", tc.id)
		got := resp.Header.Get("X-Request-Id")
		if (got == tc.id) != tc.kept || got == "" || len(got) > 128 {
			t.Errorf("X-Request-Id %.20q… (%d bytes) answered %.20q…; kept=%v wanted", tc.id, len(tc.id), got, tc.kept)
		}
	}
}
