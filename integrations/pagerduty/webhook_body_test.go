package pagerduty

import (
	"bytes"
	"strings"
	"testing"
	"testing/iotest"
)

// Whatever length a request declares (none, too little, too much, a
// lie of 10 MB), the body read is the body sent, and no more than 64 KB
// is set aside for it before it arrives.
func TestReadBody_TheBodySentWhateverTheLengthSays(t *testing.T) {
	for _, size := range []int{0, 1, 700, 64 << 10, 100 << 10} {
		body := []byte(strings.Repeat("x", size))
		for _, declared := range []int64{-1, 0, int64(size) / 2, int64(size), int64(size) + 1, 10 << 20} {
			got, err := readBody(iotest.OneByteReader(bytes.NewReader(body)), declared)
			if err != nil || !bytes.Equal(got, body) {
				t.Errorf("%d bytes declared %d, read a byte at a time: %d bytes, %v", size, declared, len(got), err)
			}
			got, _ = readBody(bytes.NewReader(body), declared)
			if !bytes.Equal(got, body) {
				t.Errorf("%d bytes declared %d: read %d bytes", size, declared, len(got))
			}
			if declared == 10<<20 && cap(got) > max(size, 64<<10)*2+2 {
				t.Errorf("declared 10 MB, sent %d: %d bytes set aside", size, cap(got))
			}
		}
	}
}
