package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/armistice-go/armistice/actors"
	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/llm/embedded"
	"github.com/armistice-go/armistice/model"
	"github.com/rs/zerolog"
)

const usage = `usage: armistice <command> [flags]

Commands:
  serve                 run the HTTP server (armistice serve --help)
  chat [flags] "prompt" stream an answer from a server (armistice chat --help)
  demo [flags] "prompt" stream an answer from the embedded model in process
  version               print the module version, commit and Go version

Every command prints its flags with --help.
`

const demoUsage = `usage: armistice demo [flags] "prompt"

Streams an answer from the embedded model through the engine.

Flags:
`

const versionUsage = `usage: armistice version

Prints the module path and version, the VCS commit and time the binary was
built from (when known), and the Go version.
`

func main() {
	// Millisecond timestamps: one second is too coarse to order the lines
	// of one streaming request.
	zerolog.TimeFieldFormat = "2006-01-02T15:04:05.000Z07:00"
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		signals := make(chan os.Signal, 2)
		signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
		defer signal.Stop(signals)
		return serve(args[1:], stdout, stderr, signals)
	case "chat":
		return chatMain(args[1:], stdout, stderr)
	case "demo":
		return demo(args[1:], stdout, stderr)
	case "version":
		return version(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "armistice: unknown command %q\n\n", args[0])
	fmt.Fprint(stderr, usage)
	return 2
}

// isHelp reports whether args ask for help.
func isHelp(args []string) bool {
	return len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help")
}

// version prints what debug.ReadBuildInfo knows of the binary: the module
// and its version ("(devel)" for a build from a work tree), the commit
// and its time, whether the tree had changes, and the Go version.
func version(args []string, stdout, stderr io.Writer) int {
	if isHelp(args) {
		fmt.Fprint(stdout, versionUsage)
		return 0
	}
	if len(args) > 0 {
		fmt.Fprintf(stderr, "armistice version: unexpected argument %q\n\n%s", args[0], versionUsage)
		return 2
	}
	fmt.Fprintln(stdout, versionLine())
	return 0
}

func versionLine() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "armistice (no build information)"
	}
	line := "armistice " + info.Main.Path
	if info.Main.Version != "" {
		line += " " + info.Main.Version
	}
	var rev, at, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = ", modified"
			}
		}
	}
	if rev != "" {
		line += " (commit " + rev
		if at != "" {
			line += ", " + at
		}
		line += modified + ")"
	}
	return line + " " + info.GoVersion
}

func demo(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), demoUsage)
		fs.PrintDefaults()
	}
	rate := fs.Float64("rate", 50, "tokens per second (0: unpaced)")
	tokens := fs.Int("tokens", 64, "answer length in tokens")
	maxTokens := fs.Int("max-tokens", 0, "the request's max_tokens (0: none)")
	cancelAfter := fs.Duration("cancel-after", 0, "cancel the request after this long (0: never)")
	verbose := fs.Bool("v", false, "log the engine's events to stderr")
	if isHelp(args) {
		fs.SetOutput(stdout)
		fs.Usage()
		return 0
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) { // -h after other flags
			return 0
		}
		return 2
	}
	prompt := strings.Join(fs.Args(), " ")
	if strings.TrimSpace(prompt) == "" {
		fmt.Fprint(stderr, demoUsage)
		return 2
	}
	provider, err := embedded.New(embedded.Config{TokensPerSecond: *rate, Tokens: *tokens})
	if err != nil {
		fmt.Fprintln(stderr, "armistice:", err)
		return 2
	}
	cfg := actors.DefaultConfig(provider)
	if *verbose {
		cfg.Logger = zerolog.New(zerolog.ConsoleWriter{Out: stderr}).With().Timestamp().Logger()
	}
	eng, err := actors.New(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "armistice:", err)
		return 2
	}
	defer eng.Close()

	ctx := context.Background()
	snap, err := eng.Submit(ctx, "demo", actors.Spec{
		Messages:  []llm.Message{{Role: llm.RoleUser, Content: prompt}},
		MaxTokens: *maxTokens,
	})
	if err != nil {
		fmt.Fprintln(stderr, "armistice: submit:", err)
		return 1
	}
	sub, err := eng.Subscribe(ctx, snap.ID, "demo", 0)
	if err != nil {
		fmt.Fprintln(stderr, "armistice: subscribe:", err)
		return 1
	}
	defer sub.Close()

	// Ctrl-C (or --cancel-after) cancels; the stream still runs to its end
	// record, which then says cancelled.
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(signals)
	var timer <-chan time.Time
	if *cancelAfter > 0 {
		timer = time.After(*cancelAfter)
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-signals:
		case <-timer:
		case <-done:
			return
		}
		eng.Cancel(ctx, snap.ID, "demo")
	}()

	for {
		records, err := sub.Next(ctx)
		if errors.Is(err, io.EOF) {
			return 1 // unreachable: the end record returns first
		}
		if err != nil {
			fmt.Fprintln(stderr, "\narmistice:", err)
			return 1
		}
		for _, r := range records {
			switch r.Kind {
			case model.KindToken:
				fmt.Fprint(stdout, r.Text)
			case model.KindEnd:
				fmt.Fprintln(stdout)
				fmt.Fprintf(stderr, "[%s: %s/%s, %d tokens]\n", snap.ID, r.End.Status, r.End.Reason, r.End.Tokens)
				if r.End.Status == model.StatusCompleted {
					return 0
				}
				return 1
			}
		}
	}
}
