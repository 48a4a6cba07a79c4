//! Byte-level mutations, stacked a few at a time: the usual ones of coverage-guided fuzzers (bit
//! flips, inserted, deleted or duplicated ranges, splices of two inputs, interesting integers)
//! and tokens of the input's grammar, repeated to make deep nesting and long numbers.

/// Tokens every target gets: JSON and CSV punctuation, the numbers at the edges of f64, i64 and
/// u64, what is not JSON (NaN, Infinity), escapes and bytes that are not UTF-8.
const COMMON_TOKENS: &[&[u8]] = &[
    b"[",
    b"]",
    b",",
    b"\"",
    b" ",
    b"\t",
    b"\n",
    b"\r\n",
    b"\r",
    b"-",
    b"-0",
    b"0",
    b".",
    b"e",
    b"E+",
    b"e-",
    b"1e309",
    b"-1e309",
    b"1e-400",
    b"4.9e-324",
    b"1.7976931348623157e308",
    b"-1.7976931348623157e308",
    b"NaN",
    b"Infinity",
    b"-Infinity",
    b"nan",
    b"inf",
    b"18446744073709551615",
    b"18446744073709551616",
    b"9223372036854775807",
    b"-9223372036854775808",
    b"-9223372036854775809",
    b"0.5",
    b"255",
    b"256",
    b"65536",
    b"123456789012345678901234567890",
    b"null",
    b"true",
    b"false",
    b"{}",
    b"\\u0000",
    b"\\ud800",
    b"\\\"",
    b"\xff",
    b"\xc3",
    b"\xed\xa0\x80",
    b"\xef\xbb\xbf",
    b"\xc2\xa0",
    b"\0",
];

const INTERESTING: &[u64] =
    &[0, 1, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x1_0000, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff, u64::MAX];

/// A small fast generator (xorshift64*); fuzzing needs speed and a seed to repeat a run, not
/// statistical quality.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Mutates inputs with the common tokens and a target's own.
#[derive(Debug)]
pub struct Mutator {
    pub rng: Rng,
    tokens: Vec<&'static [u8]>,
    max_len: usize,
}

impl Mutator {
    pub fn new(seed: u64, tokens: &[&'static [u8]], max_len: usize) -> Mutator {
        Mutator { rng: Rng::new(seed), tokens: COMMON_TOKENS.iter().chain(tokens).copied().collect(), max_len }
    }

    /// A mutated copy of `base`; `other` is another input to splice from.
    pub fn mutate(&mut self, base: &[u8], other: &[u8]) -> Vec<u8> {
        let mut data = base.to_vec();
        for _ in 0..1 << self.rng.below(4) {
            self.once(&mut data, other);
        }
        data.truncate(self.max_len);
        data
    }

    /// A range of `data` of length 1 or more (short ones far more often), or `None` if empty.
    fn range(&mut self, len: usize) -> Option<(usize, usize)> {
        if len == 0 {
            return None;
        }
        let max = len.min(1 << self.rng.below(16));
        let size = 1 + self.rng.below(max);
        let start = self.rng.below(len - size + 1);
        Some((start, start + size))
    }

    fn once(&mut self, data: &mut Vec<u8>, other: &[u8]) {
        let len = data.len();
        let at = self.rng.below(len + 1);
        match self.rng.below(11) {
            0 if len > 0 => data[at.min(len - 1)] ^= 1 << self.rng.below(8),
            1 if len > 0 => data[at.min(len - 1)] = self.rng.next_u64() as u8,
            2 => data.insert(at, self.rng.next_u64() as u8),
            3 => {
                if let Some((start, end)) = self.range(len) {
                    data.drain(start..end);
                }
            }
            4 => {
                if let Some((start, end)) = self.range(len) {
                    let copy = data[start..end].to_vec();
                    data.splice(at..at, copy);
                }
            }
            5 => {
                let token = *self.rng.pick(&self.tokens);
                data.splice(at..at, token.iter().copied());
            }
            6 => {
                let token = *self.rng.pick(&self.tokens);
                let end = (at + token.len()).min(len);
                data.splice(at..end, token.iter().copied());
            }
            7 => {
                // Splice: this input's head, the other's tail.
                let from = self.rng.below(other.len() + 1);
                data.truncate(at);
                data.extend_from_slice(&other[from..]);
            }
            8 => {
                if let Some((start, end)) = self.range(other.len()) {
                    data.splice(at..at, other[start..end].iter().copied());
                }
            }
            9 => {
                // An interesting integer over 1, 2, 4 or 8 bytes, little or big endian (the
                // sizes, offsets and counts of a zip's headers).
                let width = 1 << self.rng.below(4);
                let value = self.rng.pick(INTERESTING).wrapping_add(self.rng.below(3) as u64).wrapping_sub(1);
                let bytes = if self.rng.below(2) == 0 { value.to_le_bytes() } else { value.to_be_bytes() };
                let bytes = if self.rng.below(2) == 0 { &bytes[..width] } else { &bytes[8 - width..] };
                let end = (at + width).min(len);
                data.splice(at..end, bytes.iter().copied());
            }
            _ => {
                // A token repeated: deep nesting, long digit strings, many strokes.
                let token = *self.rng.pick(&self.tokens);
                let times = 1 << self.rng.below(13);
                let repeated = token.repeat(times.min(self.max_len / token.len().max(1)));
                data.splice(at..at, repeated);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutations_stay_within_the_length_and_repeat_with_the_seed() {
        let run = |seed| {
            let mut mutator = Mutator::new(seed, &[b"[[["], 64);
            let mut input = b"[[[1, 2], [3, 4]]]".to_vec();
            for _ in 0..1000 {
                input = mutator.mutate(&input, b"other input");
                assert!(input.len() <= 64);
            }
            input
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }
}
