//! CTC / slot decoding on arbitrary shapes, values, blanks, charsets and patterns: every call must
//! return `Ok` or `Err`, never panic, and an `Ok` row must be self-consistent.
#![no_main]

use alpr_core::ctc::{self, CtcShape};
use libfuzzer_sys::fuzz_target;

const POOL: [&str; 12] = ["A", "B", "0", "1", "Ä", "Ö", "CH", "-", "]", "\\", "[", "Z"];

fuzz_target!(|data: &[u8]| {
    if data.len() < 8 {
        return;
    }
    let (head, rest) = data.split_at(8);
    let b = (head[0] % 4) as usize;
    let t = (head[1] % 24) as usize;
    let c = (head[2] % 10) as usize + 1;
    let blank = (head[3] % 12) as i64 - 1; // sometimes out of range
    let logits = head[4] & 1 == 1;
    let width = (head[4] >> 1) as usize % 9; // 0 is invalid on purpose
    let pattern_len = (head[5] % 16) as usize;
    let skew = head[6] % 3; // 0: exact length, 1: one value short, 2: one value extra
    let charset: Vec<String> = (0..c.saturating_sub(1))
        .map(|i| POOL[(head[7] as usize + i * 7) % POOL.len()].to_string())
        .collect();
    let (pat_bytes, values) = rest.split_at(pattern_len.min(rest.len()));
    let patterns: Vec<String> = String::from_utf8_lossy(pat_bytes)
        .split('|')
        .map(str::to_string)
        .collect();
    let want = b * t * c;
    let mut probs: Vec<f32> = values
        .chunks_exact(4)
        .map(|v| f32::from_le_bytes([v[0], v[1], v[2], v[3]]))
        .cycle()
        .take(want)
        .collect();
    probs.resize(want, 0.5);
    match skew {
        1 => {
            probs.pop();
        }
        2 => probs.push(0.0),
        _ => {}
    }
    let Ok(shape) = CtcShape::new(&[b, t, c], probs.len(), charset.len(), blank, logits) else {
        return;
    };
    let check = |rows: &[ctc::Decoded]| {
        assert_eq!(rows.len(), b);
        for r in rows {
            assert_eq!(r.confidences.len(), r.labels.len());
            assert!(r.labels.iter().all(|&l| l as usize != shape.blank && (l as usize) < c));
        }
    };
    if let Ok(rows) = ctc::ctc_greedy(&probs, &shape, &charset) {
        check(&rows);
    }
    if let Ok(rows) = ctc::ctc_beam(&probs, &shape, &charset, width) {
        check(&rows);
    }
    if let Ok(rows) = ctc::ctc_constrained(&probs, &shape, &charset, &patterns, width) {
        check(&rows);
    }
    let mut alphabet = charset.clone();
    alphabet.push("_".to_string());
    if let Ok(rows) = ctc::slot_decode(&probs, &[b, t, c], &alphabet, "_", logits) {
        assert_eq!(rows.len(), b);
    }
});
