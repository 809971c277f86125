// Package chart draws the report's picture: sessions started per hour of
// the day, one bar per site in each hour, as a PNG an admin can read at a
// glance. It uses the standard library's image packages and the basic
// bitmap font of golang.org/x/image.
package chart

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// Series is one site's sessions per hour of the day (0 to 23, in the
// site's timezone).
type Series struct {
	Name  string
	Hours [24]int
}

// Geometry of the picture.
const (
	width, height      = 960, 480
	left, right        = 60, 20
	top, bottom        = 50, 70
	maxSeries          = 8
	legendRow, legendX = 16, 12
)

// palette is one colour per site (colour-blind safe, Okabe and Ito).
var palette = []color.RGBA{
	{0, 114, 178, 255}, {230, 159, 0, 255}, {0, 158, 115, 255}, {204, 121, 167, 255},
	{86, 180, 233, 255}, {213, 94, 0, 255}, {240, 228, 66, 255}, {0, 0, 0, 255},
}

// SessionsPerHour draws the series (at most 8 sites: the busiest, the
// rest summed as "other sites") under title, as a PNG.
func SessionsPerHour(title string, series []Series) ([]byte, error) {
	series = fold(series)
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	draw.Draw(img, img.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	ink := image.NewUniform(color.RGBA{40, 40, 40, 255})
	grid := color.RGBA{220, 220, 220, 255}
	text(img, left, 24, title, ink)

	peak := 1
	for _, s := range series {
		for _, n := range s.Hours {
			peak = max(peak, n)
		}
	}
	// Up to a multiple of 4, so that each grid line's count is a whole
	// number and true (a peak of 1 labelled its lines 1, 0, 0, 0, 0).
	peak = (peak + 3) / 4 * 4
	plotW, plotH := width-left-right, height-top-bottom
	// Horizontal grid lines with their counts: 0, a quarter, ..., the peak.
	for i := 0; i <= 4; i++ {
		y := top + plotH - plotH*i/4
		hline(img, left, left+plotW, y, grid)
		text(img, 8, y+4, fmt.Sprintf("%d", peak*i/4), ink)
	}
	slot := plotW / 24
	for h := 0; h < 24; h++ {
		x0 := left + h*slot
		if h%3 == 0 {
			text(img, x0+2, top+plotH+16, fmt.Sprintf("%02dh", h), ink)
		}
		if len(series) == 0 {
			continue
		}
		barW := max((slot-4)/len(series), 1)
		for i, s := range series {
			barH := plotH * s.Hours[h] / peak
			r := image.Rect(x0+2+i*barW, top+plotH-barH, x0+2+(i+1)*barW, top+plotH)
			draw.Draw(img, r, image.NewUniform(palette[i%len(palette)]), image.Point{}, draw.Src)
		}
	}
	hline(img, left, left+plotW, top+plotH, color.RGBA{40, 40, 40, 255})
	text(img, left+plotW/2-60, top+plotH+34, "hour of the day (site time)", ink)
	// The legend, under the axis: a swatch and the site's name.
	x := left
	for i, s := range series {
		sw := image.Rect(x, height-legendRow-8, x+10, height-legendRow+2)
		draw.Draw(img, sw, image.NewUniform(palette[i%len(palette)]), image.Point{}, draw.Src)
		text(img, x+14, height-legendRow+1, s.Name, ink)
		x += 14 + 7*len(s.Name) + 2*legendX
	}
	if len(series) == 0 {
		text(img, left+plotW/2-60, top+plotH/2, "no sessions in this period", ink)
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// fold keeps the busiest maxSeries-1 sites and sums the rest.
func fold(series []Series) []Series {
	if len(series) <= maxSeries {
		return series
	}
	total := func(s Series) int {
		n := 0
		for _, v := range s.Hours {
			n += v
		}
		return n
	}
	sorted := append([]Series(nil), series...)
	for i := 1; i < len(sorted); i++ { // insertion sort, busiest first
		for j := i; j > 0 && total(sorted[j]) > total(sorted[j-1]); j-- {
			sorted[j], sorted[j-1] = sorted[j-1], sorted[j]
		}
	}
	out := append([]Series(nil), sorted[:maxSeries-1]...)
	other := Series{Name: fmt.Sprintf("%d other sites", len(sorted)-maxSeries+1)}
	for _, s := range sorted[maxSeries-1:] {
		for h, v := range s.Hours {
			other.Hours[h] += v
		}
	}
	return append(out, other)
}

func hline(img *image.RGBA, x0, x1, y int, c color.RGBA) {
	for x := x0; x < x1; x++ {
		img.SetRGBA(x, y, c)
	}
}

func text(img *image.RGBA, x, y int, s string, ink *image.Uniform) {
	d := font.Drawer{Dst: img, Src: ink, Face: basicfont.Face7x13, Dot: fixed.P(x, y)}
	d.DrawString(s)
}
