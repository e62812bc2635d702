package journal

import (
	"bytes"
	"testing"
)

// FuzzReadRecords reads any bytes as a segment (a torn, foreign or
// corrupted file): it never panics, never reads past what it was given,
// and what it returns written again reads back the same.
func FuzzReadRecords(f *testing.F) {
	var seed []byte
	for i := range 3 {
		seed = appendRecord(seed, event(i))
	}
	f.Add(seed)
	f.Add(seed[:len(seed)-3])
	f.Add([]byte{})
	f.Add([]byte{3, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3})
	f.Fuzz(func(t *testing.T, data []byte) {
		arrivals, torn, _ := readRecords(data)
		if torn < 0 || torn > len(data) {
			t.Fatalf("torn %d of %d bytes", torn, len(data))
		}
		var again []byte
		for _, a := range arrivals {
			again = appendRecord(again, a)
		}
		back, torn2, err := readRecords(again)
		if err != nil || torn2 != 0 || len(back) != len(arrivals) {
			t.Fatalf("written again: %d of %d arrivals, torn %d, %v", len(back), len(arrivals), torn2, err)
		}
		var third []byte
		for _, a := range back {
			third = appendRecord(third, a)
		}
		if !bytes.Equal(again, third) {
			t.Fatal("an arrival read back differs from the one written")
		}
	})
}
