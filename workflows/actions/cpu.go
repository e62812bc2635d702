package actions

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

// CPUWindow is how far back Diagnose shows the CPU, and CPUPeriod the
// length of each point (the Maximum of CPUUtilization over it).
const (
	CPUWindow = time.Hour
	CPUPeriod = 5 * time.Minute
)

// readCPU adds the last hour's CPU to d, read through the CloudWatch
// port in the instance's own account and region. A failed read is said in the
// diagnosis, not an error: the status checks and console still help.
func (s *Service) readCPU(ctx context.Context, in workflows.Instance, d *Diagnosis) {
	if s.CPU == nil {
		d.CPUNote = "not shown (this opsbot reads no CloudWatch metrics)"
		return
	}
	now := s.Clock.Now()
	pts, err := s.CPU.CPU(ctx, in.Account, in.Region, []string{in.ID}, now.Add(-CPUWindow), now, CPUPeriod)
	if err != nil {
		s.Log.WarnContext(ctx, "diagnose: read CPU", "instance", in.ID, "err", err)
		d.CPUNote = "could not be read from CloudWatch (the details are in opsbot's log)"
		return
	}
	d.CPU = pts[in.ID]
}

// sparks are the eight levels of a sparkline, low to high.
var sparks = []rune("▁▂▃▄▅▆▇█")

// cpuLine says the CPU of a diagnosis in one line: a sparkline of the
// 5-minute maxima (0 to 100%), then min, average and max.
func cpuLine(d Diagnosis) string {
	if d.CPUNote != "" {
		return "CPU over the last hour: " + d.CPUNote + "."
	}
	if len(d.CPU) == 0 {
		return "CPU over the last hour: no datapoints (CloudWatch has none for a stopped instance, or one started minutes ago)."
	}
	var line strings.Builder
	lo, hi, sum := d.CPU[0].Percent, d.CPU[0].Percent, 0.0
	for _, p := range d.CPU {
		v := min(max(p.Percent, 0), 100)
		line.WriteRune(sparks[min(int(v/100*float64(len(sparks))), len(sparks)-1)])
		lo, hi, sum = min(lo, p.Percent), max(hi, p.Percent), sum+p.Percent
	}
	return fmt.Sprintf("CPU over the last hour (5-minute maxima): %s min %.1f%% · avg %.1f%% · max %.1f%%",
		line.String(), lo, sum/float64(len(d.CPU)), hi)
}
