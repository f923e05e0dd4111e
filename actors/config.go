package actors

import (
	"fmt"
	"runtime"
	"time"

	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/model"
	"github.com/rs/zerolog"
)

// Config configures an Engine or a supervisor spawned with SupervisorProps.
// Start from DefaultConfig; zero durations disable the matching timeout
// (except PickupTimeout, which must be positive).
type Config struct {
	// Provider generates the answers. Required.
	Provider llm.Provider

	// MaxActive is the number of requests streaming at once. Default 64.
	MaxActive int
	// MaxQueued is the number of pending requests waiting, in FIFO order,
	// for a slot; beyond it submits are refused with ErrQueueFull.
	// Default 1024. 0 means no queue.
	MaxQueued int
	// MaxSubscribers per request. Default 16.
	MaxSubscribers int
	// BatchSize is the most records one delivery to a subscriber carries.
	// Default 512.
	BatchSize int

	// QueueTimeout ends a request still pending after it as
	// failed/queue_timeout. Default 60 s.
	QueueTimeout time.Duration
	// FirstTokenTimeout ends a streaming request that produced no token as
	// failed/first_token_timeout. Default 60 s.
	FirstTokenTimeout time.Duration
	// IdleTimeout ends a request whose latest token is older than this as
	// failed/idle_timeout. Default 30 s.
	IdleTimeout time.Duration
	// MaxDuration bounds the streaming time, counted from admission, as
	// failed/deadline_exceeded. Default 10 min.
	MaxDuration time.Duration
	// MaxOutputBytes caps a request's text; beyond it the request ends as
	// failed/output_too_large. Default 1 MiB.
	MaxOutputBytes int
	// DetachGrace is how long an on_disconnect=cancel request waits for a
	// subscriber to come back before it is cancelled. Default 5 s.
	DetachGrace time.Duration
	// Linger keeps a finished request after its end reached every attached
	// subscriber, for late resumes. Default 30 s.
	Linger time.Duration
	// PickupTimeout is the longest a finished request is kept when nobody
	// picks its result up (and the hard cap on retention). Default 10 min.
	PickupTimeout time.Duration

	// HandoffBytes bounds the output a request's producer buffers ahead of
	// the request actor: past it the producer stops reading the upstream
	// until the actor has taken what waits, so MaxOutputBytes holds in
	// memory as well as in the log. Default 256 KiB. 0 means no bound.
	HandoffBytes int

	// AskTimeout bounds each Engine call's wait for an answer. Default 5 s.
	AskTimeout time.Duration

	// Workers is the number of long-lived goroutines that run the
	// supervisor's and the requests' mailboxes; when all are busy a run
	// gets a goroutine of its own, so this is not a limit. Default
	// 2 × GOMAXPROCS, at least 8. 0 keeps proto.actor's default dispatcher
	// (a goroutine per run).
	Workers int

	// Logger receives the engine's logs; each request logs through a
	// sub-logger with request_id. Default: a disabled logger.
	Logger zerolog.Logger
	// NewID makes request ids. Default: random UUIDs (version 4).
	NewID func() string
	// Observer is told about transitions, first tokens, ends and
	// subscribers, for metrics. Default: NopObserver.
	Observer Observer
}

// DefaultConfig returns the documented defaults with the given provider.
func DefaultConfig(p llm.Provider) Config {
	return Config{
		Provider:          p,
		MaxActive:         64,
		MaxQueued:         1024,
		MaxSubscribers:    16,
		BatchSize:         512,
		QueueTimeout:      60 * time.Second,
		FirstTokenTimeout: 60 * time.Second,
		IdleTimeout:       30 * time.Second,
		MaxDuration:       10 * time.Minute,
		MaxOutputBytes:    1 << 20,
		HandoffBytes:      256 << 10,
		DetachGrace:       5 * time.Second,
		Linger:            30 * time.Second,
		PickupTimeout:     10 * time.Minute,
		AskTimeout:        5 * time.Second,
		Workers:           max(8, 2*runtime.GOMAXPROCS(0)),
		Logger:            zerolog.Nop(),
		Observer:          NopObserver{},
	}
}

// Validate reports the first invalid setting.
func (c Config) Validate() error {
	switch {
	case c.Provider == nil:
		return fmt.Errorf("%w: Provider is required", ErrInvalidConfig)
	case c.MaxActive < 1:
		return fmt.Errorf("%w: MaxActive must be at least 1, got %d", ErrInvalidConfig, c.MaxActive)
	case c.MaxQueued < 0:
		return fmt.Errorf("%w: MaxQueued must not be negative, got %d", ErrInvalidConfig, c.MaxQueued)
	case c.MaxSubscribers < 1:
		return fmt.Errorf("%w: MaxSubscribers must be at least 1, got %d", ErrInvalidConfig, c.MaxSubscribers)
	case c.BatchSize < 1:
		return fmt.Errorf("%w: BatchSize must be at least 1, got %d", ErrInvalidConfig, c.BatchSize)
	case c.AskTimeout <= 0:
		return fmt.Errorf("%w: AskTimeout must be positive, got %s", ErrInvalidConfig, c.AskTimeout)
	case c.HandoffBytes < 0:
		return fmt.Errorf("%w: HandoffBytes must not be negative, got %d", ErrInvalidConfig, c.HandoffBytes)
	case c.Workers < 0:
		return fmt.Errorf("%w: Workers must not be negative, got %d", ErrInvalidConfig, c.Workers)
	}
	if err := c.limits(model.OnDisconnectContinue).Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return nil
}

func (c Config) limits(policy model.DisconnectPolicy) model.Limits {
	return model.Limits{
		QueueTimeout:      c.QueueTimeout,
		FirstTokenTimeout: c.FirstTokenTimeout,
		IdleTimeout:       c.IdleTimeout,
		MaxDuration:       c.MaxDuration,
		MaxOutputBytes:    c.MaxOutputBytes,
		OnDisconnect:      policy,
		DetachGrace:       c.DetachGrace,
		Linger:            c.Linger,
		PickupTimeout:     c.PickupTimeout,
	}
}
