package race

import "testing"

func TestSchedules(t *testing.T) {
	want := 1000
	if Enabled {
		want = 100
	}
	if got := Schedules(1000); got != want {
		t.Errorf("Schedules(1000) = %d with Enabled = %v, want %d", got, Enabled, want)
	}
	if !Enabled {
		return
	}
	if got := Schedules(5); got != 1 {
		t.Errorf("Schedules(5) = %d under -race, want 1", got)
	}
}
