package slack

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"

	"github.com/slack-go/slack"

	"github.com/carebridge/carebridge/bridge"
)

// ChartDrawer draws a report's chart as a PNG image (adapters/chart's
// Drawer does).
type ChartDrawer interface {
	DrawPNG(c *bridge.ReportChart) ([]byte, error)
}

// ChartOptions turn on pictures for reports that carry a chart.
type ChartOptions struct {
	Drawer ChartDrawer
	Logger *slog.Logger
	// Observe, if set, counts each attempt by result: "uploaded",
	// "draw_failed" or "upload_failed".
	Observe func(result string)
}

// chartFile is the name of the uploaded picture.
const chartFile = "carebridge-week.png"

// SetCharts makes Publish follow a report that carries a chart with the
// chart as a PNG image, uploaded into the same channel right after it
// (files.getUploadURLExternal, the upload, files.completeUploadExternal:
// slack-go's UploadFileContext, v0.35's name for UploadFileV2). Call it
// before the first Publish.
func (p *Publisher) SetCharts(o ChartOptions) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	p.charts = &o
}

// attachChart uploads msg's chart after its report went out as ref. A
// failure is logged and counted, never returned: the report is posted
// already, and an outbox retry would post its text twice. The text stands
// on its own; the picture is a bonus.
func (p *Publisher) attachChart(ctx context.Context, msg bridge.ChatMessage, ref bridge.ChatRef) {
	if p.charts == nil || msg.Report == nil || msg.Report.Chart == nil || ref.Channel == "" {
		return
	}
	o := p.charts
	observe := func(result string) {
		if o.Observe != nil {
			o.Observe(result)
		}
	}
	img, err := o.Drawer.DrawPNG(msg.Report.Chart)
	if err != nil {
		o.Logger.Warn("report chart not drawn; the report went out without it", "channel", ref.Channel, "outbox_id", msg.OutboxID, "err", err)
		observe("draw_failed")
		return
	}
	_, err = p.api.UploadFileContext(ctx, slack.UploadFileParameters{
		Reader:   bytes.NewReader(img),
		FileSize: len(img),
		Filename: chartFile,
		Title:    msg.Report.Chart.Title,
		AltTxt:   altText(msg.Report.Chart),
		Channel:  ref.Channel,
	})
	if err != nil {
		o.Logger.Warn("report chart not uploaded; the report went out without it", "channel", ref.Channel, "outbox_id", msg.OutboxID, "err", Classify(err))
		observe("upload_failed")
		return
	}
	observe("uploaded")
}

// altText describes the chart for screen readers (Slack's limit: 1,000
// characters).
func altText(c *bridge.ReportChart) string {
	s := fmt.Sprintf("%s. Four line charts over %d days, one line per department: new conversations per day with spike alerts marked, share answered, median first response in minutes, SLA hit rate.", c.Title, len(c.Days))
	return truncate(s, 999)
}
