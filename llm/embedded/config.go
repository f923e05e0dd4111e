package embedded

import (
	"fmt"
	"math"
	"time"
)

const (
	// maxTokens bounds Config.Tokens so a misconfiguration cannot make one
	// answer unbounded.
	maxTokens = 1 << 20
	// minTokensPerSecond is one token an hour. Together with maxTokens it
	// keeps every point of the pacing schedule (k × interval) inside
	// time.Duration's range.
	minTokensPerSecond = 1.0 / 3600
)

// Config tunes the embedded model.
type Config struct {
	// TokensPerSecond paces the stream; 0 means unpaced (as fast as
	// possible). A positive value must be at least 1/3600 (one token an
	// hour). Default 50.
	TokensPerSecond float64
	// Tokens is the answer length in tokens when the request sets no
	// smaller MaxTokens. It must be between 1 and 1<<20. Default 64.
	Tokens int
}

// DefaultConfig returns the configuration used when none is given: 64 tokens
// at 50 tokens per second.
func DefaultConfig() Config {
	return Config{TokensPerSecond: 50, Tokens: 64}
}

// Validate reports whether c is usable. Its errors wrap ErrInvalidConfig.
func (c Config) Validate() error {
	tps := c.TokensPerSecond
	switch {
	case math.IsNaN(tps) || math.IsInf(tps, 0):
		return fmt.Errorf("%w: TokensPerSecond must be finite, got %v", ErrInvalidConfig, tps)
	case tps < 0:
		return fmt.Errorf("%w: TokensPerSecond must not be negative, got %v", ErrInvalidConfig, tps)
	case tps > 0 && tps < minTokensPerSecond:
		return fmt.Errorf("%w: TokensPerSecond must be 0 or at least 1/3600, got %v", ErrInvalidConfig, tps)
	case c.Tokens < 1 || c.Tokens > maxTokens:
		return fmt.Errorf("%w: Tokens must be between 1 and %d, got %d", ErrInvalidConfig, maxTokens, c.Tokens)
	}
	return nil
}

// interval is the time between two tokens; 0 means unpaced. Rates so high
// that the interval rounds to 0 ns are unpaced as well.
func (c Config) interval() time.Duration {
	if c.TokensPerSecond == 0 {
		return 0
	}
	return time.Duration(float64(time.Second) / c.TokensPerSecond)
}
