package actors

import (
	"fmt"
	"log/slog"
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
	// MaxActivePerTenant and MaxQueuedPerTenant cap one owner's share of
	// the slots and of the queue, so one tenant cannot take them all. 0
	// (the default) means no per-tenant cap.
	MaxActivePerTenant int
	MaxQueuedPerTenant int
	// QueuePolicy orders the queue: QueueFIFO (the default) admits in
	// arrival order; QueueFair serves the tenants with waiting requests
	// in turn (round-robin by owner name), in arrival order within each.
	QueuePolicy QueuePolicy

	// MaxRetained and MaxRetainedBytes bound the finished requests kept
	// for late readers (count, and the bytes of their logs), engine-wide;
	// the PerTenant pair bounds each owner's (0: no per-tenant bound).
	// Over a bound, the oldest finished request whose end was read goes
	// first, then the oldest unread one (which then answers ErrExpired).
	// Submits are never refused because of retention. Defaults: 10,000
	// requests, 256 MiB, no per-tenant bound.
	MaxRetained               int
	MaxRetainedBytes          int64
	MaxRetainedPerTenant      int
	MaxRetainedBytesPerTenant int64

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
	// waits in a bounded backlog for the next free one, and past that
	// gets a goroutine of its own, so this is not a limit. Default
	// 2 × GOMAXPROCS, at least 8. 0 keeps proto.actor's default dispatcher
	// (a goroutine per run).
	Workers int

	// Logger receives the engine's logs; each request logs through a
	// sub-logger with request_id. Default: a disabled logger.
	Logger zerolog.Logger
	// SlogHandler, when set, receives every log instead of Logger: the
	// engine's own (bridged from zerolog, at the lowest level the handler
	// enables) and, in an actor system New makes, proto.actor's. For
	// programs that log through log/slog.
	SlogHandler slog.Handler
	// NewID makes request ids. Default: random UUIDs (version 4).
	NewID func() string
	// Observer is told about transitions, first tokens, ends and
	// subscribers, for metrics. Default: NopObserver.
	Observer Observer
}

// QueuePolicy is the order in which queued requests are admitted.
type QueuePolicy string

// The queue policies.
const (
	QueueFIFO QueuePolicy = "fifo"
	QueueFair QueuePolicy = "fair"
)

// DefaultConfig returns the documented defaults with the given provider.
func DefaultConfig(p llm.Provider) Config {
	return Config{
		Provider:          p,
		MaxActive:         64,
		MaxQueued:         1024,
		QueuePolicy:       QueueFIFO,
		MaxRetained:       10_000,
		MaxRetainedBytes:  256 << 20,
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
	case c.MaxActivePerTenant < 0 || c.MaxQueuedPerTenant < 0:
		return fmt.Errorf("%w: MaxActivePerTenant and MaxQueuedPerTenant must not be negative", ErrInvalidConfig)
	case c.QueuePolicy != QueueFIFO && c.QueuePolicy != QueueFair:
		return fmt.Errorf("%w: unknown QueuePolicy %q (fifo or fair)", ErrInvalidConfig, c.QueuePolicy)
	case c.MaxRetained < 1:
		return fmt.Errorf("%w: MaxRetained must be at least 1, got %d", ErrInvalidConfig, c.MaxRetained)
	case c.MaxRetainedBytes < 1:
		return fmt.Errorf("%w: MaxRetainedBytes must be at least 1, got %d", ErrInvalidConfig, c.MaxRetainedBytes)
	case c.MaxRetainedPerTenant < 0 || c.MaxRetainedBytesPerTenant < 0:
		return fmt.Errorf("%w: MaxRetainedPerTenant and MaxRetainedBytesPerTenant must not be negative", ErrInvalidConfig)
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
