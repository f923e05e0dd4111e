// Package prereq is how a test says that a system prerequisite (Chromium,
// etcd, Node.js packages) is missing: on a developer's machine the test
// skips and names the command that installs it, so `go test ./...` works
// on a fresh machine with only Go; under CI (CI set, as .ci/run does),
// which installs them all, it fails.
package prereq

import (
	"fmt"
	"os"
	"testing"
)

// Missing ends the test for a missing prerequisite: t.Fatal under CI,
// t.Skip otherwise. The message should say how to install it.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
		return
	}
	t.Skip(msg + " (skipped outside CI; .ci/run installs it and fails without it)")
}
