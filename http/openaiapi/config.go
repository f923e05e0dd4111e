package openaiapi

import (
	"fmt"
	"time"

	"github.com/rs/zerolog"
)

// Config configures the OpenAI-compatible routes. Start from DefaultConfig.
type Config struct {
	// Models are the model names GET /v1/models lists. The first one is
	// shown as a request's model when the request names none; a request
	// that names a model is passed to the provider with that name, listed
	// or not. At least one, each non-empty and listed once. Default:
	// "embedded".
	Models []string
	// Heartbeat is the interval of ": ping" comments on an idle event
	// stream. Default 15 s; 0 disables them.
	Heartbeat time.Duration
	// MaxBodyBytes caps a request body (413 beyond). The server's own
	// limit (http.Config.MaxBodyBytes) applies first. Default 1 MiB.
	MaxBodyBytes int64
	// MaxPromptBytes caps the sum of a request's message texts (400
	// context_length_exceeded beyond). Default 64 KiB.
	MaxPromptBytes int
	// ResponseRetention is how long a stored Response (store: true, the
	// default) stays retrievable after it ended, read or not, within the
	// engine's retention budget. Default 1 h.
	ResponseRetention time.Duration
	// Logger receives server errors (5xx answers, failed cancels after a
	// disconnect). Default: a disabled logger.
	Logger zerolog.Logger
}

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{
		Models:            []string{"embedded"},
		Heartbeat:         15 * time.Second,
		MaxBodyBytes:      1 << 20,
		MaxPromptBytes:    64 << 10,
		ResponseRetention: time.Hour,
		Logger:            zerolog.Nop(),
	}
}

// Validate reports the first invalid setting.
func (c Config) Validate() error {
	switch {
	case len(c.Models) == 0:
		return fmt.Errorf("%w: Models must name at least one model", ErrInvalidConfig)
	case c.Heartbeat < 0:
		return fmt.Errorf("%w: Heartbeat must not be negative, got %s", ErrInvalidConfig, c.Heartbeat)
	case c.MaxBodyBytes < 1:
		return fmt.Errorf("%w: MaxBodyBytes must be at least 1, got %d", ErrInvalidConfig, c.MaxBodyBytes)
	case c.MaxPromptBytes < 1:
		return fmt.Errorf("%w: MaxPromptBytes must be at least 1, got %d", ErrInvalidConfig, c.MaxPromptBytes)
	case c.ResponseRetention < 0:
		return fmt.Errorf("%w: ResponseRetention must not be negative, got %s", ErrInvalidConfig, c.ResponseRetention)
	}
	seen := make(map[string]bool, len(c.Models))
	for i, m := range c.Models {
		switch {
		case m == "":
			return fmt.Errorf("%w: Models[%d] is empty", ErrInvalidConfig, i)
		case seen[m]:
			return fmt.Errorf("%w: Models lists %q twice", ErrInvalidConfig, m)
		}
		seen[m] = true
	}
	return nil
}
