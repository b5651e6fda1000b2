//! Fuzz target `pattern`: plate-pattern parsing (`ctc::pattern_ranges`, the one parser behind the
//! constrained decoder and `alpr.regions`) on arbitrary strings (odd escapes, unclosed and empty
//! classes, reversed ranges, non-ASCII, lossy UTF-8 of raw bytes), and on patterns assembled
//! from known pieces, whose parse is known. See `fuzz_common` for the harness.

mod fuzz_common;

use alpr_core::ctc::pattern_ranges;
use fuzz_common::Input;

const CHARS: [char; 18] = [
    'L',
    '9',
    '*',
    '[',
    ']',
    '\\',
    '-',
    'A',
    'Z',
    '0',
    'a',
    'Ä',
    '|',
    ' ',
    '^',
    '\u{0}',
    '\u{10FFFF}',
    '\u{0301}',
];

type Ranges = Vec<(char, char)>;

/// One piece of pattern syntax and the position it parses to.
fn piece(inp: &mut Input<'_>) -> (String, Ranges) {
    let c = inp.pick(&[
        'A', 'B', 'Q', '0', '7', '-', ']', '[', '\\', 'Ä', 'L', '9', '*', ' ',
    ]);
    let d = inp.pick(&['C', 'Z', '5', '9', 'Ö', '~']);
    match inp.u8() % 9 {
        0 => ("L".into(), vec![('A', 'Z')]),
        1 => ("9".into(), vec![('0', '9')]),
        2 => ("*".into(), vec![('A', 'Z'), ('0', '9')]),
        3 => (format!("\\{c}"), vec![(c, c)]),
        4 => {
            // A range, written in order.
            let (lo, hi) = if c <= d { (c, d) } else { (d, c) };
            let esc = |x: char| {
                if "]\\-".contains(x) {
                    format!("\\{x}")
                } else {
                    x.to_string()
                }
            };
            (format!("[{}-{}]", esc(lo), esc(hi)), vec![(lo, hi)])
        }
        5 => ("[\\-]".into(), vec![('-', '-')]),
        6 => ("[A\\-Z]".into(), vec![('A', 'A'), ('-', '-'), ('Z', 'Z')]),
        7 => ("[AB]".into(), vec![('A', 'A'), ('B', 'B')]),
        _ => {
            // A literal: any character without a meaning of its own.
            let lit = if "L9*[\\".contains(c) { 'x' } else { c };
            (lit.to_string(), vec![(lit, lit)])
        }
    }
}

fn target(data: &[u8]) -> bool {
    let mut inp = Input::new(data);
    let mode = inp.u8() % 3;
    if mode == 0 {
        let n = 1 + inp.upto(9);
        let (mut text, mut want) = (String::new(), Vec::new());
        for _ in 0..n {
            let (s, r) = piece(&mut inp);
            text.push_str(&s);
            want.push(r);
        }
        assert_eq!(pattern_ranges(&text).as_ref(), Ok(&want), "{text:?}");
        return true;
    }
    let p = if mode == 1 {
        inp.string(24, &CHARS)
    } else {
        String::from_utf8_lossy(inp.rest()).into_owned()
    };
    match pattern_ranges(&p) {
        Ok(pos) => {
            assert!(!pos.is_empty() && pos.len() <= p.chars().count());
            for r in &pos {
                assert!(!r.is_empty() && r.iter().all(|(lo, hi)| lo <= hi), "{p:?}");
            }
            true
        }
        Err(e) => {
            assert!(e.to_string().starts_with("pattern "), "{e}");
            false
        }
    }
}

#[test]
fn fuzz_pattern() {
    fuzz_common::run("pattern", 256, target);
}
