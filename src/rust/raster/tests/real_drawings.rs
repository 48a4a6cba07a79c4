//! The public API on real drawings: the 750 of the sample's test_simplified.csv shipped in the
//! package (inst/extdata), checked against a brute-force geometry that does not use the renderer.
use doodles_raster::{
    parse_drawing, render_batch, render_tiles, BatchError, Encoding, Layout, Output, Prefetch, RenderOptions,
};

fn sample_drawings() -> Vec<String> {
    // Read at run time: the shared target directory may hold a test binary compiled from another
    // checkout of the package (its compile-time path can be gone).
    let crate_dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string());
    let path = format!("{crate_dir}/../../../inst/extdata/test_simplified.csv");
    let text = std::fs::read_to_string(path).expect("the sample ships with the package");
    // key_id,countrycode,"drawing": the drawing is the only quoted field and holds no quotes.
    text.lines()
        .skip(1)
        .map(|line| {
            let start = line.find('"').expect("quoted drawing") + 1;
            let end = line.rfind('"').expect("quoted drawing");
            line[start..end].to_string()
        })
        .collect()
}

fn options(side: usize, encoding: Encoding, antialias: bool) -> RenderOptions {
    RenderOptions::new(side, encoding, 3.0, antialias).unwrap()
}

fn render(drawings: &[String], options: &RenderOptions, threads: usize) -> Vec<f64> {
    let mut out = vec![f64::NAN; drawings.len() * options.values_per_drawing()];
    render_batch(drawings, options, Output::RArray(&mut out), threads).unwrap();
    out
}

/// Distance from `q` to the segment `a`-`b`, written independently of the renderer.
fn distance(q: (f64, f64), a: (f64, f64), b: (f64, f64)) -> f64 {
    let along = |t: f64| (a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1));
    let length = ((b.0 - a.0).powi(2) + (b.1 - a.1).powi(2)).sqrt();
    let t = if length == 0.0 {
        0.0
    } else {
        (((q.0 - a.0) * (b.0 - a.0) + (q.1 - a.1) * (b.1 - a.1)) / length / length).clamp(0.0, 1.0)
    };
    let p = along(t);
    ((q.0 - p.0).powi(2) + (q.1 - p.1).powi(2)).sqrt()
}

#[test]
fn every_sample_drawing_is_inked_exactly_within_the_radius() {
    let drawings = sample_drawings();
    assert_eq!(drawings.len(), 750);
    for side in [256, 128, 77] {
        let options = options(side, Encoding::Gray, false);
        let out = render(&drawings, &options, 2);
        let n = drawings.len();
        let f = side as f64 / 256.0;
        let radius = options.radius();
        for (i, drawing) in drawings.iter().enumerate() {
            let segments: Vec<((f64, f64), (f64, f64))> = parse_drawing(drawing)
                .unwrap()
                .iter()
                .flat_map(|s| {
                    let points: Vec<(f64, f64)> =
                        s.x.iter().zip(&s.y).map(|(x, y)| ((x + 0.5) * f, (y + 0.5) * f)).collect();
                    let pairs: Vec<_> = if points.len() == 1 {
                        vec![(points[0], points[0])]
                    } else {
                        points.windows(2).map(|w| (w[0], w[1])).collect()
                    };
                    pairs
                })
                .collect();
            // The distance from each pixel centre to the drawing, by each segment's bounding box
            // widened by the radius (farther centres stay at infinity).
            let mut nearest = vec![f64::INFINITY; side * side];
            let reach = radius + 1.0;
            for &(a, b) in &segments {
                let columns =
                    (a.0.min(b.0) - reach).max(0.0) as usize..((a.0.max(b.0) + reach).max(0.0) as usize).min(side);
                for x in columns {
                    let rows =
                        (a.1.min(b.1) - reach).max(0.0) as usize..((a.1.max(b.1) + reach).max(0.0) as usize).min(side);
                    for y in rows {
                        let d = distance((x as f64 + 0.5, y as f64 + 0.5), a, b);
                        nearest[y + side * x] = nearest[y + side * x].min(d);
                    }
                }
            }
            for x in 0..side {
                for y in 0..side {
                    let (value, d) = (out[i + n * (y + side * x)], nearest[y + side * x]);
                    if value == 0.0 {
                        assert!(d <= radius + 1e-6, "drawing {i} side {side}: ({x}, {y}) inked at {d}");
                    } else {
                        assert_eq!(value, 1.0);
                        assert!(d > radius - 1e-6, "drawing {i} side {side}: ({x}, {y}) blank at {d}");
                    }
                }
            }
        }
    }
}

#[test]
fn threads_and_prefetch_give_the_same_batch() {
    let drawings = sample_drawings();
    for (encoding, antialias) in [(Encoding::Gray, false), (Encoding::Hue, true), (Encoding::Stack, false)] {
        let options = options(77, encoding, antialias);
        let one = render(&drawings, &options, 1);
        assert!(one.iter().all(|v| (0.0..=1.0).contains(v)));
        assert_eq!(one, render(&drawings, &options, 2));
        assert_eq!(one, render(&drawings, &options, 3));
        let prefetch = Prefetch::spawn(drawings.clone(), options, Layout::RArray, 2).unwrap();
        let rendered = prefetch.wait().unwrap();
        assert_eq!(rendered.dim(), [750, 77, 77, encoding.channels()]);
        let mut later = vec![f64::NAN; one.len()];
        rendered.write_into(Output::RArray(&mut later), 2).unwrap();
        assert_eq!(one, later);
        // Small batches use smaller groups, which differ with the threads (16 and 8 drawings here).
        let few = &drawings[..40];
        assert_eq!(render(few, &options, 1), render(few, &options, 2));
    }
}

/// Element `(i, y, x, c)` of the column-major R array, in row-major (NHWC) order.
fn transposed(array: &[f64], n: usize, side: usize, channels: usize) -> Vec<f64> {
    let mut nhwc = Vec::with_capacity(array.len());
    for i in 0..n {
        for y in 0..side {
            for x in 0..side {
                for c in 0..channels {
                    nhwc.push(array[i + n * (y + side * (x + side * c))]);
                }
            }
        }
    }
    nhwc
}

#[test]
fn keras_layouts_hold_the_r_array_values_in_row_major_order() {
    let drawings = sample_drawings();
    let encodings = [Encoding::Gray, Encoding::Hue, Encoding::Order, Encoding::Point, Encoding::Stack];
    for (encoding, antialias) in encodings.iter().flat_map(|&e| [(e, false), (e, true)]) {
        // 750 drawings: groups of 64 and a partial last group; 37 drawings: groups of 8.
        for (count, side, threads) in [(750, 64, 2), (37, 30, 3)] {
            let drawings = &drawings[..count];
            let options = options(side, encoding, antialias);
            let expected = transposed(&render(drawings, &options, threads), count, side, options.channels());
            let mut float = vec![f32::NAN; expected.len()];
            render_batch(drawings, &options, Output::Float32 { out: &mut float, imagenet: false }, threads).unwrap();
            assert!(float.iter().zip(&expected).all(|(&f, &e)| f == e as f32), "{encoding:?} {antialias} float32");
            let mut imagenet = vec![f32::NAN; expected.len()];
            render_batch(drawings, &options, Output::Float32 { out: &mut imagenet, imagenet: true }, threads).unwrap();
            assert!(
                imagenet.iter().zip(&expected).all(|(&f, &e)| f == (e * 2.0 - 1.0) as f32),
                "{encoding:?} imagenet"
            );
            let mut bytes = vec![7u8; expected.len()];
            let rendered = render_tiles(drawings, &options, Layout::Nhwc, threads).unwrap();
            rendered.write_into(Output::Uint8(&mut bytes), threads).unwrap();
            assert!(
                bytes.iter().zip(&expected).all(|(&b, &e)| b == (e * 255.0).round_ties_even() as u8),
                "{encoding:?} uint8"
            );
        }
    }
}

#[test]
fn keras_layouts_put_values_at_the_row_major_position() {
    // As below: drawing 2 of 3 has one red dot at row 127, column 0.
    let drawings = ["[]", "[[[0], [255]]]", "[]"];
    let options = options(128, Encoding::Hue, false);
    let mut out = vec![0u8; 3 * options.values_per_drawing()];
    render_batch(&drawings, &options, Output::Uint8(&mut out), 2).unwrap();
    let at = |i: usize, y: usize, x: usize, c: usize| out[((i * 128 + y) * 128 + x) * 3 + c];
    assert_eq!([at(1, 127, 0, 0), at(1, 127, 0, 1), at(1, 127, 0, 2)], [220, 0, 0]);
    assert_eq!(out.iter().filter(|&&v| v != 255).count(), 3);
    assert_eq!(
        render_batch(&drawings, &options, Output::Float32 { out: &mut [0.0; 5], imagenet: false }, 2),
        Err(BatchError::OutputLength { expected: out.len(), actual: 5 })
    );
    // Coverage is laid out for one kind of output: a batch rendered for an R array is refused.
    let rendered = render_tiles(&drawings, &options, Layout::RArray, 2).unwrap();
    assert_eq!(
        rendered.write_into(Output::Uint8(&mut out), 2),
        Err(BatchError::Layout { rendered: Layout::RArray, wanted: Layout::Nhwc })
    );
    // 6 strokes in `order`: inks 5/6 and 1/6 are 212.5 and 42.5, rounded to even as numpy's rint.
    let strokes = "[[[10], [10]], [[50], [10]], [[90], [10]], [[130], [10]], [[170], [10]], [[210], [10]]]";
    let order = RenderOptions::new(64, Encoding::Order, 3.0, false).unwrap();
    let mut bytes = vec![0u8; order.values_per_drawing()];
    render_batch(&[strokes], &order, Output::Uint8(&mut bytes), 1).unwrap();
    let mut inks: Vec<u8> = bytes.iter().copied().filter(|&v| v != 0).collect();
    inks.dedup();
    assert_eq!(inks, [255, 212, 170, 128, 85, 42]);
}

#[test]
fn values_land_at_the_column_major_position() {
    // Drawing 2 of 3 has one dot at x = 0, y = 255 (pixel column 0, row 127 at side 128).
    let drawings = ["[]", "[[[0], [255]]]", "[]"];
    let options = options(128, Encoding::Hue, false);
    let mut out = vec![f64::NAN; 3 * options.values_per_drawing()];
    render_batch(&drawings, &options, Output::RArray(&mut out), 2).unwrap();
    let at = |i: usize, y: usize, x: usize, c: usize| out[i + 3 * (y + 128 * (x + 128 * c))];
    let red = 220.0 / 255.0;
    assert_eq!([at(1, 127, 0, 0), at(1, 127, 0, 1), at(1, 127, 0, 2)], [red, 0.0, 0.0]);
    assert_eq!([at(0, 127, 0, 0), at(2, 127, 0, 0), at(1, 0, 127, 0)], [1.0, 1.0, 1.0]);
    // The dot at (0.25, 127.75) with r = 0.75 inks that one pixel only, in all three channels.
    assert_eq!(out.iter().filter(|&&v| v != 1.0).count(), 3);
}

#[test]
fn the_first_bad_drawing_is_reported_whatever_the_threads() {
    let mut drawings = sample_drawings();
    drawings[700] = "[[[1, 2], [3]]]".to_string();
    drawings[300] = "[[[1, 2], [3, \"4\"]]]".to_string();
    let options = options(64, Encoding::Gray, false);
    let mut out = vec![0.0; drawings.len() * options.values_per_drawing()];
    for threads in [1, 2, 4] {
        match render_batch(&drawings, &options, Output::RArray(&mut out), threads) {
            Err(BatchError::Drawing { index, error }) => {
                assert_eq!(index, 300);
                assert!(error.to_string().contains("expected a number as y value 2 of stroke 1"), "{error}");
            }
            other => panic!("expected a drawing error, got {other:?}"),
        }
    }
    let Err(BatchError::Drawing { index, .. }) = render_tiles(&drawings, &options, Layout::RArray, 2) else {
        panic!("expected an error")
    };
    assert_eq!(index, 300);
    assert_eq!(
        render_batch(&drawings, &options, Output::RArray(&mut out[1..]), 2),
        Err(BatchError::OutputLength { expected: out.len(), actual: out.len() - 1 })
    );
}

/// check_drawing (a fast scan for the plain form, serde_json otherwise) accepts exactly what
/// parse_drawing accepts: on every real drawing and on thousands of damaged copies of them.
#[test]
fn check_drawing_accepts_exactly_what_parse_drawing_accepts() {
    use doodles_raster::check_drawing;
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    let inserts = [b"0", b"1", b"-", b".", b"e", b",", b"[", b"]", b" ", b"\"", b"x"];
    let (mut accepted, mut refused) = (0, 0);
    for drawing in sample_drawings() {
        assert!(check_drawing(&drawing).is_ok());
        for _ in 0..8 {
            let mut bytes = drawing.clone().into_bytes();
            let at = next(bytes.len());
            match next(3) {
                0 => {
                    bytes.remove(at);
                }
                1 => bytes.insert(at, inserts[next(inserts.len())][0]),
                _ => bytes[at] = inserts[next(inserts.len())][0],
            }
            let damaged = String::from_utf8(bytes).unwrap();
            let expected = parse_drawing(&damaged).map(drop);
            assert_eq!(check_drawing(&damaged), expected, "{damaged}");
            if expected.is_ok() {
                accepted += 1
            } else {
                refused += 1
            }
        }
    }
    // Both outcomes were exercised.
    assert!(accepted > 100 && refused > 100, "accepted {accepted}, refused {refused}");
}
