package workflows

import (
	"strconv"
	"strings"
	"time"
)

// MaxDuration is the longest duration ParseDuration accepts. Policies
// decide what is allowed; this only keeps nonsense like "999999d" out.
const MaxDuration = 366 * 24 * time.Hour

// ParseDuration reads a duration the way people type one in chat: Go
// style ("90m", "4h", "1h30m") or whole days ("2d"). It must be positive.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(strings.ToLower(s))
	if s == "" {
		return 0, Errorf(EInvalid, "a duration is missing: use minutes, hours or days, like 90m, 4h or 2d")
	}
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil {
			return 0, Errorf(EInvalid, "%q is not a duration: use minutes, hours or days, like 90m, 4h or 2d", s)
		}
		if n > int(MaxDuration/(24*time.Hour)) {
			return 0, Errorf(EInvalid, "%q is too long: the most opsbot accepts is %s", s, FormatDuration(MaxDuration))
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		d, err = time.ParseDuration(s)
		if err != nil {
			return 0, Errorf(EInvalid, "%q is not a duration: use minutes, hours or days, like 90m, 4h or 2d", s)
		}
	}
	if d <= 0 {
		return 0, Errorf(EInvalid, "%q is not a positive duration", s)
	}
	if d > MaxDuration {
		return 0, Errorf(EInvalid, "%q is too long: the most opsbot accepts is %s", s, FormatDuration(MaxDuration))
	}
	return d, nil
}

// FormatDuration writes d the way people read it: "2d", "1d 4h", "90m".
func FormatDuration(d time.Duration) string {
	if d <= 0 {
		return "0m"
	}
	d = d.Round(time.Minute)
	days := d / (24 * time.Hour)
	d -= days * 24 * time.Hour
	hours := d / time.Hour
	d -= hours * time.Hour
	mins := d / time.Minute
	var parts []string
	if days > 0 {
		parts = append(parts, strconv.Itoa(int(days))+"d")
	}
	if hours > 0 {
		parts = append(parts, strconv.Itoa(int(hours))+"h")
	}
	if mins > 0 {
		parts = append(parts, strconv.Itoa(int(mins))+"m")
	}
	if len(parts) == 0 {
		return "0m"
	}
	return strings.Join(parts, " ")
}
