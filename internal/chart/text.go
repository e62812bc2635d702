package chart

import (
	"image"
	"image/color"

	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// The font is basicfont's 7×13 bitmap face (ASCII and Latin-1), drawn at
// whole multiples so it stays crisp; runes it lacks show as a box.
var face = basicfont.Face7x13

const (
	glyphW = 7
	glyphH = 13
)

// textWidth is how wide s is drawn at scale.
func textWidth(s string, scale int) int {
	return len([]rune(s)) * glyphW * scale
}

// drawText draws s with its top left corner at (x, y), each font pixel
// a scale×scale square.
func drawText(img *image.Paletted, x, y int, s string, c color.RGBA, scale int) {
	for i, r := range []rune(s) {
		dot := fixed.P(0, face.Ascent)
		dr, mask, mp, _, ok := face.Glyph(dot, r)
		if !ok {
			dr, mask, mp, _, _ = face.Glyph(dot, '?')
		}
		ox := x + i*glyphW*scale
		for gy := 0; gy < dr.Dy(); gy++ {
			for gx := 0; gx < dr.Dx(); gx++ {
				_, _, _, a := mask.At(mp.X+gx, mp.Y+gy).RGBA()
				if a < 0x8000 {
					continue
				}
				px, py := ox+(dr.Min.X+gx)*scale, y+(dr.Min.Y+gy)*scale
				fill(img, image.Rect(px, py, px+scale, py+scale), c)
			}
		}
	}
}
