package workflows

import "testing"

// An overrun of any fraction of a cent is shown as a cent: a refusal never
// says "$0.00 over".
func TestCentsUp_AFractionOfACentIsACent(t *testing.T) {
	for _, c := range []struct {
		in   Money
		want string
	}{
		{1, "$0.01"}, {3_000, "$0.01"}, {10_000, "$0.01"}, {10_001, "$0.02"},
		{USD(0.2976), "$0.30"}, {USD(5), "$5.00"}, {0, "$0.00"},
	} {
		if got := c.in.CentsUp().String(); got != c.want {
			t.Errorf("%d millionths: %s, want %s", c.in, got, c.want)
		}
	}
}

// An hourly rate is shown to the hundredth of a cent, so that it explains
// the estimate beside it.
func TestRate_ToTheHundredthOfACent(t *testing.T) {
	for _, c := range []struct {
		in   Money
		want string
	}{
		{USD(0.0229918), "$0.023"}, {USD(0.350959), "$0.351"}, {USD(1.36), "$1.36"},
		{USD(0.0104), "$0.0104"}, {USD(0.00004), "$0.00"}, {USD(1234.56789), "$1,234.5679"},
	} {
		if got := c.in.Rate(); got != c.want {
			t.Errorf("%d millionths: %s, want %s", c.in, got, c.want)
		}
	}
}
