package chart

import (
	"bytes"
	"flag"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden pictures")

// run is a stretch of columns whose bar (counted up from the baseline)
// has the same colour and height.
type run struct {
	color  color.RGBA
	x0, x1 int
	height int
}

// decode reads the PNG back, as a reader of the picture would.
func decode(t *testing.T, b []byte) image.Image {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	// Into plain RGBA once, so the scans read pixels cheaply.
	out := image.NewRGBA(img.Bounds())
	draw.Draw(out, out.Bounds(), img, img.Bounds().Min, draw.Src)
	return out
}

func rgba(img image.Image, x, y int) color.RGBA {
	if m, ok := img.(*image.RGBA); ok {
		return m.RGBAAt(x, y)
	}
	return color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)
}

// baseline is the lowest row holding any of the colours.
func baseline(img image.Image, colors []color.RGBA) int {
	b := img.Bounds()
	for y := b.Max.Y - 1; y >= b.Min.Y; y-- {
		for x := b.Min.X; x < b.Max.X; x++ {
			for _, c := range colors {
				if rgba(img, x, y) == c {
					return y
				}
			}
		}
	}
	return -1
}

// segments walks up from (x, base) while pixels hold one of the
// colours, and returns each colour's height in order.
func segments(img image.Image, x, base int, colors []color.RGBA) []run {
	var out []run
	for y := base; y >= img.Bounds().Min.Y; y-- {
		c := rgba(img, x, y)
		known := false
		for _, k := range colors {
			known = known || c == k
		}
		if !known {
			break
		}
		if len(out) > 0 && out[len(out)-1].color == c {
			out[len(out)-1].height++
			continue
		}
		out = append(out, run{color: c, x0: x, x1: x + 1, height: 1})
	}
	return out
}

// bars scans the picture's columns: each stretch of columns standing on
// the baseline with the same colours and heights is one bar (grouped) or
// one stack.
func bars(img image.Image, colors []color.RGBA) [][]run {
	base := baseline(img, colors)
	var out [][]run
	var prev []run
	for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x++ {
		s := segments(img, x, base, colors)
		if len(s) == 0 {
			prev = nil
			continue
		}
		same := len(s) == len(prev)
		for i := range s {
			same = same && s[i].color == prev[i].color && s[i].height == prev[i].height
		}
		if same {
			for i := range out[len(out)-1] {
				out[len(out)-1][i].x1 = x + 1
			}
		} else {
			out = append(out, s)
		}
		prev = s
	}
	return out
}

func grouped() Chart {
	return Chart{
		Title:  "Alerts by urgency, last four windows",
		XLabel: "two-week window",
		YLabel: "alerts",
		Labels: []string{"Oct 5", "Oct 19", "Nov 2", "Nov 16"},
		Series: []Series{
			{Name: "high", Values: []float64{40, 12, 30, 8}},
			{Name: "low", Values: []float64{10, 25, 5, 20}},
		},
	}
}

func TestPNG_GroupedBarsStandWhereAndAsHighAsTheirValues(t *testing.T) {
	c := grouped()
	b, err := c.PNG()
	if err != nil {
		t.Fatal(err)
	}
	img := decode(t, b)
	if img.Bounds().Dx() != 960 || img.Bounds().Dy() != 540 {
		t.Fatalf("size %v, want 960×540", img.Bounds())
	}
	colors := c.Colors()
	got := bars(img, colors)
	if len(got) != 8 {
		t.Fatalf("found %d bars, want 8: %+v", len(got), got)
	}
	// Left to right: period by period, series by series; heights in
	// proportion to the values.
	perUnit := float64(got[0][0].height) / 40
	lastX := -1
	for p := range c.Labels {
		for s := range c.Series {
			bar := got[p*2+s]
			if len(bar) != 1 || bar[0].color != colors[s] {
				t.Fatalf("bar %d/%d: %+v, want one %v segment", p, s, bar, colors[s])
			}
			if bar[0].x0 <= lastX {
				t.Errorf("bar %d/%d starts at %d, left of the bar before (%d)", p, s, bar[0].x0, lastX)
			}
			lastX = bar[0].x1
			want := c.Series[s].Values[p] * perUnit
			if math.Abs(float64(bar[0].height)-want) > 1 {
				t.Errorf("bar %d/%d is %dpx high, want %.1f", p, s, bar[0].height, want)
			}
		}
	}
	// Each period's bars sit under its label's third of the plot: the
	// bars of period p are left of period p+1's.
	if got[1][0].x1 > got[2][0].x0 {
		t.Errorf("periods overlap: %+v %+v", got[1], got[2])
	}
}

func TestPNG_StackedBarsPileSeriesInOrder(t *testing.T) {
	c := grouped()
	c.Stacked = true
	c.Title = "Alerts, stacked"
	b, err := c.PNG()
	if err != nil {
		t.Fatal(err)
	}
	img := decode(t, b)
	colors := c.Colors()
	got := bars(img, colors)
	if len(got) != 4 {
		t.Fatalf("found %d stacks, want 4: %+v", len(got), got)
	}
	total := func(p int) float64 { return c.Series[0].Values[p] + c.Series[1].Values[p] }
	perUnit := float64(got[0][0].height+got[0][1].height) / total(0)
	for p, stack := range got {
		if len(stack) != 2 || stack[0].color != colors[0] || stack[1].color != colors[1] {
			t.Fatalf("stack %d: %+v, want high under low", p, stack)
		}
		for s := range stack {
			want := c.Series[s].Values[p] * perUnit
			if math.Abs(float64(stack[s].height)-want) > 1.01 {
				t.Errorf("stack %d series %d is %dpx, want %.1f", p, s, stack[s].height, want)
			}
		}
	}
}

func TestDraw_BarsMatchTheirRectangles(t *testing.T) {
	img, drawn, err := grouped().Draw()
	if err != nil {
		t.Fatal(err)
	}
	colors := grouped().Colors()
	for _, b := range drawn {
		mid := image.Pt((b.Rect.Min.X+b.Rect.Max.X)/2, b.Rect.Max.Y-1)
		if got := rgba(img, mid.X, mid.Y); got != colors[b.Series] {
			t.Errorf("bar %d/%d at %v is %v, want %v", b.Period, b.Series, mid, got, colors[b.Series])
		}
	}
}

func TestPNG_SameChartSameBytes(t *testing.T) {
	a, err := grouped().PNG()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := grouped().PNG()
	if !bytes.Equal(a, b) {
		t.Fatal("two encodings of one chart differ")
	}
}

// TestPNG_Golden keeps the pictures byte for byte; -update rewrites them
// (look at them before committing).
func TestPNG_Golden(t *testing.T) {
	many := Chart{Title: "Monthly cost by team (USD)", YLabel: "USD", Stacked: true,
		Labels: []string{"2026-01", "2026-02", "2026-03", "2026-04", "2026-05", "2026-06", "2026-07", "2026-08", "2026-09", "2026-10", "2026-11", "2026-12"},
		Series: []Series{
			{Name: "payments", Values: []float64{1200, 1350, 1100, 1500, 1700, 1650, 1800, 2100, 1900, 2300, 2250, 2400}},
			{Name: "search", Values: []float64{800, 700, 900, 950, 600, 650, 700, 720, 810, 905, 1000, 1200}},
			{Name: "platform", Values: []float64{15000, 14000, 16000, 15500, 14800, 15200, 16100, 15900, 16300, 17000, 16800, 17500}},
		}}
	small := grouped()
	small.Width, small.Height = 480, 270
	for name, c := range map[string]Chart{"grouped": grouped(), "stacked12": many, "small": small} {
		b, err := c.PNG()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		path := filepath.Join("testdata", name+".png")
		if *update {
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%s: %v (run with -update)", name, err)
		}
		if !bytes.Equal(b, want) {
			t.Errorf("%s: picture differs from %s (run with -update and look)", name, path)
		}
	}
}

func TestDraw_RefusesWhatItCannotDraw(t *testing.T) {
	for name, c := range map[string]Chart{
		"no periods":   {Series: []Series{{Name: "a"}}},
		"no series":    {Labels: []string{"a"}},
		"short series": {Labels: []string{"a", "b"}, Series: []Series{{Values: []float64{1}}}},
		"infinite":     {Labels: []string{"a"}, Series: []Series{{Values: []float64{math.Inf(1)}}}},
		"too small":    {Labels: []string{"a"}, Series: []Series{{Values: []float64{1}}}, Width: 100, Height: 100},
		"too big":      {Labels: []string{"a"}, Series: []Series{{Values: []float64{1}}}, Width: 9000, Height: 100},
	} {
		if _, err := c.PNG(); err == nil {
			t.Errorf("%s: drawn, want an error", name)
		}
	}
}

func TestDraw_ZeroNegativeAndNaNDrawNoBar(t *testing.T) {
	c := Chart{Labels: []string{"a", "b", "c"}, Series: []Series{{Name: "x", Values: []float64{0, -5, math.NaN()}}}}
	b, err := c.PNG()
	if err != nil {
		t.Fatal(err)
	}
	if got := bars(decode(t, b), c.Colors()); len(got) != 0 {
		// Only the legend swatch holds the colour, off the baseline.
		for _, g := range got {
			if g[0].height > 30 {
				t.Errorf("a bar was drawn: %+v", got)
			}
		}
	}
}

func TestNiceTicks(t *testing.T) {
	for _, tc := range []struct {
		top  float64
		step float64
		n    int
	}{{0, 1, 1}, {1, 0.2, 5}, {40, 10, 4}, {47, 10, 5}, {17500 + 2400 + 1200, 5000, 5}, {3, 1, 3}} {
		step, n := niceTicks(tc.top)
		if step != tc.step || n != tc.n {
			t.Errorf("niceTicks(%v) = %v×%d, want %v×%d", tc.top, step, n, tc.step, tc.n)
		}
	}
	if got := Compact(21100); got != "21.1k" || Compact(0.25) != "0.25" || Compact(2e6) != "2M" {
		t.Errorf("Compact: %q %q %q", got, Compact(0.25), Compact(2e6))
	}
}
