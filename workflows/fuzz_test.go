package workflows

import "testing"

// FuzzParseDuration: any text a person types as a duration is either
// refused with a message or read as a positive duration within
// MaxDuration, and a duration read back from Go's spelling is the same.
func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"90m", "4h", "2d", "1h30m", " 2D ", "0d", "-1h", "999999d", "366d", "367d",
		"9223372036854775807d", "1.5h", "1e9h", "d", "", "8760h1ns", "١d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err != nil {
			if ErrorMessage(err) == "" {
				t.Fatalf("ParseDuration(%q) refused without a message", s)
			}
			return
		}
		if d <= 0 || d > MaxDuration {
			t.Fatalf("ParseDuration(%q) = %v, outside (0, %v]", s, d, MaxDuration)
		}
		if again, err := ParseDuration(d.String()); err != nil || again != d {
			t.Fatalf("ParseDuration(%q) = %v, but %q reads back as %v, %v", s, d, d.String(), again, err)
		}
		if FormatDuration(d) == "" {
			t.Fatalf("FormatDuration(%v) is empty", d)
		}
	})
}
