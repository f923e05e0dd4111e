//go:build mutants

package model

import "sync/atomic"

var activeMutant atomic.Pointer[string]

// SetMutant switches on one deliberate bug by name ("" for none). It
// exists only in builds with the "mutants" tag, for the mutation check of
// actors/actortest.
func SetMutant(name string) { activeMutant.Store(&name) }

func mutant(name string) bool {
	p := activeMutant.Load()
	return p != nil && *p == name
}
