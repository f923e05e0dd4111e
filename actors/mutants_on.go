//go:build mutants

package actors

import (
	"sync/atomic"

	"github.com/armistice-go/armistice/model"
)

var activeMutant atomic.Pointer[string]

// SetMutant switches on one deliberate bug by name ("" for none), in the
// engine and in the model. It exists only in builds with the "mutants"
// tag, for the mutation check of actors/actortest.
func SetMutant(name string) {
	activeMutant.Store(&name)
	model.SetMutant(name)
}

func mutant(name string) bool {
	p := activeMutant.Load()
	return p != nil && *p == name
}
