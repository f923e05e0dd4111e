package http

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	stdhttp "net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/armistice-go/armistice/actors"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Server serves an Engine over HTTP. Create it with New; it does not own
// the engine (close the engine after Shutdown).
type Server struct {
	cfg     Config
	eng     *actors.Engine
	echo    *echo.Echo
	http    *stdhttp.Server
	metrics *Metrics
	// keys maps the SHA-256 of each API key to its tenant, so that a
	// lookup does not compare secrets byte by byte.
	keys     map[[sha256.Size]byte]string
	draining atomic.Bool

	// Test hooks: streamDone runs when an event stream handler returns,
	// onDraining once Shutdown has set the draining flag.
	streamDone func()
	onDraining func()
}

// New builds the server's routes around eng.
func New(eng *actors.Engine, cfg Config) (*Server, error) {
	if eng == nil {
		return nil, fmt.Errorf("%w: nil engine", ErrInvalidConfig)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics()
	}
	if err := cfg.Metrics.registry.Register(newEngineCollector(eng)); err != nil {
		return nil, fmt.Errorf("%w: metrics already serve another engine: %w", ErrInvalidConfig, err)
	}
	s := &Server{cfg: cfg, eng: eng, metrics: cfg.Metrics, keys: map[[sha256.Size]byte]string{}}
	for key, tenant := range cfg.APIKeys {
		s.keys[sha256.Sum256([]byte(key))] = tenant
	}

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	e.Use(s.edge)

	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{})))
	// Auth is per route, not a group middleware: an echo group with
	// middleware catches every method on /v1/*, which would turn 405
	// into 404.
	e.POST("/v1/requests", s.submit, s.authenticate)
	e.GET("/v1/requests/:id", s.status, s.authenticate)
	e.GET("/v1/requests/:id/events", s.events, s.authenticate)
	e.POST("/v1/requests/:id/cancel", s.cancel, s.authenticate)
	s.echo = e
	s.http = &stdhttp.Server{
		Handler:           e,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          nil,
	}
	return s, nil
}

// Engine returns the engine the server serves.
func (s *Server) Engine() *actors.Engine { return s.eng }

// Config returns the server's configuration (with defaults filled in).
func (s *Server) Config() Config { return s.cfg }

// Echo returns the echo instance, to add routes or middleware.
func (s *Server) Echo() *echo.Echo { return s.echo }

// Metrics returns the metrics the server serves on /metrics.
func (s *Server) Metrics() *Metrics { return s.metrics }

// ServeHTTP implements net/http.Handler.
func (s *Server) ServeHTTP(w stdhttp.ResponseWriter, r *stdhttp.Request) { s.echo.ServeHTTP(w, r) }

// Serve accepts connections on ln until Shutdown. It returns
// net/http.ErrServerClosed after a Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.http.Serve(ln) }

// Shutdown stops the server gracefully: /readyz answers 503 and submits
// 503 at once; the engine drains (running requests get grace to finish,
// the rest end as failed/shutdown); every open event stream writes its
// end event and closes; then the listener closes. If ctx ends first, the
// remaining connections are closed. Shutdown does not close the engine.
func (s *Server) Shutdown(ctx context.Context, grace time.Duration) error {
	s.draining.Store(true)
	if s.onDraining != nil {
		s.onDraining()
	}
	drainErr := s.eng.Drain(ctx, grace)
	if drainErr != nil {
		s.cfg.Logger.Error().Err(drainErr).Msg("drain did not finish")
	}
	if err := s.http.Shutdown(ctx); err != nil {
		// Every request has ended and every stream was handed its end;
		// what is left are clients that do not finish (a stalled body, a
		// reader that stopped reading): they are cut off, which is the
		// point of a deadline, not a failure of the shutdown.
		s.cfg.Logger.Warn().Err(err).Msg("closing the connections that did not finish in time")
		_ = s.http.Close()
	}
	return drainErr
}

// Draining reports whether Shutdown has begun.
func (s *Server) Draining() bool { return s.draining.Load() }

func (s *Server) healthz(c echo.Context) error {
	return c.JSON(stdhttp.StatusOK, map[string]string{"status": "ok"})
}

// readyBody is /readyz's answer.
type readyBody struct {
	Status  string       `json:"status"`
	Cluster *readyMember `json:"cluster,omitempty"`
}

type readyMember struct {
	Node    string   `json:"node"`
	Members []string `json:"members"`
	Error   string   `json:"error,omitempty"`
}

func (s *Server) readyz(c echo.Context) error {
	body := readyBody{Status: "ready"}
	status := stdhttp.StatusOK
	if cl := s.cfg.Cluster; cl != nil {
		body.Cluster = &readyMember{Node: cl.Addr(), Members: cl.Members()}
		if err := cl.Ready(); err != nil {
			body.Status, body.Cluster.Error, status = "not_member", err.Error(), stdhttp.StatusServiceUnavailable
		}
	}
	if s.draining.Load() {
		body.Status, status = "draining", stdhttp.StatusServiceUnavailable
	}
	return c.JSON(status, body)
}

// handleError writes every error as the API's JSON error body.
func (s *Server) handleError(err error, c echo.Context) {
	ae := toAPIError(err)
	if c.Response().Committed {
		// Mid-stream: the status is gone; the stream itself says how it
		// ended. Only the log can learn of this.
		s.cfg.Logger.Debug().Err(err).Msg("error after the response started")
		return
	}
	if ae.RetryAfter > 0 {
		c.Response().Header().Set("Retry-After", strconv.Itoa(ae.RetryAfter))
	}
	if ae.Status == stdhttp.StatusUnauthorized {
		c.Response().Header().Set("WWW-Authenticate", `Bearer realm="armistice"`)
	}
	var body errorBody
	body.Error.Code, body.Error.Message, body.Snapshot = ae.Code, ae.Message, ae.Snapshot
	if c.Request().Method == stdhttp.MethodHead {
		err = c.NoContent(ae.Status)
	} else {
		err = c.JSON(ae.Status, body)
	}
	if err != nil {
		s.cfg.Logger.Debug().Err(err).Msg("could not write the error")
	}
}

// toAPIError turns any handler error into an APIError.
func toAPIError(err error) *APIError {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		msg := fmt.Sprint(he.Message)
		switch he.Code {
		case stdhttp.StatusNotFound:
			return &APIError{Status: he.Code, Code: CodeNotFound, Message: "no such route", Err: err}
		case stdhttp.StatusMethodNotAllowed:
			return &APIError{Status: he.Code, Code: CodeMethodNotAllowed, Message: "method not allowed on this route", Err: err}
		case stdhttp.StatusRequestEntityTooLarge:
			return &APIError{Status: he.Code, Code: CodePayloadTooLarge, Message: "request body too large", Err: err}
		case stdhttp.StatusUnsupportedMediaType:
			return &APIError{Status: he.Code, Code: CodeUnsupportedMediaType, Message: msg, Err: err}
		case stdhttp.StatusUnauthorized:
			return &APIError{Status: he.Code, Code: CodeUnauthorized, Message: msg, Err: err}
		}
		if he.Code >= 400 && he.Code < 500 {
			return &APIError{Status: he.Code, Code: CodeInvalidRequest, Message: msg, Err: err}
		}
	}
	return &APIError{Status: stdhttp.StatusInternalServerError, Code: CodeInternal, Message: "internal error", Err: err}
}

// engineError maps the engine's errors onto API errors.
func (s *Server) engineError(err error, snap actors.Snapshot) *APIError {
	var qf *actors.QueueFullError
	switch {
	case errors.As(err, &qf):
		return &APIError{Status: stdhttp.StatusTooManyRequests, Code: CodeQueueFull,
			Message: "the queue is full; retry later", RetryAfter: retryAfterSeconds(qf.RetryAfter), Err: err}
	case errors.Is(err, actors.ErrExpired):
		return &APIError{Status: stdhttp.StatusGone, Code: CodeExpired,
			Message: "the request's result is gone: it was evicted to stay within the retention budget before its end was read", Err: err}
	case errors.Is(err, actors.ErrIdempotencyConflict):
		return &APIError{Status: stdhttp.StatusUnprocessableEntity, Code: CodeIdempotencyConflict,
			Message: "this Idempotency-Key was used with a different request body", Err: err}
	case errors.Is(err, actors.ErrInternal):
		return &APIError{Status: stdhttp.StatusInternalServerError, Code: CodeInternal, Message: "internal error", Err: err}
	case errors.Is(err, actors.ErrNotFound):
		return &APIError{Status: stdhttp.StatusNotFound, Code: CodeNotFound, Message: "no such request", Err: err}
	case errors.Is(err, actors.ErrAlreadyFinished):
		ae := &APIError{Status: stdhttp.StatusConflict, Code: CodeAlreadyFinished,
			Message: fmt.Sprintf("the request already ended as %s (%s)", snap.Status, snap.Reason), Err: err}
		if snap.ID != "" {
			ae.Snapshot = s.snapshotJSON(snap)
		}
		return ae
	case errors.Is(err, actors.ErrInvalidCursor):
		return &APIError{Status: stdhttp.StatusBadRequest, Code: CodeInvalidCursor,
			Message: "the cursor is ahead of the request's log", Err: err}
	case errors.Is(err, actors.ErrTooManySubscribers):
		return &APIError{Status: stdhttp.StatusTooManyRequests, Code: CodeTooManySubscribers,
			Message: "too many streams are attached to this request", RetryAfter: 1, Err: err}
	case errors.Is(err, actors.ErrInvalidRequest):
		return &APIError{Status: stdhttp.StatusBadRequest, Code: CodeInvalidRequest, Message: err.Error(), Err: err}
	case errors.Is(err, actors.ErrShuttingDown), errors.Is(err, actors.ErrClosed):
		return &APIError{Status: stdhttp.StatusServiceUnavailable, Code: CodeShuttingDown,
			Message: "the server is shutting down", Err: err}
	case errors.Is(err, actors.ErrNoAnswer), errors.Is(err, context.DeadlineExceeded):
		return &APIError{Status: stdhttp.StatusServiceUnavailable, Code: CodeUnavailable,
			Message: "the engine did not answer in time; retry", RetryAfter: 1, Err: err}
	}
	return &APIError{Status: stdhttp.StatusInternalServerError, Code: CodeInternal, Message: "internal error", Err: err}
}

func retryAfterSeconds(d time.Duration) int {
	secs := int((d + time.Second - 1) / time.Second)
	return max(secs, 1)
}

// appendJSON appends v's JSON; v is always one of this package's types.
func appendJSON(b []byte, v any) []byte {
	data, err := json.Marshal(v)
	if err != nil {
		return append(b, "{}"...) // unreachable: the types marshal
	}
	return append(b, data...)
}

// probes are the routes health checkers and scrapers call; their access
// lines are logged at debug.
var probes = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true}

// RequestIDKey is the echo context key under which a handler puts the id
// of the Armistice request it created or served, so the access line names
// it (request_id) beside the HTTP request's own id (req_id).
const RequestIDKey = "armistice.request_id"

// maxRequestIDBytes caps a client's X-Request-Id: it is echoed and logged.
const maxRequestIDBytes = 128

func validRequestID(id string) bool {
	if len(id) > maxRequestIDBytes {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return false
		}
	}
	return true
}
