//! Fuzz target `ctc`: `CtcShape::new`, `ctc_greedy`, `ctc_beam`, `ctc_constrained` (with plate
//! patterns), `slot_decode`, `sequence_log_prob` and `check_charset` on arbitrary shapes, values
//! (NaN, inf, denormals, logits or probabilities), blanks, charsets and beam widths.
//! See `fuzz_common` for the harness and `ALPR_FUZZ_CASES`; `ALPR_FUZZ_DEBUG=1` prints the decoded
//! arguments of each input (with `ALPR_FUZZ_REPLAY`).

mod fuzz_common;

use alpr_core::ctc::{self, CtcShape, Decoded};
use fuzz_common::Input;

/// Tokens worth trying: multi-character, non-ASCII, and the pattern syntax characters.
const TOKENS: [&str; 16] = [
    "A", "B", "0", "1", "Z", "9", "Ä", "Ö", "CH", "-", "]", "\\", "[", "L", "*", "",
];
/// Characters for patterns: the syntax, letters, digits, and a few odd ones.
const PATTERN_CHARS: [char; 20] = [
    'L',
    '9',
    '*',
    '[',
    ']',
    '\\',
    '-',
    'A',
    'B',
    'Z',
    '0',
    '1',
    'Ä',
    'C',
    'H',
    '|',
    ' ',
    'a',
    '^',
    '\u{10FFFF}',
];

/// Does `text` match the pattern `p` (one character per position)?
fn matches(p: &str, text: &str) -> bool {
    let Ok(pos) = ctc::pattern_ranges(p) else {
        return false;
    };
    let chars: Vec<char> = text.chars().collect();
    chars.len() == pos.len()
        && chars
            .iter()
            .zip(&pos)
            .all(|(&c, r)| r.iter().any(|&(lo, hi)| lo <= c && c <= hi))
}

fn check_rows(
    rows: &[Decoded],
    shape: &CtcShape,
    charset: &[String],
    patterns: Option<&[String]>,
    (unit, normalised): (bool, bool),
) {
    assert_eq!(rows.len(), shape.batch);
    for r in rows {
        assert_eq!(r.confidences.len(), r.labels.len());
        assert!(r.labels.len() <= shape.time, "more labels than frames");
        let mut text = String::new();
        for &l in &r.labels {
            let l = l as usize;
            assert!(l < shape.classes && l != shape.blank, "label {l}");
            text.push_str(&charset[if l > shape.blank { l - 1 } else { l }]);
        }
        assert_eq!(text, r.text);
        // Probabilities are used as given, so only logits or values in [0, 1] bound the results.
        for &c in &r.confidences {
            assert!(!c.is_nan(), "NaN confidence");
            assert!(
                !unit || (0.0..=1.0).contains(&c),
                "confidence {c} outside [0, 1]"
            );
        }
        assert!(
            !normalised || r.log_prob.is_nan() || r.log_prob <= 1e-6,
            "log_prob {}",
            r.log_prob
        );
        match patterns {
            Some(p) => {
                assert!(r.pattern >= -1 && r.pattern < p.len() as i32);
                if r.pattern >= 0 {
                    assert!(
                        matches(&p[r.pattern as usize], &r.text),
                        "{:?} does not match {:?}",
                        r.text,
                        p[r.pattern as usize]
                    );
                }
            }
            None => assert_eq!(r.pattern, -1),
        }
    }
}

fn target(data: &[u8]) -> bool {
    let mut inp = Input::new(data);
    let b = inp.size(3, &[0, 1, 9]);
    let t = inp.size(20, &[0, 1, 64]);
    let n_tokens = inp.size(8, &[0, 15]);
    let charset: Vec<String> = (0..n_tokens)
        .map(|_| {
            // The empty token (an error) only now and then.
            let tok = inp.pick(&TOKENS);
            if tok.is_empty() && inp.u8() > 16 {
                "E".to_string()
            } else {
                tok.to_string()
            }
        })
        .collect();
    let mut c = n_tokens + 1;
    if inp.u8() < 8 {
        c = inp.upto(12);
    }
    let blank = match inp.u8() % 8 {
        0 => -1,
        1 => c as i64,
        2 => i64::from(inp.u8()) - 128,
        3 => c.saturating_sub(1) as i64,
        _ => 0,
    };
    let logits = inp.bool();
    let beam = inp.pick(&[0usize, 1, 2, 3, 5, 8, 16]);
    let n_patterns = inp.size(4, &[0, 64, 65]);
    let patterns: Vec<String> = (0..n_patterns)
        .map(|i| {
            if i < 4 {
                inp.string(10, &PATTERN_CHARS)
            } else {
                "L9".to_string()
            }
        })
        .collect();
    let style = inp.u8() % 4;
    let mut len = b * t * c;
    match inp.u8() % 16 {
        0 => len = len.saturating_sub(1),
        1 => len += 1,
        _ => {}
    }
    let probs: Vec<f32> = (0..len)
        .map(|_| match style {
            0 => inp.f32_in(0.0, 1.0),
            1 => inp.f32_in(-20.0, 20.0),
            2 => f32::from(inp.u8() % 5) / 4.0,
            _ => f32::from_bits(inp.u32()),
        })
        .collect();

    // Pattern parsing on its own: an Ok is non-empty with lo <= hi everywhere.
    for p in &patterns {
        if let Ok(pos) = ctc::pattern_ranges(p) {
            assert!(!pos.is_empty() && pos.len() <= p.chars().count());
            assert!(pos
                .iter()
                .all(|r| !r.is_empty() && r.iter().all(|(lo, hi)| lo <= hi)));
        }
    }

    let charset_ok = ctc::check_charset(&charset, "charset").is_ok();
    assert_eq!(charset_ok, charset.iter().all(|s| !s.is_empty()));
    let shape = CtcShape::new(&[b, t, c], probs.len(), charset.len(), blank, logits);
    // A wrong rank is always an error.
    assert!(CtcShape::new(&[b, t], probs.len(), charset.len(), blank, logits).is_err());
    let Ok(shape) = shape else {
        assert!(probs.len() != b * t * c || c != n_tokens + 1 || blank < 0 || blank as usize >= c);
        return false;
    };
    // Probabilities are used as given: confidences are bounded by [0, 1] for values in [0, 1],
    // log-probabilities by 0 for frames summing to at most 1 (and both for logits).
    let unit = logits || probs.iter().all(|p| p.is_nan() || (0.0..=1.0).contains(p));
    let normalised = logits
        || (unit
            && probs.chunks(c.max(1)).all(|f| {
                f.iter()
                    .filter(|p| !p.is_nan())
                    .map(|&p| f64::from(p))
                    .sum::<f64>()
                    <= 1.0 + 1e-6
            }));
    let valid = (unit, normalised);
    if std::env::var("ALPR_FUZZ_DEBUG").is_ok() {
        eprintln!("shape ({b}, {t}, {c}) blank {blank} logits {logits} beam {beam} charset {charset:?} patterns {patterns:?}\nprobs {probs:?}");
    }
    match ctc::ctc_greedy(&probs, &shape, &charset) {
        Ok(rows) => check_rows(&rows, &shape, &charset, None, valid),
        Err(_) => assert!(!charset_ok),
    }
    match ctc::ctc_beam(&probs, &shape, &charset, beam) {
        Ok(rows) => check_rows(&rows, &shape, &charset, None, valid),
        Err(_) => assert!(!charset_ok || beam == 0),
    }
    if let Ok(rows) = ctc::ctc_constrained(&probs, &shape, &charset, &patterns, beam) {
        assert!(charset_ok && beam > 0 && (1..=ctc::MAX_PATTERNS).contains(&patterns.len()));
        check_rows(&rows, &shape, &charset, Some(&patterns), valid);
    }
    // The forward algorithm on the first row, for the greedy labelling and an arbitrary one.
    if b > 0 && t > 0 {
        let row = &probs[..t * c];
        let lp: Vec<f64> = row
            .iter()
            .map(|&p| {
                if p > 0.0 {
                    f64::from(p).ln()
                } else {
                    f64::NEG_INFINITY
                }
            })
            .collect();
        let labels: Vec<u32> = (0..inp.upto(6))
            .map(|_| {
                let mut l = inp.upto(c - 1);
                if l == shape.blank {
                    l = (l + 1) % c;
                }
                l as u32
            })
            .filter(|&l| l as usize != shape.blank)
            .collect();
        let v = ctc::sequence_log_prob(&lp, c, shape.blank, &labels);
        assert!(
            !normalised || logits || v.is_nan() || v <= 1e-6,
            "log prob {v} > 0"
        );
    }
    // Slot decoding over the same values: the charset plus a pad token as the alphabet (the
    // pad sometimes missing from it).
    let mut alphabet = charset.clone();
    alphabet.push("_".to_string());
    let pad = if inp.u8() < 16 { "?" } else { "_" };
    if let Ok(rows) = ctc::slot_decode(&probs, &[b, t, c], &alphabet, pad, logits) {
        assert!(pad == "_" && charset_ok);
        assert_eq!(rows.len(), b);
        for r in &rows {
            assert_eq!(r.labels.len(), r.confidences.len());
            assert!(r.labels.len() <= t);
            assert!(r.labels.iter().all(|&l| (l as usize) < alphabet.len() - 1));
            assert!(r
                .confidences
                .iter()
                .all(|c| !unit || (0.0..=1.0).contains(c)));
        }
    }
    true
}

#[test]
fn fuzz_ctc() {
    fuzz_common::run("ctc", 8192, target);
}
