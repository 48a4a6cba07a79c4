//! Turning one input record (a CSV record or an ndjson line) into a checked row, or the reason
//! it is rejected. Every field is checked the way the database and the rasterizer will need it.
use csv::ByteRecord;

/// A training drawing, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainRow {
    pub countrycode: Option<String>,
    pub drawing: String,
    pub key_id: i64,
    pub recognized: bool,
    /// Microseconds since the epoch, UTC.
    pub timestamp: i64,
    pub word: String,
}

/// A test drawing, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct TestRow {
    pub key_id: i64,
    pub countrycode: Option<String>,
    pub drawing: String,
}

pub const TRAIN_HEADER: [&str; 6] = ["countrycode", "drawing", "key_id", "recognized", "timestamp", "word"];
pub const TEST_HEADER: [&str; 3] = ["key_id", "countrycode", "drawing"];

fn text<'a>(record: &'a ByteRecord, i: usize, name: &str) -> Result<&'a str, String> {
    std::str::from_utf8(&record[i]).map_err(|e| format!("invalid UTF-8 in field {name} (byte {})", e.valid_up_to()))
}

fn countrycode(value: &str) -> Option<String> {
    (!value.is_empty()).then(|| value.to_string())
}

fn key_id(value: &str) -> Result<i64, String> {
    value.trim().parse::<i64>().map_err(|_| format!("invalid key_id '{}'", shorten(value)))
}

fn recognized(value: &str) -> Result<bool, String> {
    match value {
        "True" | "true" | "TRUE" => Ok(true),
        "False" | "false" | "FALSE" => Ok(false),
        _ => Err(format!("invalid recognized '{}' (expected True or False)", shorten(value))),
    }
}

/// Checks that `drawing` is stroke JSON the rasterizer accepts.
pub fn drawing(value: &str) -> Result<String, String> {
    doodles_raster::check_drawing(value).map_err(|e| format!("invalid drawing: {e}"))?;
    Ok(value.to_string())
}

fn word(value: &str) -> Result<String, String> {
    if value.is_empty() {
        return Err("empty word".to_string());
    }
    Ok(value.to_string())
}

fn shorten(value: &str) -> String {
    if value.chars().count() <= 40 {
        value.to_string()
    } else {
        format!("{}...", value.chars().take(40).collect::<String>())
    }
}

fn field_count(record: &ByteRecord, expected: usize) -> Result<(), String> {
    if record.len() != expected {
        return Err(format!("expected {expected} fields, found {}", record.len()));
    }
    Ok(())
}

/// The header of a CSV file must be exactly the expected one.
pub fn check_header(record: &ByteRecord, expected: &[&str]) -> Result<(), String> {
    let found: Vec<String> = record.iter().map(|f| String::from_utf8_lossy(f).trim().to_string()).collect();
    if found.iter().map(String::as_str).ne(expected.iter().copied()) {
        return Err(format!("header is '{}', expected '{}'", found.join(","), expected.join(",")));
    }
    Ok(())
}

pub fn train_csv(record: &ByteRecord) -> Result<TrainRow, String> {
    field_count(record, 6)?;
    Ok(TrainRow {
        countrycode: countrycode(text(record, 0, "countrycode")?),
        drawing: drawing(text(record, 1, "drawing")?)?,
        key_id: key_id(text(record, 2, "key_id")?)?,
        recognized: recognized(text(record, 3, "recognized")?)?,
        timestamp: timestamp(text(record, 4, "timestamp")?)?,
        word: word(text(record, 5, "word")?)?,
    })
}

pub fn test_csv(record: &ByteRecord) -> Result<TestRow, String> {
    field_count(record, 3)?;
    Ok(TestRow {
        key_id: key_id(text(record, 0, "key_id")?)?,
        countrycode: countrycode(text(record, 1, "countrycode")?),
        drawing: drawing(text(record, 2, "drawing")?)?,
    })
}

/// One line of the dataset's simplified ndjson files.
pub fn train_ndjson(line: &[u8]) -> Result<TrainRow, String> {
    let line = std::str::from_utf8(line).map_err(|e| format!("invalid UTF-8 (byte {})", e.valid_up_to()))?;
    let value: serde_json::Value = serde_json::from_str(line).map_err(|e| format!("invalid JSON: {e}"))?;
    let object = value.as_object().ok_or("a line must be a JSON object")?;
    let field = |name: &str| object.get(name).ok_or_else(|| format!("missing field {name}"));
    let string = |name: &str| -> Result<&str, String> {
        field(name)?.as_str().ok_or_else(|| format!("field {name} must be a string"))
    };
    let key = match field("key_id")? {
        serde_json::Value::Number(n) => n.as_i64().ok_or_else(|| format!("invalid key_id {n}"))?,
        serde_json::Value::String(s) => key_id(s)?,
        other => return Err(format!("invalid key_id {other}")),
    };
    let recognized = field("recognized")?.as_bool().ok_or("field recognized must be true or false")?;
    // Stored as compact JSON text, the form the CSV files' drawings parse to.
    let drawing_text = serde_json::to_string(field("drawing")?).map_err(|e| format!("invalid drawing: {e}"))?;
    Ok(TrainRow {
        countrycode: countrycode(string("countrycode")?),
        drawing: drawing(&drawing_text)?,
        key_id: key,
        recognized,
        timestamp: timestamp(string("timestamp")?)?,
        word: word(string("word")?)?,
    })
}

/// Parses `YYYY-MM-DD HH:MM:SS[.ffffff][ UTC]` (the form of the Kaggle files) to microseconds
/// since the epoch.
pub fn timestamp(value: &str) -> Result<i64, String> {
    let bad = || format!("invalid timestamp '{}'", shorten(value));
    let v = value.trim();
    let v = v.strip_suffix(" UTC").or_else(|| v.strip_suffix('Z')).unwrap_or(v);
    let (date, time) = v.split_once([' ', 'T']).ok_or_else(bad)?;
    let number = |s: &str| -> Result<i64, String> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        s.parse::<i64>().map_err(|_| bad())
    };
    let mut date_parts = date.split('-');
    let (year, month, day) = match (date_parts.next(), date_parts.next(), date_parts.next(), date_parts.next()) {
        (Some(y), Some(m), Some(d), None) if y.len() == 4 => (number(y)?, number(m)?, number(d)?),
        _ => return Err(bad()),
    };
    let (clock, fraction) = time.split_once('.').unwrap_or((time, ""));
    let mut clock_parts = clock.split(':');
    let (hour, minute, second) = match (clock_parts.next(), clock_parts.next(), clock_parts.next(), clock_parts.next())
    {
        (Some(h), Some(m), Some(s), None) => (number(h)?, number(m)?, number(s)?),
        _ => return Err(bad()),
    };
    let micros = if fraction.is_empty() {
        0
    } else {
        if fraction.len() > 9 {
            return Err(bad());
        }
        let digits = number(fraction)?;
        let scale = 10i64.pow(6u32.abs_diff(fraction.len() as u32));
        if fraction.len() <= 6 {
            digits * scale
        } else {
            digits / scale
        }
    };
    let days_in_month = [31, if is_leap(year) { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month[(month - 1) as usize]
        || hour > 23
        || minute > 59
        || second > 60
    {
        return Err(bad());
    }
    let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
    Ok(seconds * 1_000_000 + micros)
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_parse_to_microseconds() {
        assert_eq!(timestamp("1970-01-01 00:00:00"), Ok(0));
        assert_eq!(timestamp("2017-03-11 14:47:44.052420"), Ok(1_489_243_664_052_420));
        assert_eq!(timestamp("2017-03-28 15:30:19.98758 UTC"), Ok(1_490_715_019_987_580));
        assert_eq!(timestamp("2000-02-29 00:00:01.5"), Ok(951_782_401_500_000));
        assert!(timestamp("2017-02-29 00:00:00").is_err());
        assert!(timestamp("yesterday").is_err());
        assert!(timestamp("2017-03-11 25:00:00").is_err());
    }

    #[test]
    fn csv_rows_are_checked() {
        let good = ByteRecord::from(vec!["US", "[[[0,1],[2,3]]]", "12", "True", "2017-01-01 00:00:00", "cat"]);
        let row = train_csv(&good).unwrap();
        assert_eq!(row.key_id, 12);
        assert!(row.recognized);
        let short = ByteRecord::from(vec!["US", "[[[0,1],[2,3]]]"]);
        assert_eq!(train_csv(&short).unwrap_err(), "expected 6 fields, found 2");
        let mut bad_utf8 = ByteRecord::new();
        for f in [&b"US"[..], b"[[[0,1],[2,3]]]", b"1", b"True", b"2017-01-01 00:00:00", b"c\xffat"] {
            bad_utf8.push_field(f);
        }
        assert!(train_csv(&bad_utf8).unwrap_err().contains("UTF-8 in field word"));
        let bad_json = ByteRecord::from(vec!["US", "[[[0,1],[2,3]", "12", "True", "2017-01-01 00:00:00", "cat"]);
        assert!(train_csv(&bad_json).unwrap_err().starts_with("invalid drawing"));
    }

    #[test]
    fn ndjson_lines_become_rows() {
        let line = br#"{"word":"cat","countrycode":"US","timestamp":"2017-03-09 00:28:55.19715 UTC","recognized":true,"key_id":"6372658063654912","drawing":[[[1, 2],[3, 4]]]}"#;
        let row = train_ndjson(line).unwrap();
        assert_eq!(row.drawing, "[[[1,2],[3,4]]]");
        assert_eq!(row.key_id, 6_372_658_063_654_912);
        assert!(train_ndjson(b"{\"word\":1}").is_err());
    }
}
