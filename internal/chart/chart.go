// Package chart draws small bar charts as PNG pictures, in pure Go: bars
// by series over labelled periods (grouped side by side, or stacked), a
// title, axis labels and a legend. It is made for Slack: the default size
// stays readable when Slack shrinks the picture to its preview width, and
// the same chart always encodes to the same bytes, so pictures can be
// golden-tested.
package chart

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"strconv"
	"strings"
)

// Series is one kind of bar: its name (shown in the legend), one value
// per period, and its colour (zero: the next of Palette).
type Series struct {
	Name   string
	Values []float64
	Color  color.RGBA
}

// Chart is a bar chart. Labels name the periods along the horizontal
// axis; each series has one value per label. Values are drawn from zero:
// a negative or NaN value draws no bar.
type Chart struct {
	Title  string
	XLabel string // under the period labels
	YLabel string // over the value axis
	Labels []string
	Series []Series
	// Stacked puts a period's bars on top of each other; otherwise they
	// stand side by side.
	Stacked bool
	// Format writes a value on the axis (default: 1.5k, 2M, 0.25).
	Format func(float64) string
	// Width and Height in pixels (default 960×540: Slack shows a picture
	// about half that wide, where the 2× text is still about 12px tall).
	Width, Height int
}

// Palette holds the colours series get in turn when they name none:
// distinct for the colour-blind (Okabe–Ito), darkest first.
var Palette = []color.RGBA{
	{0x00, 0x72, 0xB2, 0xFF}, // blue
	{0xE6, 0x9F, 0x00, 0xFF}, // orange
	{0x00, 0x9E, 0x73, 0xFF}, // green
	{0xCC, 0x79, 0xA7, 0xFF}, // pink
	{0x56, 0xB4, 0xE9, 0xFF}, // sky
	{0xD5, 0x5E, 0x00, 0xFF}, // vermillion
	{0xF0, 0xE4, 0x42, 0xFF}, // yellow
	{0x33, 0x33, 0x33, 0xFF}, // near black
}

// Colours of the frame.
var (
	Background = color.RGBA{0xFF, 0xFF, 0xFF, 0xFF}
	Ink        = color.RGBA{0x22, 0x22, 0x22, 0xFF}
	GridColor  = color.RGBA{0xE4, 0xE4, 0xE4, 0xFF}
	AxisColor  = color.RGBA{0x88, 0x88, 0x88, 0xFF}
)

// Limits keep a chart drawable.
const (
	MaxPeriods = 60
	MaxSeries  = 12
	MaxSide    = 4000
)

// Bar is where one value was drawn: the rectangle (Min inclusive, Max
// exclusive) of series Series in period Period.
type Bar struct {
	Period, Series int
	Value          float64
	Rect           image.Rectangle
}

// PNG draws the chart and encodes it.
func (c Chart) PNG() ([]byte, error) {
	img, _, err := c.Draw()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.DefaultCompression}
	if err := enc.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("encode chart %q: %w", c.Title, err)
	}
	return buf.Bytes(), nil
}

// Colors returns the colour each series is drawn in.
func (c Chart) Colors() []color.RGBA {
	out := make([]color.RGBA, len(c.Series))
	next := 0
	for i, s := range c.Series {
		if s.Color != (color.RGBA{}) {
			out[i] = s.Color
			continue
		}
		out[i] = Palette[next%len(Palette)]
		next++
	}
	return out
}

func (c Chart) validate() error {
	switch {
	case len(c.Labels) == 0:
		return errors.New("chart has no periods")
	case len(c.Labels) > MaxPeriods:
		return fmt.Errorf("chart has %d periods, at most %d", len(c.Labels), MaxPeriods)
	case len(c.Series) == 0:
		return errors.New("chart has no series")
	case len(c.Series) > MaxSeries:
		return fmt.Errorf("chart has %d series, at most %d", len(c.Series), MaxSeries)
	case c.Width < 0 || c.Height < 0 || c.Width > MaxSide || c.Height > MaxSide:
		return fmt.Errorf("chart size %d×%d out of range", c.Width, c.Height)
	}
	for _, s := range c.Series {
		if len(s.Values) != len(c.Labels) {
			return fmt.Errorf("series %q has %d values for %d periods", s.Name, len(s.Values), len(c.Labels))
		}
		for _, v := range s.Values {
			if math.IsInf(v, 0) {
				return fmt.Errorf("series %q has an infinite value", s.Name)
			}
		}
	}
	return nil
}

// Draw draws the chart and says where each bar went. The picture is
// paletted: the frame's colours and the series', nothing blended, which
// keeps the PNG small and its pixels exact.
func (c Chart) Draw() (*image.Paletted, []Bar, error) {
	if err := c.validate(); err != nil {
		return nil, nil, err
	}
	w, h := c.Width, c.Height
	if w == 0 {
		w = 960
	}
	if h == 0 {
		h = 540
	}
	if w < 240 || h < 160 {
		return nil, nil, fmt.Errorf("chart size %d×%d too small (at least 240×160)", w, h)
	}
	format := c.Format
	if format == nil {
		format = Compact
	}
	colors := c.Colors()
	pal := color.Palette{Background, Ink, GridColor, AxisColor}
	for _, c := range colors {
		pal = append(pal, c)
	}
	img := image.NewPaletted(image.Rect(0, 0, w, h), pal)

	const pad = 16
	big := 2 // text scale for title, legend and axis
	if w < 600 {
		big = 1
	}
	lineH := glyphH * big
	y := pad
	if c.Title != "" {
		title := fit(c.Title, (w-2*pad)/(glyphW*big))
		drawText(img, (w-textWidth(title, big))/2, y, title, Ink, big)
		y += lineH + pad/2
	}
	// The legend: a swatch and a name per series, wrapped on to more
	// lines as needed.
	if len(c.Series) > 1 || c.Series[0].Name != "" {
		x := pad
		for i, s := range c.Series {
			name := fit(s.Name, 24)
			itemW := lineH + 6 + textWidth(name, big) + 20
			if x+itemW > w-pad && x > pad {
				x = pad
				y += lineH + 6
			}
			fill(img, image.Rect(x, y+2, x+lineH-4, y+lineH-2), colors[i])
			drawText(img, x+lineH+2, y, name, Ink, big)
			x += itemW
		}
		y += lineH + pad/2
	}
	if c.YLabel != "" {
		drawText(img, pad, y, fit(c.YLabel, (w-2*pad)/(glyphW*big)), AxisColor, big)
		y += lineH + 6
	}

	// The value axis: nice ticks from zero to the top.
	top := 0.0
	for p := range c.Labels {
		sum := 0.0
		for _, s := range c.Series {
			v := value(s.Values[p])
			if c.Stacked {
				sum += v
			} else {
				sum = math.Max(sum, v)
			}
		}
		top = math.Max(top, sum)
	}
	step, ticks := niceTicks(top)
	axisTop := step * float64(ticks)
	tickLabels := make([]string, ticks+1)
	labelW := 0
	for i := range tickLabels {
		tickLabels[i] = format(step * float64(i))
		labelW = max(labelW, textWidth(tickLabels[i], big))
	}

	// The period axis: labels under the plot, as big as they fit, else
	// smaller, else every k-th one.
	bottom := h - pad
	if c.XLabel != "" {
		bottom -= lineH + 6
		xl := fit(c.XLabel, (w-2*pad)/(glyphW*big))
		drawText(img, (w-textWidth(xl, big))/2, bottom+6, xl, AxisColor, big)
	}
	plot := image.Rect(pad+labelW+8, y+glyphH*big/2, w-pad, bottom)
	slot := float64(plot.Dx()) / float64(len(c.Labels))
	longest := 0
	for _, l := range c.Labels {
		longest = max(longest, len([]rune(l)))
	}
	small := big
	if longest*glyphW*small > int(slot)-4 {
		small = 1
	}
	every := 1
	for longest*glyphW*small*1 > int(slot*float64(every))-4 && every < len(c.Labels) {
		every++
	}
	plot.Max.Y -= glyphH*small + 6
	for p, l := range c.Labels {
		if p%every != 0 {
			continue
		}
		cx := plot.Min.X + int(slot*(float64(p)+0.5))
		drawText(img, cx-textWidth(l, small)/2, plot.Max.Y+6, l, Ink, small)
	}

	// Grid lines and tick labels.
	scale := float64(plot.Dy()) / axisTop
	for i := 0; i <= ticks; i++ {
		ty := plot.Max.Y - int(math.Round(step*float64(i)*scale))
		fill(img, image.Rect(plot.Min.X, ty, plot.Max.X, ty+1), GridColor)
		drawText(img, plot.Min.X-8-textWidth(tickLabels[i], big), ty-glyphH*big/2, tickLabels[i], AxisColor, big)
	}

	// The bars.
	var bars []Bar
	gap := max(int(slot*0.2), 2)
	for p := range c.Labels {
		x0 := plot.Min.X + int(slot*float64(p)) + gap/2
		x1 := plot.Min.X + int(slot*float64(p+1)) - gap/2
		if x1 <= x0 {
			x1 = x0 + 1
		}
		if c.Stacked {
			base := 0.0
			for si, s := range c.Series {
				v := value(s.Values[p])
				yb := plot.Max.Y - int(math.Round(base*scale))
				yt := plot.Max.Y - int(math.Round((base+v)*scale))
				r := image.Rect(x0, yt, x1, yb)
				fill(img, r, colors[si])
				bars = append(bars, Bar{Period: p, Series: si, Value: v, Rect: r})
				base += v
			}
			continue
		}
		bw := float64(x1-x0) / float64(len(c.Series))
		for si, s := range c.Series {
			v := value(s.Values[p])
			bx0 := x0 + int(bw*float64(si))
			bx1 := x0 + int(bw*float64(si+1))
			if len(c.Series) > 1 && bx1-bx0 > 3 {
				bx1-- // a hairline between neighbours
			}
			r := image.Rect(bx0, plot.Max.Y-int(math.Round(v*scale)), bx1, plot.Max.Y)
			fill(img, r, colors[si])
			bars = append(bars, Bar{Period: p, Series: si, Value: v, Rect: r})
		}
	}
	// The axes over the bars' feet.
	fill(img, image.Rect(plot.Min.X, plot.Max.Y, plot.Max.X, plot.Max.Y+1), AxisColor)
	fill(img, image.Rect(plot.Min.X-1, plot.Min.Y, plot.Min.X, plot.Max.Y+1), AxisColor)
	return img, bars, nil
}

// value is what a bar shows for v: nothing for a negative or NaN.
func value(v float64) float64 {
	if math.IsNaN(v) || v < 0 {
		return 0
	}
	return v
}

// niceTicks divides [0, top] into a few steps of 1, 2 or 5 times a power
// of ten, the last at or over top.
func niceTicks(top float64) (step float64, n int) {
	if top <= 0 {
		return 1, 1
	}
	raw := top / 5
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		step = m * mag
		if step >= raw {
			break
		}
	}
	n = int(math.Ceil(top/step - 1e-9))
	return step, max(n, 1)
}

// Compact writes a value shortly: 0, 0.25, 12, 1.5k, 2M.
func Compact(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 1e9:
		return trim(v/1e9) + "G"
	case a >= 1e6:
		return trim(v/1e6) + "M"
	case a >= 1e3:
		return trim(v/1e3) + "k"
	}
	return trim(v)
}

func trim(v float64) string {
	s := strconv.FormatFloat(v, 'f', 2, 64)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// fit cuts s to n characters, ending in "…" when cut. The font has no
// "…": the cut ends in "..".
func fit(s string, n int) string {
	r := []rune(s)
	if n < 3 || len(r) <= n {
		return s
	}
	return string(r[:n-2]) + ".."
}

// fill paints r in c, which must be in the palette (the first entry
// that is c: two series of one colour share it).
func fill(img *image.Paletted, r image.Rectangle, c color.RGBA) {
	idx := uint8(0)
	for i, p := range img.Palette {
		if p == c {
			idx = uint8(i)
			break
		}
	}
	r = r.Intersect(img.Bounds())
	for y := r.Min.Y; y < r.Max.Y; y++ {
		row := img.Pix[img.PixOffset(r.Min.X, y):img.PixOffset(r.Max.X, y)]
		for i := range row {
			row[i] = idx
		}
	}
}
