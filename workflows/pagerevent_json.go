package workflows

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// appendJSON appends e as encoding/json would write it (the same keys
// and values; json.Unmarshal reads it back the same), without
// reflection: every PagerDuty event is encoded once, before its webhook
// is answered, and json.Marshal took a third of the handler's own time
// (TestPagerEvent_AppendJSONReadsBackAsMarshal keeps the two in step).
func (e PagerEvent) appendJSON(b []byte) []byte {
	b = append(b, `{"ID":`...)
	b = appendJSONString(b, e.ID)
	b = append(b, `,"Type":`...)
	b = appendJSONString(b, e.Type)
	b = append(b, `,"OccurredAt":`...)
	b = appendJSONTime(b, e.OccurredAt)
	b = append(b, `,"Agent":`...)
	b = appendJSONString(b, e.Agent)
	b = append(b, `,"Incident":{"ID":`...)
	i := e.Incident
	b = appendJSONString(b, i.ID)
	b = append(b, `,"Key":`...)
	b = appendJSONString(b, i.Key)
	b = append(b, `,"Number":`...)
	b = strconv.AppendInt(b, int64(i.Number), 10)
	b = append(b, `,"URL":`...)
	b = appendJSONString(b, i.URL)
	b = append(b, `,"Status":`...)
	b = appendJSONString(b, i.Status)
	b = append(b, `,"Service":`...)
	b = appendJSONString(b, i.Service)
	b = append(b, `,"ServiceName":`...)
	b = appendJSONString(b, i.ServiceName)
	b = append(b, `,"Title":`...)
	b = appendJSONString(b, i.Title)
	b = append(b, `,"CreatedAt":`...)
	b = appendJSONTime(b, i.CreatedAt)
	b = append(b, `},"Urgency":`...)
	b = appendJSONString(b, e.Urgency)
	b = append(b, `,"Priority":`...)
	b = appendJSONString(b, e.Priority)
	b = append(b, `,"Assignees":`...)
	if e.Assignees == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for k, a := range e.Assignees {
			if k > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, a)
		}
		b = append(b, ']')
	}
	b = append(b, `,"Note":`...)
	b = appendJSONString(b, e.Note)
	return append(b, '}')
}

// appendJSONTime writes t as time.Time's MarshalJSON does (RFC 3339
// with nanoseconds as needed).
func appendJSONTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// appendJSONString writes s as a JSON string, escaped as encoding/json
// escapes it: quotes, backslashes and control characters; <, > and &
// (for HTML safety); U+2028 and U+2029; invalid UTF-8 as U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, "\ufffd"...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
