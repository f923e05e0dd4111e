package resilient

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/armistice-go/armistice/llm"
)

// Defaults used for the zero fields of a Config.
const (
	DefaultRetries       = 2
	DefaultBaseBackoff   = 200 * time.Millisecond
	DefaultMaxBackoff    = 5 * time.Second
	DefaultMaxRetryAfter = time.Minute
)

// maxRetries bounds Config.Retries.
const maxRetries = 100

// Upstream is one provider the resilient provider may use.
type Upstream struct {
	// Name identifies the upstream in errors, logs and metrics; empty
	// means Provider.Name(). Names must be unique within a Config.
	Name string
	// Provider opens the streams.
	Provider llm.Provider
}

// Config configures a Provider. Zero fields take defaults; New fills them
// in before validating.
type Config struct {
	// Name identifies the provider in logs and metrics; empty means the
	// first upstream's name.
	Name string
	// Upstreams are tried in order: the primary first, then each fallback
	// once the one before it has used up its attempts. At least one.
	Upstreams []Upstream
	// Retries is the number of retries per upstream: each upstream gets
	// 1+Retries attempts. 0 means the default, 2; a negative value means
	// no retries (one attempt per upstream). At most 100.
	Retries int
	// BaseBackoff is the backoff before the first retry; it doubles on each
	// later retry, up to MaxBackoff. Each wait is drawn with equal jitter:
	// half the backoff plus a random part of the other half. Default
	// 200ms.
	BaseBackoff time.Duration
	// MaxBackoff caps the backoff (not a Retry-After). Default 5s; not
	// below BaseBackoff.
	MaxBackoff time.Duration
	// MaxRetryAfter is the longest Retry-After the provider waits for; an
	// upstream asking for more is given up at once, as if its attempts
	// were used up. Default 1 minute.
	MaxRetryAfter time.Duration
	// Rand returns a number in [0, 1) for the jitter. It must be safe for
	// concurrent use. Default math/rand/v2's Float64 (randomly seeded).
	Rand func() float64
	// After waits between attempts, like time.After; tests inject a fake to
	// observe the waits without sleeping. Default time.After.
	After func(time.Duration) <-chan time.Time
	// Observer is told about attempts, retries, errors and aborts, for
	// metrics and logs. Default NopObserver.
	Observer Observer
}

// withDefaults returns c with its zero fields filled in.
func (c Config) withDefaults() Config {
	c.Upstreams = append([]Upstream(nil), c.Upstreams...)
	for i, u := range c.Upstreams {
		if u.Name == "" && u.Provider != nil {
			c.Upstreams[i].Name = u.Provider.Name()
		}
	}
	if c.Name == "" && len(c.Upstreams) > 0 {
		c.Name = c.Upstreams[0].Name
	}
	switch {
	case c.Retries == 0:
		c.Retries = DefaultRetries
	case c.Retries < 0:
		c.Retries = 0
	}
	if c.BaseBackoff == 0 {
		c.BaseBackoff = DefaultBaseBackoff
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = max(DefaultMaxBackoff, c.BaseBackoff)
	}
	if c.MaxRetryAfter == 0 {
		c.MaxRetryAfter = DefaultMaxRetryAfter
	}
	if c.Rand == nil {
		c.Rand = rand.Float64
	}
	if c.After == nil {
		c.After = time.After
	}
	if c.Observer == nil {
		c.Observer = NopObserver{}
	}
	return c
}

// Validate reports whether c, with its zero fields defaulted, is usable. Its
// errors wrap ErrInvalidConfig.
func (c Config) Validate() error {
	c = c.withDefaults()
	if len(c.Upstreams) == 0 {
		return fmt.Errorf("%w: no upstreams", ErrInvalidConfig)
	}
	seen := make(map[string]bool, len(c.Upstreams))
	for i, u := range c.Upstreams {
		if u.Provider == nil {
			return fmt.Errorf("%w: upstream %d has no provider", ErrInvalidConfig, i)
		}
		if u.Name == "" {
			return fmt.Errorf("%w: upstream %d has no name", ErrInvalidConfig, i)
		}
		if seen[u.Name] {
			return fmt.Errorf("%w: two upstreams are named %q", ErrInvalidConfig, u.Name)
		}
		seen[u.Name] = true
	}
	switch {
	case c.Retries > maxRetries:
		return fmt.Errorf("%w: Retries must be at most %d, got %d", ErrInvalidConfig, maxRetries, c.Retries)
	case c.BaseBackoff < 0:
		return fmt.Errorf("%w: BaseBackoff must not be negative, got %v", ErrInvalidConfig, c.BaseBackoff)
	case c.MaxBackoff < c.BaseBackoff:
		return fmt.Errorf("%w: MaxBackoff %v is below BaseBackoff %v", ErrInvalidConfig, c.MaxBackoff, c.BaseBackoff)
	case c.MaxRetryAfter < 0:
		return fmt.Errorf("%w: MaxRetryAfter must not be negative, got %v", ErrInvalidConfig, c.MaxRetryAfter)
	}
	return nil
}
