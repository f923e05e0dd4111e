package http

import (
	"fmt"
	"io"
	stdhttp "net/http"
	"runtime"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/rs/zerolog"
)

// edge is the server's one middleware around every route: the request's
// id, its access line and metrics, panics, the body limit, a key for
// OPTIONS under /v1, and the connection's deadlines, in that order (the
// order echo's middlewares had: the panic guard covers the last three
// and the handler).
//
// It is one function on purpose. An event stream's handler parks under
// its middleware for as long as the stream lasts, and the goroutine's
// stack is sized by how deep it parks: the garbage collector halves a
// stack only while less than a quarter of it is in use. Under echo's five
// middlewares (RequestID, RequestLogger, Recover, BodyLimit and two of
// ours) a stream parked 4.2 KB deep, so its handler kept a 16 KB stack;
// under this one it parks about 3 KB deep and keeps 8 KB: 8 KB less per
// idle stream (docs/benchmarks.md, "Idle memory"). The work before and
// after the handler is in functions of their own, so their locals are
// not on the parked stack.
func (s *Server) edge(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		s.identify(c)
		err := s.serveRecovering(c, next)
		s.leave(c, start, err)
		return nil
	}
}

// identify gives the request its id: a client's X-Request-Id that is too
// long or holds anything but printable ASCII is dropped, and a request
// without one gets a fresh id, echoed in the response.
//
//go:noinline
func (s *Server) identify(c echo.Context) {
	r := c.Request()
	id := r.Header.Get(echo.HeaderXRequestID)
	if id != "" && !validRequestID(id) {
		r.Header.Del(echo.HeaderXRequestID)
		id = ""
	}
	if id == "" {
		id = uuid.NewString()
	}
	c.Response().Header().Set(echo.HeaderXRequestID, id)
}

// enter runs before the handler, under the panic guard: the body limit,
// OPTIONS under /v1, and the deadlines. An error ends the request before
// its handler.
//
//go:noinline
func (s *Server) enter(c echo.Context) error {
	r := c.Request()
	if r.ContentLength > s.cfg.MaxBodyBytes {
		return echo.ErrStatusRequestEntityTooLarge
	}
	if r.Body != nil && r.Body != stdhttp.NoBody {
		r.Body = &limitedBody{ReadCloser: r.Body, limit: s.cfg.MaxBodyBytes}
	}

	// echo answers OPTIONS on a known path by itself, without the route's
	// middleware, and the answer tells which methods the route has; so
	// OPTIONS under /v1 needs a key like the route (there is no CORS
	// preflight to answer: Armistice has no CORS configuration).
	if r.Method == stdhttp.MethodOptions && (r.URL.Path == "/v1" || strings.HasPrefix(r.URL.Path, "/v1/")) {
		if _, ok := s.TenantFor(r); !ok {
			return apiError(stdhttp.StatusUnauthorized, CodeUnauthorized, "an API key is required: Authorization: Bearer <key>")
		}
	}

	s.setDeadlines(c)
	return nil
}

// serveRecovering runs enter, then the handler; a panic in either is
// logged with the stacks and answered 500 internal_error
// (http.ErrAbortHandler, net/http's way to abort a response, goes on up).
func (s *Server) serveRecovering(c echo.Context, next echo.HandlerFunc) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = s.recovered(c, r)
		}
	}()
	if err := s.enter(c); err != nil {
		return err
	}
	return next(c)
}

//go:noinline
func (s *Server) recovered(c echo.Context, r any) error {
	if r == stdhttp.ErrAbortHandler {
		panic(r)
	}
	err, ok := r.(error)
	if !ok {
		err = fmt.Errorf("%v", r)
	}
	stack := make([]byte, 4<<10)
	stack = stack[:runtime.Stack(stack, true)]
	s.cfg.Logger.Error().Err(err).Bytes("stack", stack).Msg("handler panicked")
	// Answered here; the access line shows the 500 without a second error.
	c.Error(&APIError{Status: stdhttp.StatusInternalServerError, Code: CodeInternal, Message: "internal error", Err: err})
	return nil
}

// leave runs after the handler: an error not yet answered is answered,
// then the request is counted and gets its access line, at a level set by
// its status.
//
//go:noinline
func (s *Server) leave(c echo.Context, start time.Time, err error) {
	if err != nil {
		c.Error(err)
	}
	req, res := c.Request(), c.Response()
	route := c.Path()
	if route == "" {
		route = "unmatched"
	}
	s.metrics.observeHTTP(route, req.Method, res.Status)
	var ev *zerolog.Event
	switch {
	case res.Status >= 500:
		ev = s.cfg.Logger.Error()
	case res.Status >= 400:
		ev = s.cfg.Logger.Warn()
	case probes[route]:
		ev = s.cfg.Logger.Debug() // scraped every few seconds: noise at info
	default:
		ev = s.cfg.Logger.Info()
	}
	if ev == nil {
		return // the level is off: nothing more to build
	}
	if tenant, ok := c.Get(tenantKey).(string); ok && tenant != "" {
		ev = ev.Str("tenant", tenant)
	}
	if id, ok := c.Get(RequestIDKey).(string); ok && id != "" {
		ev = ev.Str("request_id", id)
	}
	if err != nil {
		// One line per failure: the access line carries the cause of a
		// server fault, no second line is written.
		ae := toAPIError(err)
		ev = ev.Str("error", ae.Code)
		if ae.Status >= 500 && ae.Err != nil {
			ev = ev.AnErr("cause", ae.Err)
		}
	}
	reqID := req.Header.Get(echo.HeaderXRequestID)
	if reqID == "" {
		reqID = res.Header().Get(echo.HeaderXRequestID)
	}
	path := req.URL.Path
	if path == "" {
		path = "/"
	}
	ev.Str("req_id", reqID).Str("method", req.Method).Str("path", path).
		Int("status", res.Status).Dur("latency_ms", time.Since(start)).Int64("bytes_out", res.Size).
		Str("remote_ip", c.RealIP()).Msg("http")
}

// limitedBody ends a body that grows past the limit with echo's 413
// error, as echo's BodyLimit does (a Content-Length over the limit is
// refused before the handler).
type limitedBody struct {
	io.ReadCloser
	limit, read int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.read > b.limit {
		return 0, echo.ErrStatusRequestEntityTooLarge
	}
	n, err := b.ReadCloser.Read(p)
	b.read += int64(n)
	if b.read > b.limit {
		return n, echo.ErrStatusRequestEntityTooLarge
	}
	return n, err
}
