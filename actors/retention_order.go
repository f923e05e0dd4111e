package actors

import "container/heap"

// retentionOrder keeps the retained requests in the order they finished,
// so that eviction finds its victim in amortized constant time: the
// oldest whose end was read, else the oldest unread, engine-wide or among
// one owner's. It used to look through every retained entry (and every
// forgotten one not yet compacted away) for each victim, so past the
// retention bound each finished request cost a scan of the bound in the
// supervisor (docs/architecture.md).
//
// An entry is in an unread queue while it is retained and unread, and in
// a read heap (by finish order) once its end was read; both drop entries
// lazily, when they reach the front or when the dead outnumber the live.
// The supervisor owns it (rule 1).
type retentionOrder struct {
	seq    uint64
	all    retentionScope
	owners map[string]*retentionScope
	// examined counts the entries looked at to choose victims
	// (TestEvictionLooksAtFewEntriesPerVictim).
	examined uint64
}

// retentionScope is the engine's or one owner's retained requests.
type retentionScope struct {
	unread     []*entry // finish order; from head on, stale ones skipped
	head       int
	read       readHeap
	liveUnread int
	liveRead   int
}

// readHeap orders read entries by finish.
type readHeap []*entry

func (h readHeap) Len() int           { return len(h) }
func (h readHeap) Less(i, j int) bool { return h[i].finishSeq < h[j].finishSeq }
func (h readHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *readHeap) Push(x any)        { *h = append(*h, x.(*entry)) }
func (h *readHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return e
}

func (o *retentionOrder) scope(owner string) *retentionScope {
	sc := o.owners[owner]
	if sc == nil {
		if o.owners == nil {
			o.owners = make(map[string]*retentionScope)
		}
		sc = &retentionScope{}
		o.owners[owner] = sc
	}
	return sc
}

// add takes an entry that has just become retained.
func (o *retentionOrder) add(e *entry) {
	o.seq++
	e.finishSeq = o.seq
	for _, sc := range [2]*retentionScope{&o.all, o.scope(e.owner)} {
		if e.pickedUp {
			sc.liveRead++
			heap.Push(&sc.read, e)
		} else {
			sc.liveUnread++
			sc.unread = append(sc.unread, e)
		}
	}
}

// pickedUp moves a retained entry whose end was just read from the
// unread to the read requests.
func (o *retentionOrder) pickedUp(e *entry) {
	for _, sc := range [2]*retentionScope{&o.all, o.scope(e.owner)} {
		sc.liveUnread--
		sc.liveRead++
		heap.Push(&sc.read, e)
		sc.compact()
	}
}

// remove takes an entry that is no longer retained (entry.retained
// already cleared).
func (o *retentionOrder) remove(e *entry) {
	for _, sc := range [2]*retentionScope{&o.all, o.owners[e.owner]} {
		if sc == nil {
			continue
		}
		if e.pickedUp {
			sc.liveRead--
		} else {
			sc.liveUnread--
		}
		sc.compact()
	}
	if sc := o.owners[e.owner]; sc != nil && sc.liveRead == 0 && sc.liveUnread == 0 {
		delete(o.owners, e.owner) // its stale entries go with it
	}
}

// victim returns the entry eviction takes next: engine-wide, or owner's
// when ownerOnly. Nil when there is none.
func (o *retentionOrder) victim(owner string, ownerOnly bool) *entry {
	sc := &o.all
	if ownerOnly {
		if sc = o.owners[owner]; sc == nil {
			return nil
		}
	}
	for len(sc.read) > 0 {
		o.examined++
		if e := sc.read[0]; e.retained {
			return e
		}
		heap.Pop(&sc.read)
	}
	for sc.head < len(sc.unread) {
		o.examined++
		if e := sc.unread[sc.head]; e.retained && !e.pickedUp {
			return e
		}
		sc.unread[sc.head] = nil
		sc.head++
	}
	return nil
}

// compact drops the stale entries once they outnumber the live ones, so
// neither list grows past about twice what is retained.
func (sc *retentionScope) compact() {
	if n := len(sc.unread) - sc.head; n > 64 && n > 2*sc.liveUnread {
		live := make([]*entry, 0, 2*sc.liveUnread)
		for _, e := range sc.unread[sc.head:] {
			if e.retained && !e.pickedUp {
				live = append(live, e)
			}
		}
		sc.unread, sc.head = live, 0
	}
	if n := len(sc.read); n > 64 && n > 2*sc.liveRead {
		live := make(readHeap, 0, 2*sc.liveRead)
		for _, e := range sc.read {
			if e.retained {
				live = append(live, e)
			}
		}
		heap.Init(&live)
		sc.read = live
	}
}
