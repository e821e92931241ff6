//! Class scans over a run of class characters.
//!
//! `qdtext` runs (display names, quoted parameter values such as `+sip.instance`) are long, so
//! they are scanned eight bytes at a time in a `u64` ("SIMD within a register"): each step
//! marks the bytes that are certainly `qdtext` with a few additions and masks and finds the
//! first unmarked one with a trailing-zero count. The few `qdtext` bytes the marks leave out
//! (HT, CR, LF) are looked up in the class table, so the result is exactly that of the table
//! alone. Other classes are scanned through the table four bytes per step.

use super::class::in_class;

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;
const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;

/// Bit 7 of each byte of the result is set where that byte of `x7` is in `lo..=hi`. Every
/// byte of `x7` must be below 0x80, `lo` at most 0x80 and `hi` at most 0x7f, so that no
/// addition carries into the next byte.
#[inline(always)]
const fn in_range(x7: u64, lo: u8, hi: u8) -> u64 {
    let at_least_lo = x7.wrapping_add(ONES * (0x80 - lo as u64));
    let above_hi = x7.wrapping_add(ONES * (0x7f - hi as u64));
    at_least_lo & !above_hi
}

/// Marks (bit 7) the bytes of `x` that are `qdtext` (§25.1) other than HT, CR and LF: every
/// byte but the controls, `"`, `\` and DEL.
#[inline(always)]
pub(super) const fn qdtext_marks(x: u64) -> u64 {
    let x7 = x & LOW7;
    let stop = in_range(x7, 0, 0x1f)
        | in_range(x7, b'"', b'"')
        | in_range(x7, b'\\', b'\\')
        | in_range(x7, 0x7f, 0x7f);
    // Bytes from 0x80 up (UTF8-NONASCII) are qdtext whatever their low bits say.
    (!stop | x) & HIGH
}

/// Index of the first byte at or after `i` that is not in `class`, or `s.len()` (`i` itself
/// if it is past the end). `marks` must mark only bytes that are in `class`.
#[inline(always)]
pub(super) fn span_marked(s: &[u8], mut i: usize, class: u16, marks: impl Fn(u64) -> u64) -> usize {
    let n = s.len();
    loop {
        let x = match s.get(i..).and_then(<[u8]>::first_chunk::<8>) {
            Some(c) => u64::from_le_bytes(*c),
            None if i >= n => return i,
            None => match s.last_chunk::<8>() {
                // Fewer than eight bytes are left: the last eight of `s`, shifted down so that
                // `s[i]` is the lowest byte. The shift is 1 to 7 bytes (n - 8 < i < n); the
                // bytes shifted in are zero, which no class holds.
                Some(c) => u64::from_le_bytes(*c) >> (8 * (i + 8 - n)),
                None => return span_bytes(s, i, class),
            },
        };
        let unmarked = !marks(x) & HIGH;
        if unmarked == 0 {
            i += 8;
            continue;
        }
        i += (unmarked.trailing_zeros() / 8) as usize;
        match s.get(i) {
            Some(&b) if in_class(b, class) => i += 1,
            _ => return i,
        }
    }
}

/// [`span_marked`] with table lookups only: four bytes per step while four are left, so that
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

    fn marked(marks: u64) -> Vec<bool> {
        (0..8).map(|k| marks >> (8 * k + 7) & 1 == 1).collect()
    }

    #[test]
    fn marks_agree_with_the_byte_tests() {
        for b in 0..=255u8 {
            let x = u64::from(b) * ONES;
            let q = marked(qdtext_marks(x));
            let want = matches!(b, 0x20 | 0x21 | 0x23..=0x5b | 0x5d..=0x7e | 0x80..=0xff);
            assert!(q.iter().all(|&m| m == want), "{b:#x}");
        }
        // Neighbouring bytes do not disturb each other.
        let x = u64::from_le_bytes(*b"a\xff\"\x00 \x7f\\Z");
        assert_eq!(
            marked(qdtext_marks(x)),
            [true, true, false, false, true, false, false, true]
        );
    }

    #[test]
    fn spans_agree_with_the_table() {
        let text: &[u8] = b"\"Alice \xc3\xa9 Meyer\\\" x\r\n y\"";
        for i in 0..text.len() {
            for end in i..=text.len() {
                let s = &text[..end];
                let want = span_bytes(s, i, QDTEXT);
                let got = span_marked(s, i, QDTEXT, qdtext_marks);
                assert_eq!(got, want, "{i} {end}");
            }
        }
    }
}
