package openaiapi

import (
	"bufio"
	"context"
	"errors"
	"net"
	stdhttp "net/http"
	"strings"
	"sync"
	"testing"

	"github.com/armistice-go/armistice/actors"
	armhttp "github.com/armistice-go/armistice/http"
	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/llm/scripted"
)

// writeLog records every write the server makes on its connections.
type writeLog struct {
	mu     sync.Mutex
	writes []string
}

func (l *writeLog) add(b []byte) {
	l.mu.Lock()
	l.writes = append(l.writes, string(b))
	l.mu.Unlock()
}

func (l *writeLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.writes...)
}

type loggingListener struct {
	net.Listener
	log *writeLog
}

func (l loggingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return loggingConn{Conn: c, log: l.log}, nil
}

type loggingConn struct {
	net.Conn
	log *writeLog
}

func (c loggingConn) Write(b []byte) (int, error) {
	c.log.add(b)
	return c.Conn.Write(b)
}

// TestTheHeadersLeaveWithTheFirstChunk: a foreground chat stream holds its
// headers until its first output, and then sends them and that output in
// one write. A flush of the headers alone was one more write on the way
// to the first token, and one more wake-up of the client.
func TestTheHeadersLeaveWithTheFirstChunk(t *testing.T) {
	prov := scripted.New()
	eng, err := actors.New(actors.DefaultConfig(prov))
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	scfg := armhttp.DefaultConfig()
	scfg.DefaultModel = "scripted"
	srv, err := armhttp.New(eng, scfg)
	if err != nil {
		t.Fatal(err)
	}
	ocfg := DefaultConfig()
	ocfg.Models = []string{"scripted"}
	ocfg.Heartbeat = 0
	if _, err := register(srv, ocfg); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	log := &writeLog{}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(loggingListener{Listener: ln, log: log}) }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		if err := srv.Shutdown(ctx, 0); err != nil && !errors.Is(err, stdhttp.ErrServerClosed) {
			t.Errorf("shutdown: %v", err)
		}
		<-served
	}()

	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	body := `{"model":"scripted","stream":true,"messages":[{"role":"user","content":"hi"}]}`
	req, _ := stdhttp.NewRequestWithContext(ctx, "POST", "http://"+ln.Addr().String()+"/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	transport := &stdhttp.Transport{}
	defer transport.CloseIdleConnections()
	type answer struct {
		res *stdhttp.Response
		err error
	}
	answered := make(chan answer, 1)
	go func() {
		res, err := (&stdhttp.Client{Transport: transport}).Do(req)
		answered <- answer{res, err}
	}()
	s, err := prov.Next(ctx)
	if err != nil {
		t.Fatalf("no stream opened: %v", err)
	}
	s.Token("Hello")
	a := <-answered
	if a.err != nil {
		t.Fatal(a.err)
	}
	defer a.res.Body.Close()
	r := bufio.NewReader(a.res.Body)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("no first token: %v", err)
		}
		if strings.Contains(line, "Hello") {
			break
		}
	}
	writes := log.all()
	if len(writes) == 0 {
		t.Fatal("the server wrote nothing")
	}
	first := writes[0]
	if !strings.HasPrefix(first, "HTTP/1.1 200") || !strings.Contains(first, `"content":"Hello"`) {
		t.Errorf("the first write is not the headers with the first token: %d writes before the token, the first:\n%s", len(writes), first)
	}
	s.Finish(llm.FinishStop, nil)
}
