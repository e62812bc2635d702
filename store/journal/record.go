package journal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

// A record is one arrival in a segment file: its length and CRC-32C
// (4 bytes each, little endian), then the arrival. The CRC finds a tail
// torn by a crash of the machine (a write the disk never finished); a
// crash of the process leaves no torn record, as each record is one
// write(2) the kernel holds once it returns.
const headerLen = 8

// maxRecord bounds one record: a PagerDuty event is a few kilobytes,
// and a length past this is a torn or foreign file, not an arrival.
const maxRecord = 16 << 20

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

var errTorn = errors.New("torn record")

// appendRecord appends a's record to buf. Only what intake sets is kept:
// a job's ID, claim and attempts are the store's.
func appendRecord(buf []byte, a workflows.Arrival) []byte {
	start := len(buf)
	buf = append(buf, make([]byte, headerLen)...)
	buf = appendTime(buf, a.At)
	buf = binary.AppendUvarint(buf, uint64(len(a.Seen)))
	for _, k := range a.Seen {
		buf = appendString(buf, k)
	}
	if a.Job == nil {
		buf = append(buf, 0)
	} else {
		buf = append(buf, 1)
		buf = appendString(buf, a.Job.Kind)
		buf = appendString(buf, a.Job.Key)
		buf = appendString(buf, a.Job.Payload)
		buf = appendTime(buf, a.Job.RunAt)
		buf = appendString(buf, a.Job.Trace)
	}
	buf = appendString(buf, a.Cancel)
	putHeader(buf[start:], buf[start+headerLen:])
	return buf
}

// putHeader writes body's length and CRC into the header at rec.
func putHeader(rec, body []byte) {
	binary.LittleEndian.PutUint32(rec, uint32(len(body)))
	binary.LittleEndian.PutUint32(rec[4:], crc32.Checksum(body, castagnoli))
}

// sizeHint is about the bytes a's record takes, so that it is written
// into one allocation.
func sizeHint(a workflows.Arrival) int {
	n := headerLen + 64 + len(a.Cancel)
	for _, k := range a.Seen {
		n += len(k) + 2
	}
	if a.Job != nil {
		n += len(a.Job.Kind) + len(a.Job.Key) + len(a.Job.Payload) + len(a.Job.Trace) + 8
	}
	return n
}

// readRecords decodes the arrivals in data, in order. A record cut
// short or failing its CRC ends the segment: what follows it is lost
// with it, and the bytes not read are returned as torn.
func readRecords(data []byte) (arrivals []workflows.Arrival, torn int, err error) {
	for len(data) > 0 {
		if len(data) < headerLen {
			return arrivals, len(data), nil
		}
		n := binary.LittleEndian.Uint32(data)
		if n > maxRecord || int(n) > len(data)-headerLen {
			return arrivals, len(data), nil
		}
		body := data[headerLen : headerLen+int(n)]
		if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(data[4:]) {
			return arrivals, len(data), nil
		}
		a, err := decodeArrival(body)
		if err != nil {
			// The CRC held, so this is no torn write but a record this
			// binary cannot read: stop rather than drop it silently.
			return arrivals, 0, fmt.Errorf("record %d: %w", len(arrivals)+1, err)
		}
		arrivals = append(arrivals, a)
		data = data[headerLen+int(n):]
	}
	return arrivals, 0, nil
}

func decodeArrival(b []byte) (a workflows.Arrival, err error) {
	d := decoder{b: b}
	a.At = d.time()
	a.Seen = make([]string, d.uvarint())
	for i := range a.Seen {
		if d.err != nil {
			break
		}
		a.Seen[i] = d.string()
	}
	if d.byte() == 1 {
		a.Job = &workflows.Job{Kind: d.string(), Key: d.string(), Payload: d.string(), RunAt: d.time(), Trace: d.string()}
	}
	a.Cancel = d.string()
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%d bytes left over", len(d.b))
	}
	return a, d.err
}

func appendString(buf []byte, s string) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(s)))
	return append(buf, s...)
}

// appendTime keeps an instant to the nanosecond; the zero time is kept
// as such (a job with no RunAt runs at once).
func appendTime(buf []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(buf, 0)
	}
	buf = append(buf, 1)
	return binary.AppendVarint(buf, t.UnixNano())
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s cut short", errTorn, what)
	}
	d.b = nil
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("length")
		return 0
	}
	d.b = d.b[n:]
	if v > uint64(len(d.b)) {
		// No count or length can exceed the bytes left: each item
		// takes at least one.
		d.fail("length")
		return 0
	}
	return v
}

func (d *decoder) byte() byte {
	if len(d.b) == 0 {
		d.fail("flag")
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) string() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) time() time.Time {
	if d.byte() == 0 {
		return time.Time{}
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("time")
		return time.Time{}
	}
	d.b = d.b[n:]
	return time.Unix(0, v).UTC()
}
