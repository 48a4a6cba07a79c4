//! A drawing's JSON, both ways: the two parsers (the plain scanner behind `check_drawing`, and
//! serde_json's streaming parse behind `parse_drawing`) accept and reject exactly the same text,
//! and a drawing that parses renders without panicking, whatever its coordinates.
use super::{kind, Target};
use crate::sample::Sample;
use doodles_raster::parse::is_plain_drawing;
use doodles_raster::{
    check_drawing, parse_drawing, render_batch, BatchError, DrawingError, Encoding, Output, ParseError, RenderOptions,
    Stroke,
};
use serde_json::Value;

pub(super) struct Drawing;

impl Target for Drawing {
    fn name(&self) -> &'static str {
        "drawing"
    }

    /// Long enough for more strokes than a tile has inks.
    fn max_len(&self) -> usize {
        1 << 20
    }

    fn tokens(&self) -> &'static [&'static [u8]] {
        &[b"[[", b"]]", b"[[[", b"]]]", b"], [", b"]], [[", b"[[[0], [0]]]", b"[[0, 1], [2, 3]], ", b"1.5", b"-300"]
    }

    fn seeds(&self, sample: &Sample) -> Vec<Vec<u8>> {
        let drawings = sample.drawings();
        let first = &drawings[0];
        let strokes = |strokes: &[(Vec<f64>, Vec<f64>)]| {
            serde_json::to_string(&strokes.iter().map(|(x, y)| [x, y]).collect::<Vec<_>>()).expect("finite numbers")
        };
        let edges = vec![-1e308, f64::MAX, f64::MIN_POSITIVE, 5e-324, -0.0, 1e15, -300.0, 511.75, 255.5];
        let mut reversed = edges.clone();
        reversed.reverse();
        let shifted: Vec<_> = parse_drawing(first)
            .expect("the sample's drawings parse")
            .into_iter()
            .map(|s| (s.x.iter().map(|x| x + 0.25).collect(), s.y.iter().map(|y| y * -1.5).collect()))
            .collect();
        let mut seeds: Vec<String> = vec![
            strokes(&shifted),
            strokes(&[(edges.clone(), reversed.clone()), (vec![f64::MAX, -f64::MAX], vec![-f64::MAX, f64::MAX])]),
            // More strokes, and more segments, than a tile can tell apart by ink (65,536).
            format!("[{}[[1],[2]]]", "[[1],[2]],".repeat(65_536)),
            strokes(&[((0..70_000).map(|i| f64::from(i % 256)).collect(), vec![128.0; 70_000])]),
            format!("{}{}", "[".repeat(200), "]".repeat(200)),
            first.replace(", ", " , \n\t"),
            first[..first.len() / 2].to_string(),
            first.replacen(']', "],", 1),
            format!("{first} x"),
            "[]".to_string(),
            " ".to_string(),
        ];
        seeds.extend(drawings);
        seeds.into_iter().map(String::into_bytes).collect()
    }

    fn run(&self, input: &[u8], kinds: &mut Vec<String>) {
        // The parsers take text: the loader has checked the UTF-8 already.
        let text = String::from_utf8_lossy(input);
        let (parsed_kind, parsed) = check_drawing_parsers(&text, is_plain_drawing);
        kinds.push(parsed_kind);
        kinds.push(render(&text, &parsed, input));
    }
}

/// Checks that the drawing parsers agree on `text` and returns the kind of outcome and the
/// strokes: what `plain` (the plain scanner; a parameter so that a test can show a wrong one is
/// caught) accepts, `parse_drawing` accepts; `check_drawing` says what `parse_drawing` says,
/// error message included; and `parse_drawing` accepts exactly the drawings of a reference
/// built on `serde_json::Value`, with the same numbers. Panics otherwise.
fn check_drawing_parsers(text: &str, plain: fn(&[u8]) -> bool) -> (String, Result<Vec<Stroke>, ParseError>) {
    let parsed = parse_drawing(text);
    let checked = check_drawing(text);
    assert_eq!(checked, parsed.clone().map(drop), "check_drawing and parse_drawing disagree on {text:?}");
    let is_plain = plain(text.as_bytes());
    assert!(!is_plain || parsed.is_ok(), "the plain scanner accepts {text:?}, parse_drawing says {parsed:?}");
    let reference = reference(text);
    match (&parsed, &reference) {
        (Ok(strokes), Some(expected)) => {
            let bits = |strokes: &[Stroke]| -> Vec<Vec<u64>> {
                strokes.iter().flat_map(|s| [&s.x, &s.y]).map(|v| v.iter().map(|x| x.to_bits()).collect()).collect()
            };
            assert_eq!(bits(strokes), bits(expected), "parse_drawing reads other numbers than serde_json in {text:?}");
        }
        (Err(_), None) => {}
        _ => panic!("parse_drawing says {parsed:?} where serde_json's Value says {reference:?} for {text:?}"),
    }
    let kind = match &parsed {
        Ok(_) if is_plain => "plain".to_string(),
        Ok(_) => "parsed".to_string(),
        Err(err) => kind("refused", &err.to_string()),
    };
    (kind, parsed)
}

/// The drawing in `text` read through a `serde_json::Value`: an array of strokes, each exactly
/// two arrays of numbers of equal length.
fn reference(text: &str) -> Option<Vec<Stroke>> {
    let value: Value = serde_json::from_str(text).ok()?;
    let numbers = |axis: &Value| -> Option<Vec<f64>> { axis.as_array()?.iter().map(Value::as_f64).collect() };
    let stroke = |stroke: &Value| match stroke.as_array()?.as_slice() {
        [x, y] => Some(Stroke { x: numbers(x)?, y: numbers(y)? }).filter(|s| s.x.len() == s.y.len()),
        _ => None,
    };
    value.as_array()?.iter().map(stroke).collect()
}

/// Renders `text` with options that depend on the input (so that a replay renders the same way)
/// and checks that `render_batch` refuses exactly what `parse_drawing` refuses, with its error.
fn render(text: &str, parsed: &Result<Vec<Stroke>, ParseError>, input: &[u8]) -> String {
    let hash = input.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3));
    let pick = |shift: u32, n: u64| ((hash >> shift) % n) as usize;
    // 300 pixels make coordinates past about 1.5e308 overflow to infinity when scaled. Not 4096:
    // one drawing at that side takes 8 tiles of coverage (134 MB) and 0.2 to 1 s.
    let side = [1, 2, 28, 64, 256, 300][pick(8, 6)];
    let encoding = [Encoding::Gray, Encoding::Hue, Encoding::Order, Encoding::Point, Encoding::Stack][pick(16, 5)];
    // The cost follows the inked area: wide lines on many points take seconds, rightly.
    let points: usize = parsed.as_ref().map_or(0, |strokes| strokes.iter().map(|s| s.x.len()).sum());
    let line_width = [0.01, 1.0, 3.0, 17.5, 256.0][pick(24, if points > 4096 { 3 } else { 5 })];
    let options = RenderOptions::new(side, encoding, line_width, pick(32, 2) == 0).expect("valid options");
    let n = options.values_per_drawing();
    let drawings = [text];
    let result = match pick(40, 3) {
        0 => render_batch(&drawings, &options, Output::Uint8(&mut vec![0; n]), 1),
        1 => render_batch(&drawings, &options, Output::Float32 { out: &mut vec![0.0; n], imagenet: true }, 1),
        _ => render_batch(&drawings, &options, Output::RArray(&mut vec![0.0; n]), 1),
    };
    match (parsed, result) {
        (Ok(_), Ok(())) => "rendered".to_string(),
        (Ok(_), Err(BatchError::Drawing { error: DrawingError::TooManyInks(_), .. })) => "too many inks".to_string(),
        (Err(expected), Err(BatchError::Drawing { error: DrawingError::Parse(err), .. })) if *expected == err => {
            "render refused".to_string()
        }
        (parsed, result) => panic!("render_batch says {result:?} where parse_drawing says {parsed:?} for {text:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[should_panic(expected = "the plain scanner accepts")]
    fn a_scanner_that_accepts_too_much_is_caught() {
        let _ = check_drawing_parsers("[[[1], [2, 3]]]", |_| true);
    }
}
