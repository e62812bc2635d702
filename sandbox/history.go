package sandbox

import (
	"fmt"
	"time"

	"github.com/opsbot/opsbot/integrations/pagerduty/pdfake"
)

// seedAlertHistory gives the fake PagerDuty four weeks of past alerts on
// the sample services, so /incident review and /incident stats have
// something to show with no account: a disk alert on the Checkout API
// that flaps (resolves on its own and fires again within the hour), a
// night-time page, certificate checks that resolve on their own at low
// urgency, and a data pipeline lag alert acknowledged by hand.
func seedAlertHistory(pd *pdfake.Server, now time.Time) error {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		return fmt.Errorf("load the sample zone: %w", err)
	}
	local := now.In(berlin)
	midnight := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, berlin)
	// daysAgo is hh:mm local time, d days before today.
	daysAgo := func(d, hh, mm int) time.Time {
		return midnight.AddDate(0, 0, -d).Add(time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute)
	}
	var past []pdfake.Past
	// Flapping, twice in the last two weeks, three times each.
	for _, d := range []int{9, 3} {
		for i := range 3 {
			at := daysAgo(d, 14, 35*i)
			past = append(past, pdfake.Past{ServiceID: "PCHKOUT1", Title: "Disk almost full on db-1", CreatedAt: at, ResolvedAt: at.Add(15 * time.Minute),
				Alerts: []pdfake.Alert{{Key: "disk-full-db-1", Summary: fmt.Sprintf("Disk %d%% full on db-1", 91+i)}}})
		}
	}
	// A night-time page: 03:12, acknowledged by Omar after 7 minutes, fixed after 52.
	night := daysAgo(5, 3, 12)
	past = append(past, pdfake.Past{ServiceID: "PCHKOUT1", Title: "Checkout 5xx above 2%", CreatedAt: night,
		AckedAt: night.Add(7 * time.Minute), AckedBy: "POMAR01", ResolvedAt: night.Add(52 * time.Minute), ResolvedBy: "POMAR01",
		Alerts: []pdfake.Alert{{Key: "checkout-5xx", Summary: "Checkout 5xx above 2% for 5m"}}})
	// Certificate checks, low urgency, resolving on their own.
	for i := range 6 {
		at := daysAgo(13-2*i, 11, 0)
		past = append(past, pdfake.Past{ServiceID: "PCHKOUT1", Title: "TLS certificate expires soon", Urgency: "low", CreatedAt: at, ResolvedAt: at.Add(3 * time.Minute),
			Alerts: []pdfake.Alert{{Summary: fmt.Sprintf("Certificate for api-%d.example.com expires in %d days", i+1, 20-i)}}})
	}
	// The data pipeline lags, acknowledged and fixed by hand.
	for i := range 3 {
		at := daysAgo(12-4*i, 16, 0)
		past = append(past, pdfake.Past{ServiceID: "PPIPELN1", Title: "Pipeline lag above 30 minutes", Urgency: "low", CreatedAt: at,
			AckedAt: at.Add(25 * time.Minute), AckedBy: "PAVERY1", ResolvedAt: at.Add(2 * time.Hour), ResolvedBy: "PAVERY1",
			Alerts: []pdfake.Alert{{Key: "pipeline-lag", Summary: fmt.Sprintf("Pipeline lag %d minutes", 31+i*7)}}})
	}
	// The two weeks before: the disk alert, and one page by day.
	for _, d := range []int{20, 24} {
		at := daysAgo(d, 10, 0)
		past = append(past, pdfake.Past{ServiceID: "PCHKOUT1", Title: "Disk almost full on db-1", CreatedAt: at,
			AckedAt: at.Add(4 * time.Minute), AckedBy: "POMAR01", ResolvedAt: at.Add(40 * time.Minute), ResolvedBy: "POMAR01",
			Alerts: []pdfake.Alert{{Key: "disk-full-db-1", Summary: "Disk 90% full on db-1"}}})
	}
	for _, p := range past {
		if _, err := pd.AddPast(p); err != nil {
			return err
		}
	}
	return nil
}
