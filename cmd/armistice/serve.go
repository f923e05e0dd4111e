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
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/armistice-go/armistice/actors"
	"github.com/armistice-go/armistice/cluster"
	armhttp "github.com/armistice-go/armistice/http"
	"github.com/armistice-go/armistice/http/openaiapi"
	"github.com/armistice-go/armistice/http/playground"
	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/llm/anthropic"
	"github.com/armistice-go/armistice/llm/embedded"
	"github.com/armistice-go/armistice/llm/openai"
	"github.com/armistice-go/armistice/llm/resilient"
	"github.com/armistice-go/armistice/llm/upstreamhttp"
	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
)

// serveConfig is everything `armistice serve` can be told.
type serveConfig struct {
	Addr          string
	Engine        actors.Config
	HTTP          armhttp.Config
	ShutdownGrace time.Duration
	// ResponseRetention is how long a stored OpenAI Response is kept.
	ResponseRetention time.Duration
	Provider          string
	Fallback          []string
	Models            []string
	Retries           int
	EmbeddedRate      float64
	EmbeddedCount     int
	UpstreamHTTP      string // auto, http1 or h2c: upstreamhttp.Config.Protocol
	OpenAI            openai.Config
	Anthropic         anthropic.Config
	LogLevel          zerolog.Level
	LogFormat         string // json or console
	// Cluster is cluster mode (off by default).
	Cluster cluster.Config

	// Logger and Metrics are made once the settings are read, so that
	// providers can report to them.
	Logger  zerolog.Logger
	Metrics *armhttp.Metrics
	// Upstream is the HTTP client of every network provider (the primary
	// and the fallbacks), made from UpstreamHTTP when the first of them is
	// built; nil when there is none. Whoever loaded the config closes it.
	Upstream *upstreamhttp.Client
}

// providerNames are the values of ARMISTICE_PROVIDER and ARMISTICE_FALLBACK.
var providerNames = []string{"embedded", "openai", "anthropic"}

// setting is one configuration value: its flag, its environment
// variable, its default, and how it is applied.
type setting struct {
	flag, env, def, usage string
	apply                 func(c *serveConfig, v string) error
	// fallbackEnv is read when env is unset (OPENAI_API_KEY, ...).
	fallbackEnv string
	// secret values never appear in errors or logs.
	secret bool
}

func durationSetting(flag, env, def, usage string, field func(*serveConfig) *time.Duration) setting {
	return durationSettingAbove(flag, env, def, usage, false, field)
}

// durationSettingAbove is durationSetting that refuses 0 when positive is
// set.
func durationSettingAbove(flag, env, def, usage string, positive bool, field func(*serveConfig) *time.Duration) setting {
	return setting{flag: flag, env: env, def: def, usage: usage, apply: func(c *serveConfig, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("not a duration (use Go syntax such as 30s or 1m30s)")
		}
		if d < 0 {
			return fmt.Errorf("must not be negative")
		}
		if positive && d == 0 {
			return fmt.Errorf("must be positive")
		}
		*field(c) = d
		return nil
	}}
}

func stringSetting(flag, env, def, usage string, field func(*serveConfig) *string) setting {
	return setting{flag: flag, env: env, def: def, usage: usage, apply: func(c *serveConfig, v string) error {
		*field(c) = v
		return nil
	}}
}

// intSetting reads an integer of at least least.
func intSetting(flag, env, def, usage string, least int, field func(*serveConfig) *int) setting {
	return setting{flag: flag, env: env, def: def, usage: usage, apply: func(c *serveConfig, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("not an integer")
		}
		if err := atLeast(n, least); err != nil {
			return err
		}
		*field(c) = n
		return nil
	}}
}

func int64Setting(flag, env, def, usage string, least int64, field func(*serveConfig) *int64) setting {
	return setting{flag: flag, env: env, def: def, usage: usage, apply: func(c *serveConfig, v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("not an integer")
		}
		if n < least {
			return atLeast(int(n), int(least))
		}
		*field(c) = n
		return nil
	}}
}

// listSetting is a comma-separated list; blanks are dropped.
func listSetting(flag, env, usage string, field func(*serveConfig) *[]string) setting {
	return setting{flag: flag, env: env, usage: usage, apply: func(c *serveConfig, v string) error {
		var out []string
		for _, item := range strings.Split(v, ",") {
			if item = strings.TrimSpace(item); item != "" {
				out = append(out, item)
			}
		}
		*field(c) = out
		return nil
	}}
}

// atLeast says why n is too small, naming the bound as people say it.
func atLeast(n, least int) error {
	switch {
	case n >= least:
		return nil
	case least == 0:
		return fmt.Errorf("must not be negative, got %d", n)
	}
	return fmt.Errorf("must be at least %d, got %d", least, n)
}

// settings lists every setting, in the order of the README's table.
var settings = []setting{
	{flag: "addr", env: "ARMISTICE_ADDR", def: "127.0.0.1:8080", usage: "address to listen on (host:port)", apply: func(c *serveConfig, v string) error {
		if _, _, err := net.SplitHostPort(v); err != nil {
			return fmt.Errorf("not host:port")
		}
		c.Addr = v
		return nil
	}},
	intSetting("max-active", "ARMISTICE_MAX_ACTIVE", "64", "requests streaming at once", 1, func(c *serveConfig) *int { return &c.Engine.MaxActive }),
	intSetting("max-queued", "ARMISTICE_MAX_QUEUED", "1024", "requests waiting for a slot (beyond: 429)", 0, func(c *serveConfig) *int { return &c.Engine.MaxQueued }),
	intSetting("max-subscribers", "ARMISTICE_MAX_SUBSCRIBERS", "16", "streams attached to one request", 1, func(c *serveConfig) *int { return &c.Engine.MaxSubscribers }),
	durationSetting("queue-timeout", "ARMISTICE_QUEUE_TIMEOUT", "60s", "longest wait for a slot (0: none)", func(c *serveConfig) *time.Duration { return &c.Engine.QueueTimeout }),
	durationSetting("first-token-timeout", "ARMISTICE_FIRST_TOKEN_TIMEOUT", "60s", "longest wait for the first token (0: none)", func(c *serveConfig) *time.Duration { return &c.Engine.FirstTokenTimeout }),
	durationSetting("idle-timeout", "ARMISTICE_IDLE_TIMEOUT", "30s", "longest gap between tokens (0: none)", func(c *serveConfig) *time.Duration { return &c.Engine.IdleTimeout }),
	durationSetting("max-duration", "ARMISTICE_MAX_DURATION", "10m", "longest streaming time from admission (0: none)", func(c *serveConfig) *time.Duration { return &c.Engine.MaxDuration }),
	durationSetting("linger", "ARMISTICE_LINGER", "30s", "how long a finished request stays for resumes after its end was delivered", func(c *serveConfig) *time.Duration { return &c.Engine.Linger }),
	durationSettingAbove("pickup-timeout", "ARMISTICE_PICKUP_TIMEOUT", "10m", "longest a finished request is kept when nobody reads its end", true, func(c *serveConfig) *time.Duration { return &c.Engine.PickupTimeout }),
	durationSetting("detach-grace", "ARMISTICE_DETACH_GRACE", "5s", "wait for a client to come back before on_disconnect=cancel fires", func(c *serveConfig) *time.Duration { return &c.Engine.DetachGrace }),
	durationSetting("heartbeat", "ARMISTICE_HEARTBEAT", "15s", "interval of ': ping' comments on idle streams (0: none)", func(c *serveConfig) *time.Duration { return &c.HTTP.Heartbeat }),
	durationSettingAbove("shutdown-grace", "ARMISTICE_SHUTDOWN_GRACE", "30s", "time running requests get to finish on SIGINT/SIGTERM", true, func(c *serveConfig) *time.Duration { return &c.ShutdownGrace }),
	intSetting("max-prompt-bytes", "ARMISTICE_MAX_PROMPT_BYTES", "65536", "largest prompt (beyond: 413)", 1, func(c *serveConfig) *int { return &c.HTTP.MaxPromptBytes }),
	intSetting("max-output-bytes", "ARMISTICE_MAX_OUTPUT_BYTES", "1048576", "largest answer (beyond: failed/output_too_large)", 0, func(c *serveConfig) *int { return &c.Engine.MaxOutputBytes }),
	intSetting("max-active-per-tenant", "ARMISTICE_MAX_ACTIVE_PER_TENANT", "0", "slots one tenant may hold (0: no per-tenant cap)", 0, func(c *serveConfig) *int { return &c.Engine.MaxActivePerTenant }),
	intSetting("max-queued-per-tenant", "ARMISTICE_MAX_QUEUED_PER_TENANT", "0", "queue places one tenant may hold (0: no per-tenant cap)", 0, func(c *serveConfig) *int { return &c.Engine.MaxQueuedPerTenant }),
	{flag: "queue-policy", env: "ARMISTICE_QUEUE_POLICY", def: "fifo", usage: "fifo (arrival order) or fair (tenants in turn, FIFO within each)", apply: func(c *serveConfig, v string) error {
		switch actors.QueuePolicy(v) {
		case actors.QueueFIFO, actors.QueueFair:
			c.Engine.QueuePolicy = actors.QueuePolicy(v)
			return nil
		}
		return fmt.Errorf("not fifo or fair")
	}},
	intSetting("max-retained", "ARMISTICE_MAX_RETAINED", "10000", "finished requests kept for late readers (beyond: the oldest go, read ones first)", 1, func(c *serveConfig) *int { return &c.Engine.MaxRetained }),
	int64Setting("max-retained-bytes", "ARMISTICE_MAX_RETAINED_BYTES", "268435456", "bytes of logs finished requests may hold", 1, func(c *serveConfig) *int64 { return &c.Engine.MaxRetainedBytes }),
	intSetting("max-retained-per-tenant", "ARMISTICE_MAX_RETAINED_PER_TENANT", "0", "finished requests kept per tenant (0: no per-tenant bound)", 0, func(c *serveConfig) *int { return &c.Engine.MaxRetainedPerTenant }),
	int64Setting("max-retained-bytes-per-tenant", "ARMISTICE_MAX_RETAINED_BYTES_PER_TENANT", "0", "bytes kept per tenant (0: no per-tenant bound)", 0, func(c *serveConfig) *int64 { return &c.Engine.MaxRetainedBytesPerTenant }),
	durationSetting("response-retention", "ARMISTICE_RESPONSE_RETENTION", "1h", "how long a stored Response (store: true) stays retrievable after it ended, within the retention budget", func(c *serveConfig) *time.Duration { return &c.ResponseRetention }),
	durationSetting("read-timeout", "ARMISTICE_READ_TIMEOUT", "30s", "longest time to read a request body (0: none)", func(c *serveConfig) *time.Duration { return &c.HTTP.ReadTimeout }),
	durationSetting("write-timeout", "ARMISTICE_WRITE_TIMEOUT", "30s", "longest time one write to a client may take; a client that stops reading is detached (0: none)", func(c *serveConfig) *time.Duration { return &c.HTTP.WriteTimeout }),
	{flag: "workers", env: "ARMISTICE_WORKERS", usage: "goroutines that run the actors' mailboxes (empty: 2 × GOMAXPROCS, at least 8; 0: a goroutine per run, proto.actor's default)", apply: func(c *serveConfig, v string) error {
		if v == "" {
			return nil // actors.DefaultConfig's, which depends on the machine
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("not an integer")
		}
		if err := atLeast(n, 0); err != nil {
			return err
		}
		c.Engine.Workers = n
		return nil
	}},
	{flag: "api-keys", env: "ARMISTICE_API_KEYS", usage: "key1=tenant1,key2=tenant2; empty: no auth (prefer the environment: flags show in ps)", secret: true, apply: func(c *serveConfig, v string) error {
		keys, err := armhttp.ParseAPIKeys(v)
		if err != nil {
			return err
		}
		c.HTTP.APIKeys = keys
		return nil
	}},
	{flag: "provider", env: "ARMISTICE_PROVIDER", def: "embedded", usage: "the model provider: embedded, openai or anthropic", apply: func(c *serveConfig, v string) error {
		if !slices.Contains(providerNames, v) {
			return fmt.Errorf("unknown provider (known: %s)", strings.Join(providerNames, ", "))
		}
		c.Provider = v
		return nil
	}},
	{flag: "fallback", env: "ARMISTICE_FALLBACK", usage: "providers to try, in order, when the first fails before its first token (e.g. anthropic)", apply: func(c *serveConfig, v string) error {
		c.Fallback = nil
		for _, name := range strings.Split(v, ",") {
			if name = strings.TrimSpace(name); name == "" {
				continue
			}
			if !slices.Contains(providerNames, name) || slices.Contains(c.Fallback, name) {
				return fmt.Errorf("%q is not a provider, or is repeated (known: %s)", name, strings.Join(providerNames, ", "))
			}
			c.Fallback = append(c.Fallback, name)
		}
		return nil
	}},
	{flag: "models", env: "ARMISTICE_MODELS", usage: "models GET /v1/models lists, comma-separated (default: the provider's model, then the fallbacks')", apply: func(c *serveConfig, v string) error {
		c.Models = nil
		for _, m := range strings.Split(v, ",") {
			if m = strings.TrimSpace(m); m != "" && !slices.Contains(c.Models, m) {
				c.Models = append(c.Models, m)
			}
		}
		return nil
	}},
	intSetting("upstream-retries", "ARMISTICE_UPSTREAM_RETRIES", "2", "retries per upstream before the first token (connection errors, 429, 5xx)", 0, func(c *serveConfig) *int { return &c.Retries }),
	{flag: "upstream-http", env: "ARMISTICE_UPSTREAM_HTTP", def: "auto", usage: "protocol to the openai and anthropic upstreams: auto (HTTP/2 over TLS when the server offers it; h2c with a plain-HTTP upstream that answers a one-time probe; else HTTP/1.1), http1, or h2c (HTTP/2 only; without TLS by prior knowledge)", apply: func(c *serveConfig, v string) error {
		switch v {
		case "auto", "http1", "h2c":
			c.UpstreamHTTP = v
			return nil
		}
		return fmt.Errorf("not auto, http1 or h2c")
	}},
	stringSetting("openai-base-url", "ARMISTICE_OPENAI_BASE_URL", openai.DefaultBaseURL, "any OpenAI-compatible server (vLLM, llama.cpp, Ollama /v1, ...)", func(c *serveConfig) *string { return &c.OpenAI.BaseURL }),
	{flag: "openai-api-key", env: "ARMISTICE_OPENAI_API_KEY", fallbackEnv: "OPENAI_API_KEY", usage: "OpenAI API key (else $OPENAI_API_KEY; prefer the environment)", secret: true, apply: func(c *serveConfig, v string) error {
		c.OpenAI.APIKey = v
		return nil
	}},
	stringSetting("openai-model", "ARMISTICE_OPENAI_MODEL", openai.DefaultModel, "model when a request names none", func(c *serveConfig) *string { return &c.OpenAI.Model }),
	stringSetting("anthropic-base-url", "ARMISTICE_ANTHROPIC_BASE_URL", anthropic.DefaultBaseURL, "Anthropic API root", func(c *serveConfig) *string { return &c.Anthropic.BaseURL }),
	{flag: "anthropic-api-key", env: "ARMISTICE_ANTHROPIC_API_KEY", fallbackEnv: "ANTHROPIC_API_KEY", usage: "Anthropic API key (else $ANTHROPIC_API_KEY; prefer the environment)", secret: true, apply: func(c *serveConfig, v string) error {
		c.Anthropic.APIKey = v
		return nil
	}},
	stringSetting("anthropic-model", "ARMISTICE_ANTHROPIC_MODEL", anthropic.DefaultModel, "model when a request names none", func(c *serveConfig) *string { return &c.Anthropic.Model }),
	{flag: "embedded-rate", env: "ARMISTICE_EMBEDDED_RATE", def: "50", usage: "embedded model: tokens per second (0: unpaced)", apply: func(c *serveConfig, v string) error {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 {
			return fmt.Errorf("not a non-negative number")
		}
		c.EmbeddedRate = f
		return nil
	}},
	intSetting("embedded-tokens", "ARMISTICE_EMBEDDED_TOKENS", "64", "embedded model: answer length in tokens", 1, func(c *serveConfig) *int { return &c.EmbeddedCount }),
	{flag: "cluster", env: "ARMISTICE_CLUSTER", def: "off", usage: "cluster mode: off, automanaged (a fixed list of peers) or etcd", apply: func(c *serveConfig, v string) error {
		switch m := cluster.Mode(v); m {
		case cluster.ModeOff, cluster.ModeAutomanaged, cluster.ModeEtcd:
			c.Cluster.Mode = m
			return nil
		}
		return fmt.Errorf("not off, automanaged or etcd")
	}},
	stringSetting("cluster-name", "ARMISTICE_CLUSTER_NAME", "armistice", "nodes with the same name form one cluster", func(c *serveConfig) *string { return &c.Cluster.Name }),
	{flag: "cluster-addr", env: "ARMISTICE_CLUSTER_ADDR", def: "127.0.0.1:0", usage: "host:port of this node's remote (gRPC) endpoint, also what peers dial", apply: func(c *serveConfig, v string) error {
		if _, _, err := net.SplitHostPort(v); err != nil {
			return fmt.Errorf("not host:port")
		}
		c.Cluster.Addr = v
		return nil
	}},
	listSetting("cluster-peers", "ARMISTICE_CLUSTER_PEERS", "automanaged: host:port of every node's membership endpoint, this one included, comma-separated", func(c *serveConfig) *[]string { return &c.Cluster.Peers }),
	stringSetting("cluster-membership-addr", "ARMISTICE_CLUSTER_MEMBERSHIP_ADDR", "", "automanaged: host:port this node serves its membership endpoint on", func(c *serveConfig) *string { return &c.Cluster.MembershipAddr }),
	listSetting("cluster-etcd", "ARMISTICE_CLUSTER_ETCD", "etcd: endpoints, comma-separated", func(c *serveConfig) *[]string { return &c.Cluster.Etcd }),
	{flag: "log-level", env: "ARMISTICE_LOG_LEVEL", def: "info", usage: "debug, info, warn or error", apply: func(c *serveConfig, v string) error {
		switch v {
		case "debug", "info", "warn", "error":
			lvl, _ := zerolog.ParseLevel(v)
			c.LogLevel = lvl
			return nil
		}
		return fmt.Errorf("not one of debug, info, warn, error")
	}},
	{flag: "log-format", env: "ARMISTICE_LOG_FORMAT", usage: "json or console (default: console when stderr is a terminal, else json)", apply: func(c *serveConfig, v string) error {
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

// printServeUsage writes serve's usage: every setting with its flag,
// variable and default.
func printServeUsage(w io.Writer) {
	fmt.Fprint(w, "usage: armistice serve [flags]\n\nRuns the HTTP server. Every flag has an environment variable; a flag wins.\n\n")
	for _, s := range settings {
		def := s.def
		if def == "" {
			def = `""`
		}
		fmt.Fprintf(w, "  --%s (%s, default %s)\n    \t%s\n", s.flag, s.env, def, s.usage)
	}
}

// loadServeConfig reads the environment, then the flags (which win), and
// validates the result. Errors name the flag or variable at fault. For
// -h or --help it returns flag.ErrHelp and prints nothing: the caller
// prints the usage where help goes (stdout).
func loadServeConfig(args []string, lookupEnv func(string) (string, bool), stderr io.Writer) (serveConfig, error) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {}
	values := make([]*flagValue, len(settings))
	for i, s := range settings {
		values[i] = &flagValue{}
		fs.Var(values[i], s.flag, s.usage)
	}
	if err := fs.Parse(args); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr)
			printServeUsage(stderr)
		}
		return serveConfig{}, err
	}
	if fs.NArg() > 0 {
		return serveConfig{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	cfg := serveConfig{Engine: actors.DefaultConfig(nil), HTTP: armhttp.DefaultConfig(), Cluster: cluster.DefaultConfig()}
	for i, s := range settings {
		// Errors name where the value came from, and the other way to set it.
		v, source := s.def, "default of --"+s.flag+" ("+s.env+")"
		if env, ok := lookupEnv(s.env); ok {
			v, source = env, s.env
		} else if env, ok := lookupEnv(s.fallbackEnv); ok && s.fallbackEnv != "" {
			v, source = env, s.fallbackEnv
		}
		if values[i].set {
			v, source = values[i].value, "--"+s.flag
		}
		if err := s.apply(&cfg, strings.TrimSpace(v)); err != nil {
			shown := v
			if s.secret {
				shown = "(hidden)"
			}
			other := " (--" + s.flag + ")"
			switch {
			case source == "--"+s.flag:
				other = " (" + s.env + ")"
			case strings.HasPrefix(source, "default"):
				other = ""
			}
			return serveConfig{}, fmt.Errorf("invalid %s=%s%s: %w", source, shown, other, err)
		}
	}
	cfg.Logger = cfg.logger(stderr)
	cfg.warnMissingKeys()
	cfg.Metrics = armhttp.NewMetrics()
	if err := cfg.build(); err != nil {
		if cfg.Upstream != nil {
			cfg.Upstream.Close()
		}
		return serveConfig{}, err
	}
	return cfg, nil
}

// build makes the provider and validates the parts of the configuration.
func (c *serveConfig) build() error {
	provider, err := c.provider()
	if err != nil {
		return err
	}
	c.Engine.Provider = provider
	if err := c.Engine.Validate(); err != nil {
		return err
	}
	if err := c.HTTP.Validate(); err != nil {
		return err
	}
	// A lost node's ids answer failed/node_lost as long as a finished
	// request would have been kept.
	c.Cluster.Tombstone = c.Engine.PickupTimeout
	return c.Cluster.Validate()
}

// provider builds the configured provider. A real upstream (and any
// fallback) goes behind llm/resilient, which retries before the first
// token and moves on to the next upstream; the embedded model alone needs
// neither.
func (c *serveConfig) provider() (llm.Provider, error) {
	if slices.Contains(c.Fallback, c.Provider) {
		return nil, fmt.Errorf("invalid ARMISTICE_FALLBACK: %q is already the provider", c.Provider)
	}
	c.HTTP.DefaultModel = c.modelOf(c.Provider)
	if len(c.Models) == 0 {
		for _, name := range append([]string{c.Provider}, c.Fallback...) {
			if m := c.modelOf(name); !slices.Contains(c.Models, m) {
				c.Models = append(c.Models, m)
			}
		}
	}
	if c.Provider == "embedded" && len(c.Fallback) == 0 {
		return c.newProvider("embedded")
	}
	var ups []resilient.Upstream
	for _, name := range append([]string{c.Provider}, c.Fallback...) {
		p, err := c.newProvider(name)
		if err != nil {
			return nil, err
		}
		ups = append(ups, resilient.Upstream{Name: name, Provider: p})
	}
	retries := c.Retries
	if retries == 0 {
		retries = -1 // resilient reads 0 as "the default"
	}
	return resilient.New(resilient.Config{
		Upstreams: ups,
		Retries:   retries,
		Observer:  upstreamObserver{metrics: c.Metrics, logger: c.Logger.With().Str("component", "upstream").Logger()},
	})
}

// warnMissingKeys warns at start of each network provider chosen without
// its API key: allowed, since a local OpenAI-compatible server may need
// none, but with api.openai.com or Anthropic every request would fail.
func (c *serveConfig) warnMissingKeys() {
	for _, name := range append([]string{c.Provider}, c.Fallback...) {
		var key, vars string
		switch name {
		case "openai":
			key, vars = c.OpenAI.APIKey, "ARMISTICE_OPENAI_API_KEY or OPENAI_API_KEY"
		case "anthropic":
			key, vars = c.Anthropic.APIKey, "ARMISTICE_ANTHROPIC_API_KEY or ANTHROPIC_API_KEY"
		default:
			continue
		}
		if key == "" {
			c.Logger.Warn().Str("provider", name).Str("set", vars).
				Msg("no API key for this provider: requests will fail unless the upstream needs none")
		}
	}
}

// modelOf is the default model of a provider.
func (c *serveConfig) modelOf(provider string) string {
	switch provider {
	case "openai":
		return c.OpenAI.Model
	case "anthropic":
		return c.Anthropic.Model
	}
	return "embedded"
}

// upstreamURL is the primary upstream's base URL (never a key), for the
// start log.
func (c *serveConfig) upstreamURL() string {
	switch c.Provider {
	case "openai":
		return c.OpenAI.BaseURL
	case "anthropic":
		return c.Anthropic.BaseURL
	}
	return ""
}

func (c *serveConfig) newProvider(name string) (llm.Provider, error) {
	var p llm.Provider
	var err error
	switch name {
	case "embedded":
		p, err = embedded.New(embedded.Config{TokensPerSecond: c.EmbeddedRate, Tokens: c.EmbeddedCount})
	case "openai":
		cfg := c.OpenAI
		if cfg.HTTPClient == nil {
			cfg.HTTPClient, err = c.upstreamClient()
		}
		if err == nil {
			p, err = openai.New(cfg)
		}
	case "anthropic":
		cfg := c.Anthropic
		if cfg.HTTPClient == nil {
			cfg.HTTPClient, err = c.upstreamClient()
		}
		if err == nil {
			p, err = anthropic.New(cfg)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%s provider: %w", name, err)
	}
	return p, nil
}

// upstreamClient is the HTTP client of the network providers: one
// upstreamhttp.Client for all of them, made on first use from
// --upstream-http. In auto mode it speaks HTTP/2 over TLS when the server
// offers it, h2c with a plain-HTTP upstream that answers its one-time
// probe, else HTTP/1.1. Over HTTP/2 one connection carries many answers,
// where HTTP/1.1 holds a connection, two goroutines and their buffers per
// streaming answer (docs/benchmarks.md, "Idle memory").
func (c *serveConfig) upstreamClient() (*stdhttp.Client, error) {
	if c.Upstream == nil {
		cfg := upstreamhttp.DefaultConfig()
		cfg.Protocol = c.UpstreamHTTP
		logger := c.Logger.With().Str("component", "upstream").Logger()
		cfg.OnDetect = func(origin, protocol string) {
			logger.Debug().Str("origin", origin).Str("protocol", protocol).Msg("upstream protocol probed")
		}
		u, err := upstreamhttp.New(cfg)
		if err != nil {
			return nil, err
		}
		c.Upstream = u
	}
	return c.Upstream.HTTPClient(), nil
}

// probeUpstream learns the primary upstream's protocol in the background
// (a plain-HTTP upstream in auto mode is probed; requests meanwhile go over
// HTTP/1.1) and logs it. stop gives up waiting and returns once the
// goroutine has ended.
func (c *serveConfig) probeUpstream() (stop func()) {
	base := c.upstreamURL()
	if c.Upstream == nil || base == "" {
		return func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		protocol, err := c.Upstream.Probe(ctx, base)
		switch {
		case err == nil:
			c.Logger.Info().Str("upstream", base).Str("protocol", protocol).Msg("upstream protocol")
		case ctx.Err() == nil && !errors.Is(err, upstreamhttp.ErrClosed):
			c.Logger.Warn().Str("upstream", base).Err(err).Msg("upstream protocol unknown: the next request probes again")
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

// upstreamObserver counts upstream events in the metrics and logs the
// failures. User cancellations are not errors: resilient reports them
// only as Aborted, logged at debug.
type upstreamObserver struct {
	metrics *armhttp.Metrics
	logger  zerolog.Logger
}

func (o upstreamObserver) Attempt(upstream string, attempt int) {
	o.metrics.Attempt(upstream, attempt)
}

func (o upstreamObserver) Retry(upstream string, kind resilient.Kind, wait time.Duration) {
	o.metrics.Retry(upstream, kind, wait)
	o.logger.Info().Str("upstream", upstream).Str("kind", string(kind)).Dur("wait_ms", wait).Msg("retrying upstream")
}

func (o upstreamObserver) Fallback(upstream string, kind resilient.Kind, next string) {
	o.metrics.Fallback(upstream, kind, next)
	o.logger.Warn().Str("upstream", upstream).Str("kind", string(kind)).Str("next", next).Msg("falling back to the next upstream")
}

func (o upstreamObserver) Error(upstream string, kind resilient.Kind, err error) {
	o.metrics.Error(upstream, kind, err)
	o.logger.Warn().Str("upstream", upstream).Str("kind", string(kind)).Err(err).Msg("upstream error")
}

func (o upstreamObserver) Aborted(upstream string, latency time.Duration) {
	o.metrics.Aborted(upstream, latency)
	o.logger.Debug().Str("upstream", upstream).Dur("latency_ms", latency).Msg("upstream call aborted")
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
		// Colour codes only where a terminal shows them, never in a file
		// or a pipe.
		f, ok := stderr.(*os.File)
		w = zerolog.ConsoleWriter{Out: stderr, TimeFormat: "15:04:05.000", NoColor: !ok || !isatty.IsTerminal(f.Fd())}
	}
	return zerolog.New(w).Level(c.LogLevel).With().Timestamp().Logger()
}

// serve runs the server until a signal arrives on signals, then shuts it
// down gracefully; a second signal exits at once.
func serve(args []string, stdout, stderr io.Writer, signals <-chan os.Signal) int {
	cfg, err := loadServeConfig(args, os.LookupEnv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		printServeUsage(stdout)
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "armistice serve:", err)
		return 2
	}
	if cfg.Upstream != nil {
		// Deferred first, so it runs last: after the requests.
		defer cfg.Upstream.Close()
	}
	logger, metrics := cfg.Logger, cfg.Metrics
	cfg.Engine.Logger = logger
	cfg.Engine.Observer = metrics
	cfg.HTTP.Logger = logger.With().Str("component", "http").Logger()
	cfg.HTTP.Metrics = metrics

	var node *cluster.Node
	if cfg.Cluster.Enabled() {
		if node, err = cluster.New(cfg.Cluster, logger); err != nil {
			fmt.Fprintln(stderr, "armistice serve:", err)
			return 2
		}
		cfg.Engine.NewID = node.NewID
		cfg.HTTP.Cluster = node
	}
	eng, err := actors.New(cfg.Engine)
	if err != nil {
		fmt.Fprintln(stderr, "armistice serve:", err)
		return 2
	}
	defer eng.Close()
	if node != nil {
		if err := node.Start(eng); err != nil {
			logger.Error().Err(err).Msg("cannot join the cluster")
			return 1
		}
		// Deferred after the engine's Close, so it runs before it: the
		// node leaves while its actor system still runs.
		defer node.Leave(leaveWait)
		metrics.Registry().MustRegister(node.Collector())
	}
	srv, err := armhttp.New(eng, cfg.HTTP)
	if err != nil {
		fmt.Fprintln(stderr, "armistice serve:", err)
		return 2
	}
	oai := openaiapi.DefaultConfig()
	oai.Models = cfg.Models
	oai.Heartbeat = cfg.HTTP.Heartbeat
	oai.MaxBodyBytes = cfg.HTTP.MaxBodyBytes
	oai.MaxPromptBytes = cfg.HTTP.MaxPromptBytes
	oai.ResponseRetention = cfg.ResponseRetention
	oai.Logger = cfg.HTTP.Logger
	if err := openaiapi.Register(srv, oai); err != nil {
		fmt.Fprintln(stderr, "armistice serve:", err)
		return 2
	}
	playground.Register(srv)
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		logger.Error().Err(err).Str("addr", cfg.Addr).Msg("cannot listen")
		return 1
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	start := logger.Info().Str("addr", ln.Addr().String()).Str("url", "http://"+ln.Addr().String()).
		Str("provider", cfg.Provider).Strs("models", cfg.Models).Bool("auth", len(cfg.HTTP.APIKeys) > 0)
	if len(cfg.Fallback) > 0 {
		start = start.Strs("fallback", cfg.Fallback)
	}
	if u := cfg.upstreamURL(); u != "" {
		start = start.Str("upstream", u)
	}
	start.Msg("listening")
	defer cfg.probeUpstream()()

	select {
	case err := <-served:
		logger.Error().Err(err).Msg("server stopped")
		return 1
	case sig := <-signals:
		logger.Info().Stringer("signal", sig).Stringer("grace", cfg.ShutdownGrace).Msg("shutting down: draining requests")
	}
	// The grace covers the requests; one more second lets the last streams
	// write their end events. Clients that have not finished by then
	// (a stalled body, a reader that stopped reading) are cut off: the exit
	// is 0 within grace + 1 s whatever the clients do.
	ctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace+time.Second)
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
	if node != nil {
		node.Leave(leaveWait)
	}
	logger.Info().Msg("stopped")
	return 0
}

// leaveWait bounds how long a node that leaves waits for readers on other
// nodes to confirm their last batches.
const leaveWait = 500 * time.Millisecond
