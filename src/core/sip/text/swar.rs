//! Class scans over a run of class characters.
//!
//! `qdtext` runs (display names, quoted parameter values such as `+sip.instance`) are long, so
//! they are scanned eight bytes at a time in a `u64` ("SIMD within a register"): each step
//! flags the bytes that may end the run with a few subtractions and masks and finds the first
//! flagged one with a trailing-zero count. A flagged byte that is `qdtext` after all (HT, CR,
//! LF) is looked up in the class table, so the result is exactly that of the table alone.
//! Other classes are scanned through the table four bytes per step.

use super::class::in_class;

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// Bit 7 of a byte of the result is set where that byte of `x` is zero. Exact for the lowest
/// zero byte; a byte above one may be flagged too (the subtraction borrows), which only ever
/// adds flags after the first true one.
#[inline(always)]
const fn zero_bytes(x: u64) -> u64 {
    x.wrapping_sub(ONES) & !x & HIGH
}

/// Bit 7 of a byte of the result is set where that byte of `x` is below `n` (`n` at most
/// 0x80). Exact for the lowest flagged byte, as for [`zero_bytes`].
#[inline(always)]
pub(crate) const fn bytes_below(x: u64, n: u8) -> u64 {
    x.wrapping_sub(ONES * n as u64) & !x & HIGH
}

/// Bit 7 of a byte of the result is set where that byte of `x` equals `b`. Exact for the
/// lowest flagged byte, as for [`zero_bytes`].
#[inline(always)]
pub(crate) const fn bytes_equal(x: u64, b: u8) -> u64 {
    zero_bytes(x ^ (ONES * b as u64))
}

/// Folds the ASCII upper-case letters of a word to lower case: bit 5 is set in every byte
/// whose bit 6 is set. Compared with a word of lower-case letters, digits and `-./:+`, the
/// folded byte equals the wanted byte exactly when the byte is that letter in either case,
/// or that other byte: a byte with bit 6 set folds to a byte with bit 6 set, which among the
/// wanted bytes only a letter has, and a byte with bit 6 clear is left as it is.
#[inline(always)]
pub(crate) const fn fold_word(x: u64) -> u64 {
    x | ((x >> 1) & (ONES * 0x20))
}

/// The eight bytes of `s` from `s[i]` as a little-endian word. Fewer than eight left: the
/// last eight of `s` shifted down so that `s[i]` is the lowest byte, the bytes past the end
/// reading as zero. `None` if `i` is past the end or `s` is shorter than eight bytes.
#[inline(always)]
pub(crate) fn word_at(s: &[u8], i: usize) -> Option<u64> {
    if let Some(c) = s.get(i..).and_then(<[u8]>::first_chunk::<8>) {
        return Some(u64::from_le_bytes(*c));
    }
    if i >= s.len() {
        return None;
    }
    // The shift is 1 to 7 bytes: s.len() - 8 < i < s.len().
    let c = s.last_chunk::<8>()?;
    Some(u64::from_le_bytes(*c) >> (8 * (i + 8 - s.len())))
}

/// Index of the lowest flagged byte of a non-zero flag word, counted from the word's start.
#[inline(always)]
pub(crate) const fn first_flagged(flags: u64) -> usize {
    (flags.trailing_zeros() / 8) as usize
}

/// Flags (bit 7) the bytes of `x` that end a run of `qdtext` (§25.1) or may: the controls,
/// `"`, `\` and DEL. Bytes from 0x80 up (UTF8-NONASCII) are never flagged. The lowest flag is
/// exact (see [`zero_bytes`]).
#[inline(always)]
pub(super) const fn qdtext_stops(x: u64) -> u64 {
    let control = x.wrapping_sub(ONES * 0x20) & !x & HIGH;
    control
        | zero_bytes(x ^ (ONES * b'"' as u64))
        | zero_bytes(x ^ (ONES * b'\\' as u64))
        | zero_bytes(x ^ (ONES * 0x7f))
}

/// Index of the first byte at or after `i` that is not in `class`, or `s.len()` (`i` itself
/// if it is past the end). `stops` must flag every byte that is not in `class`, and its lowest
/// flag must be a byte it means to flag.
#[inline(always)]
pub(super) fn span_flagged(
    s: &[u8],
    mut i: usize,
    class: u16,
    stops: impl Fn(u64) -> u64,
) -> usize {
    let n = s.len();
    loop {
        let x = match s.get(i..).and_then(<[u8]>::first_chunk::<8>) {
            Some(c) => u64::from_le_bytes(*c),
            None if i >= n => return i,
            None => match s.last_chunk::<8>() {
                // Fewer than eight bytes are left: the last eight of `s`, shifted down so that
                // `s[i]` is the lowest byte. The shift is 1 to 7 bytes (n - 8 < i < n); the
                // bytes shifted in are zero, which is flagged, and lie past the end.
                Some(c) => u64::from_le_bytes(*c) >> (8 * (i + 8 - n)),
                None => return span_bytes(s, i, class),
            },
        };
        let flagged = stops(x);
        if flagged == 0 {
            i += 8;
            continue;
        }
        i += (flagged.trailing_zeros() / 8) as usize;
        match s.get(i) {
            Some(&b) if in_class(b, class) => i += 1,
            _ => return i,
        }
    }
}

/// [`span_flagged`] with table lookups only: four bytes per step while four are left, so that
/// the loop's own bookkeeping is paid once per four bytes.
#[inline(always)]
pub(super) fn span_bytes(s: &[u8], mut i: usize, class: u16) -> usize {
    while let Some(c) = s.get(i..).and_then(<[u8]>::first_chunk::<4>) {
        if !in_class(c[0], class) {
            return i;
        }
        if !in_class(c[1], class) {
            return i + 1;
        }
        if !in_class(c[2], class) {
            return i + 2;
        }
        if !in_class(c[3], class) {
            return i + 3;
        }
        i += 4;
    }
    while let Some(&b) = s.get(i) {
        if !in_class(b, class) {
            break;
        }
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::super::class::QDTEXT;
    use super::*;

    #[test]
    fn stops_agree_with_the_class() {
        for b in 0..=255u8 {
            // Alone among bytes that are not flagged, so the flag is exact.
            for other in [b'a', 0xff] {
                let x = u64::from_le_bytes([other, other, other, b, other, other, other, other]);
                let flagged = qdtext_stops(x) != 0;
                let stop = !matches!(b, 0x20 | 0x21 | 0x23..=0x5b | 0x5d..=0x7e | 0x80..=0xff);
                assert_eq!(flagged, stop, "{b:#x}");
                if stop {
                    assert_eq!(qdtext_stops(x).trailing_zeros() / 8, 3, "{b:#x}");
                }
            }
        }
    }

    #[test]
    fn spans_agree_with_the_table() {
        let text: &[u8] = b"\"Alice \xc3\xa9 Meyer\\\" x\r\n y\"\x00\"\x7f\t\"";
        for i in 0..text.len() {
            for end in i..=text.len() {
                let s = &text[..end];
                let want = span_bytes(s, i, QDTEXT);
                let got = span_flagged(s, i, QDTEXT, qdtext_stops);
                assert_eq!(got, want, "{i} {end}");
            }
        }
    }
}
