package prereq

import (
	"testing"
)

// fakeT records how Missing ended the test.
type fakeT struct {
	testing.TB
	fatal, skip string
}

func (f *fakeT) Helper()           {}
func (f *fakeT) Fatal(args ...any) { f.fatal = args[0].(string) }
func (f *fakeT) Skip(args ...any)  { f.skip = args[0].(string) }

func TestMissingFailsUnderCIAndSkipsElsewhere(t *testing.T) {
	t.Setenv("CI", "true")
	f := &fakeT{}
	Missing(f, "no %s", "etcd")
	if f.fatal != "no etcd" || f.skip != "" {
		t.Fatalf("under CI: fatal %q, skip %q", f.fatal, f.skip)
	}
	t.Setenv("CI", "")
	f = &fakeT{}
	Missing(f, "no %s", "etcd")
	if f.fatal != "" || f.skip == "" {
		t.Fatalf("outside CI: fatal %q, skip %q", f.fatal, f.skip)
	}
}
