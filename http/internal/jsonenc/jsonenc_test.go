package jsonenc

import (
	"bytes"
	"encoding/json"
	"testing"
)

func FuzzAppendString(f *testing.F) {
	for _, seed := range []string{"", "plain", "a\"b\\c", "\n\r\t\x00\x1f\b\f", "<&>", "\u2028\u2029", "\xff\xfe", "é漢字🙂", "\xed\xa0\x80"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, html := range []bool{true, false} {
			var want bytes.Buffer
			enc := json.NewEncoder(&want)
			enc.SetEscapeHTML(html)
			if err := enc.Encode(s); err != nil {
				t.Fatal(err)
			}
			got := AppendString(nil, s, html)
			if string(got) != string(bytes.TrimSuffix(want.Bytes(), []byte("\n"))) {
				t.Fatalf("AppendString(%q, html=%v) = %s, encoding/json gives %s", s, html, got, want.Bytes())
			}
		}
	})
}

func TestAppendStringDoesNotAllocate(t *testing.T) {
	buf := make([]byte, 0, 256)
	allocs := testing.AllocsPerRun(100, func() { buf = AppendString(buf[:0], "a \"token\"\n<b>", true) })
	if allocs != 0 {
		t.Fatalf("%v allocations per call", allocs)
	}
}
