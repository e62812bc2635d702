package actions

import (
	"strings"
	"testing"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

func TestCPULine_SparklineMinAvgMax(t *testing.T) {
	at := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	pts := func(vs ...float64) []workflows.CPUPoint {
		var out []workflows.CPUPoint
		for i, v := range vs {
			out = append(out, workflows.CPUPoint{At: at.Add(time.Duration(i) * CPUPeriod), Percent: v})
		}
		return out
	}
	for _, c := range []struct {
		name string
		d    Diagnosis
		want string
	}{
		{"levels", Diagnosis{CPU: pts(0, 50, 100)}, "CPU over the last hour (5-minute maxima): ▁▅█ min 0.0% · avg 50.0% · max 100.0%"},
		{"out of range is clamped in the line only", Diagnosis{CPU: pts(-1, 120)}, "▁█ min -1.0% · avg 59.5% · max 120.0%"},
		{"no datapoints", Diagnosis{}, "no datapoints"},
		{"not read", Diagnosis{CPUNote: "could not be read from CloudWatch"}, "CPU over the last hour: could not be read from CloudWatch."},
	} {
		if got := cpuLine(c.d); !strings.Contains(got, c.want) {
			t.Errorf("%s: %q does not contain %q", c.name, got, c.want)
		}
	}
}
