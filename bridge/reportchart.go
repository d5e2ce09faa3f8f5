package bridge

import "time"

// ReportChart is the week behind a report, as numbers: one series per
// department, one point per day. It is platform-neutral; a chat surface
// that can show pictures draws it (see adapters/chart) and attaches it to
// the report, and one that cannot ignores it: the report's text stands on
// its own.
type ReportChart struct {
	Title string `json:"title"`
	// Days are the start of each day shown, oldest first, in the
	// configured time zone. Day i covers [Days[i], Days[i]+1 day).
	Days []time.Time `json:"days"`
	// To is when the figures were taken: the last day ends there (it
	// may be a day so far).
	To     time.Time     `json:"to"`
	Series []ChartSeries `json:"series"`
}

// ChartSeries is one department's week.
type ChartSeries struct {
	Department string     `json:"department"` // department id
	Name       string     `json:"name"`       // display name
	Days       []ChartDay `json:"days"`       // one per ReportChart.Days
}

// ChartDay is one department's figures for one day.
type ChartDay struct {
	// New counts conversations created that day; Answered counts those
	// of them answered by the time of the report.
	New      int `json:"new"`
	Answered int `json:"answered"`
	// FirstResponses counts first responses that went out that day;
	// MedianFirstResponse is their nearest-rank median (0 when none) and
	// SLAHits those within the first-response target.
	FirstResponses      int           `json:"first_responses"`
	MedianFirstResponse time.Duration `json:"median_first_response"`
	SLAHits             int           `json:"sla_hits"`
	// Spikes counts the spike alerts raised that day.
	Spikes int `json:"spikes"`
}

// AnsweredShare is Answered/New, and false when New is 0.
func (d ChartDay) AnsweredShare() (float64, bool) {
	if d.New == 0 {
		return 0, false
	}
	return float64(d.Answered) / float64(d.New), true
}

// SLAHitRate is SLAHits/FirstResponses, and false when there were none.
func (d ChartDay) SLAHitRate() (float64, bool) {
	if d.FirstResponses == 0 {
		return 0, false
	}
	return float64(d.SLAHits) / float64(d.FirstResponses), true
}
