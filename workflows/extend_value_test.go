package workflows

import (
	"testing"
	"time"
)

func TestExtendValue_RoundTripsAndRefusesUnboundValues(t *testing.T) {
	end := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	v := ExtendValue(&ServerRequest{ID: "srv-4", LeaseEnd: end}, "1d")
	id, d, drawn, err := ParseExtendValue(v)
	if err != nil || id != "srv-4" || d != 24*time.Hour || !drawn.Equal(end) {
		t.Fatalf("ParseExtendValue(%q) = %q %s %s %v", v, id, d, drawn, err)
	}
	for _, bad := range []string{"srv-4 1d", "srv-4", "", "srv-4 1d soon", "srv-4 1d -5", "srv-4 1x 1764000000", "srv-4 1d 1764000000 extra"} {
		if _, _, _, err := ParseExtendValue(bad); err == nil {
			t.Errorf("ParseExtendValue(%q) accepted", bad)
		}
	}
	if _, _, _, err := ParseExtendValue("srv-4 1d"); ErrorCode(err) != EConflict {
		t.Errorf("a value without a lease end: %v, want a conflict telling to use the newest message", err)
	}
}
