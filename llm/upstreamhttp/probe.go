package upstreamhttp

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"time"
)

// probeRequest is what a probe writes: the HTTP/2 client connection
// preface (RFC 9113, section 3.4) and an empty SETTINGS frame, 33 bytes.
var probeRequest = []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" +
	"\x00\x00\x00\x04\x00\x00\x00\x00\x00")

// frameSettings is the type of an HTTP/2 SETTINGS frame.
const frameSettings = 0x4

// detect probes addr (host:port) for h2c with prior knowledge, within
// timeout: an HTTP/2 server answers the preface with its own SETTINGS
// frame on stream 0, where an HTTP/1.x server answers with text ("HTTP/1.1
// 400 ..."), closes or says nothing. It returns ProtocolH2C or
// ProtocolHTTP1, or an error wrapping ErrUnreachable if it could not
// connect. When ctx is done the connection is closed at once.
func detect(ctx context.Context, addr string, timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	dialCtx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(dialCtx, "tcp", addr)
	if err != nil {
		return "", fmt.Errorf("%w: %s: %w", ErrUnreachable, addr, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if err := conn.SetDeadline(deadline); err != nil {
		return ProtocolHTTP1, nil
	}
	if _, err := conn.Write(probeRequest); err != nil {
		return ProtocolHTTP1, nil
	}
	var header [9]byte
	if _, err := io.ReadFull(conn, header[:]); err != nil {
		return ProtocolHTTP1, nil // EOF, reset, timeout, a short answer
	}
	if header[3] == frameSettings && binary.BigEndian.Uint32(header[5:])&0x7fffffff == 0 {
		return ProtocolH2C, nil
	}
	return ProtocolHTTP1, nil
}
