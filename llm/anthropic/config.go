package anthropic

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/armistice-go/armistice/llm/internal/upstream"
)

// Defaults used for the zero fields of a Config.
const (
	DefaultName      = "anthropic"
	DefaultBaseURL   = "https://api.anthropic.com"
	DefaultModel     = "claude-haiku-4-5"
	DefaultMaxTokens = 1024
)

// maxMaxTokens bounds Config.MaxTokens to a value no model exceeds, so a
// typo cannot ask for an unbounded answer.
const maxMaxTokens = 1 << 20

// Config configures a Provider. Zero fields take the defaults above; New
// fills them in before validating.
type Config struct {
	// Name identifies the provider in logs and metrics. Default
	// "anthropic".
	Name string
	// BaseURL is the API root without the version: requests go to
	// BaseURL + "/v1/messages". It must be an absolute http or https URL.
	// Default "https://api.anthropic.com".
	BaseURL string
	// APIKey is the credential the SDK sends ("Authorization: Bearer
	// <APIKey>"). Empty sends none. The key never appears in the errors the
	// provider returns.
	APIKey string
	// Model is used when a request names none. Default "claude-haiku-4-5".
	Model string
	// MaxTokens is sent as max_tokens, which the Messages API requires,
	// when a request sets no positive MaxTokens of its own. Between 1 and
	// 1<<20; default 1024.
	MaxTokens int
	// ExtraHeaders are added to every request (an "anthropic-beta" flag, a
	// gateway's routing header). Names must be valid header names; values
	// must not hold CR, LF or NUL.
	ExtraHeaders map[string]string
	// HTTPClient sends the requests. Nil means a client of the provider's
	// own, on a clone of http.DefaultTransport. Its Timeout, if any, bounds
	// whole streams, so leave it 0 and bound requests with their context.
	HTTPClient *http.Client
}

// DefaultConfig returns the configuration used for zero fields.
func DefaultConfig() Config {
	return Config{Name: DefaultName, BaseURL: DefaultBaseURL, Model: DefaultModel, MaxTokens: DefaultMaxTokens}
}

// withDefaults returns c with its zero fields filled in.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Name == "" {
		c.Name = d.Name
	}
	if c.BaseURL == "" {
		c.BaseURL = d.BaseURL
	}
	if c.Model == "" {
		c.Model = d.Model
	}
	if c.MaxTokens == 0 {
		c.MaxTokens = d.MaxTokens
	}
	return c
}

// Validate reports whether c, with its zero fields defaulted, is usable. Its
// errors wrap ErrInvalidConfig and never contain the API key.
func (c Config) Validate() error {
	c = c.withDefaults()
	if err := upstream.CheckBaseURL(c.BaseURL); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	if c.MaxTokens < 1 || c.MaxTokens > maxMaxTokens {
		return fmt.Errorf("%w: MaxTokens must be between 1 and %d, got %d", ErrInvalidConfig, maxMaxTokens, c.MaxTokens)
	}
	if strings.ContainsAny(c.APIKey, "\r\n\x00") {
		return fmt.Errorf("%w: APIKey holds CR, LF or NUL", ErrInvalidConfig)
	}
	if err := upstream.CheckHeaders(c.ExtraHeaders); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return nil
}
