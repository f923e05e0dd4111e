//go:build !mutants

package model

// mutant reports whether the named deliberate bug is switched on. Without
// the "mutants" build tag it is constant false and compiles away.
func mutant(string) bool { return false }
