package model

import (
	"os/exec"
	"strings"
	"testing"
)

// TestOnlyStandardLibrary enforces the package rule: model imports nothing
// but the standard library (see doc.go).
func TestOnlyStandardLibrary(t *testing.T) {
	const self = "github.com/armistice-go/armistice/model"
	// go test puts $GOROOT/bin first in the test's PATH, so this is the go
	// that is running the test.
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("cannot find the go command: %v", err)
	}
	cmd := exec.Command(goBin, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", self)
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("%s: %v\n%s", cmd, err, stderr)
	}
	var listed, others []string
	for _, line := range strings.Split(string(out), "\n") {
		if line = strings.TrimSpace(line); line == "" {
			continue
		}
		listed = append(listed, line)
		if line != self {
			others = append(others, line)
		}
	}
	if len(others) > 0 {
		t.Errorf("model depends on non-standard packages: %s", strings.Join(others, ", "))
	}
	if len(listed) == 0 {
		t.Errorf("go list printed nothing; want at least %s itself", self)
	}
}
