//! FastCDC-2020-style content-defined chunking with normalized chunking (level 2).
//!
//! This is the reference the JS fallback (`src/cdc.ts`) mirrors bit for bit: same gear table (from the
//! same seed and PRNG), same 32-bit gear hash, same masks, same cut rule. Change one, change both, and
//! the cross-implementation test in `test/hasher.test.ts` will tell you if they drift.

/// Seed of the gear table ("ARMI"). Part of the chunk format: changing it moves every boundary.
pub const GEAR_SEED: u32 = 0x4152_4d49;

/// Largest accepted `maxSize` (1 GiB): keeps masks within the 32-bit hash and lengths within u32.
pub const MAX_CDC_SIZE: u32 = 1 << 30;

/// mulberry32: tiny, well-distributed, and expressible with 32-bit integer ops in JS (`Math.imul`).
const fn mulberry32_next(state: u32) -> (u32, u32) {
    let a = state.wrapping_add(0x6d2b_79f5);
    let mut t = (a ^ (a >> 15)).wrapping_mul(1 | a);
    t = t.wrapping_add((t ^ (t >> 7)).wrapping_mul(61 | t)) ^ t;
    (a, t ^ (t >> 14))
}

const fn gear_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut state = GEAR_SEED;
    let mut i = 0;
    while i < 256 {
        let (next, value) = mulberry32_next(state);
        state = next;
        table[i] = value;
        i += 1;
    }
    table
}

pub static GEAR: [u32; 256] = gear_table();

#[derive(Clone, Copy, Debug)]
pub struct CdcParams {
    pub min_size: u32,
    pub avg_size: u32,
    pub max_size: u32,
}

/// Why `params` is invalid, or None. The JS side validates first; this keeps the addon safe on its own.
pub fn invalid_reason(p: &CdcParams) -> Option<String> {
    if p.min_size == 0 || p.avg_size == 0 || p.max_size == 0 {
        return Some(format!(
            "cdc sizes must be > 0 (got min {}, avg {}, max {})",
            p.min_size, p.avg_size, p.max_size
        ));
    }
    if !(p.min_size <= p.avg_size && p.avg_size <= p.max_size) {
        return Some(format!(
            "cdc sizes must satisfy min <= avg <= max (got {} / {} / {})",
            p.min_size, p.avg_size, p.max_size
        ));
    }
    if p.max_size > MAX_CDC_SIZE {
        return Some(format!(
            "cdc maxSize must be <= {} (got {})",
            MAX_CDC_SIZE, p.max_size
        ));
    }
    None
}

/// A mask of the `bits` highest bits: with `fp = (fp << 1) + gear[b]`, bit k of the hash depends on the
/// last k + 1 bytes, so the high bits see the widest window.
fn high_mask(bits: u32) -> u32 {
    if bits == 0 {
        0
    } else {
        u32::MAX << (32 - bits.min(32))
    }
}

/// (mask before avg: harder to cut, mask after avg: easier to cut), from floor(log2(avg)).
pub fn masks(avg_size: u32) -> (u32, u32) {
    let bits = 31 - avg_size.leading_zeros();
    (
        high_mask((bits + 2).min(32)),
        high_mask(bits.saturating_sub(2)),
    )
}

fn cut(src: &[u8], p: &CdcParams, mask_s: u32, mask_l: u32) -> usize {
    let min = p.min_size as usize;
    let mut n = src.len();
    if n <= min {
        return n;
    }
    n = n.min(p.max_size as usize);
    let normal = n.min(p.avg_size as usize);
    let mut fp: u32 = 0;
    let mut i = min;
    while i < normal {
        fp = (fp << 1).wrapping_add(GEAR[src[i] as usize]);
        if fp & mask_s == 0 {
            return i + 1;
        }
        i += 1;
    }
    while i < n {
        fp = (fp << 1).wrapping_add(GEAR[src[i] as usize]);
        if fp & mask_l == 0 {
            return i + 1;
        }
        i += 1;
    }
    n
}

/// Lengths of consecutive chunks covering `data`; every one within [min, max] except possibly the last.
pub fn chunk_lengths(data: &[u8], p: &CdcParams) -> Vec<u32> {
    let (mask_s, mask_l) = masks(p.avg_size);
    let mut out = Vec::with_capacity(data.len() / p.avg_size as usize + 1);
    let mut offset = 0;
    while offset < data.len() {
        let len = cut(&data[offset..], p, mask_s, mask_l);
        out.push(len as u32);
        offset += len;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gear_table_has_distinct_nonzero_entries() {
        let mut sorted = GEAR.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 256);
        assert!(!sorted.contains(&0));
    }

    #[test]
    fn lengths_cover_input_and_respect_bounds() {
        let mut state = 7u32;
        let data: Vec<u8> = (0..1_000_000)
            .map(|_| {
                let (s, v) = mulberry32_next(state);
                state = s;
                v as u8
            })
            .collect();
        let p = CdcParams {
            min_size: 2048,
            avg_size: 8192,
            max_size: 65536,
        };
        let lens = chunk_lengths(&data, &p);
        assert_eq!(lens.iter().map(|&l| l as usize).sum::<usize>(), data.len());
        for &l in &lens[..lens.len() - 1] {
            assert!(l >= p.min_size && l <= p.max_size);
        }
    }
}
