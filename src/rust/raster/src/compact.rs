//! Drawings as the renderer reads them: JSON text, or a *record*, the binary form the stroke
//! index stores (written once at index time, so that a batch parses no JSON).
//!
//! A record is one tag byte, then:
//! - [`COMPACT`]: the stroke count, then per stroke its point count (both LEB128 varints), its x
//!   bytes and its y bytes. Only for drawings that it holds *exactly*: every coordinate an integer
//!   0..=255 and the JSON text the canonical one ([`canonical_json`], the dataset's own spacing),
//!   so that the text can be given back byte for byte and the strokes are the same numbers.
//! - [`JSON`]: the drawing's text as it is (coordinates outside 0..255, fractions, other spacing,
//!   or text that is not a valid drawing, whose error then shows when it is rendered).
use crate::parse::{parse_into, ParseError, Points};
use std::borrow::Cow;

/// Tag of a record holding coordinates as bytes.
pub const COMPACT: u8 = 0;
/// Tag of a record holding the drawing's JSON text verbatim.
pub const JSON: u8 = 1;

/// One drawing to render.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drawing<'a> {
    Json(&'a str),
    Record(&'a [u8]),
}

/// What the renderer accepts as a drawing: any text (JSON), or a [`Drawing`]; wrapped in
/// [`Mirrored`], with its own mirror flag.
pub trait AsDrawing {
    fn as_drawing(&self) -> Drawing<'_>;

    /// Whether to draw this drawing mirrored (see [`Mirrored`]); every drawing is when the
    /// options' `mirror` is set.
    fn mirrored(&self) -> bool {
        false
    }
}

/// A drawing with its own mirror flag, so that one batch can mirror some drawings and not others.
///
/// A mirrored drawing is the exact horizontal mirror image, pixel for pixel, of the drawing drawn
/// plainly, within the drawing's own extent: with `e` the last pixel column that the plain
/// drawing inks (coverage above 0, so the same column in every encoding; none for a drawing
/// without ink, which stays blank), pixel columns `0..=e` are reversed in every row and channel
/// (column `x` shows what column `e - x` showed) and the columns after `e`, blank, stay blank.
/// The Quick, Draw! drawings are aligned to the left (their smallest x is 0, so their ink reaches
/// column 0): mirrored, their ink still spans columns 0 to `e`, aligned as the training drawings
/// are. It costs one index computation per inked pixel when the drawing is moved out of its tile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mirrored<D> {
    pub drawing: D,
    pub mirror: bool,
}

impl<D: AsDrawing> AsDrawing for Mirrored<D> {
    fn as_drawing(&self) -> Drawing<'_> {
        self.drawing.as_drawing()
    }

    fn mirrored(&self) -> bool {
        self.mirror
    }
}

impl<T: AsRef<str> + ?Sized> AsDrawing for T {
    fn as_drawing(&self) -> Drawing<'_> {
        Drawing::Json(self.as_ref())
    }
}

impl AsDrawing for Drawing<'_> {
    fn as_drawing(&self) -> Drawing<'_> {
        *self
    }
}

impl<'a> Drawing<'a> {
    /// The strokes into `points`, replacing what they held.
    pub(crate) fn read_into(self, points: &mut Points) -> Result<(), ParseError> {
        match self {
            Drawing::Json(text) => parse_into(text, points),
            Drawing::Record(record) => match record.split_first() {
                Some((&COMPACT, body)) => decode_compact(body, points),
                Some((&JSON, text)) => parse_into(record_text(text)?, points),
                _ => Err(damaged()),
            },
        }
    }

    /// The number of strokes, as [`crate::parse_drawing`] counts them (the `n_strokes` side
    /// feature); a compact record says it in its first varint, without decoding a point.
    pub fn stroke_count(self) -> Result<usize, ParseError> {
        if let Drawing::Record(record) = self {
            if let Some((&COMPACT, mut body)) = record.split_first() {
                return usize::try_from(read_varint(&mut body)?).map_err(|_| damaged());
            }
        }
        let mut points = Points::default();
        self.read_into(&mut points)?;
        Ok(points.stroke_count())
    }

    /// The drawing's JSON text, as it was given to [`RecordEncoder::encode`].
    pub fn json(self) -> Result<Cow<'a, str>, ParseError> {
        match self {
            Drawing::Json(text) => Ok(Cow::Borrowed(text)),
            Drawing::Record(record) => match record.split_first() {
                Some((&COMPACT, body)) => {
                    let mut points = Points::default();
                    decode_compact(body, &mut points)?;
                    Ok(Cow::Owned(canonical_json(&points)))
                }
                Some((&JSON, text)) => record_text(text).map(Cow::Borrowed),
                _ => Err(damaged()),
            },
        }
    }
}

fn damaged() -> ParseError {
    ParseError::new("the stroke index holds a damaged drawing record (rebuild it with index_doodles(rebuild = TRUE))")
}

fn record_text(bytes: &[u8]) -> Result<&str, ParseError> {
    std::str::from_utf8(bytes).map_err(|_| damaged())
}

/// Writes drawings' records, reusing its buffer from one drawing to the next.
#[derive(Debug, Default)]
pub struct RecordEncoder {
    points: Points,
}

impl RecordEncoder {
    /// Appends the record of the drawing `json` to `out`; true when it is [`COMPACT`].
    pub fn encode(&mut self, json: &str, out: &mut Vec<u8>) -> bool {
        let start = out.len();
        let points = &mut self.points;
        let compact = parse_into(json, points).is_ok() && {
            out.push(COMPACT);
            encode_compact(points, out) && canonical_json(points) == json
        };
        if !compact {
            out.truncate(start);
            out.push(JSON);
            out.extend_from_slice(json.as_bytes());
        }
        compact
    }
}

/// Whether `value` is a byte, exactly (not -0.0, not 3.5).
fn as_byte(value: f64) -> Option<u8> {
    let byte = value as u8;
    (f64::from(byte).to_bits() == value.to_bits()).then_some(byte)
}

/// The compact body of `points`; false (with `out` partly written) when a value is not a byte.
fn encode_compact(points: &Points, out: &mut Vec<u8>) -> bool {
    push_varint(out, points.stroke_count() as u64);
    for (x, y) in points.strokes() {
        push_varint(out, x.len() as u64);
        for axis in [x, y] {
            for &value in axis {
                match as_byte(value) {
                    Some(byte) => out.push(byte),
                    None => return false,
                }
            }
        }
    }
    true
}

fn decode_compact(mut body: &[u8], points: &mut Points) -> Result<(), ParseError> {
    points.clear();
    let strokes = read_varint(&mut body)?;
    for _ in 0..strokes {
        let n = usize::try_from(read_varint(&mut body)?).map_err(|_| damaged())?;
        if body.len() < n.saturating_mul(2) {
            return Err(damaged());
        }
        let (x, rest) = body.split_at(n);
        let (y, rest) = rest.split_at(n);
        points.push_stroke(x.iter().map(|&v| f64::from(v)), y.iter().map(|&v| f64::from(v)));
        body = rest;
    }
    if body.is_empty() {
        Ok(())
    } else {
        Err(damaged())
    }
}

fn push_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn read_varint(body: &mut &[u8]) -> Result<u64, ParseError> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = body.split_first().ok_or_else(damaged)?;
        *body = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            // One spelling per number (no trailing zero groups, nothing past 64 bits), as written.
            let overlong = byte == 0 && shift > 0;
            return if overlong || (shift == 63 && byte > 1) { Err(damaged()) } else { Ok(value) };
        }
    }
    Err(damaged())
}

/// The dataset's spelling of a drawing: `[[[x, x, ...], [y, y, ...]], ...]`, integers only.
fn canonical_json(points: &Points) -> String {
    use std::fmt::Write;
    let mut text = String::with_capacity(16 + points.len() * 9);
    text.push('[');
    for (k, (x, y)) in points.strokes().enumerate() {
        text.push_str(if k == 0 { "[" } else { ", [" });
        for (a, axis) in [x, y].into_iter().enumerate() {
            text.push_str(if a == 0 { "[" } else { ", [" });
            for (i, value) in axis.iter().enumerate() {
                let _ = write!(text, "{}{}", if i == 0 { "" } else { ", " }, *value as u8);
            }
            text.push(']');
        }
        text.push(']');
    }
    text.push(']');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record_of(json: &str) -> (Vec<u8>, bool) {
        let mut out = Vec::new();
        let compact = RecordEncoder::default().encode(json, &mut out);
        (out, compact)
    }

    type Strokes = Vec<(Vec<f64>, Vec<f64>)>;

    fn strokes_of(drawing: Drawing<'_>) -> Result<Strokes, ParseError> {
        let mut points = Points::default();
        drawing.read_into(&mut points)?;
        Ok(points.strokes().map(|(x, y)| (x.to_vec(), y.to_vec())).collect())
    }

    #[test]
    fn canonical_drawings_become_bytes_and_come_back_exactly() {
        for json in ["[[[0, 21, 255], [162, 0, 7]], [[228], [182]]]", "[]", "[[[], []]]", "[[[5], [6]], [[], []]]"] {
            let (record, compact) = record_of(json);
            assert!(compact, "{json}");
            assert_eq!(record[0], COMPACT);
            assert_eq!(Drawing::Record(&record).json().unwrap(), json);
            assert_eq!(strokes_of(Drawing::Record(&record)), strokes_of(Drawing::Json(json)));
        }
        // Three points in two strokes: tag, count, then (n, x.., y..) per stroke.
        assert_eq!(record_of("[[[1, 2], [3, 4]], [[5], [6]]]").0, vec![COMPACT, 2, 2, 1, 2, 3, 4, 1, 5, 6]);
    }

    #[test]
    fn stroke_counts_agree_on_every_form_of_a_drawing() {
        for (json, strokes) in
            [("[[[1, 2], [3, 4]], [[5], [6]]]", 2), ("[]", 0), ("[[[], []]]", 1), ("[[[0.5, 2], [3, 4]]]", 1)]
        {
            let (record, _) = record_of(json);
            assert_eq!(Drawing::Record(&record).stroke_count().unwrap(), strokes, "{json}");
            assert_eq!(Drawing::Json(json).stroke_count().unwrap(), strokes, "{json}");
            assert_eq!(crate::parse_drawing(json).unwrap().len(), strokes, "{json}");
        }
        assert!(Drawing::Json("[[[1, 2], [3]]]").stroke_count().is_err());
        assert!(Drawing::Record(&[COMPACT]).stroke_count().is_err());
    }

    #[test]
    fn drawings_bytes_cannot_hold_are_kept_as_text() {
        for json in [
            "[[[0, 256], [1, 2]]]",
            "[[[0.5, 2], [1, 2]]]",
            "[[[-1, 2], [1, 2]]]",
            "[[[-0, 2], [1, 2]]]",
            "[[[1,2], [1, 2]]]",
            "[[[1, 2], [1, 2]]] ",
            "[[[1.0, 2], [1, 2]]]",
            "[[[1, 2], [1]]]",
            "not json",
        ] {
            let (record, compact) = record_of(json);
            assert!(!compact, "{json}");
            assert_eq!(record[0], JSON);
            assert_eq!(Drawing::Record(&record).json().unwrap(), json);
            assert_eq!(strokes_of(Drawing::Record(&record)), strokes_of(Drawing::Json(json)));
        }
    }

    #[test]
    fn long_strokes_use_longer_counts() {
        let xs: Vec<String> = (0..300).map(|i| (i % 256).to_string()).collect();
        let json = format!("[[[{}], [{}]]]", xs.join(", "), xs.join(", "));
        let (record, compact) = record_of(&json);
        assert!(compact);
        assert_eq!(&record[..4], &[COMPACT, 1, 0xac, 0x02]);
        assert_eq!(record.len(), 4 + 600);
        assert_eq!(Drawing::Record(&record).json().unwrap(), json);
    }

    #[test]
    fn damaged_records_are_errors() {
        let (record, _) = record_of("[[[1, 2], [3, 4]]]");
        let mut longer = record.clone();
        longer.push(9);
        let mut bad_tag = record.clone();
        bad_tag[0] = 7;
        for damaged in
            [&[][..], &record[..record.len() - 1], &longer, &bad_tag, &[COMPACT, 0xff][..], &[JSON, 0xff][..]]
        {
            let err = strokes_of(Drawing::Record(damaged)).unwrap_err();
            assert!(err.to_string().contains("damaged drawing record"), "{damaged:?}: {err}");
        }
        // A count spelled with a needless zero group is not one the encoder writes.
        assert!(strokes_of(Drawing::Record(&[COMPACT, 0x81, 0x00, 1, 5, 6])).is_err());
        assert!(strokes_of(Drawing::Record(&[COMPACT, 0x01, 1, 5, 6])).is_ok());
        // A huge count cannot make it allocate or read out of bounds.
        let mut huge = vec![COMPACT, 1];
        huge.extend([0xff; 9]);
        huge.push(0x01);
        assert!(strokes_of(Drawing::Record(&huge)).is_err());
    }
}
