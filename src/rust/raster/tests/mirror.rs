//! Mirrored rendering on real drawings (the sample's test_simplified.csv): a mirrored drawing is
//! the plain render with pixel columns `0..=e` reversed, `e` its last inked column, and the other
//! columns unchanged, in every encoding and output, hard or antialiased, at several scales.
use doodles_raster::{parse_drawing, render_batch, Encoding, Mirrored, Output, RenderOptions};

fn sample_drawings(count: usize) -> Vec<String> {
    let crate_dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string());
    let path = format!("{crate_dir}/../../../inst/extdata/test_simplified.csv");
    let text = std::fs::read_to_string(path).expect("the sample ships with the package");
    text.lines()
        .skip(1)
        .take(count)
        .map(|line| {
            let start = line.find('"').expect("quoted drawing") + 1;
            let end = line.rfind('"').expect("quoted drawing");
            line[start..end].to_string()
        })
        .collect()
}

const ENCODINGS: [Encoding; 5] = [Encoding::Gray, Encoding::Hue, Encoding::Order, Encoding::Point, Encoding::Stack];

fn background(encoding: Encoding) -> f64 {
    match encoding {
        Encoding::Gray | Encoding::Hue => 1.0,
        _ => 0.0,
    }
}

/// An R array `(n, side, side, channels)`, column-major.
fn render_r<S: doodles_raster::AsDrawing + Sync>(drawings: &[S], options: &RenderOptions) -> Vec<f64> {
    let mut out = vec![f64::NAN; drawings.len() * options.values_per_drawing()];
    render_batch(drawings, options, Output::RArray(&mut out), 2).unwrap();
    out
}

/// Element `(i, y, x, c)` of an R array of `n` drawings.
fn at(out: &[f64], n: usize, side: usize, i: usize, y: usize, x: usize, c: usize) -> f64 {
    out[i + n * (y + side * (x + side * c))]
}

/// The last column of drawing `i` holding a value other than the background, read from the plain
/// render (not from the renderer's own bookkeeping).
fn last_inked_column(out: &[f64], n: usize, side: usize, channels: usize, i: usize, background: f64) -> Option<usize> {
    (0..side).rev().find(|&x| (0..channels).any(|c| (0..side).any(|y| at(out, n, side, i, y, x, c) != background)))
}

/// Checks that drawing `i` of `mirrored` is drawing `i` of `plain` with columns `0..=e` reversed;
/// returns whether the two differ at all.
fn assert_mirror_of(plain: &[f64], mirrored: &[f64], n: usize, options: &RenderOptions, i: usize) -> bool {
    let (side, channels) = (options.side, options.channels());
    let e = last_inked_column(plain, n, side, channels, i, background(options.encoding))
        .unwrap_or_else(|| panic!("drawing {i} inks nothing"));
    let mut differs = false;
    for c in 0..channels {
        for x in 0..side {
            let source = if x <= e { e - x } else { x };
            for y in 0..side {
                let (want, got) = (at(plain, n, side, i, y, source, c), at(mirrored, n, side, i, y, x, c));
                assert_eq!(got, want, "{options:?}: drawing {i} at (y {y}, x {x}, c {c}), e = {e}");
                differs |= got != at(plain, n, side, i, y, x, c);
            }
        }
    }
    differs
}

#[test]
fn a_mirrored_drawing_is_the_plain_one_with_its_inked_columns_reversed() {
    let drawings = sample_drawings(40);
    let n = drawings.len();
    // Every third drawing flagged on its own.
    let flagged: Vec<Mirrored<&str>> =
        drawings.iter().enumerate().map(|(i, d)| Mirrored { drawing: d.as_str(), mirror: i % 3 == 0 }).collect();
    for side in [256, 128, 77] {
        for encoding in ENCODINGS {
            for antialias in [false, true] {
                let options = RenderOptions::new(side, encoding, 3.0, antialias).unwrap();
                let plain = render_r(&drawings, &options);
                let mirrored = render_r(&drawings, &options.with_mirror(true));
                let some = render_r(&flagged, &options);
                let mut differ = 0;
                for i in 0..n {
                    differ += usize::from(assert_mirror_of(&plain, &mirrored, n, &options, i));
                    if i % 3 == 0 {
                        assert_mirror_of(&plain, &some, n, &options, i);
                    } else {
                        let values = options.values_per_drawing();
                        assert!((0..values).all(|v| some[i + n * v] == plain[i + n * v]), "{options:?}: drawing {i}");
                    }
                }
                // No real drawing is its own mirror image.
                assert_eq!(differ, n, "{options:?}");
            }
        }
    }
}

#[test]
fn the_extent_is_where_the_rightmost_point_lands() {
    // Drawings aligned to the left reach column 0 plain and mirrored; the last inked column is
    // the rightmost point's, within the line's reach.
    let drawings = sample_drawings(40);
    let n = drawings.len();
    for side in [256, 64] {
        let options = RenderOptions::new(side, Encoding::Gray, 3.0, true).unwrap();
        let plain = render_r(&drawings, &options);
        let mirrored = render_r(&drawings, &options.with_mirror(true));
        let f = side as f64 / 256.0;
        for (i, drawing) in drawings.iter().enumerate() {
            let xmax = parse_drawing(drawing).unwrap().iter().flat_map(|s| s.x.clone()).fold(f64::MIN, f64::max);
            let e = last_inked_column(&plain, n, side, 1, i, 1.0).unwrap() as f64;
            let point = (xmax + 0.5) * f;
            assert!(e >= point.floor() - 1.0 && e <= (point + options.radius() + 0.5).min(side as f64 - 1.0), "{i}");
            let first = |out: &[f64]| (0..side).find(|&x| (0..side).any(|y| at(out, n, side, i, y, x, 0) != 1.0));
            assert_eq!(first(&plain), Some(0), "drawing {i}");
            assert_eq!(first(&mirrored), Some(0), "drawing {i}");
        }
    }
}

#[test]
fn the_keras_forms_are_mirrored_alike() {
    let drawings = sample_drawings(24);
    let n = drawings.len();
    let flagged: Vec<Mirrored<&String>> =
        drawings.iter().enumerate().map(|(i, d)| Mirrored { drawing: d, mirror: i % 2 == 1 }).collect();
    for (side, encoding, antialias) in
        [(128, Encoding::Stack, true), (64, Encoding::Hue, false), (77, Encoding::Gray, true)]
    {
        let options = RenderOptions::new(side, encoding, 3.0, antialias).unwrap();
        let channels = options.channels();
        let plain = render_r(&drawings, &options);
        let values = n * options.values_per_drawing();
        let (mut bytes, mut mirrored_bytes) = (vec![0u8; values], vec![0u8; values]);
        render_batch(&drawings, &options, Output::Uint8(&mut bytes), 2).unwrap();
        render_batch(&flagged, &options, Output::Uint8(&mut mirrored_bytes), 2).unwrap();
        let (mut floats, mut mirrored_floats) = (vec![0f32; values], vec![0f32; values]);
        render_batch(&drawings, &options, Output::Float32 { out: &mut floats, imagenet: true }, 2).unwrap();
        let mirror_all = options.with_mirror(true);
        render_batch(&drawings, &mirror_all, Output::Float32 { out: &mut mirrored_floats, imagenet: true }, 2).unwrap();
        let nhwc = |i: usize, y: usize, x: usize, c: usize| ((i * side + y) * side + x) * channels + c;
        for i in 0..n {
            let e = last_inked_column(&plain, n, side, channels, i, background(encoding)).unwrap();
            for (y, x, c) in (0..side).flat_map(|y| (0..side).flat_map(move |x| (0..channels).map(move |c| (y, x, c))))
            {
                let source = if x <= e { e - x } else { x };
                assert_eq!(mirrored_floats[nhwc(i, y, x, c)], floats[nhwc(i, y, source, c)]);
                let want = if i % 2 == 1 { bytes[nhwc(i, y, source, c)] } else { bytes[nhwc(i, y, x, c)] };
                assert_eq!(mirrored_bytes[nhwc(i, y, x, c)], want, "{options:?}: drawing {i}");
            }
        }
        assert_ne!(bytes, mirrored_bytes);
    }
}

#[test]
fn a_blank_drawing_stays_blank() {
    let options = RenderOptions::new(64, Encoding::Order, 3.0, true).unwrap().with_mirror(true);
    let out = render_r(&["[]", "[[[0, 100], [50, 50]]]"], &options);
    assert!(out.iter().step_by(2).all(|&v| v == 0.0));
    assert!(out.iter().skip(1).step_by(2).any(|&v| v > 0.0));
}
