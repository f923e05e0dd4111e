package embedded

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"github.com/armistice-go/armistice/llm"
)

// Provider is the embedded model. It is safe for concurrent use.
type Provider struct {
	cfg      Config
	interval time.Duration
}

var (
	_ llm.Provider       = (*Provider)(nil)
	_ llm.Capable        = (*Provider)(nil)
	_ llm.RequestChecker = (*Provider)(nil)
)

// New returns a Provider for cfg, or an error wrapping ErrInvalidConfig.
func New(cfg Config) (*Provider, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Provider{cfg: cfg, interval: cfg.interval()}, nil
}

// Name returns "embedded".
func (p *Provider) Name() string { return "embedded" }

// Capabilities lists the settings the embedded model implements (see the
// package documentation). It refuses the others: the penalties and
// logit_bias (its tokens are words, with no ids and no repetition
// model), user and service_tier (nobody to tell) and reasoning_effort (it
// does not reason).
func (p *Provider) Capabilities() llm.Capabilities {
	return llm.Capabilities{
		llm.FieldMaxTokens:           true,
		llm.FieldMaxCompletionTokens: true,
		llm.FieldMaxOutputTokens:     true,
		llm.FieldStop:                true,
		llm.FieldSeed:                true,
		llm.FieldTemperature:         true,
		llm.FieldTopP:                true,
		llm.FieldTopK:                true,
		llm.FieldResponseFormat:      true,
		llm.FieldTools:               true,
		llm.FieldToolChoice:          true,
		llm.FieldParallelToolCalls:   true,
		llm.FieldToolMessages:        true,
		llm.FieldLogprobs:            true,
		llm.FieldTopLogprobs:         true,
	}
}

// maxStops is OpenAI's limit on stop sequences.
const maxStops = 4

// Stream starts an answer to req. It refuses what llm.Check refuses: a
// field the model does not implement (an *llm.UnsupportedError) and, with
// errors wrapping llm.ErrInvalidRequest, an empty conversation or a
// malformed value (see CheckRequest). The stream does its waiting inside
// Recv; nothing runs in the background.
func (p *Provider) Stream(ctx context.Context, req llm.Request) (llm.Stream, error) {
	if err := llm.Check(p, req); err != nil {
		return nil, err
	}
	return p.open(ctx, req)
}

// CheckRequest refuses, with errors wrapping llm.ErrInvalidRequest, a
// request Stream could not answer: no messages, temperature outside 0..2,
// top_p outside 0..1, top_k below 1, top_logprobs outside 0..20, more than
// four or empty stop sequences, or a schema (response_format, a tool's
// parameters) the model cannot satisfy (also wrapping ErrSchema). llm.Check
// calls it, so these are refused at submit time.
func (p *Provider) CheckRequest(req llm.Request) error {
	_, err := p.open(context.Background(), req)
	return err
}

// open builds the stream; its errors are CheckRequest's.
func (p *Provider) open(ctx context.Context, req llm.Request) (*stream, error) {
	if len(req.Messages) == 0 {
		return nil, fmt.Errorf("%w: no messages", llm.ErrInvalidRequest)
	}
	samp, err := newSampler(req.Settings)
	if err != nil {
		return nil, err
	}
	if err := checkStops(req.Settings.Stop); err != nil {
		return nil, err
	}
	text := req.Text()
	h := fnv.New64a()
	h.Write([]byte(text))
	h.Write([]byte{0}) // keeps ("ab", "c") and ("a", "bc") apart
	h.Write([]byte(req.Model))
	if seed := req.Settings.Seed; seed != nil {
		// Without a seed the hash is what it always was, so is the answer.
		var b [9]byte
		b[0] = 1
		binary.LittleEndian.PutUint64(b[1:], uint64(*seed))
		h.Write(b[:])
	}
	seed := h.Sum64()
	s := &stream{
		ctx: ctx,
		walker: walker{
			chain: table(),
			rng:   rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
			samp:  samp,
		},
		n:        p.cfg.Tokens,
		reason:   llm.FinishStop,
		stops:    req.Settings.Stop,
		prompt:   countWords(text),
		interval: p.interval,
		start:    time.Now(),
	}
	if set := req.Settings; set.Logprobs || set.TopLogprobs != nil {
		s.probs = true
		if k := set.TopLogprobs; k != nil {
			if *k < 0 || *k > maxTopLogprobs {
				return nil, fmt.Errorf("%w: top_logprobs must be between 0 and %d, got %d", llm.ErrInvalidRequest, maxTopLogprobs, *k)
			}
			s.topN = *k
		}
	}
	if err := s.plan(req, seed); err != nil {
		return nil, err
	}
	if req.MaxTokens > 0 && req.MaxTokens < s.n {
		s.n, s.reason = req.MaxTokens, llm.FinishLength
	}
	return s, nil
}

// plan decides what the answer is: tool calls, a JSON document, or text
// (after a tool result, text that quotes it).
func (s *stream) plan(req llm.Request, seed uint64) error {
	set := req.Settings
	if calls := chooseTools(req); len(calls) > 0 {
		deltas, err := s.toolCalls(set.Tools, calls, seed)
		if err != nil {
			return err
		}
		s.deltas, s.n, s.reason = deltas, len(deltas), llm.FinishToolCalls
		return nil
	}
	if rf := set.ResponseFormat; rf != nil && (rf.Type == llm.FormatJSONObject || rf.Type == llm.FormatJSONSchema) {
		schema := []byte(jsonObjectSchema)
		if rf.Type == llm.FormatJSONSchema {
			schema = rf.Schema
		}
		pieces, lps, err := s.document(schema)
		if err != nil {
			return fmt.Errorf("%w: response_format: %w", llm.ErrInvalidRequest, err)
		}
		s.lead, s.leadLP, s.n = pieces, lps, len(pieces)
		return nil
	}
	if lead := toolResultLead(req.Messages); len(lead) > 0 {
		s.lead, s.n = lead, max(s.n, len(lead))
	}
	return nil
}

// newSampler maps temperature, top_p and top_k onto a sampler; nil when
// they leave the corpus distribution as it is.
func newSampler(set llm.Settings) (*sampler, error) {
	s := sampler{temp: 1, topP: 1}
	if t := set.Temperature; t != nil {
		if math.IsNaN(*t) || *t < 0 || *t > 2 {
			return nil, fmt.Errorf("%w: temperature must be between 0 and 2, got %v", llm.ErrInvalidRequest, *t)
		}
		s.temp = *t
	}
	if p := set.TopP; p != nil {
		if math.IsNaN(*p) || *p < 0 || *p > 1 {
			return nil, fmt.Errorf("%w: top_p must be between 0 and 1, got %v", llm.ErrInvalidRequest, *p)
		}
		s.topP = *p
	}
	if k := set.TopK; k != nil {
		if *k < 1 {
			return nil, fmt.Errorf("%w: top_k must be at least 1, got %d", llm.ErrInvalidRequest, *k)
		}
		s.topK = *k
	}
	if s.temp == 1 && s.topP == 1 && s.topK == 0 {
		return nil, nil
	}
	return &s, nil
}

func checkStops(stops []string) error {
	if len(stops) > maxStops {
		return fmt.Errorf("%w: at most %d stop sequences, got %d", llm.ErrInvalidRequest, maxStops, len(stops))
	}
	for i, st := range stops {
		if st == "" {
			return fmt.Errorf("%w: stop[%d] is empty", llm.ErrInvalidRequest, i)
		}
	}
	return nil
}

// countWords counts whitespace-separated words without allocating.
func countWords(s string) int {
	n := 0
	for range strings.FieldsSeq(s) {
		n++
	}
	return n
}

// walker walks the Markov chain: the words of an answer, or of a JSON
// document's strings.
type walker struct {
	chain *chain
	rng   *rand.Rand
	samp  *sampler // nil: the plain walk
	pos   int32    // corpus position of the last word
	words int      // words walked

	// With probs set, step also sets lp, the log probability of the word
	// it took, and top, the topN most likely words there, most likely
	// first. Both are the model's own probabilities (the corpus counts),
	// before temperature, top_p and top_k, as OpenAI reports them.
	probs bool
	topN  int
	lp    float64
	total int // positions counted for lp
	top   []cand
	count sampler // scratch
}

// step moves to the next word and returns its position.
func (w *walker) step() int32 {
	if w.probs {
		w.total = w.count.collect(w.chain, w.pos, w.words == 0)
	}
	switch {
	case w.words == 0 && w.samp == nil:
		w.pos = w.chain.first(w.rng)
	case w.words == 0:
		w.pos = w.samp.first(w.chain, w.rng)
	case w.samp == nil:
		w.pos = w.chain.next(w.pos, w.rng)
	default:
		w.pos = w.samp.next(w.chain, w.pos, w.rng)
	}
	w.words++
	if w.probs {
		w.observe()
	}
	return w.pos
}

// observe sets lp and top for the word just taken.
func (w *walker) observe() {
	cs := w.count.cand
	id := w.chain.id[w.pos]
	for _, c := range cs {
		if c.id == id {
			w.lp = math.Log(float64(c.n) / float64(w.total))
		}
	}
	w.top = w.top[:0]
	if w.topN == 0 {
		return
	}
	// Stable: equally likely words stay in corpus order.
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].n > cs[j].n })
	w.top = append(w.top, cs[:min(w.topN, len(cs))]...)
}

// maxTopLogprobs is OpenAI's limit on top_logprobs.
const maxTopLogprobs = 20

// stream is one answer. Like every llm.Stream it is used by one goroutine.
type stream struct {
	ctx context.Context
	walker
	n      int              // tokens (or tool-call chunks) at most
	reason llm.FinishReason // the finish reason once n are sent
	prompt int

	// lead are tokens sent before any Markov word: a JSON document's
	// pieces (n is then their number, so no word follows), or the words
	// quoting a tool result.
	lead   []string
	leadLP []float64 // the pieces' log probabilities; nil: 0, quoted text
	// deltas, when set, are the tool-call chunks sent instead of text.
	deltas []llm.ToolCallDelta
	// stops are the stop sequences; held is text not yet sent because it
	// may be the start of one.
	stops []string
	held  string
	// ends are the offsets in held where its tokens end; heldLP their
	// log probabilities, when asked for.
	ends   []int
	heldLP []llm.TokenLogprob

	interval time.Duration
	start    time.Time
	timer    *time.Timer // created on the first wait, reused after

	sent   int  // tokens generated
	eof    bool // the finish chunk was delivered
	closed bool
}

// Recv returns the next token (or tool-call piece), then the finish chunk,
// then io.EOF forever. Once the finish chunk was delivered Recv keeps
// returning io.EOF, even after a cancel or Close; before that, a cancelled
// context yields an error wrapping the context's error and a closed stream
// ErrClosed.
func (s *stream) Recv() (llm.Chunk, error) {
	if s.eof {
		return llm.Chunk{}, io.EOF
	}
	if s.closed {
		return llm.Chunk{}, ErrClosed
	}
	if err := s.ctx.Err(); err != nil {
		return llm.Chunk{}, fmt.Errorf("embedded: %w", err)
	}
	for {
		if s.sent == s.n {
			if s.held != "" {
				// The answer ended inside what might have become a stop
				// sequence: it did not, so the text is the answer's.
				text, lps := s.release(len(s.held))
				return llm.Chunk{Text: text, Logprobs: lps}, nil
			}
			s.eof = true
			return llm.Chunk{
				FinishReason: s.reason,
				Usage:        &llm.Usage{PromptTokens: s.prompt, CompletionTokens: s.sent},
			}, nil
		}
		if err := s.wait(); err != nil {
			return llm.Chunk{}, err
		}
		if s.deltas != nil {
			d := s.deltas[s.sent]
			s.sent++
			return llm.Chunk{ToolCalls: []llm.ToolCallDelta{d}}, nil
		}
		tok := s.token()
		var lp *llm.TokenLogprob
		if s.probs {
			e := s.logprob(tok)
			lp = &e
		}
		if len(s.stops) == 0 {
			if lp != nil {
				return llm.Chunk{Text: tok, Logprobs: []llm.TokenLogprob{*lp}}, nil
			}
			return llm.Chunk{Text: tok}, nil
		}
		if text, lps := s.filter(tok, lp); text != "" {
			return llm.Chunk{Text: text, Logprobs: lps}, nil
		}
	}
}

// token generates the next token.
func (s *stream) token() string {
	i := s.sent
	s.sent++
	if i < len(s.lead) {
		return s.lead[i]
	}
	return s.chain.word(s.step(), i > 0)
}

// logprob describes the token just generated.
func (s *stream) logprob(tok string) llm.TokenLogprob {
	i := s.sent - 1
	if i < len(s.lead) {
		// Quoted text is certain; a JSON piece has the probability of
		// the generator's choices that wrote it (its only alternative
		// listed is itself: the other choices are not tokens).
		lp := 0.0
		if s.leadLP != nil {
			lp = s.leadLP[i]
		}
		e := llm.TokenLogprob{Token: tok, Logprob: lp, Bytes: byteValues(tok)}
		if s.topN > 0 {
			e.Top = []llm.TopLogprob{{Token: tok, Logprob: lp, Bytes: e.Bytes}}
		}
		return e
	}
	e := llm.TokenLogprob{Token: tok, Logprob: s.lp, Bytes: byteValues(tok)}
	for _, c := range s.top {
		alt := s.chain.word(c.pos, i > 0)
		e.Top = append(e.Top, llm.TopLogprob{
			Token:   alt,
			Logprob: math.Log(float64(c.n) / float64(s.total)),
			Bytes:   byteValues(alt),
		})
	}
	return e
}

// byteValues is OpenAI's "bytes" of a token: its UTF-8 bytes as numbers.
func byteValues(s string) []int {
	b := make([]int, len(s))
	for i := range len(s) {
		b[i] = int(s[i])
	}
	return b
}

// filter adds tok (and its logprob, when asked for) to the held text and
// returns what can be sent: the text before a stop sequence, which ends
// the answer, or the whole tokens that cannot be the start of one. The
// rest stays held, so a stop sequence spanning several tokens is never
// sent in part.
func (s *stream) filter(tok string, lp *llm.TokenLogprob) (string, []llm.TokenLogprob) {
	s.held += tok
	s.ends = append(s.ends, len(s.held))
	if lp != nil {
		s.heldLP = append(s.heldLP, *lp)
	}
	cut := -1
	for _, st := range s.stops {
		if i := strings.Index(s.held, st); i >= 0 && (cut < 0 || i < cut) {
			cut = i
		}
	}
	if cut >= 0 {
		s.n, s.reason = s.sent, llm.FinishStop
		text, lps := s.release(cut)
		s.held, s.ends, s.heldLP = "", nil, nil // the stop and past it
		return text, lps
	}
	keep := 0
	for _, st := range s.stops {
		for l := min(len(st)-1, len(s.held)); l > keep; l-- {
			if strings.HasSuffix(s.held, st[:l]) {
				keep = l
				break
			}
		}
	}
	// Send whole tokens only, so each token's logprob goes with it.
	send := 0
	for _, e := range s.ends {
		if e <= len(s.held)-keep {
			send = e
		}
	}
	return s.release(send)
}

// release sends the first n bytes of the held text, with the logprobs of
// the tokens they hold; a token cut by a stop sequence keeps the part
// before it.
func (s *stream) release(n int) (string, []llm.TokenLogprob) {
	text := s.held[:n]
	var lps []llm.TokenLogprob
	start, k := 0, 0
	for ; k < len(s.ends) && start < n; k++ {
		if s.heldLP != nil {
			e := s.heldLP[k]
			if s.ends[k] > n {
				e.Token = e.Token[:n-start]
				e.Bytes = byteValues(e.Token)
			}
			lps = append(lps, e)
		}
		start = s.ends[k]
	}
	s.held = s.held[n:]
	s.ends = s.ends[k:]
	for i := range s.ends {
		s.ends[i] -= n
	}
	if s.heldLP != nil {
		s.heldLP = s.heldLP[k:]
	}
	return text, lps
}

// wait blocks until the next token is due. Token k (1-based) is due k
// intervals after the stream opened, so a slow consumer does not slow the
// schedule down and the timing does not drift.
func (s *stream) wait() error {
	if s.interval == 0 {
		return nil
	}
	due := s.start.Add(time.Duration(s.sent+1) * s.interval)
	d := time.Until(due)
	if d <= 0 {
		return nil
	}
	if s.timer == nil {
		s.timer = time.NewTimer(d)
	} else {
		// Since Go 1.23 Reset also discards a stale, unreceived tick.
		s.timer.Reset(d)
	}
	select {
	case <-s.timer.C:
		return nil
	case <-s.ctx.Done():
		s.timer.Stop()
		return fmt.Errorf("embedded: %w", s.ctx.Err())
	}
}

// Close releases the stream. It is idempotent.
func (s *stream) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	if s.timer != nil {
		s.timer.Stop()
	}
	return nil
}
