package playground_test

import (
	"context"
	"github.com/armistice-go/armistice/internal/prereq"
	"net"
	stdhttp "net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/armistice-go/armistice/actors"
	armhttp "github.com/armistice-go/armistice/http"
	"github.com/armistice-go/armistice/http/client"
	"github.com/armistice-go/armistice/http/playground"
	"github.com/armistice-go/armistice/llm/embedded"
	"github.com/chromedp/chromedp"
	"go.uber.org/goleak"
)

// TestMain checks that no goroutine outlives the tests, except proto.actor's
// dead-letter throttle timer, which ends by itself a second after the last
// dead letter (a stream closing as its request stops sends one).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/asynkron/protoactor-go/actor.NewDeadLetter.NewThrottle.func4.1"))
}

// browserLimit bounds each browser scenario, waits included.
const browserLimit = 60 * time.Second

// startServer runs the real server with the playground on a loopback port:
// the embedded model at 100 tokens/s, 400 tokens unless max_tokens says
// fewer; keys maps API keys to tenants (nil: keys off).
func startServer(t *testing.T, keys map[string]string) string {
	t.Helper()
	prov, err := embedded.New(embedded.Config{TokensPerSecond: 100, Tokens: 400})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := actors.New(actors.DefaultConfig(prov))
	if err != nil {
		t.Fatal(err)
	}
	cfg := armhttp.DefaultConfig()
	cfg.APIKeys = keys
	srv, err := armhttp.New(eng, cfg)
	if err != nil {
		t.Fatal(err)
	}
	playground.Register(srv)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() { srv.Serve(ln); close(served) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx, 0)
		<-served
		eng.Close()
	})
	return "http://" + ln.Addr().String()
}

func TestPageAndAssetsAreServed(t *testing.T) {
	url := startServer(t, map[string]string{"k": "alice"})
	for path, want := range map[string]string{
		"/":                     "text/html",
		"/playground/app.js":    "text/javascript",
		"/playground/style.css": "text/css",
	} {
		resp, err := stdhttp.Get(url + path) // no key: the page holds no data
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), want) {
			t.Errorf("GET %s: %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
	stdhttp.DefaultClient.CloseIdleConnections()
}

// browser starts headless Chromium (Debian's) with a fresh profile, or
// ends the test where none is installed (prereq.Missing).
func browser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		prereq.Missing(t, "no chromium on PATH: install Debian's chromium (apt-get install -y chromium) to run the playground's browser tests")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	ctx, cancelTime := context.WithTimeout(context.Background(), browserLimit)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	tab, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
		cancelTime()
	})
	if err := chromedp.Do(tab, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return tab
}

// page is the playground open in a browser tab.
type page struct {
	t   *testing.T
	ctx context.Context
	url string
}

func open(t *testing.T, url, key string) *page {
	t.Helper()
	p := &page{t: t, ctx: browser(t), url: url}
	p.do(chromedp.Navigate(url+"/"), chromedp.WaitVisible(chromedp.ID("submit")))
	if key != "" {
		p.do(chromedp.SetValue(chromedp.ID("key"), key))
	}
	return p
}

func (p *page) do(actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, actions...); err != nil {
		p.t.Fatal(err)
	}
}

// wait polls a JavaScript condition until it holds, within a deadline.
func (p *page) wait(what, cond string) {
	p.t.Helper()
	if _, err := chromedp.Run(p.ctx, chromedp.Poll[bool](cond, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		p.t.Fatalf("waiting for %s (%s): %v\ntimeline: %s", what, cond, err, p.text("timeline"))
	}
}

func (p *page) text(id string) string {
	p.t.Helper()
	s, err := chromedp.Run(p.ctx, chromedp.TextContent(chromedp.ID(id)))
	if err != nil {
		p.t.Fatal(err)
	}
	return s
}

// submit sets the prompt and max_tokens (0: the default) and submits.
func (p *page) submit(prompt string, maxTokens string) {
	p.t.Helper()
	p.do(
		chromedp.SetValue(chromedp.ID("prompt"), prompt),
		chromedp.SetValue(chromedp.ID("max-tokens"), maxTokens),
		chromedp.Click(chromedp.ID("submit")),
	)
	p.wait("the request id", `document.getElementById("request-id").textContent.length > 0 && document.getElementById("state").textContent !== "–"`)
}

func (p *page) waitEnd(status string) {
	p.t.Helper()
	p.wait("the end "+status, `document.getElementById("status").textContent === `+quote(status))
}

func quote(s string) string { return `"` + s + `"` }

// answer reads a finished request's whole text with the Go client.
func answer(t *testing.T, url, key, id string) string {
	t.Helper()
	c, err := client.New(url, client.WithAPIKey(key))
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseIdleConnections()
	var b strings.Builder
	for ev, err := range c.Stream(t.Context(), id, 0) {
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(ev.Text)
	}
	return b.String()
}

// With keys on: submit, tokens arrive, the answer completes; the page's
// text is the request's text.
func TestBrowserSubmitStreamsTheAnswer(t *testing.T) {
	url := startServer(t, map[string]string{"k": "alice"})
	p := open(t, url, "k")
	p.submit("Tell me a story about a rabbit", "60")
	p.wait("tokens", `document.getElementById("answer").textContent.length > 0`)
	p.waitEnd("completed/length")
	id := p.text("request-id")
	if got, want := p.text("answer"), answer(t, url, "k", id); got != want || got == "" {
		t.Fatalf("page text %q, want %q", got, want)
	}
	tl := p.text("timeline")
	for _, step := range []string{"state → pending", "state → streaming", "end: completed/length, 60 tokens"} {
		if !strings.Contains(tl, step) {
			t.Errorf("timeline lacks %q: %s", step, tl)
		}
	}
}

// With keys off the page works without a key; a wrong key is refused.
func TestBrowserKeysOff(t *testing.T) {
	url := startServer(t, nil)
	p := open(t, url, "")
	p.submit("hello", "5")
	p.waitEnd("completed/length")
}

func TestBrowserWrongKeyIsShown(t *testing.T) {
	url := startServer(t, map[string]string{"k": "alice"})
	p := open(t, url, "wrong")
	p.do(chromedp.Click(chromedp.ID("submit")))
	p.wait("the error", `document.getElementById("error").textContent.includes("401 unauthorized")`)
}

func TestBrowserCancel(t *testing.T) {
	url := startServer(t, map[string]string{"k": "alice"})
	p := open(t, url, "k")
	p.submit("a long story", "")
	p.wait("tokens", `document.getElementById("answer").textContent.length > 20`)
	p.do(chromedp.Click(chromedp.ID("cancel")))
	p.waitEnd("cancelled/client_cancel")
	if !strings.Contains(p.text("timeline"), "cancel sent") {
		t.Fatalf("timeline: %s", p.text("timeline"))
	}
}

// Drop the connection mid-answer and open a second viewer: the page
// resumes from the last event id, nothing is lost or repeated, the text
// equals an undisturbed run of the same prompt, and the second viewer
// sees the same text.
func TestBrowserDropResumesAndSecondViewerAgrees(t *testing.T) {
	url := startServer(t, map[string]string{"k": "alice"})
	p := open(t, url, "k")
	const prompt = "Tell me a story about a rabbit"
	p.submit(prompt, "150")
	p.wait("tokens", `document.getElementById("answer").textContent.length > 30`)
	p.do(chromedp.Click(chromedp.ID("viewer")), chromedp.Click(chromedp.ID("drop")))
	p.waitEnd("completed/length")
	p.wait("the second viewer's end", `document.getElementById("viewer-same").textContent !== "–"`)

	dropped := p.text("answer")
	tl := p.text("timeline")
	if !strings.Contains(tl, "nothing lost, nothing repeated") || !strings.Contains(tl, "reconnecting with Last-Event-ID") {
		t.Fatalf("timeline: %s", tl)
	}
	if p.text("gaps") != "0" || p.text("repeats") != "0" || p.text("reconnects") == "0" {
		t.Fatalf("gaps %s, repeats %s, reconnects %s", p.text("gaps"), p.text("repeats"), p.text("reconnects"))
	}
	if p.text("viewer-same") != "yes" || p.text("viewer-answer") != dropped || p.text("viewer-status") != "completed/length" {
		t.Fatalf("second viewer: same %q, status %q, text %q; main %q", p.text("viewer-same"), p.text("viewer-status"), p.text("viewer-answer"), dropped)
	}
	if path := os.Getenv("ARMISTICE_PLAYGROUND_SCREENSHOT"); path != "" {
		png, err := chromedp.Run(p.ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if want := answer(t, url, "k", p.text("request-id")); dropped != want {
		t.Fatalf("page text after the drop %q, want the log's %q", dropped, want)
	}

	// The same prompt again, undisturbed (the embedded model answers a
	// prompt the same way every time).
	p.submit(prompt, "150")
	p.waitEnd("completed/length")
	if undisturbed := p.text("answer"); undisturbed != dropped || p.text("reconnects") != "0" {
		t.Fatalf("undisturbed run %q (reconnects %s), dropped run %q", undisturbed, p.text("reconnects"), dropped)
	}
}
