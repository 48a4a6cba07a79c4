//! One drawing into a tile. Each segment is drawn as a capsule (the points within the radius of
//! the segment), column by column: where the column's centre line crosses the capsule is computed
//! exactly (discs at both ends, band along the segment), so hard lines ink exactly the pixels
//! whose centre is within the radius with no per-pixel test, and the cost follows the inked area.
//! Antialiased lines compute a distance only for the rim pixels.
//!
//! Why not tiny-skia (or another path filler): a filled stroke path goes through an RGBA pixmap
//! that must be cleared and read back per drawing, and the article's lines are a simple exact
//! shape. The antialiased coverage `clamp(r + 0.5 - d, 0, 1)` is the usual one-pixel box-filter
//! approximation of the capsule's area in the pixel; combined by maximum within the drawing, joints
//! and crossings are not darkened twice.
use crate::options::RenderOptions;
use crate::parse::Points;

/// Exact ties (a centre at exactly the radius, common at scale 0.5 where coordinates are
/// quarter-pixels) count as inside whatever the rounding of the distance computation.
const TIE: f64 = 1e-7;

/// The drawing has more distinct inks than a tile's `u16` ink index can tell apart.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TooManyInks(pub(crate) usize);

/// One drawing at the output side, column-major (`y + side * x`, like the R array): `coverage`
/// (0 background to 255) and, unless empty (for `Encoding::Gray`), `items`: which of the drawing's
/// inks shows there. Small enough to stay in cache while drawn; `touched` lists the pixels drawn
/// so that moving them out and clearing costs what was drawn, not the whole tile.
#[derive(Debug)]
pub(crate) struct Tile {
    pub(crate) coverage: Vec<u8>,
    pub(crate) items: Vec<u16>,
    touched: Vec<u32>,
    side: usize,
}

/// The order of an image's pixels: `y + side * x` (an R array's, and a tile's), or `y * side + x`
/// (NHWC, what Keras models consume).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelOrder {
    ColumnMajor,
    RowMajor,
}

impl Tile {
    pub(crate) fn new(options: &RenderOptions) -> Tile {
        let pixels = options.side * options.side;
        let items = if options.encoding.needs_items() { pixels } else { 0 };
        Tile { coverage: vec![0; pixels], items: vec![0; items], touched: Vec::new(), side: options.side }
    }

    /// Draws `points` into this blank tile, pushing the drawing's inks (which `items` index) onto
    /// `inks`.
    pub(crate) fn draw(
        &mut self,
        points: &Points,
        options: &RenderOptions,
        inks: &mut Vec<[f64; 3]>,
    ) -> Result<(), TooManyInks> {
        let encoding = options.encoding;
        let use_items = !self.items.is_empty();
        let scale = options.pixels_per_unit();
        let painter = Painter::new(options.radius(), options.antialias, options.side);
        let strokes = points.stroke_count();
        for (stroke, (xs, ys)) in points.strokes().enumerate() {
            let segments = xs.len().saturating_sub(1).max(1);
            for segment in 0..xs.len().min(segments) {
                if use_items && (segment == 0 || encoding.ink_per_segment()) {
                    if inks.len() > usize::from(u16::MAX) {
                        return Err(TooManyInks(inks.len() + 1));
                    }
                    inks.push(encoding.ink(stroke, strokes, segment, segments));
                }
                let item = inks.len().saturating_sub(1) as u16;
                let end = (segment + 1).min(xs.len() - 1);
                let a = ((xs[segment] + 0.5) * scale, (ys[segment] + 0.5) * scale);
                let b = ((xs[end] + 0.5) * scale, (ys[end] + 0.5) * scale);
                painter.capsule(a, b, |pixel, level| {
                    let old = self.coverage[pixel];
                    // The later stroke shows where it covers at least as much as what is there.
                    if level >= old {
                        if old == 0 {
                            self.touched.push(pixel as u32);
                        }
                        self.coverage[pixel] = level;
                        if use_items {
                            self.items[pixel] = item;
                        }
                    }
                });
            }
        }
        Ok(())
    }

    /// Moves the drawing to pixel `p * step + offset` of `coverage` and `items` (whose other
    /// elements are left alone), `p` the pixel's index in `order`, and leaves this tile blank.
    /// With `mirror`, the drawing lands mirrored within its extent: the pixel of column `x` at
    /// column `e - x`, `e` the last column it inks (see `crate::compact::Mirrored`).
    pub(crate) fn move_into(
        &mut self,
        coverage: &mut [u8],
        items: &mut [u16],
        step: usize,
        offset: usize,
        order: PixelOrder,
        mirror: bool,
    ) {
        let side = self.side;
        // Every touched pixel has coverage above 0 (see `draw`), so `e` is the last inked column.
        let last_column = if mirror { self.touched.iter().map(|&pixel| pixel as usize / side).max() } else { None };
        for &pixel in &self.touched {
            let pixel = pixel as usize;
            let (column, row) = (pixel / side, pixel % side);
            let column = last_column.map_or(column, |last| last - column);
            let index = match order {
                PixelOrder::ColumnMajor => column * side + row,
                PixelOrder::RowMajor => row * side + column,
            };
            let at = index * step + offset;
            coverage[at] = std::mem::take(&mut self.coverage[pixel]);
            if !self.items.is_empty() {
                items[at] = self.items[pixel];
            }
        }
        self.touched.clear();
    }
}

struct Painter {
    radius2: f64,
    /// Antialiased, centres within this (squared) are fully covered: `(radius - 0.5)^2`, or
    /// negative (none) when the radius is under 0.5.
    full_radius2: f64,
    /// Distance from the segment beyond which nothing is painted.
    reach: f64,
    antialias: bool,
    coverage_from_distance: f64,
    side: usize,
}

impl Painter {
    fn new(radius: f64, antialias: bool, side: usize) -> Self {
        let reach = if antialias { radius + 0.5 } else { radius };
        let full = radius - 0.5;
        let full_radius2 = if full > 0.0 { full * full - TIE } else { -1.0 };
        Painter {
            radius2: radius * radius + TIE,
            full_radius2,
            reach,
            antialias,
            coverage_from_distance: radius + 0.5,
            side,
        }
    }

    /// Calls `paint(pixel, coverage)` for every pixel the capsule `a`-`b` touches (coverage
    /// 1..=255, 255 without antialiasing). Parts outside the canvas are cut.
    fn capsule(&self, a: (f64, f64), b: (f64, f64), mut paint: impl FnMut(usize, u8)) {
        let reach = self.reach;
        let side = self.side as f64;
        // Far-away coordinates are clipped first so all the arithmetic below stays small and exact.
        let Some((a, b)) = clip_segment(a, b, -reach - 1.0, side + reach + 1.0) else {
            return;
        };
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let length2 = dx * dx + dy * dy;
        let inverse_length2 = if length2 > 0.0 { 1.0 / length2 } else { 0.0 };
        let slack = 1e-6;
        let first_column = ceil_index(a.0.min(b.0) - reach - 0.5 - slack);
        let Some(last_column) = floor_index(a.0.max(b.0) + reach - 0.5 + slack, self.side) else {
            return;
        };
        for column in first_column..=last_column {
            let cx = column as f64 + 0.5;
            let column_start = column * self.side;
            // The exact rows of centres within `radius2`, from where this column's centre line
            // crosses the capsule.
            let rows_within = |radius2: f64| {
                let (low, high) = self.span(cx, a, b, radius2)?;
                Some(ceil_index(low - 0.5)..=floor_index(high - 0.5, self.side)?)
            };
            if !self.antialias {
                for row in rows_within(self.radius2).into_iter().flatten() {
                    paint(column_start + row, 255);
                }
                continue;
            }
            // Antialiased: centres within radius - 0.5 are fully covered; the rim, up to
            // radius + 0.5, gets coverage from its distance.
            let Some(rim) = rows_within(self.reach * self.reach) else {
                continue;
            };
            let full = rows_within(self.full_radius2);
            for row in rim {
                if full.as_ref().is_some_and(|full| full.contains(&row)) {
                    paint(column_start + row, 255);
                    continue;
                }
                let (qx, qy) = (cx - a.0, row as f64 + 0.5 - a.1);
                let t = ((qx * dx + qy * dy) * inverse_length2).clamp(0.0, 1.0);
                let (ex, ey) = (qx - t * dx, qy - t * dy);
                let coverage = (self.coverage_from_distance - (ex * ex + ey * ey).sqrt()).min(1.0);
                let level = (coverage * 255.0).round();
                if level >= 1.0 {
                    paint(column_start + row, level as u8);
                }
            }
        }
    }

    /// The `y` range where the vertical line `x = cx` lies within `sqrt(radius2)` of segment `a`-`b`:
    /// the union of its crossings with the two end discs and with the band along the segment (one
    /// interval, since the capsule is convex).
    fn span(&self, cx: f64, a: (f64, f64), b: (f64, f64), radius2: f64) -> Option<(f64, f64)> {
        if radius2 < 0.0 {
            return None;
        }
        let (mut low, mut high) = (f64::INFINITY, f64::NEG_INFINITY);
        for end in [a, b] {
            let across = cx - end.0;
            let height2 = radius2 - across * across;
            if height2 >= 0.0 {
                let height = height2.sqrt();
                low = low.min(end.1 - height);
                high = high.max(end.1 + height);
            }
        }
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let length2 = dx * dx + dy * dy;
        let along = dx * (cx - a.0);
        if length2 > 0.0 {
            // Within the radius of the line: |dx (y - ay) - dy (cx - ax)| <= r |d|.
            let band = if dx != 0.0 {
                let centre = a.1 + dy * (cx - a.0) / dx;
                let half = (radius2 * length2).sqrt() / dx.abs();
                Some((centre - half, centre + half))
            } else {
                ((cx - a.0).abs() * (cx - a.0).abs() <= radius2).then_some((f64::NEG_INFINITY, f64::INFINITY))
            };
            // Projecting inside the segment: 0 <= dx (cx - ax) + dy (y - ay) <= |d|^2.
            let inside = if dy != 0.0 {
                let (y0, y1) = (a.1 - along / dy, a.1 + (length2 - along) / dy);
                Some((y0.min(y1), y0.max(y1)))
            } else {
                (0.0..=length2).contains(&along).then_some((f64::NEG_INFINITY, f64::INFINITY))
            };
            if let (Some(band), Some(inside)) = (band, inside) {
                let (band_low, band_high) = (band.0.max(inside.0), band.1.min(inside.1));
                if band_low <= band_high {
                    low = low.min(band_low);
                    high = high.max(band_high);
                }
            }
        }
        (low <= high).then_some((low, high))
    }
}

/// The smallest index `>= value`, at least 0. (Casts rather than `f64::ceil`, which is a libm call
/// on the baseline x86-64 target.)
fn ceil_index(value: f64) -> usize {
    if value <= 0.0 {
        return 0;
    }
    let truncated = value as usize;
    if (truncated as f64) < value {
        truncated + 1
    } else {
        truncated
    }
}

/// The largest index `<= value`, at most `side - 1`; `None` when `value < 0`.
fn floor_index(value: f64, side: usize) -> Option<usize> {
    (value >= 0.0).then(|| (value as usize).min(side - 1))
}

/// The part of segment `a`-`b` inside the square `[lo, hi]^2` (Liang-Barsky), if any.
fn clip_segment(a: (f64, f64), b: (f64, f64), lo: f64, hi: f64) -> Option<((f64, f64), (f64, f64))> {
    let inside = |p: (f64, f64)| p.0 >= lo && p.0 <= hi && p.1 >= lo && p.1 <= hi;
    if inside(a) && inside(b) {
        return Some((a, b));
    }
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let (mut t0, mut t1) = (0.0_f64, 1.0_f64);
    for (p, q) in [(-dx, a.0 - lo), (dx, hi - a.0), (-dy, a.1 - lo), (dy, hi - a.1)] {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
        } else {
            let r = q / p;
            if p < 0.0 {
                t0 = t0.max(r);
            } else {
                t1 = t1.min(r);
            }
        }
    }
    if t0 > t1 || t0.is_nan() || t1.is_nan() {
        return None;
    }
    Some(((a.0 + t0 * dx, a.1 + t0 * dy), (a.0 + t1 * dx, a.1 + t1 * dy)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::Encoding;
    use crate::parse::parse_into;

    struct Drawn {
        coverage: Vec<u8>,
        item: Vec<u16>,
        inks: Vec<[f64; 3]>,
    }

    fn draw(json: &str, side: usize, encoding: Encoding, antialias: bool) -> Drawn {
        let mut points = Points::default();
        parse_into(json, &mut points).unwrap();
        let options = RenderOptions::new(side, encoding, 3.0, antialias).unwrap();
        let mut tile = Tile::new(&options);
        let mut inks = vec![];
        tile.draw(&points, &options, &mut inks).unwrap();
        // Moved out (interleaved with a neighbour) and back, it must be the same and leave a
        // blank tile.
        let mut coverage = vec![0; 2 * side * side];
        let mut items = vec![0; if tile.items.is_empty() { 0 } else { 2 * side * side }];
        tile.move_into(&mut coverage, &mut items, 2, 1, PixelOrder::ColumnMajor, false);
        assert!(tile.coverage.iter().all(|&level| level == 0));
        Drawn {
            coverage: coverage.iter().skip(1).step_by(2).copied().collect(),
            item: items.iter().skip(1).step_by(2).copied().collect(),
            inks,
        }
    }

    /// Inked pixels as (column, row).
    fn inked(tile: &Drawn, side: usize) -> Vec<(usize, usize)> {
        (0..side * side).filter(|&p| tile.coverage[p] > 0).map(|p| (p / side, p % side)).collect()
    }

    /// Pixels (column, row) whose centre lies within `radius2` (squared) of the segment from
    /// pixel centre `(x0, y)` to `(x1, y)`, in column order.
    fn within(x0: i64, x1: i64, y: i64, radius2: i64) -> Vec<(usize, usize)> {
        let mut pixels = vec![];
        for x in x0 - 3..=x1 + 3 {
            for row in y - 3..=y + 3 {
                let dx = if x < x0 { x0 - x } else { (x - x1).max(0) };
                let dy = row - y;
                // Squares in quarters: radius 2.5 is 6.25.
                if 4 * (dx * dx + dy * dy) <= radius2 {
                    pixels.push((x as usize, row as usize));
                }
            }
        }
        pixels
    }

    #[test]
    fn a_horizontal_line_at_scale_1_is_five_pixels_thick() {
        let tile = draw("[[[10, 20], [100, 100]]]", 256, Encoding::Gray, false);
        let pixels = inked(&tile, 256);
        // Centres within 3 / 2 + 1 = 2.5 of the segment from (10.5, 100.5) to (20.5, 100.5), as
        // OpenCV's cv::line(thickness = 3).
        assert_eq!(pixels, within(10, 20, 100, 25));
        assert_eq!(pixels.len(), 13 * 5 + 2 * 3);
    }

    #[test]
    fn a_one_point_stroke_is_a_dot_and_an_empty_drawing_is_blank() {
        let tile = draw("[[[50], [60]]]", 256, Encoding::Gray, false);
        assert_eq!(inked(&tile, 256), within(50, 50, 60, 25));
        assert_eq!(inked(&tile, 256).len(), 21);
        let tile = draw("[[[50], [60]]]", 64, Encoding::Gray, false);
        // At (12.625, 15.125) with r = max((1.5 + 0.65) / 4, 0.5): the one centre (12.5, 15.5).
        assert_eq!(inked(&tile, 64), vec![(12, 15)]);
        assert!(inked(&draw("[]", 128, Encoding::Gray, false), 128).is_empty());
        assert!(inked(&draw("[[[], []]]", 128, Encoding::Gray, false), 128).is_empty());
    }

    #[test]
    fn outside_coordinates_are_cut_at_the_edge() {
        let tile = draw("[[[-1000, 1000], [128, 128]], [[1e300], [5]]]", 128, Encoding::Gray, false);
        let pixels = inked(&tile, 128);
        assert_eq!(pixels.len(), 128 * 2);
        assert!(pixels.iter().all(|&(_, y)| y == 63 || y == 64));
        let tile = draw("[[[-300, -10], [-300, 400]]]", 128, Encoding::Gray, true);
        assert!(inked(&tile, 128).is_empty());
    }

    #[test]
    fn later_strokes_cover_earlier_ones() {
        let tile = draw("[[[0, 255], [100, 100]], [[100, 100], [0, 255]]]", 256, Encoding::Hue, false);
        assert_eq!(tile.inks.len(), 2);
        let crossing = 100 * 256 + 100;
        assert_eq!(tile.item[crossing], 1);
        assert_eq!(tile.item[100 * 256 + 10], 1);
        assert_eq!(tile.item[10 * 256 + 100], 0);
    }

    #[test]
    fn point_encoding_has_one_ink_per_segment() {
        let tile = draw("[[[0, 100, 200], [10, 10, 10]], [[5], [200]]]", 256, Encoding::Point, false);
        assert_eq!(tile.inks, vec![[1.0, 0.0, 0.0], [0.5, 0.0, 0.0], [1.0, 0.0, 0.0]]);
        assert_eq!(tile.item[50 * 256 + 10], 0);
        assert_eq!(tile.item[150 * 256 + 10], 1);
        assert_eq!(tile.item[5 * 256 + 200], 2);
    }

    #[test]
    fn antialiased_coverage_falls_off_with_distance() {
        // At side 128 the line lies at y = 50.25 with r = (1.5 + 1.1) / 2 = 1.3: rows 47..=52 have
        // centres at distance 2.75, 1.75, 0.75, 0.25, 1.25 and 2.25, so coverage clamp(1.8 - d, 0,
        // 1): 0, 0.05, 1, 1, 0.55 and 0.
        let tile = draw("[[[10, 200], [100, 100]]]", 128, Encoding::Gray, true);
        let at = |x: usize, y: usize| tile.coverage[x * 128 + y];
        assert_eq!([47, 48, 49, 50, 51, 52].map(|y| at(50, y)), [0, 13, 255, 255, 140, 0]);
    }

    #[test]
    fn clipping_keeps_the_inside_part() {
        let clipped = clip_segment((-10.0, 5.0), (20.0, 5.0), 0.0, 10.0).unwrap();
        assert_eq!(clipped, ((0.0, 5.0), (10.0, 5.0)));
        assert!(clip_segment((-10.0, -5.0), (20.0, -5.0), 0.0, 10.0).is_none());
        assert!(clip_segment((-10.0, 40.0), (40.0, -10.0), 0.0, 10.0).is_none());
    }
}
