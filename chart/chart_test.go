package chart_test

import (
	"bytes"
	"flag"
	"image/png"
	"os"
	"testing"

	"latchkey/chart"
)

var updateDocs = flag.Bool("update-docs", false, "write docs/images/report-chart.png")

// A chart is a PNG of the fixed size; with more sites than colours the
// quietest are summed into one. The example in docs/ is drawn by this
// test (go test ./chart -update-docs).
func TestSessionsPerHour(t *testing.T) {
	busy := chart.Series{Name: "High Street"}
	quiet := chart.Series{Name: "Airport"}
	for h := 8; h < 18; h++ {
		busy.Hours[h] = 20 + 3*(h-8) - (h-12)*(h-12)
		quiet.Hours[h] = 5 + h%4
	}
	b, err := chart.SessionsPerHour("Sessions started per hour, 2026-11-01 to 2026-11-30", []chart.Series{busy, quiet})
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil || img.Bounds().Dx() != 960 || img.Bounds().Dy() != 480 {
		t.Fatalf("%v %v", img.Bounds(), err)
	}
	if *updateDocs {
		if err := os.WriteFile("../docs/images/report-chart.png", b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	many := make([]chart.Series, 12)
	for i := range many {
		many[i] = chart.Series{Name: "site"}
		many[i].Hours[9] = i
	}
	if _, err := chart.SessionsPerHour("many", many); err != nil {
		t.Fatal(err)
	}
	if _, err := chart.SessionsPerHour("none", nil); err != nil {
		t.Fatal(err)
	}
}
