package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/armistice-go/armistice/actors"
	"github.com/armistice-go/armistice/http/client"
	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/llm/llmtest"
)

// mainChildEnv makes the test binary run `armistice` with the JSON list
// of arguments it holds, instead of the tests, so that tests can send a
// real process real signals.
const mainChildEnv = "ARMISTICE_MAIN_TEST_CHILD_ARGS"

func init() {
	v, ok := os.LookupEnv(mainChildEnv)
	if !ok {
		return
	}
	var args []string
	if err := json.Unmarshal([]byte(v), &args); err != nil {
		fmt.Fprintln(os.Stderr, "main child:", err)
		os.Exit(3)
	}
	os.Exit(run(args, os.Stdout, os.Stderr))
}

func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

func TestServeConfigDefaultsEnvAndFlags(t *testing.T) {
	var stderr bytes.Buffer
	cfg, err := loadServeConfig(nil, env(nil), &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != "127.0.0.1:8080" || cfg.Engine.MaxActive != 64 || cfg.Engine.MaxQueued != 1024 ||
		cfg.HTTP.Heartbeat != 15*time.Second || cfg.ShutdownGrace != 30*time.Second || cfg.HTTP.MaxPromptBytes != 64<<10 ||
		cfg.Provider != "embedded" || cfg.EmbeddedRate != 50 || cfg.EmbeddedCount != 64 || len(cfg.HTTP.APIKeys) != 0 ||
		cfg.Engine.Linger != 30*time.Second || cfg.Engine.PickupTimeout != 10*time.Minute ||
		cfg.Engine.Workers != actors.DefaultConfig(nil).Workers {
		t.Fatalf("defaults = %+v", cfg)
	}
	for _, tc := range []struct {
		args []string
		env  string
		want int
	}{
		{nil, "3", 3},
		{nil, "0", 0}, // proto.actor's goroutine per run
		{[]string{"--workers", "5"}, "3", 5},
	} {
		cfg, err := loadServeConfig(tc.args, env(map[string]string{"ARMISTICE_WORKERS": tc.env}), &stderr)
		if err != nil || cfg.Engine.Workers != tc.want {
			t.Fatalf("%v ARMISTICE_WORKERS=%s: Workers %d, want %d (%v)", tc.args, tc.env, cfg.Engine.Workers, tc.want, err)
		}
	}
	cfg, err = loadServeConfig([]string{"--max-active", "3", "--linger", "1m30s"}, env(map[string]string{
		"ARMISTICE_MAX_ACTIVE":   "7",
		"ARMISTICE_MAX_QUEUED":   "9",
		"ARMISTICE_API_KEYS":     "k1=alice, k2=bob",
		"ARMISTICE_IDLE_TIMEOUT": "0",
		"ARMISTICE_ADDR":         "0.0.0.0:9000",
	}), &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Engine.MaxActive != 3 || cfg.Engine.MaxQueued != 9 || cfg.Engine.Linger != 90*time.Second ||
		cfg.HTTP.APIKeys["k2"] != "bob" || cfg.Engine.IdleTimeout != 0 || cfg.Addr != "0.0.0.0:9000" {
		t.Fatalf("flag must win over env, env over default: %+v", cfg)
	}
}

func TestServeRejectsBadConfig(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--max-active", "0"}, nil, "invalid --max-active=0 (ARMISTICE_MAX_ACTIVE): must be at least 1"},
		{nil, map[string]string{"ARMISTICE_MAX_ACTIVE": "many"}, "invalid ARMISTICE_MAX_ACTIVE=many (--max-active): not an integer"},
		{nil, map[string]string{"ARMISTICE_MAX_QUEUED": "-1"}, "invalid ARMISTICE_MAX_QUEUED=-1 (--max-queued): must not be negative"},
		{[]string{"--max-subscribers", "0"}, nil, "invalid --max-subscribers=0 (ARMISTICE_MAX_SUBSCRIBERS): must be at least 1"},
		{nil, map[string]string{"ARMISTICE_QUEUE_TIMEOUT": "60"}, "ARMISTICE_QUEUE_TIMEOUT=60 (--queue-timeout): not a duration"},
		{[]string{"--idle-timeout", "-1s"}, nil, "--idle-timeout=-1s (ARMISTICE_IDLE_TIMEOUT): must not be negative"},
		{[]string{"--pickup-timeout", "0"}, nil, "invalid --pickup-timeout=0 (ARMISTICE_PICKUP_TIMEOUT): must be positive"},
		{nil, map[string]string{"ARMISTICE_ADDR": "8080"}, "ARMISTICE_ADDR=8080 (--addr): not host:port"},
		{nil, map[string]string{"ARMISTICE_PROVIDER": "gpt"}, "unknown provider"},
		{nil, map[string]string{"ARMISTICE_LOG_LEVEL": "loud"}, "ARMISTICE_LOG_LEVEL"},
		{nil, map[string]string{"ARMISTICE_LOG_FORMAT": "xml"}, "ARMISTICE_LOG_FORMAT"},
		{nil, map[string]string{"ARMISTICE_API_KEYS": "secret-key-without-tenant"}, "(hidden)"},
		{nil, map[string]string{"ARMISTICE_SHUTDOWN_GRACE": "0s"}, "invalid ARMISTICE_SHUTDOWN_GRACE=0s (--shutdown-grace): must be positive"},
		{[]string{"--shutdown-grace", "0"}, nil, "invalid --shutdown-grace=0 (ARMISTICE_SHUTDOWN_GRACE): must be positive"},
		{nil, map[string]string{"ARMISTICE_MAX_PROMPT_BYTES": "0"}, "invalid ARMISTICE_MAX_PROMPT_BYTES=0 (--max-prompt-bytes): must be at least 1"},
		{[]string{"--max-output-bytes", "-1"}, nil, "invalid --max-output-bytes=-1 (ARMISTICE_MAX_OUTPUT_BYTES): must not be negative"},
		{nil, map[string]string{"ARMISTICE_EMBEDDED_RATE": "-2"}, "ARMISTICE_EMBEDDED_RATE"},
		{[]string{"--embedded-tokens", "0"}, nil, "invalid --embedded-tokens=0 (ARMISTICE_EMBEDDED_TOKENS): must be at least 1"},
		{nil, map[string]string{"ARMISTICE_PROVIDER": "openai", "ARMISTICE_OPENAI_BASE_URL": "ftp://x"}, "openai provider"},
		{nil, map[string]string{"ARMISTICE_FALLBACK": "embedded"}, "already the provider"},
		{nil, map[string]string{"ARMISTICE_FALLBACK": "gemini"}, "ARMISTICE_FALLBACK=gemini"},
		{nil, map[string]string{"ARMISTICE_UPSTREAM_RETRIES": "-1", "ARMISTICE_PROVIDER": "openai"}, "invalid ARMISTICE_UPSTREAM_RETRIES=-1 (--upstream-retries): must not be negative"},
		{nil, map[string]string{"ARMISTICE_WORKERS": "lots"}, "ARMISTICE_WORKERS=lots (--workers): not an integer"},
		{[]string{"--workers", "-1"}, nil, "invalid --workers=-1 (ARMISTICE_WORKERS): must not be negative"},
		{[]string{"--upstream-http", "http3"}, nil, "invalid --upstream-http=http3 (ARMISTICE_UPSTREAM_HTTP): not auto, http1 or h2c"},
		{[]string{"--nope"}, nil, "flag provided but not defined"},
		{[]string{"extra"}, nil, "unexpected argument"},
	} {
		var stderr bytes.Buffer
		_, err := loadServeConfig(tc.args, env(tc.env), &stderr)
		if err == nil || !strings.Contains(err.Error()+stderr.String(), tc.want) {
			t.Errorf("%v %v: error %v, want it to mention %q", tc.args, tc.env, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret-key") {
			t.Errorf("the API key reached the error: %v", err)
		}
	}
	var stderr bytes.Buffer
	if code := run([]string{"serve", "--max-active", "-1"}, io.Discard, &stderr); code != 2 || !strings.Contains(stderr.String(), "--max-active=-1 (ARMISTICE_MAX_ACTIVE)") {
		t.Fatalf("serve with bad config: exit %d, stderr %q", code, stderr.String())
	}
}

// child is `armistice serve` running as a real process.
type child struct {
	t      *testing.T
	cmd    *exec.Cmd
	url    string
	start  string // the "listening" log line
	lines  chan string
	exited chan struct{}
	err    error

	// members is the cluster size the child last logged ("cluster
	// membership"); membersChanged is closed (and replaced) when it does.
	mu             sync.Mutex
	members        int
	membersChanged chan struct{}
}

// noteLine keeps track of what the child's log lines say of its cluster.
func (c *child) noteLine(line string) {
	if !strings.Contains(line, `"cluster membership"`) {
		return
	}
	var rec struct {
		Message string
		Members int
	}
	if json.Unmarshal([]byte(line), &rec) != nil || rec.Message != "cluster membership" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.members = rec.Members
	close(c.membersChanged)
	c.membersChanged = make(chan struct{})
}

// clusterMembers returns the members the child last logged, and a channel
// closed when that changes.
func (c *child) clusterMembers() (int, <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.members, c.membersChanged
}

func startServe(t *testing.T, args ...string) *child {
	t.Helper()
	return startServeEnv(t, nil, args...)
}

// startServeEnv starts the server with extra environment variables.
func startServeEnv(t *testing.T, extraEnv []string, args ...string) *child {
	t.Helper()
	all, _ := json.Marshal(append([]string{"serve", "--addr", "127.0.0.1:0", "--log-format", "json"}, args...))
	ctx, cancel := context.WithTimeout(t.Context(), 3*waitLimit)
	cmd := exec.CommandContext(ctx, os.Args[0])
	cmd.Env = append(append(os.Environ(), mainChildEnv+"="+string(all)), extraEnv...)
	cmd.WaitDelay = waitLimit
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{t: t, cmd: cmd, lines: make(chan string, 1024), exited: make(chan struct{}), membersChanged: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			c.noteLine(sc.Text())
			c.lines <- sc.Text()
		}
		close(c.lines)
		c.err = cmd.Wait()
		close(c.exited)
	}()
	t.Cleanup(func() { cancel(); <-c.exited })
	line := c.waitLog("listening")
	var rec struct{ URL string }
	if err := json.Unmarshal([]byte(line), &rec); err != nil || rec.URL == "" {
		t.Fatalf("listening line %q: %v", line, err)
	}
	c.url, c.start = rec.URL, line
	return c
}

// waitLog returns the first log line whose message is msg.
func (c *child) waitLog(msg string) string {
	c.t.Helper()
	timeout := time.After(waitLimit)
	for {
		select {
		case line, ok := <-c.lines:
			if !ok {
				c.t.Fatalf("the server exited before logging %q", msg)
			}
			var rec struct{ Message string }
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Message == msg {
				return line
			}
		case <-timeout:
			c.t.Fatalf("no %q log line within %s", msg, waitLimit)
		}
	}
}

func (c *child) exitCode() int {
	c.t.Helper()
	for range c.lines { // keep the pipe drained
	}
	select {
	case <-c.exited:
	case <-time.After(waitLimit):
		c.t.Fatal("the server did not exit")
	}
	return c.cmd.ProcessState.ExitCode()
}

// client returns a client of the child server that does not retry, so a
// stream cut by the server's exit ends at once.
func (c *child) client() *client.Client {
	c.t.Helper()
	cl, err := client.New(c.url, client.WithRetry(client.RetryPolicy{MaxAttempts: 1, SubmitRetries: -1}))
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(cl.CloseIdleConnections)
	return cl
}

func (c *child) submit(prompt string) string {
	c.t.Helper()
	snap, err := c.client().Submit(c.t.Context(), client.Request{Prompt: prompt})
	if err != nil {
		c.t.Fatalf("submit: %v", err)
	}
	return snap.ID
}

// stream reads a request's event stream; events arrive on a channel until
// the stream ends (with its end event, or cut).
func (c *child) stream(id string) <-chan client.Event {
	ch := make(chan client.Event, 1024)
	events := c.client().Stream(c.t.Context(), id, 0)
	go func() {
		defer close(ch)
		for ev, err := range events {
			if err != nil {
				return
			}
			ch <- ev
		}
	}()
	return ch
}

func nextEvent(t *testing.T, ch <-chan client.Event) (client.Event, bool) {
	t.Helper()
	select {
	case ev, ok := <-ch:
		return ev, ok
	case <-time.After(waitLimit):
		t.Fatal("no event")
		return client.Event{}, false
	}
}

// The process-level shutdown: SIGTERM drains, every attached client gets
// its end event before the connection closes, and the exit code is 0.
func TestServeShutsDownGracefullyOnSIGTERM(t *testing.T) {
	c := startServe(t, "--embedded-rate", "20", "--shutdown-grace", "300ms", "--max-active", "1")
	running, queued := c.submit("one"), c.submit("two")
	streams := map[string]<-chan client.Event{}
	for _, id := range []string{running, queued} {
		streams[id] = c.stream(id)
	}
	for range 3 {
		nextEvent(t, streams[running]) // pending, streaming, a token: it runs
	}
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for id, ch := range streams {
		var last client.Event
		for {
			ev, ok := nextEvent(t, ch)
			if !ok {
				break
			}
			last = ev
		}
		if last.Name != "end" || last.End.Status != "failed" || last.End.Reason != "shutdown" {
			t.Fatalf("%s: last event %+v, want the shutdown end", id, last)
		}
	}
	if code := c.exitCode(); code != 0 {
		t.Fatalf("exit %d after a graceful shutdown", code)
	}
}

func TestServeSecondSignalExitsAtOnce(t *testing.T) {
	c := startServe(t, "--embedded-rate", "1", "--shutdown-grace", "1m")
	id := c.submit("slow")
	ch := c.stream(id)
	nextEvent(t, ch)
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	c.waitLog("shutting down: draining requests")
	if err := c.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := c.exitCode(); code != 1 {
		t.Fatalf("exit %d after a second signal, want 1", code)
	}
}

// The README's table must list every setting with its flag and default.
func TestREADMEDocumentsEverySetting(t *testing.T) {
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	for _, s := range settings {
		def := "(empty)"
		if s.def != "" {
			def = "`" + s.def + "`"
		}
		row := fmt.Sprintf("| `%s` | `--%s` | %s |", s.env, s.flag, def)
		if !strings.Contains(readme, row) {
			t.Errorf("README lacks the row %q", row)
		}
	}
}

// The "done when": ARMISTICE_PROVIDER=openai with a base URL
// streams from an OpenAI-compatible server, and the key stays out of the
// logs.
// --upstream-http picks the protocol to the network providers: auto
// speaks HTTP/1.1 to a plain-HTTP server until a probe has shown that it
// speaks h2c, then HTTP/2 (and HTTP/2 to a TLS one that offers it); h2c is
// HTTP/2 by prior knowledge, http1 never HTTP/2.
func TestServeUpstreamHTTP(t *testing.T) {
	for _, tc := range []struct {
		provider, mode string
		want           []string // the protocol of the request before the probe, and after
	}{
		{"openai", "", []string{"HTTP/1.1", "HTTP/2.0"}},
		{"openai", "auto", []string{"HTTP/1.1", "HTTP/2.0"}},
		{"anthropic", "auto", []string{"HTTP/1.1", "HTTP/2.0"}},
		{"openai", "http1", []string{"HTTP/1.1", "HTTP/1.1"}},
		{"openai", "h2c", []string{"HTTP/2.0", "HTTP/2.0"}},
		{"anthropic", "h2c", []string{"HTTP/2.0", "HTTP/2.0"}},
		{"anthropic", "http1", []string{"HTTP/1.1", "HTTP/1.1"}},
	} {
		t.Run(tc.provider+"/"+tc.mode, func(t *testing.T) {
			format := llmtest.OpenAI
			if tc.provider == "anthropic" {
				format = llmtest.Anthropic
			}
			up := llmtest.New(t, format, llmtest.Answer("Hi"))
			vars := map[string]string{
				"ARMISTICE_PROVIDER": tc.provider,
				"ARMISTICE_" + strings.ToUpper(tc.provider) + "_BASE_URL": up.URL,
				"ARMISTICE_" + strings.ToUpper(tc.provider) + "_API_KEY":  "k",
			}
			if tc.mode != "" {
				vars["ARMISTICE_UPSTREAM_HTTP"] = tc.mode
			}
			cfg, err := loadServeConfig(nil, env(vars), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(cfg.Upstream.Close)
			p, err := cfg.newProvider(tc.provider)
			if err != nil {
				t.Fatal(err)
			}
			ask := func() {
				t.Helper()
				stream, err := p.Stream(t.Context(), llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "hello"}}})
				if err != nil {
					t.Fatal(err)
				}
				defer stream.Close()
				for {
					if _, err := stream.Recv(); err != nil {
						if !errors.Is(err, io.EOF) {
							t.Fatal(err)
						}
						return
					}
				}
			}
			ask()
			// What the server does at start, without waiting for it.
			if _, err := cfg.Upstream.Probe(t.Context(), up.URL); err != nil {
				t.Fatal(err)
			}
			ask()
			var got []string
			for _, r := range up.Requests() {
				got = append(got, r.Proto)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("the upstream saw requests over %q, want %q", got, tc.want)
			}
		})
	}
}

// At start the server probes its plain-HTTP upstream in the background and
// logs the verdict; requests then reach an upstream that speaks h2c over
// HTTP/2.
func TestServeProbesTheUpstreamAtStart(t *testing.T) {
	up := llmtest.NewOpenAIServer(t, llmtest.Answer("Hi", " there"))
	c := startServeEnv(t, []string{
		"ARMISTICE_PROVIDER=openai",
		"ARMISTICE_OPENAI_BASE_URL=" + up.URL,
		"ARMISTICE_OPENAI_API_KEY=k",
	})
	line := c.waitLog("upstream protocol")
	var rec struct{ Level, Upstream, Protocol string }
	if err := json.Unmarshal([]byte(line), &rec); err != nil || rec.Level != "info" || rec.Upstream != up.URL || rec.Protocol != "h2c" {
		t.Fatalf("the upstream protocol line: %s", line)
	}
	id := c.submit("hello")
	ch := c.stream(id)
	for {
		if _, ok := nextEvent(t, ch); !ok {
			break
		}
	}
	if reqs := up.Requests(); len(reqs) != 1 || reqs[0].Proto != "HTTP/2.0" {
		t.Fatalf("the upstream saw %d requests, want one over HTTP/2.0: %+v", len(reqs), reqs)
	}
}

func TestServeStreamsFromAnOpenAICompatibleServer(t *testing.T) {
	up := llmtest.NewOpenAIServer(t, llmtest.Answer("Down", " the", " rabbit", " hole"))
	const key = "sk-serve-test-secret-77"
	c := startServeEnv(t, []string{
		"ARMISTICE_PROVIDER=openai",
		"ARMISTICE_OPENAI_BASE_URL=" + up.URL,
		"OPENAI_API_KEY=" + key, // the fallback variable
		"ARMISTICE_OPENAI_MODEL=local-model",
		"ARMISTICE_LOG_LEVEL=debug",
	})
	// The OpenAI-compatible routes are served too, listing the model.
	resp, err := http.Get(c.url + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	models, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(models), `"id":"local-model"`) {
		t.Fatalf("/v1/models: %d %s", resp.StatusCode, models)
	}
	id := c.submit("hello")
	ch := c.stream(id)
	var text strings.Builder
	var last client.Event
	for {
		ev, ok := nextEvent(t, ch)
		if !ok {
			break
		}
		last = ev
		text.WriteString(ev.Text)
	}
	if text.String() != "Down the rabbit hole" || last.End == nil || last.End.Status != "completed" {
		t.Fatalf("text %q, last event %+v", text.String(), last)
	}
	reqs := up.Requests()
	if len(reqs) != 1 || reqs[0].Model != "local-model" || reqs[0].Header.Get("Authorization") != "Bearer "+key {
		t.Fatalf("upstream saw %+v", reqs)
	}
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	for line := range c.lines {
		logs.WriteString(line + "\n")
	}
	if code := c.exitCode(); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if strings.Contains(logs.String(), key) {
		t.Fatal("the API key reached the logs")
	}
	if !strings.Contains(c.start, `"provider":"openai"`) || strings.Contains(c.start, key) {
		t.Fatalf("the start log line: %s", c.start)
	}
}

// 200 clients that send part of a body and stall, one that stops reading
// its stream, and an idle keep-alive connection do not hold the shutdown:
// SIGTERM exits 0 within the grace plus one second.
func TestServeShutdownIsBoundedWhateverTheClientsDo(t *testing.T) {
	const grace = 300 * time.Millisecond
	c := startServe(t, "--shutdown-grace", grace.String(), "--embedded-rate", "0", "--embedded-tokens", "100000")
	host := strings.TrimPrefix(c.url, "http://")
	var conns []net.Conn
	defer func() {
		for _, conn := range conns {
			conn.Close()
		}
	}()
	for range 200 {
		conn, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, conn)
		fmt.Fprint(conn, "POST /v1/requests HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"prompt\":")
	}
	// A reader that stops reading a fast stream.
	id := c.submit("flood")
	slow, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	conns = append(conns, slow)
	_ = slow.(*net.TCPConn).SetReadBuffer(4096)
	fmt.Fprintf(slow, "GET /v1/requests/%s/events HTTP/1.1\r\nHost: x\r\n\r\n", id)
	// An idle keep-alive connection.
	resp, err := http.Get(c.url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	start := time.Now()
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	code := c.exitCode()
	took := time.Since(start)
	t.Logf("exit %d after %v", code, took)
	if code != 0 {
		t.Fatalf("exit %d; want 0", code)
	}
	// The bound the issue sets, with room for a loaded CI machine to start
	// the timers late (the process's own deadline is grace + 1 s).
	if limit := grace + time.Second + 2*time.Second; took > limit {
		t.Fatalf("exit after %v; want within %v", took, limit)
	}
}

// serve serves the playground page at /.
func TestServeServesThePlayground(t *testing.T) {
	c := startServe(t)
	resp, err := http.Get(c.url + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "<title>Armistice playground</title>") {
		t.Fatalf("GET /: %d %.200s", resp.StatusCode, page)
	}
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := c.exitCode(); code != 0 {
		t.Fatalf("exit %d", code)
	}
}

// Choosing a network provider without its key is allowed (a local
// OpenAI-compatible server may need none) but warned about at start.
func TestServeWarnsOfAMissingKey(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string // "" for no warning
	}{
		{map[string]string{"ARMISTICE_PROVIDER": "openai"}, `"provider":"openai"`},
		{map[string]string{"ARMISTICE_FALLBACK": "anthropic"}, `"provider":"anthropic"`},
		{map[string]string{"ARMISTICE_PROVIDER": "openai", "OPENAI_API_KEY": "sk-x"}, ""},
		{map[string]string{"ARMISTICE_PROVIDER": "anthropic", "ARMISTICE_ANTHROPIC_API_KEY": "sk-y"}, ""},
		{nil, ""},
	} {
		if tc.env == nil {
			tc.env = map[string]string{}
		}
		tc.env["ARMISTICE_LOG_FORMAT"] = "json"
		var stderr bytes.Buffer
		if _, err := loadServeConfig(nil, env(tc.env), &stderr); err != nil {
			t.Fatalf("%v: %v", tc.env, err)
		}
		warned := strings.Contains(stderr.String(), "no API key")
		if warned != (tc.want != "") || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: stderr %q, want a warning naming %s", tc.env, stderr.String(), tc.want)
		}
	}
}
