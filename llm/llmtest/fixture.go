package llmtest

import (
	"embed"
	"fmt"
	"io/fs"
)

//go:embed testdata/*.txt testdata/*.json
var fixtures embed.FS

// Fixture returns the bytes of a fixture under testdata/ (for instance
// "openai_stream.txt"): streams exactly as the servers send them for the
// canonical scripts, kept byte for byte by the package's golden test.
func Fixture(name string) (string, error) {
	b, err := fs.ReadFile(fixtures, "testdata/"+name)
	if err != nil {
		return "", fmt.Errorf("llmtest: fixture %q: %w", name, err)
	}
	return string(b), nil
}

// Fixtures lists the fixture names.
func Fixtures() []string {
	entries, _ := fs.ReadDir(fixtures, "testdata")
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// Replay returns a script that sends raw verbatim after the stream headers,
// for instance a Fixture.
func Replay(raw string) Script { return Script{Raw: raw} }
