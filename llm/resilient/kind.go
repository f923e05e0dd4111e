package resilient

import (
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"syscall"

	"github.com/armistice-go/armistice/llm"
)

// Kind classifies an error for retries, metrics and logs.
type Kind string

// The kinds Classify returns.
const (
	// KindNone is the kind of a nil error.
	KindNone Kind = ""
	// KindCancelled: the caller cancelled the request's context. Not an
	// upstream error.
	KindCancelled Kind = "cancelled"
	// KindTimeout: the request's context passed its deadline, or the
	// transport timed out (dial, TLS handshake, response headers).
	KindTimeout Kind = "timeout"
	// KindConnect: the connection failed before a response: refused,
	// reset, closed before any byte (EOF), DNS, TLS.
	KindConnect Kind = "connect"
	// KindStatus429: HTTP 429 Too Many Requests.
	KindStatus429 Kind = "status_429"
	// KindStatus408: HTTP 408 Request Timeout, the upstream giving up on
	// a slow request; retried like a 429.
	KindStatus408 Kind = "status_408"
	// KindStatus5xx: an HTTP 5xx status (and Anthropic's 529).
	KindStatus5xx Kind = "status_5xx"
	// KindStatus4xx: any other HTTP error status: the request itself is
	// wrong (400, 404, 413, 422), or the key (401, 403); another try,
	// here or on a fallback, would fail alike or hide the cause.
	KindStatus4xx Kind = "status_4xx"
	// KindStreamCut: the stream ended without a finish reason.
	KindStreamCut Kind = "stream_cut"
	// KindMalformed: a chunk could not be decoded.
	KindMalformed Kind = "malformed"
	// KindStreamError: the upstream sent an error object inside the stream.
	KindStreamError Kind = "stream_error"
	// KindInvalidRequest: the provider refused the request before sending
	// it (llm.ErrInvalidRequest). Not an upstream error.
	KindInvalidRequest Kind = "invalid_request"
	// KindOther: anything else.
	KindOther Kind = "other"
)

// Kinds lists every kind but KindNone, for pre-declaring metric labels.
func Kinds() []Kind {
	return []Kind{KindCancelled, KindTimeout, KindConnect, KindStatus429, KindStatus408, KindStatus5xx, KindStatus4xx,
		KindStreamCut, KindMalformed, KindStreamError, KindInvalidRequest, KindOther}
}

// Classify returns err's kind. It looks, in this order, for: the context's
// cancellation (context.Canceled) and deadline (context.DeadlineExceeded);
// an *llm.StatusError; an *llm.StreamError; llm.ErrMalformed;
// llm.ErrStreamCut; llm.ErrInvalidRequest; a network timeout; a connection
// failure (a *net.OpError, a *net.DNSError, ECONNREFUSED, ECONNRESET,
// EPIPE, io.EOF or io.ErrUnexpectedEOF, a *url.Error). It imports no SDK:
// the providers translate their SDK's errors into these.
func Classify(err error) Kind {
	if err == nil {
		return KindNone
	}
	var status *llm.StatusError
	var inStream *llm.StreamError
	var netErr net.Error
	switch {
	case errors.Is(err, context.Canceled):
		return KindCancelled
	case errors.Is(err, context.DeadlineExceeded):
		return KindTimeout
	case errors.As(err, &status):
		switch {
		case status.StatusCode == 429:
			return KindStatus429
		case status.StatusCode == 408:
			return KindStatus408
		case status.StatusCode >= 500:
			return KindStatus5xx
		default:
			return KindStatus4xx
		}
	case errors.As(err, &inStream):
		return KindStreamError
	case errors.Is(err, llm.ErrMalformed):
		return KindMalformed
	case errors.Is(err, llm.ErrStreamCut):
		return KindStreamCut
	case errors.Is(err, llm.ErrInvalidRequest):
		return KindInvalidRequest
	case errors.As(err, &netErr) && netErr.Timeout():
		return KindTimeout
	case connectionError(err):
		return KindConnect
	}
	return KindOther
}

// connectionError reports whether err is a failure to get a response.
func connectionError(err error) bool {
	var op *net.OpError
	var dns *net.DNSError
	var u *url.Error
	return errors.As(err, &op) || errors.As(err, &dns) || errors.As(err, &u) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// Retryable reports whether a failure of kind k before the first token is
// worth another attempt: connection failures, 429, 408, 5xx, transport
// timeouts and streams cut before their first token. No other 4xx is: it
// is neither retried nor tried on a fallback. The caller's cancellation
// and deadline are never retried, whatever the kind.
func (k Kind) Retryable() bool {
	switch k {
	case KindConnect, KindStatus429, KindStatus408, KindStatus5xx, KindTimeout, KindStreamCut:
		return true
	}
	return false
}

// Upstream reports whether k counts as an upstream error in metrics: every
// kind but KindNone, KindCancelled and KindInvalidRequest.
func (k Kind) Upstream() bool {
	return k != KindNone && k != KindCancelled && k != KindInvalidRequest
}
