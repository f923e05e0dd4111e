package embedded

import (
	_ "embed"
	"math/rand/v2"
	"strings"
	"sync"
)

//go:embed corpus.txt
var corpusText string

// chain is an order-2 word-level Markov table over the corpus. The corpus is
// treated as a cycle, so every position has a successor and generation never
// runs dry.
//
// Words are stored as offsets into one normalised string, so emitting a word
// (with or without its leading space) is a substring: no allocation per token.
type chain struct {
	// text is " w0 w1 w2 ...": every word preceded by exactly one space.
	text string
	// Word i is text[start[i]:end[i]]; text[start[i]-1] is its space.
	start, end []int32
	// group[i] identifies the word pair (i-1, i); the positions holding
	// that pair are pos[groupOff[g]:groupOff[g+1]].
	group    []int32
	groupOff []int32
	pos      []int32
	// starts lists positions of capitalised words that begin a sentence.
	starts []int32
	// id[i] numbers word i: equal words have equal ids. The sampler uses it
	// to count the distinct words that may come next.
	id []int32
}

var (
	chainOnce sync.Once
	theChain  *chain
)

// table returns the chain, building it on first use.
func table() *chain {
	chainOnce.Do(func() { theChain = buildChain(corpusText) })
	return theChain
}

func buildChain(corpus string) *chain {
	words := strings.Fields(corpus)
	n := len(words)
	c := &chain{
		start: make([]int32, n),
		end:   make([]int32, n),
		group: make([]int32, n),
		id:    make([]int32, n),
	}
	var b strings.Builder
	b.Grow(len(corpus) + 1)
	ids := make(map[string]uint64, n/4)
	wid := make([]uint64, n)
	for i, w := range words {
		b.WriteByte(' ')
		c.start[i] = int32(b.Len())
		b.WriteString(w)
		c.end[i] = int32(b.Len())
		id, ok := ids[w]
		if !ok {
			id = uint64(len(ids))
			ids[w] = id
		}
		wid[i] = id
		c.id[i] = int32(id)
	}
	c.text = b.String()

	// Number the word pairs, then lay out each pair's positions contiguously
	// (a counting sort) so lookups are plain slice indexing.
	pairs := make(map[uint64]int32, n)
	var count []int32
	for i := range n {
		key := wid[(i+n-1)%n]<<32 | wid[i]
		g, ok := pairs[key]
		if !ok {
			g = int32(len(count))
			pairs[key] = g
			count = append(count, 0)
		}
		c.group[i] = g
		count[g]++
	}
	c.groupOff = make([]int32, len(count)+1)
	for g, k := range count {
		c.groupOff[g+1] = c.groupOff[g] + k
	}
	c.pos = make([]int32, n)
	fill := append([]int32(nil), c.groupOff[:len(count)]...)
	for i := range n {
		g := c.group[i]
		c.pos[fill[g]] = int32(i)
		fill[g]++
	}

	for i, w := range words {
		if w[0] >= 'A' && w[0] <= 'Z' && endsSentence(words[(i+n-1)%n]) {
			c.starts = append(c.starts, int32(i))
		}
	}
	return c
}

// endsSentence reports whether w ends with . ! or ?, possibly followed by
// closing quotes or parentheses.
func endsSentence(w string) bool {
	w = strings.TrimRight(w, `'")`)
	if w == "" {
		return false
	}
	switch w[len(w)-1] {
	case '.', '!', '?':
		return true
	}
	return false
}

// first picks the position of the answer's first word.
func (c *chain) first(r *rand.Rand) int32 {
	return c.starts[r.IntN(len(c.starts))]
}

// next picks the position following p: a position that follows another
// occurrence of the same word pair that ends at p.
func (c *chain) next(p int32, r *rand.Rand) int32 {
	g := c.group[p]
	lo, hi := c.groupOff[g], c.groupOff[g+1]
	q := c.pos[lo+int32(r.IntN(int(hi-lo)))]
	return (q + 1) % int32(len(c.start))
}

// word returns the word at p, with its leading space when spaced is set.
func (c *chain) word(p int32, spaced bool) string {
	s := c.start[p]
	if spaced {
		s--
	}
	return c.text[s:c.end[p]]
}
