package main

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/armistice-go/armistice/http/client"
)

// freePorts returns n loopback ports that were free a moment ago.
func freePorts(t *testing.T, n int) []string {
	t.Helper()
	var out []string
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		out = append(out, ln.Addr().String())
	}
	for _, ln := range lns {
		ln.Close()
	}
	return out
}

// startCluster starts n `armistice serve --cluster automanaged` processes
// on loopback, each listing every membership endpoint, and waits until
// each one's /readyz lists n members. The children (this test binary
// re-run as main) may be race-instrumented: proto.actor's cluster has
// races of its own, so a child's race reports go to files and only those
// with a frame of this module fail the test (checkRaces).
func startCluster(t *testing.T, n int, args ...string) []*child {
	t.Helper()
	membership := freePorts(t, n)
	raceDir := t.TempDir()
	t.Cleanup(func() { checkRaces(t, raceDir) })
	env := []string{"GORACE=exitcode=0 log_path=" + filepath.Join(raceDir, "race")}
	nodes := make([]*child, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nodes[i] = startServeEnv(t, env, append([]string{"--cluster", "automanaged",
				"--cluster-membership-addr", membership[i], "--cluster-peers", strings.Join(membership, ",")}, args...)...)
		}()
	}
	wg.Wait()
	for _, c := range nodes {
		if c == nil {
			t.FailNow()
		}
		waitMembers(t, c, n)
	}
	return nodes
}

// waitMembers waits until the child logs a cluster of want members, then
// checks that its /readyz lists them.
func waitMembers(t *testing.T, c *child, want int) {
	t.Helper()
	deadline := time.After(waitLimit)
	for {
		n, changed := c.clusterMembers()
		if n == want {
			break
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("%s logged %d members; want %d", c.url, n, want)
		}
	}
	var body struct {
		Status  string
		Cluster struct{ Members []string }
	}
	code, raw := c.get(t, "/readyz")
	if err := json.Unmarshal([]byte(raw), &body); err != nil || code != http.StatusOK || len(body.Cluster.Members) != want {
		t.Fatalf("%s/readyz: %d %s; want %d members", c.url, code, raw, want)
	}
}

// raceFrame is the first frame of one access in a race report.
var raceFrame = regexp.MustCompile(`(?m)^(?:Read|Write|Previous read|Previous write|Atomic \w+) at .*\n\s+(\S+)`)

// checkRaces fails the test for a race report (written by a child) whose
// racing access is in this module's code.
func checkRaces(t *testing.T, dir string) {
	files, _ := filepath.Glob(filepath.Join(dir, "race*"))
	library := 0
	for _, f := range files {
		data, _ := os.ReadFile(f)
		for _, report := range strings.Split(string(data), "WARNING: DATA RACE")[1:] {
			ours := false
			for _, m := range raceFrame.FindAllStringSubmatch(report, -1) {
				ours = ours || strings.Contains(m[1], "armistice-go/armistice")
			}
			if ours {
				t.Errorf("a data race in our code:\n%s", report)
			} else {
				library++
			}
		}
	}
	if library > 0 {
		t.Logf("%d race reports in proto.actor's code (docs/cluster.md, Limits)", library)
	}
}

func (c *child) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(c.url + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// submitHere submits body on c with no Idempotency-Key (the Go client
// always sends one, and a keyed submit is admitted on the node its key
// hashes to), so the request lives on c.
func (c *child) submitHere(t *testing.T, body string) string {
	t.Helper()
	resp, err := http.Post(c.url+"/v1/requests", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var snap struct{ ID string }
	if err := json.NewDecoder(resp.Body).Decode(&snap); err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("submit on %s: %d %v", c.url, resp.StatusCode, err)
	}
	return snap.ID
}

// statusWithoutReaders is a finished request's status with its
// subscriber count left out: readers detach after their end, a remote one
// after a round trip, so the count is the only field that may still move.
func (c *child) statusWithoutReaders(t *testing.T, id string) map[string]any {
	t.Helper()
	_, body := c.get(t, "/v1/requests/"+id)
	var snap map[string]any
	if err := json.Unmarshal([]byte(body), &snap); err != nil {
		t.Fatalf("status of %s: %s", id, body)
	}
	delete(snap, "subscribers")
	return snap
}

// events reads a request's whole SSE stream as bytes (the request must
// be finished).
func (c *child) events(t *testing.T, id string) string {
	t.Helper()
	code, body := c.get(t, "/v1/requests/"+id+"/events")
	if code != http.StatusOK {
		t.Fatalf("events of %s: %d %s", id, code, body)
	}
	return body
}

// lastEvent reads ch to its close and returns its last event and when the
// stream ended.
func lastEvent(t *testing.T, ch <-chan client.Event) (client.Event, time.Time) {
	t.Helper()
	var last client.Event
	for {
		ev, ok := nextEvent(t, ch)
		if !ok {
			return last, time.Now()
		}
		last = ev
	}
}

// TestClusterOfThreeProcesses: three `armistice serve --cluster
// automanaged` processes behave as one server. A request submitted on A
// reads the same (status, SSE bytes, OpenAI Response) through every node;
// streamed through B and cancelled through C, B's client gets the cancel;
// A killed with SIGKILL mid-stream ends B's and C's streams with
// failed/node_lost within 2 s and status reads answer it; B stopped with
// SIGTERM drains first: C's client gets failed/shutdown and B exits 0.
func TestClusterOfThreeProcesses(t *testing.T) {
	nodes := startCluster(t, 3, "--embedded-rate", "50", "--shutdown-grace", "300ms")
	a, b, c := nodes[0], nodes[1], nodes[2]

	// The same answers through every node, once finished.
	short := struct{ ID string }{a.submitHere(t, `{"prompt":"short","max_tokens":5}`)}
	lastEvent(t, b.stream(short.ID))
	wantEvents := a.events(t, short.ID)
	wantStatus := a.statusWithoutReaders(t, short.ID)
	for _, n := range []*child{b, c} {
		if got := n.events(t, short.ID); got != wantEvents {
			t.Fatalf("SSE through %s:\n%s\nthrough the owner:\n%s", n.url, got, wantEvents)
		}
		if got := n.statusWithoutReaders(t, short.ID); !reflect.DeepEqual(got, wantStatus) {
			t.Fatalf("status through %s: %s; owner: %s", n.url, got, wantStatus)
		}
		code, body := n.get(t, "/v1/requests/"+short.ID+"x")
		if code != http.StatusNotFound {
			t.Fatalf("an unknown id through %s: %d %s", n.url, code, body)
		}
	}
	resp, err := http.Post(a.url+"/v1/responses", "application/json", strings.NewReader(`{"model":"embedded","input":"hi","max_output_tokens":4}`))
	if err != nil {
		t.Fatal(err)
	}
	var stored struct{ ID string }
	_ = json.NewDecoder(resp.Body).Decode(&stored)
	resp.Body.Close()
	_, wantResp := a.get(t, "/v1/responses/"+stored.ID)
	if _, got := c.get(t, "/v1/responses/"+stored.ID); got != wantResp || stored.ID == "" {
		t.Fatalf("the stored Response through C:\n%s\nthrough A:\n%s", got, wantResp)
	}

	// Retries of a keyed submit through every node find the first request.
	var keyed []string
	for _, n := range []*child{a, b, c} {
		req, _ := http.NewRequest(http.MethodPost, n.url+"/v1/requests", strings.NewReader(`{"prompt":"once","max_tokens":3}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", "retry-me")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var snap struct{ ID string }
		_ = json.NewDecoder(resp.Body).Decode(&snap)
		resp.Body.Close()
		keyed = append(keyed, snap.ID+" "+resp.Header.Get("Idempotent-Replayed"))
	}
	if id := strings.Fields(keyed[0])[0]; keyed[1] != id+" true" || keyed[2] != id+" true" {
		t.Fatalf("a keyed submit and its retries through A, B, C: %q", keyed)
	}

	// A conversation continued through C from a Response A stored.
	resp, err = http.Post(c.url+"/v1/responses", "application/json",
		strings.NewReader(`{"model":"embedded","input":"more","max_output_tokens":3,"previous_response_id":"`+stored.ID+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	var next struct {
		ID       string
		Previous string `json:"previous_response_id"`
		Status   string
	}
	_ = json.NewDecoder(resp.Body).Decode(&next)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || next.Previous != stored.ID || next.Status != "incomplete" {
		t.Fatalf("a continuation through C of A's Response: %d %+v", resp.StatusCode, next)
	}
	resp, err = http.Post(c.url+"/v1/responses", "application/json",
		strings.NewReader(`{"model":"embedded","input":"more","previous_response_id":"`+stored.ID+`x"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest { // as on one node: OpenAI's previous_response_not_found
		t.Fatalf("a continuation of an unknown Response: %d", resp.StatusCode)
	}

	resp, err = http.Post(a.url+"/v1/responses", "application/json", strings.NewReader(`{"model":"embedded","input":"bg","max_output_tokens":6,"background":true}`))
	if err != nil {
		t.Fatal(err)
	}
	var bg struct{ ID string }
	_ = json.NewDecoder(resp.Body).Decode(&bg)
	resp.Body.Close()
	_, fromB := b.get(t, "/v1/responses/"+bg.ID+"?stream=true") // read to its end through B
	_, fromA := a.get(t, "/v1/responses/"+bg.ID+"?stream=true")
	_, resumedC := c.get(t, "/v1/responses/"+bg.ID+"?stream=true&starting_after=3")
	_, resumedA := a.get(t, "/v1/responses/"+bg.ID+"?stream=true&starting_after=3")
	if fromB != fromA || resumedC != resumedA || !strings.Contains(fromA, "response.completed") && !strings.Contains(fromA, "response.incomplete") {
		t.Fatalf("a background Response's events through B:\n%s\nthrough A:\n%s\nresumed through C:\n%s\nthrough A:\n%s", fromB, fromA, resumedC, resumedA)
	}

	// Streamed through B, cancelled through C.
	long := a.submitHere(t, `{"prompt":"long"}`)
	streamB := b.stream(long)
	nextEvent(t, streamB)
	if _, err := c.client().Cancel(t.Context(), long); err != nil {
		t.Fatalf("cancel through C: %v", err)
	}
	if last, _ := lastEvent(t, streamB); last.Name != "end" || last.End.State != "cancelled" {
		t.Fatalf("B's stream ended with %+v; want the cancel", last)
	}

	// A killed mid-stream.
	doomed := a.submitHere(t, `{"prompt":"doomed"}`)
	streams := []<-chan client.Event{b.stream(doomed), c.stream(doomed)}
	for _, s := range streams {
		for range 3 {
			nextEvent(t, s) // pending, streaming, a token
		}
	}
	killed := time.Now()
	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for i, s := range streams {
		last, at := lastEvent(t, s)
		if last.Name != "end" || last.End.Status != "failed" || last.End.Reason != "node_lost" {
			t.Fatalf("stream %d ended with %+v; want failed/node_lost", i, last)
		}
		if d := at.Sub(killed); d > 2*time.Second {
			t.Errorf("stream %d got its end %s after the kill; want within 2 s", i, d)
		} else {
			t.Logf("stream %d: node_lost %s after the kill", i, d.Round(time.Millisecond))
		}
	}
	for _, n := range []*child{b, c} {
		code, body := n.get(t, "/v1/requests/"+doomed)
		if code != http.StatusOK || !strings.Contains(body, `"reason":"node_lost"`) {
			t.Fatalf("status through %s after the kill: %d %s", n.url, code, body)
		}
	}
	// Read as an OpenAI Response, a lost node's request is a failed one.
	if code, body := c.get(t, "/v1/responses/resp_"+doomed); code != http.StatusOK ||
		!strings.Contains(body, `"status":"failed"`) || !strings.Contains(body, `"code":"node_lost"`) {
		t.Fatalf("the lost request as a Response through C: %d %s", code, body)
	}
	waitMembers(t, b, 2)

	// B stopped with SIGTERM: it drains first.
	draining := b.submitHere(t, `{"prompt":"draining"}`)
	streamC := c.stream(draining)
	for range 3 {
		nextEvent(t, streamC)
	}
	terminated := time.Now()
	if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	last, ended := lastEvent(t, streamC)
	if last.Name != "end" || last.End.Reason != "shutdown" {
		t.Fatalf("C's stream ended with %+v; want failed/shutdown", last)
	}
	if code := b.exitCode(); code != 0 {
		t.Fatalf("B exited %d after SIGTERM", code)
	}
	t.Logf("SIGTERM with a 300 ms grace: C's stream got failed/shutdown after %s, B exited after %s",
		ended.Sub(terminated).Round(time.Millisecond), time.Since(terminated).Round(time.Millisecond))
	waitMembers(t, c, 1)
}
