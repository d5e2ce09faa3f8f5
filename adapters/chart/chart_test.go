package chart

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"os"
	"testing"
	"time"

	"github.com/carebridge/carebridge/bridge"
)

// week is a chart of three departments over seven days, the last day cut
// short, with a spike on day 4 for the first department and a department
// that had nothing to answer on some days (gaps, not zeros).
func week() *bridge.ReportChart {
	loc := time.FixedZone("JST", 9*3600)
	c := &bridge.ReportChart{Title: "The week by department", To: time.Date(2026, 12, 3, 8, 0, 0, 0, loc)}
	for i := range 7 {
		c.Days = append(c.Days, time.Date(2026, 11, 27+i, 0, 0, 0, 0, loc))
	}
	for k, name := range []string{"Network", "Billing", "Shops"} {
		s := bridge.ChartSeries{Department: name, Name: name}
		for i := range 7 {
			d := bridge.ChartDay{New: 10*(3-k) + i, FirstResponses: 5 + i, SLAHits: 4 + i%2, MedianFirstResponse: time.Duration(20+5*i+10*k) * time.Minute}
			d.Answered = d.New * 3 / 4
			if k == 2 && i%3 == 0 {
				d = bridge.ChartDay{}
			}
			if k == 0 && i == 4 {
				d.New, d.Spikes = 60, 1
			}
			s.Days = append(s.Days, d)
		}
		c.Series = append(c.Series, s)
	}
	return c
}

func TestDrawPNG(t *testing.T) {
	b, err := Drawer{}.DrawPNG(week())
	if err != nil {
		t.Fatal(err)
	}
	if out := os.Getenv("CAREBRIDGE_CHART_OUT"); out != "" {
		_ = os.WriteFile(out, b, 0o644) // to look at it
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if got := img.Bounds().Size(); got != (image.Point{X: DefaultWidth, Y: DefaultHeight}) {
		t.Fatalf("size %v, want %dx%d", got, DefaultWidth, DefaultHeight)
	}
	colors, dark, red := map[color.RGBA]bool{}, 0, 0
	for y := 0; y < DefaultHeight; y += 3 {
		for x := 0; x < DefaultWidth; x += 3 {
			r, g, b, _ := img.At(x, y).RGBA()
			c := color.RGBA{R: uint8(r >> 8), G: uint8(g >> 8), B: uint8(b >> 8), A: 0xff}
			colors[c] = true
			if r < 0x4000 && g < 0x4000 && b < 0x4000 {
				dark++
			}
			if c == spikeColor {
				red++
			}
		}
	}
	// Text, axes and three coloured lines: far from a blank image.
	if len(colors) < 50 || dark < 1000 {
		t.Errorf("the picture looks empty: %d colours, %d dark pixels", len(colors), dark)
	}
	if red == 0 {
		t.Error("the spike is not marked")
	}
}

func TestDrawPNGSize(t *testing.T) {
	b, err := Drawer{Width: 800, Height: 500}.DrawPNG(week())
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(b))
	if err != nil || cfg.Width != 800 || cfg.Height != 500 {
		t.Fatalf("DecodeConfig = %+v, %v; want 800x500", cfg, err)
	}
	if _, err := (Drawer{}).DrawPNG(&bridge.ReportChart{}); err == nil {
		t.Error("a chart without days was drawn")
	}
}
