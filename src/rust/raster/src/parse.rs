//! Drawing JSON to strokes. A drawing is `[[[x1, x2, ...], [y1, y2, ...]], ...]`: an array of
//! strokes, each exactly two arrays of numbers of equal length. The structure is checked while
//! serde_json streams the text, so no intermediate `serde_json::Value` tree is built, and the flat
//! [`Points`] buffers are reused from one drawing to the next by the batch workers.
use serde::de::{self, DeserializeSeed, Deserializer, SeqAccess, Visitor};
use std::fmt;

/// One stroke: its x and y coordinates (same length), in the dataset's 256-pixel units.
#[derive(Debug, Clone, PartialEq)]
pub struct Stroke {
    pub x: Vec<f64>,
    pub y: Vec<f64>,
}

/// Why a drawing could not be read; the message names the stroke and value (1-based).
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    message: String,
}

impl ParseError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        ParseError { message: message.into() }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ParseError {}

/// Parses one drawing into its strokes.
pub fn parse_drawing(json: &str) -> Result<Vec<Stroke>, ParseError> {
    let mut points = Points::default();
    parse_into(json, &mut points)?;
    Ok(points.strokes().map(|(x, y)| Stroke { x: x.to_vec(), y: y.to_vec() }).collect())
}

/// Checks that `json` is a drawing [`parse_drawing`] accepts, without keeping its strokes: the
/// loader checks every row this way, and a buffer reused per thread spares it an allocation per
/// stroke.
pub fn check_drawing(json: &str) -> Result<(), ParseError> {
    if is_plain_drawing(json.as_bytes()) {
        return Ok(());
    }
    thread_local! {
        static POINTS: std::cell::RefCell<Points> = std::cell::RefCell::new(Points::default());
    }
    POINTS.with(|points| parse_into(json, &mut points.borrow_mut()))
}

/// True when `json` is a drawing in the plain form of the dataset's files: brackets, commas,
/// JSON whitespace and integers without sign, fraction or leading zero, with x and y of equal
/// length. Such text is always valid for [`parse_drawing`]; anything else (also every invalid
/// drawing) is left to serde_json, so both accept exactly the same drawings and report the same
/// errors. Public for the fuzzer, which checks that claim.
#[doc(hidden)]
pub fn is_plain_drawing(json: &[u8]) -> bool {
    let mut scan = PlainScanner { text: json, at: 0 };
    scan.drawing() && {
        scan.skip_space();
        scan.at == json.len()
    }
}

struct PlainScanner<'a> {
    text: &'a [u8],
    at: usize,
}

impl PlainScanner<'_> {
    fn skip_space(&mut self) {
        while matches!(self.text.get(self.at), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    /// Skips spaces, then consumes `byte` if it comes next.
    fn eat(&mut self, byte: u8) -> bool {
        self.skip_space();
        let found = self.text.get(self.at) == Some(&byte);
        self.at += usize::from(found);
        found
    }

    /// `[` then items separated by commas then `]`; `item` returns false on a bad item.
    fn list(&mut self, mut item: impl FnMut(&mut Self) -> bool) -> Option<usize> {
        if !self.eat(b'[') {
            return None;
        }
        if self.eat(b']') {
            return Some(0);
        }
        let mut count = 0;
        loop {
            if !item(self) {
                return None;
            }
            count += 1;
            if self.eat(b']') {
                return Some(count);
            }
            if !self.eat(b',') {
                return None;
            }
        }
    }

    /// A JSON integer without sign: `0`, or digits not starting with 0; at most 15 digits, since
    /// serde_json refuses integers past f64's range (309 digits and more) as out of range.
    fn integer(&mut self) -> bool {
        self.skip_space();
        let start = self.at;
        while self.text.get(self.at).is_some_and(u8::is_ascii_digit) {
            self.at += 1;
        }
        let digits = &self.text[start..self.at];
        (1..=15).contains(&digits.len()) && (digits.len() == 1 || digits[0] != b'0')
    }

    fn stroke(&mut self) -> bool {
        let mut lengths = [0; 2];
        let mut axis = 0;
        let arrays = self.list(|scan| {
            if axis == 2 {
                return false;
            }
            lengths[axis] = match scan.list(Self::integer) {
                Some(n) => n,
                None => return false,
            };
            axis += 1;
            true
        });
        arrays == Some(2) && lengths[0] == lengths[1]
    }

    fn drawing(&mut self) -> bool {
        self.list(Self::stroke).is_some()
    }
}

/// All strokes of a drawing in two flat coordinate vectors; stroke `k` spans
/// `ends[k - 1]..ends[k]` (from 0 for the first).
#[derive(Debug, Default)]
pub(crate) struct Points {
    x: Vec<f64>,
    y: Vec<f64>,
    ends: Vec<usize>,
}

impl Points {
    pub(crate) fn stroke_count(&self) -> usize {
        self.ends.len()
    }

    pub(crate) fn strokes(&self) -> impl Iterator<Item = (&[f64], &[f64])> + '_ {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts.zip(self.ends.iter().copied()).map(move |(start, end)| (&self.x[start..end], &self.y[start..end]))
    }

    /// Points in all strokes.
    pub(crate) fn len(&self) -> usize {
        self.x.len()
    }

    pub(crate) fn push_stroke(&mut self, x: impl Iterator<Item = f64>, y: impl Iterator<Item = f64>) {
        self.x.extend(x);
        self.y.extend(y);
        self.ends.push(self.x.len());
    }

    pub(crate) fn clear(&mut self) {
        self.x.clear();
        self.y.clear();
        self.ends.clear();
    }
}

/// Parses `json` into `points`, replacing what they held.
pub(crate) fn parse_into(json: &str, points: &mut Points) -> Result<(), ParseError> {
    points.clear();
    if json.trim().is_empty() {
        return Err(ParseError::new("empty string, expected a JSON array of strokes"));
    }
    let mut deserializer = serde_json::Deserializer::from_str(json);
    let result = DrawingSeed(&mut *points).deserialize(&mut deserializer).and_then(|()| deserializer.end());
    result.map_err(|err| {
        let message = match err.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                format!("invalid JSON: {err}")
            }
            _ => err.to_string(),
        };
        ParseError::new(message)
    })
}

struct DrawingSeed<'a>(&'a mut Points);

impl<'de> DeserializeSeed<'de> for DrawingSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for DrawingSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON array of strokes")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let points = self.0;
        let mut stroke = 1;
        while seq.next_element_seed(StrokeSeed { points: &mut *points, stroke })?.is_some() {
            stroke += 1;
        }
        Ok(())
    }
}

struct StrokeSeed<'a> {
    points: &'a mut Points,
    stroke: usize,
}

impl<'de> DeserializeSeed<'de> for StrokeSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for StrokeSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "stroke {} as [[x...], [y...]]", self.stroke)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let StrokeSeed { points, stroke } = self;
        let missing = |what: &str| de::Error::custom(format!("stroke {stroke} has {what}, expected [[x...], [y...]]"));
        let xs = seq
            .next_element_seed(CoordinatesSeed { out: &mut points.x, stroke, axis: 'x' })?
            .ok_or_else(|| missing("no arrays"))?;
        let ys = seq
            .next_element_seed(CoordinatesSeed { out: &mut points.y, stroke, axis: 'y' })?
            .ok_or_else(|| missing("only one array"))?;
        if seq.next_element::<de::IgnoredAny>()?.is_some() {
            return Err(missing("more than two arrays"));
        }
        if xs != ys {
            return Err(de::Error::custom(format!("stroke {stroke}: x has {xs} values but y has {ys}")));
        }
        points.ends.push(points.x.len());
        Ok(())
    }
}

/// Appends one coordinate array to `out` and returns how many values it had.
struct CoordinatesSeed<'a> {
    out: &'a mut Vec<f64>,
    stroke: usize,
    axis: char,
}

impl<'de> DeserializeSeed<'de> for CoordinatesSeed<'_> {
    type Value = usize;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<usize, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for CoordinatesSeed<'_> {
    type Value = usize;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "an array of numbers as {} of stroke {}", self.axis, self.stroke)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<usize, A::Error> {
        let CoordinatesSeed { out, stroke, axis } = self;
        let mut count = 0;
        while let Some(value) = seq.next_element_seed(NumberSeed { stroke, axis, position: count + 1 })? {
            out.push(value);
            count += 1;
        }
        Ok(count)
    }
}

struct NumberSeed {
    stroke: usize,
    axis: char,
    position: usize,
}

impl<'de> DeserializeSeed<'de> for NumberSeed {
    type Value = f64;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<f64, D::Error> {
        deserializer.deserialize_f64(self)
    }
}

impl<'de> Visitor<'de> for NumberSeed {
    type Value = f64;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a number as {} value {} of stroke {}", self.axis, self.position, self.stroke)
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<f64, E> {
        Ok(value)
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<f64, E> {
        Ok(value as f64)
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<f64, E> {
        Ok(value as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(json: &str) -> String {
        parse_drawing(json).unwrap_err().to_string()
    }

    #[test]
    fn check_drawing_agrees_with_parse_drawing() {
        let cases: [&str; 19] = [
            "[[[1, 2.5, 3], [4, 5, -6]], [[7], [8]]]",
            "[]",
            " [ [ [0,255] ,[ 10 , 3 ] ] ]\n",
            "[[[], []]]",
            "[[[1], [2, 3]]]",
            "[[[1], [2]]",
            "[[[1], [2]]]]",
            "",
            "[[[1], [2], []]]",
            "[[[1]]]",
            "[[[01], [2]]]",
            "[[[1,], [2]]]",
            "[[[1 2], [2]]]",
            "[[[1], [2]],]",
            "[[[1e2], [2]]]",
            "[[[\"1\"], [2]]]",
            "[[[1], [2]]] x",
            "[[[18446744073709551616], [0]]]",
            // Found by the fuzzer: the scanner took this for a drawing, serde_json finds it out of range.
            &format!("[[[1{}], [0]]]", "0".repeat(309)),
        ];
        for json in cases {
            assert_eq!(check_drawing(json), parse_drawing(json).map(drop), "{json}");
        }
        assert!(is_plain_drawing(b" [ [ [0,255] ,[ 10 , 3 ] ] ]\n"));
        assert!(!is_plain_drawing(b"[[[1], [2, 3]]]"));
        assert!(!is_plain_drawing(b"[[[1.5], [2]]]"));
    }

    #[test]
    fn parses_strokes_in_order() {
        let strokes = parse_drawing("[[[1, 2.5, 3], [4, 5, -6]], [[7], [8]], [[], []]]").unwrap();
        assert_eq!(
            strokes,
            vec![
                Stroke { x: vec![1.0, 2.5, 3.0], y: vec![4.0, 5.0, -6.0] },
                Stroke { x: vec![7.0], y: vec![8.0] },
                Stroke { x: vec![], y: vec![] },
            ]
        );
        assert_eq!(parse_drawing(" [ ] ").unwrap(), vec![]);
    }

    #[test]
    fn parses_a_real_drawing() {
        let json = "[[[0, 21, 43, 83, 97, 158, 169, 172], [162, 163, 157, 134, 121, 36, 14, 0]], \
                    [[228, 189, 182, 173, 170], [182, 127, 110, 69, 20]]]";
        let strokes = parse_drawing(json).unwrap();
        assert_eq!(strokes.len(), 2);
        assert_eq!(strokes[0].x[7], 172.0);
        assert_eq!(strokes[1].y, vec![182.0, 127.0, 110.0, 69.0, 20.0]);
    }

    #[test]
    fn reports_each_kind_of_bad_input() {
        assert_eq!(error_of(""), "empty string, expected a JSON array of strokes");
        assert_eq!(error_of("  "), "empty string, expected a JSON array of strokes");
        assert!(error_of("[[[1, 2], [3, 4]]").starts_with("invalid JSON: EOF while parsing"));
        assert!(error_of("[[[1, 2], [3, 4]]] x").starts_with("invalid JSON: trailing characters"));
        assert!(error_of("{\"a\": 1}").contains("expected a JSON array of strokes"));
        assert!(error_of("[1]").contains("expected stroke 1 as [[x...], [y...]]"));
        assert!(error_of("[[[1], [2]], [[1, 2]]]").starts_with("stroke 2 has only one array"));
        assert!(error_of("[[]]").starts_with("stroke 1 has no arrays"));
        assert!(error_of("[[[1], [2], [3]]]").starts_with("stroke 1 has more than two arrays"));
        assert!(error_of("[[[1, 2], [3]]]").starts_with("stroke 1: x has 2 values but y has 1"));
        assert!(error_of("[[[1, 2], [3, \"a\"]]]").contains("expected a number as y value 2 of stroke 1"));
        assert!(error_of("[[[1, null], [3, 4]]]").contains("expected a number as x value 2 of stroke 1"));
        assert!(error_of("[[[1, [2]], [3, 4]]]").contains("expected a number as x value 2 of stroke 1"));
        assert!(error_of("[[5, [3, 4]]]").contains("expected an array of numbers as x of stroke 1"));
    }

    #[test]
    fn a_failed_parse_leaves_no_points_behind() {
        let mut points = Points::default();
        assert!(parse_into("[[[1, 2], [3, 4]], [[5], []]]", &mut points).is_err());
        parse_into("[[[9], [8]]]", &mut points).unwrap();
        assert_eq!(points.strokes().collect::<Vec<_>>(), vec![(&[9.0][..], &[8.0][..])]);
    }
}
