package http

import (
	stdhttp "net/http"

	"github.com/labstack/echo/v4"
)

// The headers of idempotent submits.
const (
	// HeaderIdempotencyKey names a submit so that a retry of it returns the
	// request it created instead of starting a second answer.
	HeaderIdempotencyKey = "Idempotency-Key"
	// HeaderIdempotentReplayed is "true" on the answer to a retry.
	HeaderIdempotentReplayed = "Idempotent-Replayed"
)

// maxIdempotencyKeyBytes caps an Idempotency-Key (as Stripe does).
const maxIdempotencyKeyBytes = 255

// IdempotencyKey returns the request's Idempotency-Key ("" when it has
// none), or ok=false when the key is longer than 255 bytes or holds
// anything but printable ASCII. Both front doors read it through here.
func IdempotencyKey(r *stdhttp.Request) (key string, ok bool) {
	key = r.Header.Get(HeaderIdempotencyKey)
	if len(key) > maxIdempotencyKeyBytes {
		return "", false
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x20 || key[i] > 0x7e {
			return "", false
		}
	}
	return key, true
}

// TraceID is the id of the HTTP request (X-Request-Id, as the request-id
// middleware settled it), which the engine logs as req_id with the
// request's own lines.
func TraceID(c echo.Context) string { return c.Response().Header().Get(echo.HeaderXRequestID) }

// MarkSubmitted names the Armistice request an HTTP request created or
// served, for its access line, and marks a replayed idempotent submit.
func MarkSubmitted(c echo.Context, id string, replayed bool) {
	c.Set(RequestIDKey, id)
	if replayed {
		c.Response().Header().Set(HeaderIdempotentReplayed, "true")
	}
}
