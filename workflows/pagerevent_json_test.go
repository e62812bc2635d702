package workflows

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// every fills each field of v (a struct) with a value that is not zero,
// so that a field appendJSON forgets comes back zero and shows.
func every(v reflect.Value, s string) {
	for i := range v.NumField() {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString(s + v.Type().Field(i).Name)
		case reflect.Int:
			f.SetInt(int64(40 + i))
		case reflect.Slice:
			f.Set(reflect.ValueOf([]string{s + "a", s + "b"}))
		case reflect.Struct:
			if f.Type() == reflect.TypeFor[time.Time]() {
				f.Set(reflect.ValueOf(time.Date(2026, 12, 3, 8, 0, i, 123456789, time.UTC)))
				continue
			}
			every(f, s)
		default:
			panic("PagerEvent has a field of a kind the test cannot fill: " + f.Kind().String())
		}
	}
}

func TestPagerEvent_AppendJSONReadsBackAsMarshal(t *testing.T) {
	var full PagerEvent
	every(reflect.ValueOf(&full).Elem(), `"<&>\ü `)
	berlin, _ := time.LoadLocation("Europe/Berlin")
	for name, ev := range map[string]PagerEvent{
		"every field set": full,
		"empty":           {},
		"no assignees, a zone and no fraction": {ID: "Q1", OccurredAt: time.Date(2026, 3, 29, 2, 30, 0, 0, berlin),
			Assignees: []string{}},
		"hostile text": {Note: "a\x00b\x1fc\td\ne\rf\bg\fh\"i\\j<k>l&m\u2028n\u2029o\xffp\xc3q🔥", Agent: "\u007f\u0080"},
	} {
		t.Run(name, func(t *testing.T) {
			want, err := json.Marshal(ev)
			if err != nil {
				t.Fatal(err)
			}
			got := ev.appendJSON(nil)
			if !bytes.Equal(got, want) {
				t.Errorf("appendJSON\n%s\njson.Marshal\n%s", got, want)
			}
			var back PagerEvent
			if err := json.Unmarshal(got, &back); err != nil {
				t.Fatal(err)
			}
			var viaMarshal PagerEvent
			json.Unmarshal(want, &viaMarshal)
			if !reflect.DeepEqual(back, viaMarshal) {
				t.Errorf("read back\n%+v\nwant\n%+v", back, viaMarshal)
			}
		})
	}
}

// FuzzAppendJSONString: any text is written exactly as encoding/json
// writes it.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", "\x00\x1f\"\\<>&", "\u2028\u2029", "\xff\xc3", "ü🔥"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("%q: got %s, want %s", s, got, want)
		}
	})
}
