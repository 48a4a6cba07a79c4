//! Synthetic doodles in the exact Kaggle layout, for scale tests and benchmarks: a zip of one CSV
//! per class, the test CSV, and its answers. Each class is a simple shape (circle, triangle,
//! star, ...) drawn with random size, rotation, position and point jitter, so a model can learn
//! them; classes beyond the base shapes add short tick marks around the shape (variant `v` has a
//! tick at 72 * b degrees for each bit b of `v`), which keeps drawings as small as real ones.
use crate::error::{ErrorKind, Result, StoreError};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use zip::write::SimpleFileOptions;

const SHAPES: [&str; 14] = [
    "circle",
    "triangle",
    "square",
    "star",
    "plus",
    "cross",
    "zigzag",
    "spiral",
    "stripes",
    "bars",
    "house",
    "arrow",
    "hourglass",
    "wave",
];
const COUNTRIES: [&str; 10] = ["US", "GB", "DE", "FR", "BR", "RU", "CA", "JP", "IN", "AU"];

/// SplitMix64: small, fast, and the same numbers everywhere for a seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [low, high).
    fn uniform(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * ((self.next() >> 11) as f64 / (1u64 << 53) as f64)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The word of class `k` (0-based).
pub fn class_word(k: usize) -> String {
    let variant = k / SHAPES.len();
    let shape = SHAPES[k % SHAPES.len()];
    if variant == 0 {
        shape.to_string()
    } else {
        format!("{shape} {}", variant + 1)
    }
}

/// Class `k`: its base shape plus the tick marks of its variant.
fn class_shape(k: usize) -> Vec<Stroke> {
    let mut strokes = base_shape(k % SHAPES.len());
    let variant = k / SHAPES.len();
    for bit in 0..usize::BITS as usize {
        if variant >> bit & 1 == 1 {
            let a = std::f64::consts::TAU * bit as f64 / 5.0 + 0.3;
            let (sin, cos) = a.sin_cos();
            strokes.push(vec![(1.15 * cos, 1.15 * sin), (1.45 * cos, 1.45 * sin)]);
        }
    }
    strokes
}

type Stroke = Vec<(f64, f64)>;

fn regular(corners: usize, radius: f64, phase: f64) -> Stroke {
    (0..=corners)
        .map(|i| {
            let a = phase + std::f64::consts::TAU * i as f64 / corners as f64;
            (radius * a.cos(), radius * a.sin())
        })
        .collect()
}

/// The base shape `k` in unit coordinates (about -1..1).
fn base_shape(k: usize) -> Vec<Stroke> {
    use std::f64::consts::{FRAC_PI_2, PI};
    match k {
        0 => vec![regular(20, 1.0, 0.0)],
        1 => vec![regular(3, 1.0, -FRAC_PI_2)],
        2 => vec![regular(4, 1.0, PI / 4.0)],
        3 => vec![(0..=10)
            .map(|i| {
                let r = if i % 2 == 0 { 1.0 } else { 0.4 };
                let a = -FRAC_PI_2 + PI * i as f64 / 5.0;
                (r * a.cos(), r * a.sin())
            })
            .collect()],
        4 => vec![vec![(-1.0, 0.0), (1.0, 0.0)], vec![(0.0, -1.0), (0.0, 1.0)]],
        5 => vec![vec![(-1.0, -1.0), (1.0, 1.0)], vec![(-1.0, 1.0), (1.0, -1.0)]],
        6 => vec![(0..7).map(|i| (-1.0 + i as f64 / 3.0, if i % 2 == 0 { -0.6 } else { 0.6 })).collect()],
        7 => vec![(0..30)
            .map(|i| {
                let t = i as f64 / 29.0;
                let a = t * 3.0 * std::f64::consts::TAU;
                (t * a.cos(), t * a.sin())
            })
            .collect()],
        8 => (0..3).map(|i| vec![(-1.0, -0.8 + 0.8 * i as f64), (1.0, -0.8 + 0.8 * i as f64)]).collect(),
        9 => (0..3).map(|i| vec![(-0.8 + 0.8 * i as f64, -1.0), (-0.8 + 0.8 * i as f64, 1.0)]).collect(),
        10 => vec![
            vec![(-0.7, 0.0), (-0.7, 1.0), (0.7, 1.0), (0.7, 0.0), (-0.7, 0.0)],
            vec![(-0.9, 0.0), (0.0, -1.0), (0.9, 0.0)],
        ],
        11 => vec![vec![(-1.0, 0.0), (1.0, 0.0)], vec![(0.4, -0.6), (1.0, 0.0), (0.4, 0.6)]],
        12 => vec![vec![(-0.8, -1.0), (0.8, -1.0), (-0.8, 1.0), (0.8, 1.0), (-0.8, -1.0)]],
        _ => vec![(0..30)
            .map(|i| {
                let t = i as f64 / 29.0;
                (-1.0 + 2.0 * t, 0.5 * (t * 2.0 * std::f64::consts::TAU).sin())
            })
            .collect()],
    }
}

/// Where a drawing's shape goes: a random size, rotation and centre.
struct Placement {
    size: f64,
    sin: f64,
    cos: f64,
    centre: (f64, f64),
}

impl Placement {
    fn random(rng: &mut Rng) -> Placement {
        let size = rng.uniform(55.0, 85.0);
        let (sin, cos) = rng.uniform(-0.3, 0.3).sin_cos();
        let centre = (rng.uniform(110.0, 146.0), rng.uniform(110.0, 146.0));
        Placement { size, sin, cos, centre }
    }

    /// A point of the unit shape, jittered, placed and rounded to the dataset's 0..255 pixels.
    fn pixel(&self, (x, y): (f64, f64), rng: &mut Rng) -> (i64, i64) {
        let (x, y) = (x + rng.uniform(-0.04, 0.04), y + rng.uniform(-0.04, 0.04));
        let (rx, ry) = (x * self.cos - y * self.sin, x * self.sin + y * self.cos);
        let px = (self.centre.0 + self.size * rx).round().clamp(0.0, 255.0) as i64;
        let py = (self.centre.1 + self.size * ry).round().clamp(0.0, 255.0) as i64;
        (px, py)
    }
}

/// Strokes of pixels as Kaggle's stroke JSON (`[[[x, ...], [y, ...]], ...]`).
fn stroke_json(strokes: impl Iterator<Item = Vec<(i64, i64)>>) -> String {
    let mut out = String::with_capacity(512);
    out.push('[');
    for (i, points) in strokes.enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let join = |values: Vec<i64>| values.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
        out.push_str("[[");
        out.push_str(&join(points.iter().map(|p| p.0).collect()));
        out.push_str("], [");
        out.push_str(&join(points.iter().map(|p| p.1).collect()));
        out.push_str("]]");
    }
    out.push(']');
    out
}

/// One drawing of class `k`, 0..255.
fn drawing(k: usize, rng: &mut Rng) -> String {
    let strokes = class_shape(k);
    let place = Placement::random(rng);
    stroke_json(strokes.iter().map(|stroke| {
        // Midpoints make the point count (and the JSON size, ~260 bytes) closer to real drawings'.
        let dense = stroke.windows(2).flat_map(|w| [w[0], ((w[0].0 + w[1].0) / 2.0, (w[0].1 + w[1].1) / 2.0)]);
        dense.chain(stroke.last().copied()).map(|point| place.pixel(point, rng)).collect()
    }))
}

/// One drawing of class `k` with exactly `lengths[j]` points in stroke `j`: stroke `j` follows
/// the shape's stroke `j % strokes`, shrunk a little more on each round, with its points spread
/// evenly along it.
fn drawing_like(k: usize, lengths: &[usize], rng: &mut Rng) -> String {
    let strokes = class_shape(k);
    let place = Placement::random(rng);
    stroke_json(lengths.iter().enumerate().map(|(j, &points)| {
        let shrink = 0.85f64.powi((j / strokes.len()) as i32);
        let stroke: Stroke = strokes[j % strokes.len()].iter().map(|&(x, y)| (x * shrink, y * shrink)).collect();
        (0..points)
            .map(|i| along(&stroke, if points > 1 { i as f64 / (points - 1) as f64 } else { 0.0 }))
            .map(|point| place.pixel(point, rng))
            .collect()
    }))
}

/// The point a fraction `t` (0..=1) of the way along a polyline.
fn along(stroke: &[(f64, f64)], t: f64) -> (f64, f64) {
    let length = |a: (f64, f64), b: (f64, f64)| (b.0 - a.0).hypot(b.1 - a.1);
    let total: f64 = stroke.windows(2).map(|w| length(w[0], w[1])).sum();
    let mut left = t * total;
    for w in stroke.windows(2) {
        let step = length(w[0], w[1]);
        if left <= step && step > 0.0 {
            let f = left / step;
            return (w[0].0 + f * (w[1].0 - w[0].0), w[0].1 + f * (w[1].1 - w[0].1));
        }
        left -= step;
    }
    stroke.last().copied().unwrap_or((0.0, 0.0))
}

/// Points per stroke of each drawing of `drawings`, for [`make_synthetic`]'s `like`.
pub fn stroke_lengths(drawings: &[&str]) -> Result<Vec<Vec<usize>>> {
    drawings
        .iter()
        .enumerate()
        .map(|(i, drawing)| {
            doodles_raster::parse_drawing(drawing)
                .map(|strokes| strokes.iter().map(|s| s.x.len()).collect())
                .map_err(|e| StoreError::new(ErrorKind::Argument, format!("like[{}]: {e}", i + 1)))
        })
        .collect()
}

fn timestamp(rng: &mut Rng) -> String {
    // 2017-01-01 plus up to 89 days.
    let day = rng.below(89);
    let (month, day_of_month) = match day {
        0..=30 => (1, day + 1),
        31..=58 => (2, day - 30),
        _ => (3, day - 58),
    };
    let seconds = rng.below(86_400);
    format!(
        "2017-{month:02}-{day_of_month:02} {:02}:{:02}:{:02}.{:06}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60,
        rng.below(1_000_000)
    )
}

/// The files written.
pub struct SyntheticFiles {
    pub train: PathBuf,
    pub test: PathBuf,
    pub answers: PathBuf,
}

/// Writes `n_train` training drawings spread evenly over `classes` classes (one CSV per class in
/// `train_simplified.zip`), and `n_test` test drawings with their answers, into `dir`. With
/// `like` (points per stroke of real drawings, see [`stroke_lengths`]) each drawing has the
/// strokes and points of one of them, drawn at random, so that sizes are like the real data's.
pub fn make_synthetic(
    dir: &Path,
    n_train: u64,
    classes: usize,
    n_test: u64,
    seed: u64,
    like: &[Vec<usize>],
) -> Result<SyntheticFiles> {
    if classes == 0 {
        return Err(StoreError::new(ErrorKind::Argument, "classes must be at least 1"));
    }
    let draw = |k: usize, rng: &mut Rng| match like.len() {
        0 => drawing(k, rng),
        n => {
            let lengths = &like[rng.below(n as u64) as usize];
            drawing_like(k, lengths, rng)
        }
    };
    let io = |what: &Path, e: &dyn std::fmt::Display| {
        StoreError::new(ErrorKind::Io, format!("cannot write {}: {e}", what.display()))
    };
    std::fs::create_dir_all(dir).map_err(|e| io(dir, &e))?;
    let files = SyntheticFiles {
        train: dir.join("train_simplified.zip"),
        test: dir.join("test_simplified.csv"),
        answers: dir.join("test_answers.csv"),
    };
    let mut rng = Rng(seed ^ 0x05EE_DD00_D1E5);
    let zip_file = File::create(&files.train).map_err(|e| io(&files.train, &e))?;
    let mut zip = zip::ZipWriter::new(BufWriter::with_capacity(1 << 20, zip_file));
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(1))
        .large_file(true);
    let mut key_id = 5_000_000_000_000_000u64 + seed % 1_000_000 * 1_000_000_000;
    for k in 0..classes {
        let word = class_word(k);
        let rows = n_train / classes as u64 + u64::from((k as u64) < n_train % classes as u64);
        zip.start_file(format!("{word}.csv"), options).map_err(|e| io(&files.train, &e))?;
        let mut chunk = String::with_capacity(1 << 20);
        chunk.push_str("countrycode,drawing,key_id,recognized,timestamp,word\n");
        for _ in 0..rows {
            key_id += 1 + rng.below(1000);
            let country = COUNTRIES[rng.below(COUNTRIES.len() as u64) as usize];
            let recognized = if rng.below(10) == 0 { "False" } else { "True" };
            let line =
                format!("{country},\"{}\",{key_id},{recognized},{},{word}\n", draw(k, &mut rng), timestamp(&mut rng));
            chunk.push_str(&line);
            if chunk.len() > (1 << 20) - 4096 {
                zip.write_all(chunk.as_bytes()).map_err(|e| io(&files.train, &e))?;
                chunk.clear();
            }
        }
        zip.write_all(chunk.as_bytes()).map_err(|e| io(&files.train, &e))?;
    }
    zip.finish().map_err(|e| io(&files.train, &e))?.flush().map_err(|e| io(&files.train, &e))?;

    let test_file = File::create(&files.test).map_err(|e| io(&files.test, &e))?;
    let answers_file = File::create(&files.answers).map_err(|e| io(&files.answers, &e))?;
    let mut test = BufWriter::new(test_file);
    let mut answers = BufWriter::new(answers_file);
    let mut written = writeln!(test, "key_id,countrycode,drawing").and_then(|()| writeln!(answers, "key_id,word"));
    for i in 0..n_test {
        let k = (i % classes as u64) as usize;
        key_id += 1 + rng.below(1000);
        let country = COUNTRIES[rng.below(COUNTRIES.len() as u64) as usize];
        written = written
            .and_then(|()| writeln!(test, "{key_id},{country},\"{}\"", draw(k, &mut rng)))
            .and_then(|()| writeln!(answers, "{key_id},{}", class_word(k).replace(' ', "_")));
    }
    written.and_then(|()| test.flush()).and_then(|()| answers.flush()).map_err(|e| io(&files.test, &e))?;
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drawings_are_valid_strokes_in_range() {
        let mut rng = Rng(1);
        for k in 0..400 {
            let text = drawing(k, &mut rng);
            let strokes = doodles_raster::parse_drawing(&text).unwrap();
            let ticks = (k / SHAPES.len()).count_ones() as usize;
            assert_eq!(strokes.len(), base_shape(k % SHAPES.len()).len() + ticks);
            assert!(text.len() < 1000, "class {k}: {} bytes", text.len());
        }
        assert_eq!(class_word(0), "circle");
        assert_eq!(class_word(SHAPES.len() + 1), "triangle 2");
    }

    #[test]
    fn drawings_like_real_ones_have_their_strokes_and_points() {
        let real =
            ["[[[0, 21, 43, 83], [162, 163, 157, 134]], [[228], [182]], [[1, 2], [3, 4]]]", "[[[5, 6], [7, 8]]]"];
        let like = stroke_lengths(&real).unwrap();
        assert_eq!(like, vec![vec![4, 1, 2], vec![2]]);
        let mut rng = Rng(3);
        for k in [0, 4, 17, 339] {
            for lengths in &like {
                let strokes = doodles_raster::parse_drawing(&drawing_like(k, lengths, &mut rng)).unwrap();
                assert_eq!(&strokes.iter().map(|s| s.x.len()).collect::<Vec<_>>(), lengths);
                assert!(strokes.iter().flat_map(|s| s.x.iter().chain(&s.y)).all(|v| (0.0..=255.0).contains(v)));
            }
        }
        assert!(stroke_lengths(&["[[[1], [2]]]", "[1]"]).unwrap_err().to_string().contains("like[2]"));
    }

    #[test]
    fn timestamps_parse() {
        let mut rng = Rng(2);
        for _ in 0..200 {
            crate::parse::timestamp(&timestamp(&mut rng)).unwrap();
        }
    }
}
