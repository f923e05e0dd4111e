package main

import (
	"os"
	"strings"
	"testing"
)

// settingsTable is docs/api.md's table of serve settings, made from the
// same list as `serve --help`, so the two cannot drift.
func settingsTable() string {
	var b strings.Builder
	b.WriteString("| flag | environment variable | default | meaning |\n|---|---|---|---|\n")
	for _, s := range settings {
		def := "empty"
		if s.def != "" {
			def = "`" + s.def + "`"
		}
		b.WriteString("| `--" + s.flag + "` | `" + s.env + "` | " + def + " | " + strings.ReplaceAll(s.usage, "|", "\\|") + " |\n")
	}
	return b.String()
}

const (
	tableBegin = "<!-- settings table: made from cmd/armistice's settings; UPDATE_DOCS=1 go test -run TestAPIDocSettingsTable ./cmd/armistice rewrites it -->\n"
	tableEnd   = "<!-- end of settings table -->\n"
)

// TestAPIDocSettingsTable: docs/api.md lists every setting exactly as
// `serve --help` does. With UPDATE_DOCS=1 it rewrites the table.
func TestAPIDocSettingsTable(t *testing.T) {
	const path = "../../docs/api.md"
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	i, j := strings.Index(doc, tableBegin), strings.Index(doc, tableEnd)
	if i < 0 || j < i {
		t.Fatalf("docs/api.md lacks the settings table markers")
	}
	want := tableBegin + settingsTable() + tableEnd
	if got := doc[i : j+len(tableEnd)]; got != want {
		if os.Getenv("UPDATE_DOCS") == "1" {
			if err := os.WriteFile(path, []byte(doc[:i]+want+doc[j+len(tableEnd):]), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Fatalf("docs/api.md's settings table differs from the settings; run UPDATE_DOCS=1 go test -run TestAPIDocSettingsTable ./cmd/armistice")
	}
}
