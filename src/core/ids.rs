//! Identifiers Drongo mints (DESIGN §3): tags, branches and the randomness behind them.
//! Every id carries its owner shard so a message that reaches another shard can be handed
//! to its owner by a pure function of the id. Randomness comes in as a seed from the shell;
//! nothing here reads the OS RNG.

/// A small, fast PRNG (SplitMix64). Seeded by the shell from the OS; good enough for tags and
/// branches, which RFC 3261 §19.3 asks to be unguessable by an outside observer (the seed is
/// secret and 64 bits of state are never sent whole).
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng { state: seed }
    }

    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.state)
    }
}

/// The SplitMix64 finaliser: a bijective 64-bit mixer.
#[inline]
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Lower-case hex of 1 to 16 digits, as Drongo writes its tokens (nonces, temporary GRUUs);
/// anything else is no token.
pub fn unhex(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 16 {
        return None;
    }
    s.iter().try_fold(0u64, |n, &c| {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => return None,
        };
        Some(n << 4 | u64::from(d))
    })
}

/// A keyed 64-bit hash over several byte strings. Used for stateless ids that must come out
/// the same for a retransmitted request (the To tag of a stateless answer). The key is the
/// shard's secret, so the result is not predictable from the wire.
pub fn keyed_hash(key: u64, parts: &[&[u8]]) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = foldhash::fast::FixedState::with_seed(key).build_hasher();
    for part in parts {
        // The length after each part keeps ("ab", "c") apart from ("a", "bc").
        h.write(part);
        h.write_usize(part.len());
    }
    h.finish()
}

/// The keyed 64-bit hash behind the To tag of an answer Drongo builds again for each
/// retransmission (from its Call-ID, branch and CSeq number): [`keyed_hash`]'s role, in a
/// few multiplications for the short strings a tag is made from. The key is the shard's
/// secret, so a tag is not predictable from the wire.
///
/// Each part is read eight bytes at a time, sixteen bytes to a folded multiplication (the
/// 128-bit product's halves xored); its last sixteen bytes or fewer are read as two words
/// that may overlap, and its length goes in with them, so parts that split the same bytes
/// differently hash apart.
pub fn tag_hash(key: u64, parts: &[&[u8]]) -> u64 {
    // Digits of pi: arbitrary constants with no structure.
    const SEED: [u64; 3] = [
        0x243f_6a88_85a3_08d3,
        0x1319_8a2e_0370_7344,
        0xa409_3822_299f_31d0,
    ];
    let mut state = key ^ SEED[0];
    for part in parts {
        let word = |at: usize| {
            part.get(at..at + 8)
                .and_then(|w| <[u8; 8]>::try_from(w).ok())
                .map_or(0, u64::from_le_bytes)
        };
        let half = |at: usize| {
            part.get(at..at + 4)
                .and_then(|w| <[u8; 4]>::try_from(w).ok())
                .map_or(0, |w| u64::from(u32::from_le_bytes(w)))
        };
        let n = part.len();
        let mut at = 0;
        while n - at > 16 {
            state = folded_multiply(word(at) ^ state, word(at + 8) ^ key);
            at += 16;
        }
        let (a, b) = match n {
            16.. => (word(n - 16), word(n - 8)),
            8..=15 => (word(0), word(n - 8)),
            4..=7 => (half(0), half(n - 4)),
            1..=3 => {
                let byte = |i: usize| u64::from(part[i]);
                // NOTE: 0 <= n / 2 <= n - 1 < n.
                (byte(0) | byte(n / 2) << 8 | byte(n - 1) << 16, 0)
            }
            0 => (0, 0),
        };
        state = folded_multiply(a ^ state ^ SEED[1], b ^ key ^ n as u64);
    }
    folded_multiply(state, key ^ SEED[2])
}

/// The 128-bit product of `a` and `b` with its halves xored.
#[inline(always)]
fn folded_multiply(a: u64, b: u64) -> u64 {
    let full = u128::from(a) * u128::from(b);
    (full as u64) ^ (full >> 64) as u64
}

/// Length of a tag written by [`write_tag`]: 2 hex digits of shard, `-`, 16 hex digits.
pub const TAG_LEN: usize = 19;

/// Writes a tag that names the owner shard: `<shard:02x>-<value:016x>`.
pub fn write_tag(shard: u16, value: u64, out: &mut [u8; TAG_LEN]) -> &[u8] {
    let shard = hex16(u64::from(shard as u8));
    out[..2].copy_from_slice(&shard[14..]);
    out[2] = b'-';
    out[3..].copy_from_slice(&hex16(value));
    &out[..]
}

/// `value` as 16 lowercase hex digits, most significant first, eight at a time.
#[inline]
fn hex16(value: u64) -> [u8; 16] {
    /// The eight nibbles of `x`, most significant first, each in the low half of one byte
    /// of a little-endian word.
    fn spread(x: u32) -> u64 {
        let mut v = u64::from(x);
        v = (v | v << 16) & 0x0000_ffff_0000_ffff;
        v = (v | v << 8) & 0x00ff_00ff_00ff_00ff;
        v = (v | v << 4) & 0x0f0f_0f0f_0f0f_0f0f;
        v.swap_bytes()
    }
    /// Each byte of `v`, 0 to 15, as its hex digit: `0` + the nibble, 39 more (`a` - `0` - 10)
    /// from 10 on. No byte carries into the next.
    fn digits(v: u64) -> [u8; 8] {
        const ONES: u64 = 0x0101_0101_0101_0101;
        let ten_or_more = ((v + 6 * ONES) >> 4) & ONES;
        (v + u64::from(b'0') * ONES + ten_or_more * 39).to_le_bytes()
    }
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&digits(spread((value >> 32) as u32)));
    out[8..].copy_from_slice(&digits(spread(value as u32)));
    out
}

/// The owner shard of a tag written by [`write_tag`], if it is one.
pub fn tag_shard(tag: &[u8]) -> Option<u16> {
    if tag.len() != TAG_LEN || tag[2] != b'-' {
        return None;
    }
    let hi = (tag[0] as char).to_digit(16)?;
    let lo = (tag[1] as char).to_digit(16)?;
    Some((hi * 16 + lo) as u16)
}

/// The RFC 3261 §8.1.1.7 magic cookie every branch Drongo mints starts with.
pub const BRANCH_COOKIE: &[u8] = b"z9hG4bK";

/// Length of a branch written by [`write_branch`]: the cookie, 4 hex digits of shard, `-`,
/// 16 hex digits.
pub const BRANCH_LEN: usize = BRANCH_COOKIE.len() + 4 + 1 + 16;

/// Writes a Via branch that names the owner shard: `z9hG4bK<shard:04x>-<value:016x>`. The
/// response to a request sent with it carries it back in its top Via (§17.1.3), so any shard
/// that receives the response knows which one holds the client transaction. `value` is fresh
/// randomness per branch (§8.1.1.7 asks for uniqueness over space and time).
pub fn write_branch(shard: u16, value: u64, out: &mut [u8; BRANCH_LEN]) -> &[u8] {
    let (cookie, rest) = out.split_at_mut(BRANCH_COOKIE.len());
    cookie.copy_from_slice(BRANCH_COOKIE);
    write_hex(u64::from(shard), &mut rest[..4]);
    rest[4] = b'-';
    write_hex(value, &mut rest[5..]);
    &out[..]
}

/// The owner shard of a branch written by [`write_branch`], if it is one. Anything else (a
/// branch some other element minted) is `None`.
pub fn branch_shard(branch: &[u8]) -> Option<u16> {
    if branch.len() != BRANCH_LEN {
        return None;
    }
    let rest = branch.strip_prefix(BRANCH_COOKIE)?;
    let (shard, value) = rest.split_at(4);
    if value.first() != Some(&b'-') || !value[1..].iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    let mut n = 0u16;
    for &b in shard {
        n = n << 4 | (b as char).to_digit(16)? as u16;
    }
    Some(n)
}

/// Writes `value`'s low `4 * out.len()` bits as lowercase hex, most significant first.
fn write_hex(value: u64, out: &mut [u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digits = out.len();
    for (i, b) in out.iter_mut().enumerate() {
        *b = HEX[((value >> (4 * (digits - 1 - i))) & 0xF) as usize];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_is_deterministic_per_seed() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        assert_eq!(a.next_u64(), b.next_u64());
        assert_ne!(Rng::new(1).next_u64(), Rng::new(2).next_u64());
    }

    #[test]
    fn keyed_hash_depends_on_key_and_every_part() {
        let h = keyed_hash(1, &[b"call-id", b"branch"]);
        assert_eq!(h, keyed_hash(1, &[b"call-id", b"branch"]));
        assert_ne!(h, keyed_hash(2, &[b"call-id", b"branch"]));
        assert_ne!(h, keyed_hash(1, &[b"call-id", b"branch2"]));
        assert_ne!(keyed_hash(1, &[b"ab", b"c"]), keyed_hash(1, &[b"a", b"bc"]));
    }

    #[test]
    fn tag_hash_depends_on_key_and_every_byte_of_every_part() {
        let h = tag_hash(1, &[b"call-id", b"branch"]);
        assert_eq!(h, tag_hash(1, &[b"call-id", b"branch"]));
        assert_ne!(h, tag_hash(2, &[b"call-id", b"branch"]));
        assert_ne!(tag_hash(1, &[b"ab", b"c"]), tag_hash(1, &[b"a", b"bc"]));
        assert_ne!(tag_hash(1, &[b"", b"x"]), tag_hash(1, &[b"x", b""]));
        // Every byte of parts of every length up to 40, flipped one at a time, moves the
        // hash, and lengths that differ only by trailing zeros do too.
        let mut rng = Rng::new(5);
        for len in 0..40 {
            let mut part: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
            let base = tag_hash(9, &[b"c", &part, b"1"]);
            for i in 0..len {
                part[i] ^= 1;
                assert_ne!(tag_hash(9, &[b"c", &part, b"1"]), base, "{len} {i}");
                part[i] ^= 1;
            }
            let mut longer = part.clone();
            longer.push(0);
            assert_ne!(tag_hash(9, &[b"c", &longer, b"1"]), base, "{len}");
        }
        // Different inputs spread over the whole word: no bit is stuck.
        let (mut and, mut or) = (u64::MAX, 0);
        for n in 0..200u32 {
            let h = tag_hash(7, &[b"call", &n.to_le_bytes(), b"1"]);
            (and, or) = (and & h, or | h);
        }
        assert_eq!((and, or), (0, u64::MAX));
    }

    #[test]
    fn hex_digits_are_std_s() {
        let mut rng = Rng::new(3);
        let values = (0..1_000).map(|_| rng.next_u64());
        for v in values.chain([0, u64::MAX, 0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210]) {
            assert_eq!(hex16(v), format!("{v:016x}").as_bytes());
        }
        for shard in [0u16, 9, 10, 0xab, 0xff] {
            let mut buf = [0u8; TAG_LEN];
            assert_eq!(
                write_tag(shard, 7, &mut buf),
                format!("{shard:02x}-{:016x}", 7).as_bytes()
            );
        }
    }

    #[test]
    fn tags_carry_their_shard() {
        let mut buf = [0u8; TAG_LEN];
        let tag = write_tag(5, 0xdead_beef, &mut buf).to_vec();
        assert_eq!(tag, b"05-00000000deadbeef");
        assert_eq!(tag_shard(&tag), Some(5));
        assert_eq!(tag_shard(b"not-a-tag"), None);
    }

    #[test]
    fn branches_carry_their_shard() {
        let mut buf = [0u8; BRANCH_LEN];
        let branch = write_branch(0x1f, 0xdead_beef, &mut buf).to_vec();
        assert_eq!(branch, b"z9hG4bK001f-00000000deadbeef");
        assert_eq!(branch_shard(&branch), Some(0x1f));
        let mut buf = [0u8; BRANCH_LEN];
        assert_eq!(
            branch_shard(write_branch(u16::MAX, 0, &mut buf)),
            Some(u16::MAX)
        );
        // Branches other elements mint name no shard.
        for other in [
            &b"z9hG4bK-o1"[..],
            b"z9hG4bK001f-00000000deadbeeg",
            b"z9hG4bK001f+00000000deadbeef",
            b"z9hG4bKzz1f-00000000deadbeef",
            b"Z9HG4BK001f-00000000deadbeef",
            b"z9hG4bK001f-00000000deadbeef0",
            b"",
        ] {
            assert_eq!(
                branch_shard(other),
                None,
                "{}",
                String::from_utf8_lossy(other)
            );
        }
    }
}
