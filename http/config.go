package http

import (
	"fmt"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// Config configures a Server. Start from DefaultConfig.
type Config struct {
	// Heartbeat is the interval of ": ping" comments on an idle event
	// stream, so proxies and clients see the connection is alive.
	// Default 15 s; 0 disables them.
	Heartbeat time.Duration
	// MaxPromptBytes caps a submitted prompt (413 beyond). Default 64 KiB.
	MaxPromptBytes int
	// MaxBodyBytes caps any request body (413 beyond). Default 1 MiB.
	MaxBodyBytes int64
	// APIKeys maps API keys to tenants. When it is empty the /v1 routes
	// are open and every request belongs to the same anonymous tenant;
	// otherwise each needs "Authorization: Bearer <key>" and a tenant sees
	// only its own requests.
	APIKeys map[string]string
	// ReadTimeout bounds reading a request body: a client that sends part
	// of a body and stalls is cut off after it (the connection closes).
	// Default 30 s; 0 disables it.
	ReadTimeout time.Duration
	// WriteTimeout bounds each write of a response, every event of a
	// stream included: a client that stops reading (with its connection
	// still open) is detached like a disconnect within it; the request
	// itself goes on unless its on_disconnect policy says cancel.
	// Default 30 s; 0 disables it.
	WriteTimeout time.Duration
	// DefaultModel is shown as a request's model when it names none.
	DefaultModel string
	// Logger receives the access log (one line per HTTP request) and
	// server errors. Default: a disabled logger.
	Logger zerolog.Logger
	// Metrics receives the HTTP and stream metrics and serves /metrics.
	// Pass the same Metrics as the engine's actors.Config.Observer to get
	// request metrics too. Default: a fresh Metrics without engine events.
	Metrics *Metrics
	// Cluster, when set, is this node's cluster membership (package
	// cluster's Node): /readyz answers 503 while the node is not a member
	// or is leaving, and lists the members. Nil on one node.
	Cluster ClusterStatus
}

// ClusterStatus is what /readyz shows of a cluster node.
type ClusterStatus interface {
	// Ready is nil while the node serves as a member.
	Ready() error
	// Addr is the node's remote address; Members the members' addresses.
	Addr() string
	Members() []string
}

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{
		Heartbeat:      15 * time.Second,
		MaxPromptBytes: 64 << 10,
		MaxBodyBytes:   1 << 20,
		ReadTimeout:    30 * time.Second,
		WriteTimeout:   30 * time.Second,
		Logger:         zerolog.Nop(),
	}
}

// Validate reports the first invalid setting.
func (c Config) Validate() error {
	switch {
	case c.Heartbeat < 0:
		return fmt.Errorf("%w: Heartbeat must not be negative, got %s", ErrInvalidConfig, c.Heartbeat)
	case c.MaxPromptBytes < 1:
		return fmt.Errorf("%w: MaxPromptBytes must be at least 1, got %d", ErrInvalidConfig, c.MaxPromptBytes)
	case c.MaxBodyBytes < 1:
		return fmt.Errorf("%w: MaxBodyBytes must be at least 1, got %d", ErrInvalidConfig, c.MaxBodyBytes)
	case c.ReadTimeout < 0 || c.WriteTimeout < 0:
		return fmt.Errorf("%w: ReadTimeout and WriteTimeout must not be negative", ErrInvalidConfig)
	}
	for key, tenant := range c.APIKeys {
		if key == "" || tenant == "" {
			return fmt.Errorf("%w: API keys and tenants must not be empty", ErrInvalidConfig)
		}
	}
	return nil
}

// ParseAPIKeys reads "key1=tenant1,key2=tenant2" (the ARMISTICE_API_KEYS
// format). Spaces around items are ignored; an empty string gives no keys.
// The error never contains a key.
func ParseAPIKeys(s string) (map[string]string, error) {
	keys := map[string]string{}
	for i, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		key, tenant, ok := strings.Cut(item, "=")
		key, tenant = strings.TrimSpace(key), strings.TrimSpace(tenant)
		if !ok || key == "" || tenant == "" {
			return nil, fmt.Errorf("%w: API key item %d is not key=tenant", ErrInvalidConfig, i+1)
		}
		if _, dup := keys[key]; dup {
			return nil, fmt.Errorf("%w: API key item %d repeats a key", ErrInvalidConfig, i+1)
		}
		keys[key] = tenant
	}
	return keys, nil
}
