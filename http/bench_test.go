package http

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	stdhttp "net/http"
	"strings"
	"testing"

	"github.com/armistice-go/armistice/actors"
	"github.com/armistice-go/armistice/internal/pertoken"
)

// BenchmarkTimeToFirstToken is the server's own share of time to first
// token: a loopback client submits, opens the event stream and reads up
// to the first token, against a provider that answers at once (no
// upstream). One op is one request, read to its end. Profile it with
//
//	go test -run '^$' -bench TimeToFirstToken -benchtime 3000x -cpuprofile cpu.out ./http
func BenchmarkTimeToFirstToken(b *testing.B) {
	eng, err := actors.New(actors.DefaultConfig(pertoken.CountingProvider{N: 20}))
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Close()
	cfg := DefaultConfig()
	cfg.DefaultModel = "counting"
	srv, err := New(eng, cfg)
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer func() { _ = srv.http.Close(); <-served }()
	url := "http://" + ln.Addr().String()
	transport := &stdhttp.Transport{MaxIdleConnsPerHost: 4}
	defer transport.CloseIdleConnections()
	client := &stdhttp.Client{Transport: transport}
	body := []byte(`{"prompt":"Say hello."}`)
	ctx := context.Background()

	b.ReportAllocs()
	for b.Loop() {
		req, _ := stdhttp.NewRequestWithContext(ctx, "POST", url+"/v1/requests", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		var snap struct{ ID string }
		err = json.NewDecoder(resp.Body).Decode(&snap)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != stdhttp.StatusAccepted {
			b.Fatalf("submit: %d %v", resp.StatusCode, err)
		}
		resp, err = client.Get(url + "/v1/requests/" + snap.ID + "/events")
		if err != nil {
			b.Fatal(err)
		}
		r := bufio.NewReader(resp.Body)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				b.Fatalf("no token: %v", err)
			}
			if strings.HasPrefix(line, "event: token") {
				break
			}
		}
		_, _ = io.Copy(io.Discard, r)
		resp.Body.Close()
	}
}
