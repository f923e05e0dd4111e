package http

import (
	"io"
	stdhttp "net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// setDeadlines puts ReadTimeout on reading a request's body and
// WriteTimeout on each write of its response, for both front doors (every
// SSE write goes through the response writer).
//
// Neither is cleared when the handler returns: net/http still reads what
// a handler left of a body and flushes the response after that, and both
// must end too. net/http sets the read deadline afresh for the next
// request on a kept-alive connection; the write deadline is set afresh
// here, at the start of each request.
func (s *Server) setDeadlines(c echo.Context) {
	if s.cfg.ReadTimeout <= 0 && s.cfg.WriteTimeout <= 0 {
		return
	}
	r := c.Request()
	resp := c.Response()
	rc := stdhttp.NewResponseController(resp.Writer)
	dw := &deadlineWriter{ResponseWriter: resp.Writer, rc: rc, timeout: s.cfg.WriteTimeout}
	if s.cfg.ReadTimeout > 0 && r.Body != nil && r.Body != stdhttp.NoBody {
		if rc.SetReadDeadline(time.Now().Add(s.cfg.ReadTimeout)) == nil {
			dw.readDeadline = true
			r.Body = &deadlineBody{ReadCloser: r.Body, w: dw}
		}
	}
	if s.cfg.WriteTimeout > 0 {
		dw.arm()
	} else {
		_ = rc.SetWriteDeadline(time.Time{})
	}
	resp.Writer = dw
}

// deadlineWriter refreshes the connection's write deadline before a write
// or flush once half of it has been used, so a stalled reader makes a
// write fail within WriteTimeout while a live stream costs one deadline
// update per half timeout, not one per token.
type deadlineWriter struct {
	stdhttp.ResponseWriter
	rc           *stdhttp.ResponseController
	timeout      time.Duration
	refreshAt    time.Time // when to move the deadline again
	readDeadline bool
}

func (w *deadlineWriter) arm() {
	if w.timeout <= 0 {
		return
	}
	now := time.Now()
	if now.Before(w.refreshAt) {
		return
	}
	if w.rc.SetWriteDeadline(now.Add(w.timeout)) == nil {
		w.refreshAt = now.Add(w.timeout / 2)
	}
}

func (w *deadlineWriter) clearRead() {
	if w.readDeadline {
		w.readDeadline = false
		_ = w.rc.SetReadDeadline(time.Time{})
	}
}

func (w *deadlineWriter) WriteHeader(code int) {
	w.arm()
	w.ResponseWriter.WriteHeader(code)
}

func (w *deadlineWriter) Write(b []byte) (int, error) {
	w.arm()
	return w.ResponseWriter.Write(b)
}

// FlushError flushes (net/http.ResponseController uses it), reporting a
// write that timed out.
func (w *deadlineWriter) FlushError() error {
	w.arm()
	return w.rc.Flush()
}

// Flush implements net/http.Flusher for writers that look for it.
func (w *deadlineWriter) Flush() { _ = w.FlushError() }

// Unwrap lets net/http.ResponseController reach the connection.
func (w *deadlineWriter) Unwrap() stdhttp.ResponseWriter { return w.ResponseWriter }

// deadlineBody lifts the read deadline once the body has been read whole,
// before net/http's background read starts (a deadline left then would
// cancel the request's context in the middle of a long stream).
type deadlineBody struct {
	io.ReadCloser
	w *deadlineWriter
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.w.clearRead()
	}
	return n, err
}
