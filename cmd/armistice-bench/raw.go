package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/url"
	"strconv"
	"time"
)

// rawStream is an idle stream's client at its cheapest: a socket, the
// request written by hand, the response headers read, then nothing (no
// goroutine, no buffer). The idle scenario uses it so that the process's
// memory per stream is the servers', not the benchmark client's.
type rawStream struct{ c net.Conn }

// rawOpen connects to base's host, sends one request and reads the
// response headers; the status must be 200.
func rawOpen(ctx context.Context, base, method, path, body string) (*rawStream, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return nil, err
	}
	req := method + " " + u.Path + path + " HTTP/1.1\r\nHost: " + u.Host + "\r\nAccept: text/event-stream\r\n"
	if body != "" {
		req += "Content-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n"
	}
	req += "\r\n" + body
	if _, err := c.Write([]byte(req)); err != nil {
		c.Close()
		return nil, err
	}
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	var buf [1024]byte
	n := 0
	for !bytes.Contains(buf[:n], []byte("\r\n\r\n")) {
		if n == len(buf) {
			c.Close()
			return nil, errors.New("raw: response headers too long")
		}
		m, err := c.Read(buf[n:])
		if err != nil {
			c.Close()
			return nil, err
		}
		n += m
	}
	if !bytes.HasPrefix(buf[:n], []byte("HTTP/1.1 200")) {
		c.Close()
		line, _, _ := bytes.Cut(buf[:n], []byte("\r\n"))
		return nil, errors.New("raw: " + string(line))
	}
	_ = c.SetReadDeadline(time.Time{})
	return &rawStream{c: c}, nil
}

// finish reads the rest of the response, to the end of its chunked body
// (so the server has written its last event), then closes the socket.
func (r *rawStream) finish(d time.Duration) error {
	defer r.c.Close()
	_ = r.c.SetReadDeadline(time.Now().Add(d))
	var buf [4096]byte
	var tail []byte
	for {
		n, err := r.c.Read(buf[:])
		tail = append(tail, buf[:n]...)
		if len(tail) > 16 {
			tail = tail[len(tail)-16:]
		}
		if bytes.HasSuffix(tail, []byte("\r\n0\r\n\r\n")) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// rawIdle opens an idle stream on s with a raw client: for the relays a
// submit through the normal client, then the event stream.
func rawIdle(ctx context.Context, s system, sc script) (*rawStream, error) {
	switch s := s.(type) {
	case *direct:
		return rawChat(ctx, s.url, sc)
	case *proxySystem:
		return rawChat(ctx, s.url, sc)
	case *armSystem:
		return rawRelay(ctx, s.relay, sc)
	case *seedSystem:
		return rawRelay(ctx, s.relay, sc)
	}
	return nil, errors.New("raw: unknown system")
}

// rawChat posts a streamed chat request to base, as direct's client does.
func rawChat(ctx context.Context, base string, sc script) (*rawStream, error) {
	body := `{"model":"` + sc.model() + `","stream":true,"messages":[{"role":"user","content":"hi"}]}`
	return rawOpen(ctx, base, "POST", "/v1/chat/completions", body)
}

func rawRelay(ctx context.Context, r *relay, sc script) (*rawStream, error) {
	id, err := r.Submit(ctx, sc)
	if err != nil {
		return nil, err
	}
	return rawOpen(ctx, r.base, "GET", eventsPath(id), "")
}
