package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	stdhttp "net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/armistice-go/armistice/actors"
	armhttp "github.com/armistice-go/armistice/http"
	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/llm/embedded"
	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
)

// serveConfig is everything `armistice serve` can be told.
type serveConfig struct {
	Addr          string
	Engine        actors.Config
	HTTP          armhttp.Config
	ShutdownGrace time.Duration
	Provider      string
	EmbeddedRate  float64
	EmbeddedCount int
	LogLevel      zerolog.Level
	LogFormat     string // json or console
}

// setting is one configuration value: its flag, its environment
// variable, its default, and how it is applied.
type setting struct {
	flag, env, def, usage string
	apply                 func(c *serveConfig, v string) error
}

func durationSetting(flag, env, def, usage string, field func(*serveConfig) *time.Duration) setting {
	return setting{flag, env, def, usage, func(c *serveConfig, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("not a duration (use Go syntax such as 30s or 1m30s)")
		}
		if d < 0 {
			return fmt.Errorf("must not be negative")
		}
		*field(c) = d
		return nil
	}}
}

func intSetting(flag, env, def, usage string, field func(*serveConfig) *int) setting {
	return setting{flag, env, def, usage, func(c *serveConfig, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("not an integer")
		}
		*field(c) = n
		return nil
	}}
}

// settings lists every setting, in the order of the README's table.
var settings = []setting{
	{"addr", "ARMISTICE_ADDR", "127.0.0.1:8080", "address to listen on (host:port)", func(c *serveConfig, v string) error {
		if _, _, err := net.SplitHostPort(v); err != nil {
			return fmt.Errorf("not host:port")
		}
		c.Addr = v
		return nil
	}},
	intSetting("max-active", "ARMISTICE_MAX_ACTIVE", "64", "requests streaming at once", func(c *serveConfig) *int { return &c.Engine.MaxActive }),
	intSetting("max-queued", "ARMISTICE_MAX_QUEUED", "1024", "requests waiting for a slot (beyond: 429)", func(c *serveConfig) *int { return &c.Engine.MaxQueued }),
	intSetting("max-subscribers", "ARMISTICE_MAX_SUBSCRIBERS", "16", "streams attached to one request", func(c *serveConfig) *int { return &c.Engine.MaxSubscribers }),
	durationSetting("queue-timeout", "ARMISTICE_QUEUE_TIMEOUT", "60s", "longest wait for a slot (0: none)", func(c *serveConfig) *time.Duration { return &c.Engine.QueueTimeout }),
	durationSetting("first-token-timeout", "ARMISTICE_FIRST_TOKEN_TIMEOUT", "60s", "longest wait for the first token (0: none)", func(c *serveConfig) *time.Duration { return &c.Engine.FirstTokenTimeout }),
	durationSetting("idle-timeout", "ARMISTICE_IDLE_TIMEOUT", "30s", "longest gap between tokens (0: none)", func(c *serveConfig) *time.Duration { return &c.Engine.IdleTimeout }),
	durationSetting("max-duration", "ARMISTICE_MAX_DURATION", "10m", "longest streaming time from admission (0: none)", func(c *serveConfig) *time.Duration { return &c.Engine.MaxDuration }),
	durationSetting("linger", "ARMISTICE_LINGER", "30s", "how long a finished request stays for resumes after its end was delivered", func(c *serveConfig) *time.Duration { return &c.Engine.Linger }),
	durationSetting("pickup-timeout", "ARMISTICE_PICKUP_TIMEOUT", "10m", "longest a finished request is kept when nobody reads its end", func(c *serveConfig) *time.Duration { return &c.Engine.PickupTimeout }),
	durationSetting("detach-grace", "ARMISTICE_DETACH_GRACE", "5s", "wait for a client to come back before on_disconnect=cancel fires", func(c *serveConfig) *time.Duration { return &c.Engine.DetachGrace }),
	durationSetting("heartbeat", "ARMISTICE_HEARTBEAT", "15s", "interval of ': ping' comments on idle streams (0: none)", func(c *serveConfig) *time.Duration { return &c.HTTP.Heartbeat }),
	durationSetting("shutdown-grace", "ARMISTICE_SHUTDOWN_GRACE", "30s", "time running requests get to finish on SIGINT/SIGTERM", func(c *serveConfig) *time.Duration { return &c.ShutdownGrace }),
	intSetting("max-prompt-bytes", "ARMISTICE_MAX_PROMPT_BYTES", "65536", "largest prompt (beyond: 413)", func(c *serveConfig) *int { return &c.HTTP.MaxPromptBytes }),
	intSetting("max-output-bytes", "ARMISTICE_MAX_OUTPUT_BYTES", "1048576", "largest answer (beyond: failed/output_too_large)", func(c *serveConfig) *int { return &c.Engine.MaxOutputBytes }),
	{"api-keys", "ARMISTICE_API_KEYS", "", "key1=tenant1,key2=tenant2; empty: no auth (prefer the environment: flags show in ps)", func(c *serveConfig, v string) error {
		keys, err := armhttp.ParseAPIKeys(v)
		if err != nil {
			return err
		}
		c.HTTP.APIKeys = keys
		return nil
	}},
	{"provider", "ARMISTICE_PROVIDER", "embedded", "the model provider: embedded", func(c *serveConfig, v string) error {
		switch v {
		case "embedded":
		default:
			return fmt.Errorf("unknown provider (known: embedded)")
		}
		c.Provider = v
		return nil
	}},
	{"embedded-rate", "ARMISTICE_EMBEDDED_RATE", "50", "embedded model: tokens per second (0: unpaced)", func(c *serveConfig, v string) error {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 {
			return fmt.Errorf("not a non-negative number")
		}
		c.EmbeddedRate = f
		return nil
	}},
	intSetting("embedded-tokens", "ARMISTICE_EMBEDDED_TOKENS", "64", "embedded model: answer length in tokens", func(c *serveConfig) *int { return &c.EmbeddedCount }),
	{"log-level", "ARMISTICE_LOG_LEVEL", "info", "debug, info, warn or error", func(c *serveConfig, v string) error {
		switch v {
		case "debug", "info", "warn", "error":
			lvl, _ := zerolog.ParseLevel(v)
			c.LogLevel = lvl
			return nil
		}
		return fmt.Errorf("not one of debug, info, warn, error")
	}},
	{"log-format", "ARMISTICE_LOG_FORMAT", "", "json or console (default: console when stderr is a terminal, else json)", func(c *serveConfig, v string) error {
		switch v {
		case "", "json", "console":
			c.LogFormat = v
			return nil
		}
		return fmt.Errorf("not json or console")
	}},
}

// flagValue records a flag's value, so that a flag wins over the
// environment only when it is given.
type flagValue struct {
	value string
	set   bool
}

func (f *flagValue) String() string     { return f.value }
func (f *flagValue) Set(v string) error { f.value, f.set = v, true; return nil }

// loadServeConfig reads the environment, then the flags (which win), and
// validates the result. Errors name the flag or variable at fault.
func loadServeConfig(args []string, lookupEnv func(string) (string, bool), stderr io.Writer) (serveConfig, error) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: armistice serve [flags]\n\nRuns the HTTP server. Every flag has an environment variable; a flag wins.\n\n")
		for _, s := range settings {
			def := s.def
			if def == "" {
				def = `""`
			}
			fmt.Fprintf(stderr, "  --%s (%s, default %s)\n    \t%s\n", s.flag, s.env, def, s.usage)
		}
	}
	values := make([]*flagValue, len(settings))
	for i, s := range settings {
		values[i] = &flagValue{}
		fs.Var(values[i], s.flag, s.usage)
	}
	if err := fs.Parse(args); err != nil {
		return serveConfig{}, err
	}
	if fs.NArg() > 0 {
		return serveConfig{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	cfg := serveConfig{Engine: actors.DefaultConfig(nil), HTTP: armhttp.DefaultConfig()}
	for i, s := range settings {
		v, source := s.def, "default of --"+s.flag
		if env, ok := lookupEnv(s.env); ok {
			v, source = env, s.env
		}
		if values[i].set {
			v, source = values[i].value, "--"+s.flag
		}
		if err := s.apply(&cfg, strings.TrimSpace(v)); err != nil {
			shown := v
			if s.env == "ARMISTICE_API_KEYS" {
				shown = "(hidden)"
			}
			return serveConfig{}, fmt.Errorf("invalid %s=%s: %w", source, shown, err)
		}
	}
	if cfg.ShutdownGrace <= 0 {
		return serveConfig{}, errors.New("invalid shutdown grace: must be positive")
	}
	provider, err := cfg.provider()
	if err != nil {
		return serveConfig{}, err
	}
	cfg.Engine.Provider = provider
	if err := cfg.Engine.Validate(); err != nil {
		return serveConfig{}, err
	}
	if err := cfg.HTTP.Validate(); err != nil {
		return serveConfig{}, err
	}
	return cfg, nil
}

func (c *serveConfig) provider() (llm.Provider, error) {
	p, err := embedded.New(embedded.Config{TokensPerSecond: c.EmbeddedRate, Tokens: c.EmbeddedCount})
	if err != nil {
		return nil, fmt.Errorf("embedded model: %w", err)
	}
	c.HTTP.DefaultModel = "embedded"
	return p, nil
}

func (c *serveConfig) logger(stderr io.Writer) zerolog.Logger {
	format := c.LogFormat
	if format == "" {
		format = "json"
		if f, ok := stderr.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
			format = "console"
		}
	}
	var w io.Writer = stderr
	if format == "console" {
		w = zerolog.ConsoleWriter{Out: stderr, TimeFormat: time.TimeOnly}
	}
	return zerolog.New(w).Level(c.LogLevel).With().Timestamp().Logger()
}

// serve runs the server until a signal arrives on signals, then shuts it
// down gracefully; a second signal exits at once.
func serve(args []string, stderr io.Writer, signals <-chan os.Signal) int {
	cfg, err := loadServeConfig(args, os.LookupEnv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "armistice serve:", err)
		return 2
	}
	logger := cfg.logger(stderr)
	metrics := armhttp.NewMetrics()
	cfg.Engine.Logger = logger
	cfg.Engine.Observer = metrics
	cfg.HTTP.Logger = logger.With().Str("component", "http").Logger()
	cfg.HTTP.Metrics = metrics

	eng, err := actors.New(cfg.Engine)
	if err != nil {
		fmt.Fprintln(stderr, "armistice serve:", err)
		return 2
	}
	defer eng.Close()
	srv, err := armhttp.New(eng, cfg.HTTP)
	if err != nil {
		fmt.Fprintln(stderr, "armistice serve:", err)
		return 2
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		logger.Error().Err(err).Str("addr", cfg.Addr).Msg("cannot listen")
		return 1
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	logger.Info().Str("addr", ln.Addr().String()).Str("url", "http://"+ln.Addr().String()).
		Str("provider", cfg.Provider).Bool("auth", len(cfg.HTTP.APIKeys) > 0).Msg("listening")

	select {
	case err := <-served:
		logger.Error().Err(err).Msg("server stopped")
		return 1
	case sig := <-signals:
		logger.Info().Stringer("signal", sig).Stringer("grace", cfg.ShutdownGrace).Msg("shutting down: draining requests")
	}
	// The grace covers the requests; the extra time lets the last streams
	// write their end events.
	ctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace+15*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- srv.Shutdown(ctx, cfg.ShutdownGrace) }()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, stdhttp.ErrServerClosed) {
			logger.Error().Err(err).Msg("shutdown incomplete")
			return 1
		}
	case sig := <-signals:
		logger.Warn().Stringer("signal", sig).Msg("second signal: exiting now")
		return 1
	}
	<-served
	logger.Info().Msg("stopped")
	return 0
}
