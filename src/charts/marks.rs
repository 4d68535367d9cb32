//! What marks a series: its colour, its marker shape, its bar hatching, and
//! the error-bar whisker. Colour and shape (or hatching) both vary, so a
//! greyscale print still tells the series apart.

use plotters::element::{DynElement, IntoDynElement};
use plotters::prelude::*;

/// Okabe–Ito colours (safe for colour blindness), ordered so neighbours
/// also differ in lightness, then four of Paul Tol's muted scheme for the
/// charts with more series (c10k's ten models, overview's eight).
const PALETTE: [RGBColor; 12] = [
    RGBColor(0x00, 0x72, 0xB2), // blue
    RGBColor(0xE6, 0x9F, 0x00), // orange
    RGBColor(0x00, 0x9E, 0x73), // bluish green
    RGBColor(0xCC, 0x79, 0xA7), // reddish purple
    RGBColor(0x33, 0x33, 0x33), // near black
    RGBColor(0xD5, 0x5E, 0x00), // vermillion
    RGBColor(0x56, 0xB4, 0xE9), // sky blue
    RGBColor(0x99, 0x88, 0x22), // olive
    RGBColor(0x88, 0x22, 0x55), // wine
    RGBColor(0x44, 0xAA, 0x99), // teal
    RGBColor(0x33, 0x22, 0x88), // indigo
    RGBColor(0xCC, 0x66, 0x77), // rose
];

/// The colour of series `index`: the palette, then hues a golden angle
/// apart at alternating lightness, so no two series of a chart share one.
pub(super) fn series_color(index: usize) -> RGBColor {
    if let Some(&c) = PALETTE.get(index) {
        return c;
    }
    let k = (index - PALETTE.len()) as f64;
    let hue = (k * 137.507_764).rem_euclid(360.0) / 360.0;
    let lightness = if index.is_multiple_of(2) { 0.35 } else { 0.55 };
    let (r, g, b) = HSLColor(hue, 0.65, lightness).rgb();
    RGBColor(r, g, b)
}

#[derive(Debug, Clone, Copy)]
enum Shape {
    Circle,
    Square,
    TriangleUp,
    Diamond,
    TriangleDown,
    Cross,
}

/// Marker per series: shape, and whether it is filled (hollow ones are white
/// inside). Ten combinations before any repeats; colours never repeat.
const MARKERS: [(Shape, bool); 10] = [
    (Shape::Circle, true),
    (Shape::Square, false),
    (Shape::TriangleUp, true),
    (Shape::Diamond, false),
    (Shape::Cross, true),
    (Shape::Square, true),
    (Shape::Circle, false),
    (Shape::TriangleDown, true),
    (Shape::Diamond, true),
    (Shape::TriangleUp, false),
];

/// Marker radius in pixels.
const R: i32 = 5;

/// The marker of series `index` centred at `at` (data or pixel coordinates).
pub(super) fn marker<'a, DB, C>(at: C, index: usize) -> DynElement<'a, DB, C>
where
    DB: DrawingBackend + 'a,
    C: Clone + 'a,
{
    let color = series_color(index);
    let (shape, filled) = MARKERS[index % MARKERS.len()];
    let face = if filled {
        color.filled()
    } else {
        WHITE.filled()
    };
    let edge = color.stroke_width(2);
    let at = || EmptyElement::at(at.clone());
    let polygon = |pts: Vec<(i32, i32)>| {
        let mut closed = pts.clone();
        closed.push(pts[0]);
        (at() + Polygon::new(pts, face) + PathElement::new(closed, edge)).into_dyn()
    };
    match shape {
        Shape::Circle => {
            (at() + Circle::new((0, 0), R, face) + Circle::new((0, 0), R, edge)).into_dyn()
        }
        Shape::Square => {
            let s = R - 1;
            (at()
                + Rectangle::new([(-s, -s), (s, s)], face)
                + Rectangle::new([(-s, -s), (s, s)], edge))
            .into_dyn()
        }
        Shape::TriangleUp => polygon(vec![(0, -R - 1), (R + 1, R), (-R - 1, R)]),
        Shape::TriangleDown => polygon(vec![(0, R + 1), (R + 1, -R), (-R - 1, -R)]),
        Shape::Diamond => polygon(vec![(0, -R - 1), (R + 1, 0), (0, R + 1), (-R - 1, 0)]),
        Shape::Cross => {
            let line = color.stroke_width(3);
            (at()
                + PathElement::new(vec![(-R, -R), (R, R)], line)
                + PathElement::new(vec![(-R, R), (R, -R)], line))
            .into_dyn()
        }
    }
}

/// Positions for markers along one series. Up to 20 points all get one;
/// denser series get about ten, evenly spaced along x and staggered between
/// series so markers of different series do not sit on top of each other.
pub(super) fn thin_markers(
    pts: &[(f64, f64)],
    x_lo: f64,
    x_hi: f64,
    index: usize,
    count: usize,
) -> Vec<(f64, f64)> {
    const ALL_UP_TO: usize = 20;
    const STRIDES: f64 = 10.0;
    if pts.len() <= ALL_UP_TO {
        return pts.to_vec();
    }
    let stride = (x_hi - x_lo) / STRIDES;
    let mut next = x_lo + stride * (index as f64 + 0.5) / count.max(1) as f64;
    let mut out = Vec::new();
    for &(x, y) in pts {
        if x >= next {
            out.push((x, y));
            while next <= x {
                next += stride;
            }
        }
    }
    out
}

/// Cap width of an error bar, pixels each side.
const CAP: i32 = 5;

/// An error bar from `lo` to `hi` at `x`: the vertical line (in data
/// coordinates) and its two caps (pixels).
pub(super) fn whisker<'a, DB: DrawingBackend + 'a>(
    x: f64,
    lo: f64,
    hi: f64,
    color: RGBColor,
) -> [DynElement<'a, DB, (f64, f64)>; 3] {
    let style = color.stroke_width(2);
    let cap = |y: f64| {
        (EmptyElement::at((x, y)) + PathElement::new(vec![(-CAP, 0), (CAP, 0)], style)).into_dyn()
    };
    [
        PathElement::new(vec![(x, lo), (x, hi)], style).into_dyn(),
        cap(lo),
        cap(hi),
    ]
}

/// Hatch pattern of bar group `index`: none for the first, then diagonals,
/// crossing and horizontal lines, so groups differ in grey too.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Hatch {
    None,
    Rising,
    Falling,
    Horizontal,
    Crossed,
    Vertical,
}

const HATCHES: [Hatch; 6] = [
    Hatch::None,
    Hatch::Rising,
    Hatch::Horizontal,
    Hatch::Falling,
    Hatch::Crossed,
    Hatch::Vertical,
];

/// Pixels between hatch lines.
const GAP: i32 = 7;

/// Hatch line segments for a `w`×`h` pixel box, relative to its top-left.
pub(super) fn hatch_segments(index: usize, w: i32, h: i32) -> Vec<[(i32, i32); 2]> {
    let (w, h) = (w.max(0), h.max(0));
    let mut out = Vec::new();
    let hatch = HATCHES[index % HATCHES.len()];
    if matches!(hatch, Hatch::Horizontal) {
        out.extend((GAP / 2..h).step_by(GAP as usize).map(|y| [(0, y), (w, y)]));
    }
    if matches!(hatch, Hatch::Vertical) {
        out.extend((GAP / 2..w).step_by(GAP as usize).map(|x| [(x, 0), (x, h)]));
    }
    if matches!(hatch, Hatch::Rising | Hatch::Crossed) {
        // Lines x + y = c, clipped to the box (y grows downwards).
        for c in (GAP..w + h).step_by(GAP as usize) {
            out.push([(c.min(w), c - c.min(w)), (c - c.min(h), c.min(h))]);
        }
    }
    if matches!(hatch, Hatch::Falling | Hatch::Crossed) {
        // Lines x - y = c.
        for c in (-h + GAP..w).step_by(GAP as usize) {
            out.push([
                (c.max(0), c.max(0) - c),
                ((h + c).min(w), (h + c).min(w) - c),
            ]);
        }
    }
    out
}

/// The hatch line style: dark, half transparent, over any fill.
pub(super) fn hatch_style() -> ShapeStyle {
    BLACK.mix(0.55).stroke_width(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hatch_segments_stay_inside_the_box() {
        for index in 0..HATCHES.len() {
            for (x, y) in hatch_segments(index, 37, 120).iter().flatten() {
                assert!(
                    (0..=37).contains(x) && (0..=120).contains(y),
                    "{index}: {x},{y}"
                );
            }
        }
        assert!(hatch_segments(0, 30, 30).is_empty());
        assert!(hatch_segments(1, 0, 0).is_empty());
    }

    #[test]
    fn no_two_series_of_a_chart_share_a_colour() {
        let colours: Vec<(u8, u8, u8)> = (0..64).map(|i| series_color(i).rgb()).collect();
        let distance = |a: (u8, u8, u8), b: (u8, u8, u8)| {
            [(a.0, b.0), (a.1, b.1), (a.2, b.2)]
                .iter()
                .map(|&(x, y)| (i32::from(x) - i32::from(y)).abs())
                .sum::<i32>()
        };
        for (i, &a) in colours.iter().enumerate() {
            for (j, &b) in colours.iter().enumerate().skip(i + 1) {
                assert_ne!(a, b, "series {i} and {j}");
                // The palette's twelve are far apart, not merely different.
                if j < PALETTE.len() {
                    assert!(distance(a, b) >= 60, "series {i} and {j}: {a:?}, {b:?}");
                }
            }
        }
    }

    #[test]
    fn dense_series_get_about_ten_markers() {
        let pts: Vec<(f64, f64)> = (0..1000).map(|i| (i as f64 / 100.0, 1.0)).collect();
        let few = thin_markers(&pts, 0.0, 10.0, 1, 3);
        assert!((9..=11).contains(&few.len()), "{}", few.len());
        assert_eq!(thin_markers(&pts[..5], 0.0, 10.0, 0, 1).len(), 5);
    }
}
