//! The zlib stream of a key image's PNG rows: runs of equal bytes as distance-1 matches,
//! coded with Huffman codes made for the image (one dynamic block, RFC 1951).
//!
//! Why not a general deflater: a key image is an integer enlargement, so a new crop row is
//! runs of `scale` equal bytes and most rows repeat the one above (all zeros once
//! Up-filtered). fdeflate, which png uses for its fastest mode, codes only runs of zeros,
//! with a fixed code; zlib finds the other runs too but is slower. On 300 key images of the
//! 200 × 3 bench (this VM, best of 15): fdeflate 7.45 kB in 44.1 µs an image, zlib-rs level
//! 1 5.4 kB in 66 µs, level 2 3.5 kB in 93 µs, this module 3.18 kB in 44.7 µs. Every byte
//! saved is written three times by a run (the PNG, its base64 in the report, the manifest
//! blob). A row of zeros is a constant number of symbols, its Adler-32 a closed form.

/// Adler-32's modulus (RFC 1950).
const ADLER_MOD: u64 = 65521;

/// Longest match deflate codes.
const MAX_MATCH: usize = 258;

/// Literal/length alphabet size (0..=255 literals, 256 end of block, 257..=285 lengths).
const LITLEN: usize = 286;

/// Longest code of the literal/length and distance alphabets, and of the code-length one.
const MAX_BITS: u8 = 15;
const MAX_CL_BITS: u8 = 7;

/// Order the code-length code lengths are sent in (RFC 1951 3.2.7).
const CL_ORDER: [usize; 19] = [
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
];

/// A symbol as collected: 0..=255 a literal, 256 + n (259..=514) a match of n bytes at
/// distance 1. Matches are told apart by length, not by deflate's length symbol, so each
/// is written with one lookup (`finish`).
type Sym = u16;

/// Symbols a `Sym` can be.
const NSYM: usize = 256 + MAX_MATCH + 1;

/// Deflate's symbol, extra bit count and extra value for a match of `len` (3..=258)
/// (RFC 1951 3.2.5).
fn length_code(len: usize) -> (usize, u32, u32) {
    debug_assert!((3..=MAX_MATCH).contains(&len));
    let (sym, extra, base) = match len {
        3..=10 => (257 + len - 3, 0, len),
        258 => (285, 0, 258),
        _ => {
            // lengths 11..=257: four symbols per extra-bit count, from 1 extra bit up
            let l = len - 3;
            let extra = (usize::BITS - 1 - l.leading_zeros()) as usize - 2;
            let base = (4 + ((l >> extra) & 3)) << extra;
            (257 + 4 * extra + 4 + ((l >> extra) & 3), extra, base + 3)
        }
    };
    (sym, extra as u32, (len - base) as u32)
}

/// Whether a word holds a zero byte: exact, without false positives (the classic bit
/// trick).
fn has_zero_byte(x: u64) -> bool {
    x.wrapping_sub(0x0101_0101_0101_0101) & !x & 0x8080_8080_8080_8080 != 0
}

/// Collects a zlib stream's symbols row by row, then codes them (`finish`).
pub struct RunDeflater {
    /// `syms[..len]` are the symbols so far; the rest is room (see `Symbols`).
    syms: Vec<Sym>,
    len: usize,
    count: Box<[u32; NSYM]>,
    adler: simd_adler32::Adler32,
}

/// The symbol buffer while one row is collected, as locals: through `RunDeflater`'s own
/// fields, every push went through memory.
struct Symbols<'a> {
    syms: &'a mut [Sym],
    len: usize,
    count: &'a mut [u32; NSYM],
}

impl Symbols<'_> {
    /// There is always room: a row's symbols are at most its bytes (a run of n ≥ 4 bytes
    /// is 1 + ⌈(n − 1) / 258⌉ ≤ n symbols), and `write` makes room for that first.
    #[inline(always)]
    fn push(&mut self, s: Sym) {
        self.count[usize::from(s)] += 1;
        self.syms[self.len] = s;
        self.len += 1;
    }

    /// `n` copies of `b`, the first as a literal and the rest as matches where they can be.
    #[inline(always)]
    fn run(&mut self, b: u8, n: usize) {
        self.push(Sym::from(b));
        let mut rest = n - 1;
        if rest < 3 {
            for _ in 0..rest {
                self.push(Sym::from(b));
            }
            return;
        }
        while rest > MAX_MATCH {
            // never leave 1 or 2 after a full-length match: they would be literals
            let m = if rest - MAX_MATCH < 3 {
                rest - 3
            } else {
                MAX_MATCH
            };
            self.push((256 + m) as Sym);
            rest -= m;
        }
        self.push((256 + rest) as Sym);
    }
}

impl RunDeflater {
    /// `raw_len`: the bytes that will be written (sizes the symbol buffer).
    pub fn new(raw_len: usize) -> RunDeflater {
        RunDeflater {
            // a key image is ~10 k symbols for ~130 k bytes; the buffer grows when needed
            syms: vec![0; raw_len / 16 + 8],
            len: 0,
            count: Box::new([0; NSYM]),
            adler: simd_adler32::Adler32::new(),
        }
    }

    /// Room for `n` more symbols, and the buffer to put them in.
    fn symbols(&mut self, n: usize) -> Symbols<'_> {
        let need = self.len + n;
        if need > self.syms.len() {
            self.syms.resize(need.max(2 * self.syms.len()), 0);
        }
        Symbols {
            syms: &mut self.syms[..],
            len: self.len,
            count: &mut self.count,
        }
    }

    /// Appends bytes (one PNG row, filter byte first).
    pub fn write(&mut self, data: &[u8]) {
        self.adler.write(data);
        let word = |s: &[u8]| u64::from_le_bytes(s.try_into().unwrap_or([0; 8]));
        let n = data.len();
        let mut out = self.symbols(n);
        let mut i = 0;
        while i < n {
            // Eight bytes none of which equals the next (noise): eight literals, without a
            // branch per byte.
            if let (Some(a), Some(b)) = (data.get(i..i + 8), data.get(i + 1..i + 9))
                && !has_zero_byte(word(a) ^ word(b))
            {
                for &x in a {
                    out.push(Sym::from(x));
                }
                i += 8;
                continue;
            }
            // The run at i: eight bytes compared at once, its end found from the first
            // byte that differs.
            let b = data[i];
            let all_b = u64::from_le_bytes([b; 8]);
            let mut j = i + 1;
            loop {
                match data.get(j..j + 8) {
                    Some(w) => {
                        let x = word(w) ^ all_b;
                        if x == 0 {
                            j += 8;
                            continue;
                        }
                        j += (x.trailing_zeros() / 8) as usize;
                    }
                    None => {
                        while j < n && data[j] == b {
                            j += 1;
                        }
                    }
                }
                break;
            }
            out.run(b, j - i);
            i = j;
        }
        self.len = out.len;
    }

    /// Appends `first` then `n` zeros (a PNG row equal to the one above, Up-filtered).
    pub fn write_zeros(&mut self, first: u8, n: usize) {
        self.adler.write(&[first]);
        // zeros leave Adler-32's `a` as it is and add it to `b` once each
        let sum = self.adler.finish();
        let (a, b) = (u64::from(sum & 0xffff), u64::from(sum >> 16));
        let b = (b + (n as u64 % ADLER_MOD) * a) % ADLER_MOD;
        self.adler = simd_adler32::Adler32::from_checksum(((b as u32) << 16) | a as u32);
        // a row of zeros is at most 1 + 2 + ⌈n / 258⌉ symbols
        let mut out = self.symbols(n / MAX_MATCH + 4);
        if first == 0 {
            out.run(0, n + 1);
        } else {
            out.push(Sym::from(first));
            if n > 0 {
                out.run(0, n);
            }
        }
        self.len = out.len;
    }

    /// The zlib stream: header, one dynamic Huffman block, Adler-32.
    pub fn finish(self) -> Vec<u8> {
        let mut freq = [0u32; LITLEN];
        freq[..256].copy_from_slice(&self.count[..256]);
        freq[256] = 1;
        for len in 3..=MAX_MATCH {
            freq[length_code(len).0] += self.count[256 + len];
        }
        let lit_lengths = code_lengths(&freq, MAX_BITS);
        let lit_codes = canonical_codes(&lit_lengths);
        // Always one distance code, distance 1, of one bit (RFC 1951 3.2.7 allows one
        // distance code of one bit; zlib takes it); unused when there are no matches.
        let dist_len = 1u32;

        // Each symbol's bits and bit count, whole: a match's length code, its extra bits
        // and the distance code (0) together.
        let mut emit = vec![(0u32, 0u32); NSYM];
        for (s, e) in emit.iter_mut().enumerate().take(256) {
            *e = (lit_codes[s] as u32, u32::from(lit_lengths[s]));
        }
        for len in 3..=MAX_MATCH {
            let (sym, extra, value) = length_code(len);
            let n = u32::from(lit_lengths[sym]);
            emit[256 + len] = (lit_codes[sym] as u32 | (value << n), n + extra + dist_len);
        }

        let hlit = lit_lengths
            .iter()
            .rposition(|&l| l > 0)
            .map_or(257, |i| (i + 1).max(257));
        let mut lengths: Vec<u8> = lit_lengths[..hlit].to_vec();
        lengths.push(dist_len as u8);
        let cl_syms = code_length_symbols(&lengths);
        let mut cl_freq = [0u32; 19];
        for &(s, _) in &cl_syms {
            cl_freq[usize::from(s)] += 1;
        }
        let cl_lengths = code_lengths(&cl_freq, MAX_CL_BITS);
        let cl_codes = canonical_codes(&cl_lengths);
        let hclen = CL_ORDER
            .iter()
            .rposition(|&s| cl_lengths[s] > 0)
            .map_or(4, |i| (i + 1).max(4));

        // the symbols' exact size in bits, so the buffer is zeroed once at its final size
        let bits: u64 = emit
            .iter()
            .zip(self.count.iter())
            .map(|(&(_, n), &c)| u64::from(n) * u64::from(c))
            .sum();
        let mut w = BitWriter::with_capacity(usize::try_from(bits / 8).unwrap_or(0) + 512);
        w.put(0x78, 8);
        w.put(0x01, 8);
        w.put(1, 1); // BFINAL
        w.put(2, 2); // BTYPE: dynamic Huffman
        w.put((hlit - 257) as u64, 5);
        w.put(0, 5); // HDIST: one distance code
        w.put((hclen - 4) as u64, 4);
        for &s in &CL_ORDER[..hclen] {
            w.put(u64::from(cl_lengths[s]), 3);
        }
        for &(s, extra) in &cl_syms {
            let s = usize::from(s);
            w.put(cl_codes[s], u32::from(cl_lengths[s]));
            match s {
                16 => w.put(u64::from(extra), 2),
                17 => w.put(u64::from(extra), 3),
                18 => w.put(u64::from(extra), 7),
                _ => {}
            }
        }
        w.put_all(
            self.syms[..self.len].iter().map(|&s| emit[usize::from(s)]),
            bits,
        );
        w.put(lit_codes[256], u32::from(lit_lengths[256]));
        let mut bytes = w.finish();
        bytes.extend_from_slice(&self.adler.finish().to_be_bytes());
        bytes
    }
}

/// The code lengths sequence (literal/length then distance lengths, sent as one) in the
/// code-length alphabet: (symbol, extra bits value), runs of zeros as 17/18 and repeats of
/// a length as 16.
fn code_length_symbols(lengths: &[u8]) -> Vec<(u8, u8)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < lengths.len() {
        let l = lengths[i];
        let mut n = 1;
        while i + n < lengths.len() && lengths[i + n] == l {
            n += 1;
        }
        i += n;
        if l == 0 {
            while n >= 11 {
                let k = n.min(138);
                out.push((18, (k - 11) as u8));
                n -= k;
            }
            if n >= 3 {
                out.push((17, (n - 3) as u8));
                n = 0;
            }
            out.extend(std::iter::repeat_n((0, 0), n));
        } else {
            out.push((l, 0));
            n -= 1;
            while n >= 3 {
                let k = n.min(6);
                out.push((16, (k - 3) as u8));
                n -= k;
            }
            out.extend(std::iter::repeat_n((l, 0), n));
        }
    }
    out
}

/// Huffman code lengths of at most `limit` bits for `freq` (0 for unused symbols). When
/// the tree comes out deeper, the frequencies are halved (each used one kept ≥ 1) and the
/// code built again: rare symbols then cost a bit more, and it always ends (equal
/// frequencies give a balanced tree).
fn code_lengths(freq: &[u32], limit: u8) -> Vec<u8> {
    let mut f: Vec<u64> = freq.iter().map(|&x| u64::from(x)).collect();
    // zlib refuses an incomplete code-length code, and one used symbol is one: a second,
    // unused, symbol completes it
    if f.iter().filter(|&&x| x > 0).count() == 1
        && let Some(unused) = f.iter().position(|&x| x == 0)
    {
        f[unused] = 1;
    }
    loop {
        let lengths = huffman_lengths(&f);
        if lengths.iter().all(|&l| l <= limit) {
            return lengths;
        }
        for x in f.iter_mut().filter(|x| **x > 0) {
            *x = (*x).div_ceil(2);
        }
    }
}

/// Unlimited Huffman code lengths (two-queue construction over the used symbols sorted
/// by frequency, ties by symbol, so the same frequencies give the same code). One used
/// symbol gets length 1.
fn huffman_lengths(freq: &[u64]) -> Vec<u8> {
    let mut lengths = vec![0u8; freq.len()];
    let mut leaves: Vec<(u64, usize)> = freq
        .iter()
        .enumerate()
        .filter(|(_, f)| **f > 0)
        .map(|(s, &f)| (f, s))
        .collect();
    match leaves.len() {
        0 => return lengths,
        1 => {
            lengths[leaves[0].1] = 1;
            return lengths;
        }
        _ => {}
    }
    leaves.sort_unstable();
    let m = leaves.len();
    // nodes 0..m are the leaves, then the internal nodes in the order they are made
    // (which is also non-decreasing weight)
    let mut weight: Vec<u64> = leaves.iter().map(|&(f, _)| f).collect();
    let mut parent = vec![usize::MAX; 2 * m - 1];
    weight.reserve(m - 1);
    let (mut next_leaf, mut next_inner) = (0, m);
    let mut pick = |weight: &Vec<u64>| {
        let take_leaf = next_leaf < m
            && (next_inner >= weight.len() || weight[next_leaf] <= weight[next_inner]);
        if take_leaf {
            next_leaf += 1;
            next_leaf - 1
        } else {
            next_inner += 1;
            next_inner - 1
        }
    };
    for node in m..2 * m - 1 {
        let a = pick(&weight);
        let b = pick(&weight);
        weight.push(weight[a] + weight[b]);
        parent[a] = node;
        parent[b] = node;
    }
    let mut depth = vec![0u8; 2 * m - 1];
    for node in (0..2 * m - 2).rev() {
        depth[node] = depth[parent[node]].saturating_add(1);
    }
    for (i, &(_, s)) in leaves.iter().enumerate() {
        lengths[s] = depth[i];
    }
    lengths
}

/// Canonical codes (RFC 1951 3.2.2) for `lengths`, bit-reversed: deflate sends Huffman
/// codes from their first bit, and the writer fills bytes from their low bit.
fn canonical_codes(lengths: &[u8]) -> Vec<u64> {
    let max = lengths.iter().copied().max().unwrap_or(0) as usize;
    let mut count = vec![0u32; max + 1];
    for &l in lengths.iter().filter(|&&l| l > 0) {
        count[usize::from(l)] += 1;
    }
    let mut next = vec![0u32; max + 2];
    let mut code = 0u32;
    for bits in 1..=max {
        code = (code + count[bits - 1]) << 1;
        next[bits] = code;
    }
    lengths
        .iter()
        .map(|&l| {
            if l == 0 {
                return 0;
            }
            let c = next[usize::from(l)];
            next[usize::from(l)] += 1;
            u64::from(c.reverse_bits() >> (32 - u32::from(l)))
        })
        .collect()
}

/// Bits into bytes, low bit first. Every `put` stores the whole 64-bit accumulator at the
/// write position and moves on by the bytes it completed, without a branch; the buffer
/// keeps 8 bytes of slack past the position for that store.
struct BitWriter {
    bytes: Vec<u8>,
    pos: usize,
    acc: u64,
    n: u32,
}

impl BitWriter {
    fn with_capacity(n: usize) -> BitWriter {
        BitWriter {
            bytes: vec![0; n + 8],
            pos: 0,
            acc: 0,
            n: 0,
        }
    }

    /// Appends the low `n` bits of `bits` (n ≤ 32; higher bits of `bits` must be 0).
    #[inline]
    fn put(&mut self, bits: u64, n: u32) {
        debug_assert!(n <= 32 && bits >> n == 0);
        self.acc |= bits << self.n;
        self.n += n;
        if self.pos + 16 > self.bytes.len() {
            self.bytes.resize(2 * self.bytes.len() + 16, 0);
        }
        self.bytes[self.pos..self.pos + 8].copy_from_slice(&self.acc.to_le_bytes());
        let whole = self.n / 8;
        self.pos += whole as usize;
        // `whole` ≤ 7 here (n < 8 before, + at most 32), so the shift is below 64
        self.acc = self.acc.checked_shr(8 * whole).unwrap_or(0);
        self.n -= 8 * whole;
    }

    /// Appends every (bits, count) of `codes` (each count ≤ 32, `total_bits` in all), in a
    /// loop that keeps the writer's state in registers: through `put`, it went through
    /// memory each time.
    fn put_all(&mut self, codes: impl Iterator<Item = (u32, u32)>, total_bits: u64) {
        let need = self.pos + usize::try_from(total_bits / 8).unwrap_or(usize::MAX - 16) + 16;
        if need > self.bytes.len() {
            self.bytes.resize(need, 0);
        }
        let (mut acc, mut n, mut pos) = (self.acc, self.n, self.pos);
        let bytes = &mut self.bytes[..];
        for (bits, k) in codes {
            acc |= u64::from(bits) << n;
            n += k;
            bytes[pos..pos + 8].copy_from_slice(&acc.to_le_bytes());
            // n < 8 + 32 here, so whole ≤ 4 and the shift is below 64
            let whole = n / 8;
            pos += whole as usize;
            acc >>= 8 * whole;
            n -= 8 * whole;
        }
        (self.acc, self.n, self.pos) = (acc, n, pos);
    }

    /// The bytes, the last one padded with zero bits.
    fn finish(mut self) -> Vec<u8> {
        self.put(0, (8 - self.n % 8) % 8);
        self.bytes.truncate(self.pos);
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn inflate(z: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::ZlibDecoder::new(z)
            .read_to_end(&mut out)
            .expect("a valid zlib stream with a matching Adler-32");
        out
    }

    fn roundtrip(rows: &[Vec<u8>]) -> Vec<u8> {
        let mut d = RunDeflater::new(rows.iter().map(Vec::len).sum());
        let mut want = Vec::new();
        for r in rows {
            match r.split_first() {
                Some((&first, rest)) if rest.iter().all(|&b| b == 0) => {
                    d.write_zeros(first, rest.len())
                }
                _ => d.write(r),
            }
            want.extend_from_slice(r);
        }
        let z = d.finish();
        assert_eq!(inflate(&z), want);
        z
    }

    /// flate2 (zlib-rs) inflates exactly what went in, Adler-32 included, for runs of every
    /// length around the match limits, rows of zeros, noise and the empty stream.
    #[test]
    fn inflates_to_the_input() {
        roundtrip(&[]);
        roundtrip(&[vec![7]]);
        let mut rows = Vec::new();
        for n in (1..=20)
            .chain(250..=270)
            .chain(510..=520)
            .chain([1000, 5553, 70_000])
        {
            for b in [0u8, 1, 200] {
                let mut r = vec![b; n];
                r.push(b.wrapping_add(1));
                r.extend(std::iter::repeat_n(b, n / 2));
                rows.push(r);
            }
            rows.push([vec![2], vec![0; n]].concat());
            rows.push([vec![0], vec![0; n]].concat());
        }
        let mut next = crate::testutil::xorshift(99);
        rows.push((0..40_000).map(|_| next() as u8).collect());
        rows.push((0..40_000).map(|_| (next() % 3) as u8).collect());
        roundtrip(&rows);
    }

    /// A run of n equal bytes costs one literal and ceil((n − 1) / 258) matches (n ≥ 4),
    /// never a literal left over after the last full-length match.
    #[test]
    fn runs_become_one_literal_and_matches() {
        for n in [1usize, 2, 3, 4, 258, 259, 260, 261, 262, 517, 518, 1000] {
            let mut d = RunDeflater::new(n);
            d.write(&vec![9; n]);
            let literals = d.syms[..d.len].iter().filter(|&&s| s < 256).count();
            let matches = d.syms[..d.len].iter().filter(|&&s| s > 256).count();
            if n <= 3 {
                assert_eq!((literals, matches), (n, 0), "{n}");
            } else {
                assert_eq!((literals, matches), (1, (n - 1).div_ceil(MAX_MATCH)), "{n}");
            }
            assert_eq!(inflate(&d.finish()), vec![9; n]);
        }
    }

    /// Every match length gets the symbol, extra bits and value of RFC 1951's table.
    #[test]
    fn length_codes_follow_the_rfc_table() {
        // (symbol, extra bits, first length) from RFC 1951 3.2.5
        let table: [(usize, usize, usize); 29] = [
            (257, 0, 3),
            (258, 0, 4),
            (259, 0, 5),
            (260, 0, 6),
            (261, 0, 7),
            (262, 0, 8),
            (263, 0, 9),
            (264, 0, 10),
            (265, 1, 11),
            (266, 1, 13),
            (267, 1, 15),
            (268, 1, 17),
            (269, 2, 19),
            (270, 2, 23),
            (271, 2, 27),
            (272, 2, 31),
            (273, 3, 35),
            (274, 3, 43),
            (275, 3, 51),
            (276, 3, 59),
            (277, 4, 67),
            (278, 4, 83),
            (279, 4, 99),
            (280, 4, 115),
            (281, 5, 131),
            (282, 5, 163),
            (283, 5, 195),
            (284, 5, 227),
            (285, 0, 258),
        ];
        for len in 3..=258usize {
            let (sym, extra, value) = length_code(len);
            let (extra, value) = (extra as usize, value as usize);
            let &(_, want_extra, base) = table
                .iter()
                .rev()
                .find(|&&(sym_t, _, base)| base <= len && (sym_t != 285 || len == 258))
                .unwrap();
            let want_sym = table.iter().find(|t| t.2 == base).unwrap().0;
            assert_eq!(
                (sym, extra, value),
                (want_sym, want_extra, len - base),
                "{len}"
            );
        }
    }

    /// Any rows, as the encoder writes them (a row, or a first byte and zeros), inflate to
    /// themselves: runs of every length from a small alphabet, noise, rows of zeros.
    mod props {
        use super::*;
        use proptest::prelude::*;

        fn row() -> impl Strategy<Value = Vec<u8>> {
            prop_oneof![
                // runs: (value, length) pairs from a few values
                prop::collection::vec((0u8..4, 1usize..600), 0..12).prop_map(|runs| {
                    runs.into_iter()
                        .flat_map(|(b, n)| std::iter::repeat_n(b.wrapping_mul(85), n))
                        .collect()
                }),
                prop::collection::vec(any::<u8>(), 0..700),
                (any::<u8>(), 0usize..1200)
                    .prop_map(|(first, n)| [vec![first], vec![0; n]].concat()),
            ]
        }

        proptest! {
            #[test]
            fn rows_inflate_to_themselves(rows in prop::collection::vec(row(), 0..20)) {
                roundtrip(&rows);
            }
        }
    }

    /// Code lengths never exceed the limit and always form a complete prefix code (Kraft
    /// sum 1), even for frequencies whose Huffman tree is far deeper (Fibonacci).
    #[test]
    fn code_lengths_are_limited_and_complete() {
        let mut fib = vec![1u32, 1];
        while fib.len() < 40 {
            let n = fib.len();
            fib.push(fib[n - 1].saturating_add(fib[n - 2]));
        }
        let mut freq = vec![0u32; LITLEN];
        freq[..40].copy_from_slice(&fib);
        freq[256] = 1;
        for (f, limit) in [(freq.clone(), MAX_BITS), (fib[..19].to_vec(), MAX_CL_BITS)] {
            let l = code_lengths(&f, limit);
            assert!(l.iter().all(|&x| x <= limit));
            let kraft: f64 = l
                .iter()
                .filter(|&&x| x > 0)
                .map(|&x| 0.5f64.powi(i32::from(x)))
                .sum();
            assert!((kraft - 1.0).abs() < 1e-12, "{kraft}");
            assert!(f.iter().zip(&l).all(|(&f, &l)| (f > 0) == (l > 0)));
        }
    }
}
