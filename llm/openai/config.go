package openai

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/armistice-go/armistice/llm/internal/upstream"
)

// Defaults used for the zero fields of a Config.
const (
	DefaultName    = "openai"
	DefaultBaseURL = "https://api.openai.com/v1"
	DefaultModel   = "gpt-4o-mini"
)

// Config configures a Provider. Zero fields take the defaults above; New
// fills them in before validating.
type Config struct {
	// Name identifies the provider in logs and metrics. Default "openai".
	Name string
	// BaseURL is the API root, up to and including the version segment:
	// requests go to BaseURL + "/chat/completions". Any OpenAI-compatible
	// server works (vLLM, llama.cpp's server, Ollama's /v1, LiteLLM, ...).
	// It must be an absolute http or https URL. Default
	// "https://api.openai.com/v1".
	BaseURL string
	// APIKey is sent as "Authorization: Bearer <APIKey>". Empty sends no
	// Authorization header (local servers need none). The key never
	// appears in the errors the provider returns.
	APIKey string
	// Model is used when a request names none. Default "gpt-4o-mini".
	Model string
	// MaxCompletionTokens sends a request's MaxTokens as
	// "max_completion_tokens" whatever name the client used. Without it
	// the cap goes out under the client's name (Settings.MaxTokensField;
	// "max_tokens" when none), which is right for any upstream; the
	// switch is for an upstream serving only OpenAI's reasoning models
	// (the o-series, gpt-5), which refuse "max_tokens".
	MaxCompletionTokens bool
	// ExtraHeaders are added to every request (for gateways that route or
	// bill by header). Names must be valid header names; values must not
	// hold CR, LF or NUL.
	ExtraHeaders map[string]string
	// HTTPClient sends the requests. Nil means a client of the provider's
	// own, on a clone of http.DefaultTransport. Its Timeout, if any, bounds
	// whole streams, so leave it 0 and bound requests with their context.
	HTTPClient *http.Client
}

// DefaultConfig returns the configuration used for zero fields.
func DefaultConfig() Config {
	return Config{Name: DefaultName, BaseURL: DefaultBaseURL, Model: DefaultModel}
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
	return c
}

// Validate reports whether c, with its zero fields defaulted, is usable. Its
// errors wrap ErrInvalidConfig and never contain the API key.
func (c Config) Validate() error {
	c = c.withDefaults()
	if err := upstream.CheckBaseURL(c.BaseURL); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	if strings.ContainsAny(c.APIKey, "\r\n\x00") {
		return fmt.Errorf("%w: APIKey holds CR, LF or NUL", ErrInvalidConfig)
	}
	if err := upstream.CheckHeaders(c.ExtraHeaders); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return nil
}
