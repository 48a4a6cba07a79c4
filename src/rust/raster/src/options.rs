//! What to draw: output side, channel encoding, line width, antialiasing, and the colours (ink
//! values) each encoding gives to strokes and segments.
use std::fmt;
use std::str::FromStr;

/// The largest output side accepted (a 4096 x 4096 tile is already 16 MB per drawing).
pub const MAX_SIDE: usize = 4096;

/// The scales accepted: those of an output side of 1 to [`MAX_SIDE`] pixels (R asks for these
/// limits instead of keeping its own).
pub const MIN_SCALE: f64 = 1.0 / 256.0;
pub const MAX_SCALE: f64 = MAX_SIDE as f64 / 256.0;

/// The widest line accepted, in the dataset's 256-pixel units.
pub const MAX_LINE_WIDTH: f64 = 256.0;

/// How the channels of a pixel are computed. In every encoding a pixel not touched by ink has the
/// background value and an inked pixel (coverage `a` in [0, 1], 1 without antialiasing) has
/// `background + a * (ink - background)`, with the ink of the stroke or segment drawn last there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// 1 channel, the article's: background 1 (white), ink 0 (black).
    Gray,
    /// 3 channels (R, G, B), background 1 (white); stroke `k` of `n` (0-based) has hue
    /// `360 * k / n` degrees, saturation 1 and value 220/255 (the article's HSV, without its
    /// integer hue step), converted to RGB.
    Hue,
    /// 1 channel, background 0; stroke `k` of `n` (0-based) has ink `(n - k) / n`: the first
    /// stroke is 1, later strokes are darker, the last is `1 / n`.
    Order,
    /// 1 channel, background 0; segment `j` (0-based) of a stroke with `s` segments (a stroke of
    /// `m` points has `s = max(m - 1, 1)`) has ink `(s - j) / s`: bright where the stroke starts.
    Point,
    /// 3 channels, background 0: ink 1 (where anything is drawn), `Order`, `Point`.
    Stack,
}

impl Encoding {
    pub const NAMES: [&'static str; 5] = ["gray", "hue", "order", "point", "stack"];

    pub fn channels(self) -> usize {
        match self {
            Encoding::Gray | Encoding::Order | Encoding::Point => 1,
            Encoding::Hue | Encoding::Stack => 3,
        }
    }

    pub(crate) fn background(self) -> f64 {
        match self {
            Encoding::Gray | Encoding::Hue => 1.0,
            Encoding::Order | Encoding::Point | Encoding::Stack => 0.0,
        }
    }

    /// Whether pixels need to know which stroke or segment inked them (all but `Gray`).
    pub(crate) fn needs_items(self) -> bool {
        self != Encoding::Gray
    }

    /// Whether each segment (rather than each stroke) has its own ink.
    pub(crate) fn ink_per_segment(self) -> bool {
        matches!(self, Encoding::Point | Encoding::Stack)
    }

    /// The ink of segment `segment` of `segments` in stroke `stroke` of `strokes` (0-based).
    pub(crate) fn ink(self, stroke: usize, strokes: usize, segment: usize, segments: usize) -> [f64; 3] {
        let order = (strokes - stroke) as f64 / strokes as f64;
        let point = (segments - segment) as f64 / segments as f64;
        match self {
            Encoding::Gray => [0.0; 3],
            Encoding::Hue => hsv_to_rgb(360.0 * stroke as f64 / strokes as f64, 1.0, 220.0 / 255.0),
            Encoding::Order => [order, 0.0, 0.0],
            Encoding::Point => [point, 0.0, 0.0],
            Encoding::Stack => [1.0, order, point],
        }
    }
}

impl FromStr for Encoding {
    type Err = OptionsError;

    fn from_str(name: &str) -> Result<Self, OptionsError> {
        match name {
            "gray" => Ok(Encoding::Gray),
            "hue" => Ok(Encoding::Hue),
            "order" => Ok(Encoding::Order),
            "point" => Ok(Encoding::Point),
            "stack" => Ok(Encoding::Stack),
            _ => Err(OptionsError(format!(
                "unknown encoding \"{name}\", expected one of {}",
                Encoding::NAMES.join(", ")
            ))),
        }
    }
}

/// HSV (hue in degrees, saturation and value in [0, 1]) to RGB in [0, 1].
pub(crate) fn hsv_to_rgb(hue: f64, saturation: f64, value: f64) -> [f64; 3] {
    let sector = (hue / 60.0).rem_euclid(6.0);
    let chroma = value * saturation;
    let rising = chroma * (1.0 - ((sector % 2.0) - 1.0).abs());
    let low = value - chroma;
    let (r, g, b) = match sector as u32 {
        0 => (chroma, rising, 0.0),
        1 => (rising, chroma, 0.0),
        2 => (0.0, chroma, rising),
        3 => (0.0, rising, chroma),
        4 => (rising, 0.0, chroma),
        _ => (chroma, 0.0, rising),
    };
    [r + low, g + low, b + low]
}

/// Invalid rendering options.
#[derive(Debug, Clone, PartialEq)]
pub struct OptionsError(pub String);

impl fmt::Display for OptionsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for OptionsError {}

/// The output side for `scale`: `round(256 * scale)`, halves away from zero. The one place this
/// rounding is done (the article floored the array size but rounded in its resize).
pub fn side_for_scale(scale: f64) -> Result<usize, OptionsError> {
    if !(MIN_SCALE..=MAX_SCALE).contains(&scale) {
        return Err(OptionsError(format!(
            "scale {scale} is outside {MIN_SCALE} to {MAX_SCALE} (an image side of 1 to {MAX_SIDE} pixels)"
        )));
    }
    Ok((256.0 * scale).round() as usize)
}

/// How to draw a batch.
///
/// Geometry: the drawing's 256 x 256 canvas is mapped onto `side x side` pixels, so a point
/// `(x, y)` lands at `((x + 0.5) * f, (y + 0.5) * f)` with `f = side / 256`, and pixel `(i, j)`
/// (column `i`, row `j`) covers `[i, i + 1) x [j, j + 1)`. A stroke is the union of the capsules of
/// radius [`RenderOptions::radius`] around its segments (a one-point stroke is a disc).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RenderOptions {
    pub side: usize,
    pub encoding: Encoding,
    /// Line width in the dataset's 256-pixel units (the article's 3).
    pub line_width: f64,
    /// Without: a pixel is inked when its centre lies within the radius (the article's hard
    /// lines). With: coverage `clamp(radius + 0.5 - d, 0, 1)` for a centre at distance `d`.
    pub antialias: bool,
    /// Draw every drawing horizontally mirrored within its own extent (see
    /// [`crate::compact::Mirrored`] for the definition, and for mirroring some drawings only).
    pub mirror: bool,
}

impl RenderOptions {
    pub fn new(side: usize, encoding: Encoding, line_width: f64, antialias: bool) -> Result<Self, OptionsError> {
        if !(1..=MAX_SIDE).contains(&side) {
            return Err(OptionsError(format!("image side {side} is outside 1 to {MAX_SIDE}")));
        }
        if !(line_width.is_finite() && line_width > 0.0 && line_width <= MAX_LINE_WIDTH) {
            return Err(OptionsError(format!("line width {line_width} is outside (0, {MAX_LINE_WIDTH}]")));
        }
        Ok(RenderOptions { side, encoding, line_width, antialias, mirror: false })
    }

    /// These options with every drawing mirrored (`true`) or none (`false`).
    pub fn with_mirror(self, mirror: bool) -> Self {
        RenderOptions { mirror, ..self }
    }

    /// Options for `scale` (see [`side_for_scale`]).
    pub fn from_scale(scale: f64, encoding: Encoding, line_width: f64, antialias: bool) -> Result<Self, OptionsError> {
        RenderOptions::new(side_for_scale(scale)?, encoding, line_width, antialias)
    }

    pub fn channels(&self) -> usize {
        self.encoding.channels()
    }

    /// Doubles per drawing: `side * side * channels`.
    pub fn values_per_drawing(&self) -> usize {
        self.side * self.side * self.channels()
    }

    /// Pixels per dataset unit.
    pub(crate) fn pixels_per_unit(&self) -> f64 {
        self.side as f64 / 256.0
    }

    /// Capsule radius in output pixels, so that strokes look like the article's: OpenCV's
    /// `cv::line(thickness = line_width)` on the 256 x 256 canvas, resized to `side` with
    /// `INTER_LINEAR`. OpenCV inks the pixels within `(thickness + 1) / 2` of the segment (5
    /// pixels across for thickness 3), whose far edge lies `line_width / 2 + 1` from it; bilinear
    /// resampling keeps the edge there, except for hard lines made smaller, whose samples that
    /// mix ink and paper half and half read as paper, pulling the edge in (the offsets were
    /// fitted on the real sample at scales 0.25, 0.5 and 1: see `inst/bench/compare-opencv.R`).
    /// At least half a
    /// pixel, so that a line still inks a pixel in every column or row it crosses.
    pub fn radius(&self) -> f64 {
        let per_unit = self.pixels_per_unit();
        let edge = match (self.antialias, per_unit < 1.0) {
            // LINE_AA's soft rim reaches a little further.
            (true, _) => 1.1,
            (false, false) => 1.0,
            (false, true) => 0.65,
        };
        ((self.line_width / 2.0 + edge) * per_unit).max(0.5)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn side_rounds_256_times_scale() {
        assert_eq!(side_for_scale(1.0).unwrap(), 256);
        assert_eq!(side_for_scale(0.5).unwrap(), 128);
        assert_eq!(side_for_scale(0.3).unwrap(), 77); // 76.8: the article's floor gave 76
        assert_eq!(side_for_scale(0.25).unwrap(), 64);
        assert!(side_for_scale(0.001).is_err());
        assert!(side_for_scale(f64::NAN).is_err());
        assert!(side_for_scale(100.0).is_err());
        assert_eq!(side_for_scale(MIN_SCALE).unwrap(), 1);
        assert_eq!(side_for_scale(MAX_SCALE).unwrap(), MAX_SIDE);
        assert!(side_for_scale(MAX_SCALE + 1e-9).is_err());
    }

    #[test]
    fn hue_steps_in_floating_point() {
        let close = |a: [f64; 3], b: [f64; 3]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-12);
        let v = 220.0 / 255.0;
        assert!(close(Encoding::Hue.ink(0, 3, 0, 1), [v, 0.0, 0.0]));
        assert!(close(Encoding::Hue.ink(1, 3, 0, 1), [0.0, v, 0.0]));
        assert!(close(Encoding::Hue.ink(2, 3, 0, 1), [0.0, 0.0, v]));
        // 200 strokes still get 200 different colours (180 / 200 in integers would be 0).
        let mut inks: Vec<[f64; 3]> = (0..200).map(|k| Encoding::Hue.ink(k, 200, 0, 1)).collect();
        inks.dedup();
        assert_eq!(inks.len(), 200);
    }

    #[test]
    fn order_and_point_are_brightest_first() {
        assert_eq!(Encoding::Order.ink(0, 4, 0, 1)[0], 1.0);
        assert_eq!(Encoding::Order.ink(3, 4, 0, 1)[0], 0.25);
        assert_eq!(Encoding::Point.ink(0, 1, 1, 2)[0], 0.5);
        assert_eq!(Encoding::Stack.ink(1, 2, 0, 4), [1.0, 0.5, 1.0]);
    }

    #[test]
    fn encodings_parse_by_name() {
        for name in Encoding::NAMES {
            assert!(name.parse::<Encoding>().is_ok());
        }
        assert!("grey".parse::<Encoding>().unwrap_err().0.contains("expected one of gray, hue"));
    }

    #[test]
    fn radius_follows_opencv_and_has_a_floor() {
        let at = |side, antialias| RenderOptions::new(side, Encoding::Gray, 3.0, antialias).unwrap().radius();
        assert_eq!(at(256, false), 2.5);
        assert!((at(256, true) - 2.6).abs() < 1e-12);
        assert!((at(128, false) - 1.075).abs() < 1e-12);
        assert!((at(128, true) - 1.3).abs() < 1e-12);
        assert!((at(64, true) - 0.65).abs() < 1e-12);
        assert_eq!(at(16, false), 0.5);
        assert!(RenderOptions::new(0, Encoding::Gray, 3.0, false).is_err());
        assert!(RenderOptions::new(64, Encoding::Gray, 0.0, false).is_err());
    }
}
