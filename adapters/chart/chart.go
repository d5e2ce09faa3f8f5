// Package chart draws a report's week (bridge.ReportChart) as a PNG image
// with gonum.org/v1/plot, for chat surfaces that can show a picture next to
// a report. Four panels share the days on their x axis, one line per
// department: new conversations per day (spike alerts marked with a red
// triangle), the share of them answered so far, the median first response
// and the SLA hit rate. A day without a value (no new conversation, no
// first response) leaves a gap in its line rather than a false zero.
package chart

import (
	"bytes"
	"errors"
	"fmt"
	"image/color"
	"math"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/carebridge/carebridge/bridge"
)

// Default size of the picture, in pixels: wide enough for a phone held
// sideways and a desktop Slack window without rescaling.
const (
	DefaultWidth  = 1600
	DefaultHeight = 1000
)

// dpi sets the scale of text and lines: 144 dots an inch make 12-point
// labels legible at DefaultWidth.
const dpi = 144

// Drawer draws charts of a fixed size. The zero value draws
// DefaultWidth × DefaultHeight pixels.
type Drawer struct {
	Width, Height int // pixels
}

// spikeColor marks the days with a spike alert; no department's line is
// red.
var spikeColor = color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}

// palette colours the departments' lines (Tableau's, without its red),
// repeating past ten departments.
var palette = []color.RGBA{
	{0x1f, 0x77, 0xb4, 0xff}, {0x2c, 0xa0, 0x2c, 0xff}, {0xff, 0x7f, 0x0e, 0xff}, {0x94, 0x67, 0xbd, 0xff},
	{0x8c, 0x56, 0x4b, 0xff}, {0x17, 0xbe, 0xcf, 0xff}, {0xe3, 0x77, 0xc2, 0xff}, {0x7f, 0x7f, 0x7f, 0xff},
	{0xbc, 0xbd, 0x22, 0xff}, {0x00, 0x3f, 0x5c, 0xff},
}

// DrawPNG draws c as a PNG image.
func (d Drawer) DrawPNG(c *bridge.ReportChart) ([]byte, error) {
	if c == nil || len(c.Days) == 0 {
		return nil, errors.New("chart: no days to draw")
	}
	w, h := d.Width, d.Height
	if w <= 0 || h <= 0 {
		w, h = DefaultWidth, DefaultHeight
	}
	px := func(n int) vg.Length { return vg.Length(n) * vg.Inch / dpi }
	img := vgimg.NewWith(vgimg.UseWH(px(w), px(h)), vgimg.UseDPI(dpi))
	dc := draw.New(img)

	// The title band on top, the four panels under it.
	titleSize := vg.Points(15)
	title := draw.TextStyle{Color: color.Black, Font: font.From(sans, titleSize), XAlign: draw.XLeft, YAlign: draw.YTop, Handler: plot.DefaultTextHandler}
	dc.FillText(title, vg.Point{X: dc.Min.X + vg.Points(12), Y: dc.Max.Y - vg.Points(8)}, c.Title)
	body := draw.Crop(dc, 0, 0, 0, -(titleSize + vg.Points(16)))

	panels := []panel{
		{title: "New conversations per day", value: func(d bridge.ChartDay) (float64, bool) { return float64(d.New), true }, spikes: true},
		{title: "Answered so far (%)", value: func(d bridge.ChartDay) (float64, bool) { v, ok := d.AnsweredShare(); return 100 * v, ok }, max: 100},
		{title: "Median first response (minutes)", value: func(d bridge.ChartDay) (float64, bool) {
			return d.MedianFirstResponse.Minutes(), d.FirstResponses > 0
		}},
		{title: "SLA hit rate (%)", value: func(d bridge.ChartDay) (float64, bool) { v, ok := d.SLAHitRate(); return 100 * v, ok }, max: 100},
	}
	plots := [][]*plot.Plot{make([]*plot.Plot, 2), make([]*plot.Plot, 2)}
	for i, pn := range panels {
		p, err := pn.plot(c, i == 0)
		if err != nil {
			return nil, fmt.Errorf("chart: %s: %w", pn.title, err)
		}
		plots[i/2][i%2] = p
	}
	tiles := draw.Tiles{Rows: 2, Cols: 2, PadX: vg.Points(14), PadY: vg.Points(14),
		PadTop: vg.Points(4), PadBottom: vg.Points(6), PadLeft: vg.Points(8), PadRight: vg.Points(12)}
	canvases := plot.Align(plots, tiles, body)
	for r := range plots {
		for col, p := range plots[r] {
			p.Draw(canvases[r][col])
		}
	}
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("chart: encode PNG: %w", err)
	}
	return buf.Bytes(), nil
}

// sans is the typeface of every text: gonum/plot ships Liberation, so no
// system font is needed (the distroless image has none).
var sans = font.Font{Typeface: "Liberation", Variant: "Sans"}

// panel is one of the four small plots.
type panel struct {
	title  string
	value  func(bridge.ChartDay) (float64, bool)
	max    float64 // fixed top of the y axis (0: from the data)
	spikes bool    // mark the days with spike alerts
}

func (pn panel) plot(c *bridge.ReportChart, legend bool) (*plot.Plot, error) {
	p := plot.New()
	style(p)
	p.Title.Text = pn.title
	p.Y.Min = 0
	if pn.max > 0 {
		p.Y.Max = pn.max
	}
	p.X.Min, p.X.Max = -0.5, float64(len(c.Days))-0.5
	p.X.Tick.Marker = dayTicks(c.Days, c.To)
	p.Add(plotter.NewGrid())
	var spikes plotter.XYs
	top := 0.0
	for i, s := range c.Series {
		col := palette[i%len(palette)]
		var run plotter.XYs
		var points plotter.XYs
		flush := func() error {
			if len(run) > 1 {
				l, err := plotter.NewLine(run)
				if err != nil {
					return err
				}
				l.Color, l.Width = col, vg.Points(2)
				p.Add(l)
			}
			run = nil
			return nil
		}
		for day, d := range s.Days {
			v, ok := pn.value(d)
			if !ok || math.IsNaN(v) {
				if err := flush(); err != nil {
					return nil, err
				}
				continue
			}
			top = max(top, v)
			pt := plotter.XY{X: float64(day), Y: v}
			run = append(run, pt)
			points = append(points, pt)
			if pn.spikes && d.Spikes > 0 {
				spikes = append(spikes, pt)
			}
		}
		if err := flush(); err != nil {
			return nil, err
		}
		if len(points) > 0 {
			sc, err := plotter.NewScatter(points)
			if err != nil {
				return nil, err
			}
			sc.Color, sc.Shape, sc.Radius = col, draw.CircleGlyph{}, vg.Points(2.5)
			p.Add(sc)
		}
		if legend {
			thumb, err := plotter.NewLine(plotter.XYs{{}, {}})
			if err != nil {
				return nil, err
			}
			thumb.Color, thumb.Width = col, vg.Points(2)
			p.Legend.Add(s.Name, thumb)
		}
	}
	if legend {
		// Room above the lines for the legend.
		p.Y.Max = max(1, top) * (1.15 + 0.12*float64(len(c.Series)+1))
	}
	if len(spikes) > 0 {
		sc, err := plotter.NewScatter(spikes)
		if err != nil {
			return nil, err
		}
		sc.Color, sc.Shape, sc.Radius = spikeColor, draw.PyramidGlyph{}, vg.Points(6)
		p.Add(sc)
		if legend {
			p.Legend.Add("spike alert", sc)
		}
	}
	return p, nil
}

// style sets the fonts and the legend's place.
func style(p *plot.Plot) {
	p.Title.TextStyle.Font = font.From(sans, vg.Points(12))
	for _, ax := range []*plot.Axis{&p.X, &p.Y} {
		ax.Label.TextStyle.Font = font.From(sans, vg.Points(10))
		ax.Tick.Label.Font = font.From(sans, vg.Points(9))
	}
	p.Legend.TextStyle = text.Style{Color: color.Black, Font: font.From(sans, vg.Points(9)), Handler: plot.DefaultTextHandler}
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.XOffs = vg.Points(6)
	p.Legend.ThumbnailWidth = vg.Points(14)
}

// dayTicks labels each day with its weekday and date; a last day cut
// short by to says until when.
func dayTicks(days []time.Time, to time.Time) plot.ConstantTicks {
	ticks := make(plot.ConstantTicks, len(days))
	for i, d := range days {
		label := d.Format("Mon 2")
		if i == len(days)-1 && !to.IsZero() && to.Before(d.AddDate(0, 0, 1)) {
			label += " to " + to.In(d.Location()).Format("15:04")
		}
		ticks[i] = plot.Tick{Value: float64(i), Label: label}
	}
	return ticks
}
