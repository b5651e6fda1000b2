//! CTC decoding (greedy, prefix beam search, pattern-constrained beam search) and fixed-slot
//! decoding of `(B, T, C)` recognizer outputs.
//!
//! Input rows are probabilities (`logits = false`; used as given, `ln p` with `p <= 0` or NaN read
//! as impossible) or raw logits (`logits = true`; a log-softmax is taken per frame).
//!
//! **Per-character confidence** is the peak probability of the frames aligned to that character:
//! a character emitted over frames `t0..t1` of the best path gets `max_t p_t(char)`. A frame that
//! the model was unsure about yields a low value, so the *minimum* over a plate flags a likely
//! misread (the mean hides a single bad character). In the beam search the alignment is the most
//! probable single path that reached the prefix.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::error::{CoreError, Result};

/// Shape and interpretation of a CTC input batch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CtcShape {
    pub batch: usize,
    pub time: usize,
    pub classes: usize,
    pub blank: usize,
    pub logits: bool,
}

/// One decoded row.
#[derive(Clone, Debug, PartialEq)]
pub struct Decoded {
    /// Class indices of the emitted characters (blank excluded, repeats merged).
    pub labels: Vec<u32>,
    /// The concatenated charset tokens.
    pub text: String,
    /// One confidence per label (see the module docs).
    pub confidences: Vec<f32>,
    /// Natural log of the exact CTC probability of the labelling (sum over all alignments) for
    /// the beam searches, of the chosen path for slot decoding; NaN for greedy decoding (use
    /// [`sequence_log_prob`]).
    pub log_prob: f64,
    /// Index of the matched pattern in constrained decoding; -1 if none matched (or unconstrained).
    pub pattern: i32,
}

impl CtcShape {
    /// Validate a `(B, T, C)` batch of `len` values against a charset of `charset_len` tokens.
    pub fn new(
        shape: &[usize],
        len: usize,
        charset_len: usize,
        blank: i64,
        logits: bool,
    ) -> Result<Self> {
        let [b, t, c] = match shape {
            [b, t, c] => [*b, *t, *c],
            _ => {
                return Err(CoreError::Shape(format!(
                    "probs: expected (B, T, C) with C = len(charset) + 1 = {}, got {shape:?}",
                    charset_len + 1
                )))
            }
        };
        if b.checked_mul(t).and_then(|v| v.checked_mul(c)) != Some(len) {
            return Err(CoreError::Shape(format!(
                "probs: expected {b} x {t} x {c} values, got {len}"
            )));
        }
        if c != charset_len + 1 {
            return Err(CoreError::Shape(format!(
                "probs: expected C = len(charset) + 1 = {} classes, got C = {c} (shape {shape:?})",
                charset_len + 1
            )));
        }
        if blank < 0 || blank as usize >= c {
            return Err(CoreError::Value(format!(
                "blank: expected an index in [0, {c}), got {blank}"
            )));
        }
        Ok(CtcShape {
            batch: b,
            time: t,
            classes: c,
            blank: blank as usize,
            logits,
        })
    }

    fn row<'a>(&self, data: &'a [f32], b: usize) -> &'a [f32] {
        let n = self.time * self.classes;
        &data[b * n..(b + 1) * n]
    }

    /// Charset index of a non-blank class.
    #[inline]
    fn token(&self, class: usize) -> usize {
        if class > self.blank {
            class - 1
        } else {
            class
        }
    }
}

/// Reject empty charset tokens (they would make text and patterns ambiguous).
pub fn check_charset(charset: &[String], name: &str) -> Result<()> {
    if let Some(i) = charset.iter().position(|s| s.is_empty()) {
        return Err(CoreError::Value(format!(
            "{name}: expected non-empty tokens, got an empty string at index {i}"
        )));
    }
    Ok(())
}

fn check_beam_width(beam_width: usize) -> Result<()> {
    if beam_width == 0 {
        return Err(CoreError::Value(
            "beam_width: expected >= 1, got 0".to_string(),
        ));
    }
    Ok(())
}

/// `ln(e^a + e^b)` that is exact for `-inf` operands.
#[inline]
fn lse(a: f64, b: f64) -> f64 {
    let (hi, lo) = if a > b { (a, b) } else { (b, a) };
    if lo == f64::NEG_INFINITY {
        return hi;
    }
    hi + (lo - hi).exp().ln_1p()
}

/// Per-frame log-probabilities of one row `(T, C)` into `out`.
fn log_probs(row: &[f32], shape: &CtcShape, out: &mut Vec<f64>) {
    out.clear();
    for frame in row.chunks_exact(shape.classes) {
        if shape.logits {
            let max = frame
                .iter()
                .filter(|v| !v.is_nan())
                .fold(f32::NEG_INFINITY, |m, &v| m.max(v)) as f64;
            if max.is_infinite() {
                // Degenerate frame: +inf logits share the mass, all -inf/NaN is impossible.
                let n_inf = frame.iter().filter(|v| **v == f32::INFINITY).count();
                for &v in frame {
                    out.push(if v == f32::INFINITY {
                        -(n_inf as f64).ln()
                    } else {
                        f64::NEG_INFINITY
                    });
                }
                continue;
            }
            let sum: f64 = frame
                .iter()
                .filter(|v| !v.is_nan())
                .map(|&v| (v as f64 - max).exp())
                .sum();
            // `(v - max) - ln(sum)`, not `v - (max + ln(sum))`: next to a logit of ~1e22 the
            // `ln(sum)` vanishes in the sum, two tied maxima each got probability 1 and a beam
            // result log-probability ln 2 > 0 (found by fuzz_ctc).
            let ls = sum.ln();
            out.extend(frame.iter().map(|&v| {
                if v.is_nan() {
                    f64::NEG_INFINITY
                } else {
                    (v as f64 - max) - ls
                }
            }));
        } else {
            // +inf is clamped so that path sums stay finite (no inf - inf = NaN later).
            out.extend(frame.iter().map(|&v| {
                if v > 0.0 {
                    (v.min(f32::MAX) as f64).ln()
                } else {
                    f64::NEG_INFINITY
                }
            }));
        }
    }
}

/// First index of the maximum of a frame, NaN ignored (index 0 when no value is > -inf).
#[inline]
fn argmax(frame: &[f32]) -> usize {
    let mut best = 0;
    let mut bv = f32::NEG_INFINITY;
    for (i, &v) in frame.iter().enumerate() {
        if v > bv {
            bv = v;
            best = i;
        }
    }
    best
}

/// [`argmax`] of every `c`-wide frame of `data`, into `out`. Eight frames are processed side by
/// side (lane j follows frame j with branch-free selects), which avoids the per-frame horizontal
/// reduction and the mispredicted "where was the max" branch: about 2x faster for C = 37.
// Indexed loops on purpose: this is the form LLVM turns into lane-wise compare/select.
#[allow(clippy::needless_range_loop)]
fn argmax_frames(data: &[f32], c: usize, out: &mut Vec<u32>) {
    out.clear();
    if c == 0 {
        return;
    }
    let mut blocks = data.chunks_exact(8 * c);
    for block in &mut blocks {
        let rows: [&[f32]; 8] = std::array::from_fn(|j| &block[j * c..(j + 1) * c]);
        let mut m = [f32::NEG_INFINITY; 8];
        let mut ix = [0u32; 8];
        for k in 0..c {
            // Gather one class of the 8 frames, then compare and select on whole lanes.
            let v: [f32; 8] = std::array::from_fn(|j| rows[j][k]);
            let kk = k as u32;
            for j in 0..8 {
                let gt = v[j] > m[j];
                m[j] = if gt { v[j] } else { m[j] };
                ix[j] = if gt { kk } else { ix[j] };
            }
        }
        out.extend_from_slice(&ix);
    }
    out.extend(blocks.remainder().chunks_exact(c).map(|f| argmax(f) as u32));
}

/// Probability of class `k` in a frame (softmax for logits).
fn frame_prob(frame: &[f32], k: usize, logits: bool) -> f32 {
    if !logits {
        // NaN reads as impossible (as in `log_probs`): confidence 0, never NaN.
        return if frame[k].is_nan() { 0.0 } else { frame[k] };
    }
    let max = frame
        .iter()
        .filter(|v| !v.is_nan())
        .fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    if max.is_infinite() {
        let n_inf = frame.iter().filter(|v| **v == f32::INFINITY).count();
        return if frame[k] == f32::INFINITY {
            1.0 / n_inf as f32
        } else {
            0.0
        };
    }
    let sum: f32 = frame
        .iter()
        .filter(|v| !v.is_nan())
        .map(|&v| (v - max).exp())
        .sum();
    if frame[k].is_nan() {
        0.0
    } else {
        (frame[k] - max).exp() / sum
    }
}

fn text_of(labels: &[u32], shape: &CtcShape, charset: &[String]) -> String {
    let mut s = String::new();
    for &l in labels {
        s.push_str(&charset[shape.token(l as usize)]);
    }
    s
}

/// Greedy (best path) decoding of one row, given the argmax class of each of its frames.
fn greedy_row(row: &[f32], best: &[u32], shape: &CtcShape, charset: &[String]) -> Decoded {
    let mut labels = Vec::with_capacity(shape.time);
    let mut confidences: Vec<f32> = Vec::with_capacity(shape.time);
    let mut text = String::with_capacity(shape.time);
    let mut prev = usize::MAX;
    for (frame, &k) in row.chunks_exact(shape.classes).zip(best) {
        let k = k as usize;
        if k != shape.blank {
            // Only emitted characters need their probability (a softmax for logits).
            let p = frame_prob(frame, k, shape.logits);
            if k == prev {
                if let Some(c) = confidences.last_mut() {
                    *c = c.max(p);
                }
            } else {
                labels.push(k as u32);
                confidences.push(p);
                text.push_str(&charset[shape.token(k)]);
            }
        }
        prev = k;
    }
    Decoded {
        labels,
        text,
        confidences,
        log_prob: f64::NAN,
        pattern: -1,
    }
}

/// Greedy decoding of one row (computes its argmaxes).
fn greedy_one(row: &[f32], shape: &CtcShape, charset: &[String]) -> Decoded {
    let mut best = Vec::with_capacity(shape.time);
    argmax_frames(row, shape.classes, &mut best);
    greedy_row(row, &best, shape, charset)
}

/// Exact CTC log-probability of `labels` given per-frame log-probs `lp (T, C)` (forward algorithm).
pub fn sequence_log_prob(lp: &[f64], classes: usize, blank: usize, labels: &[u32]) -> f64 {
    let t_len = lp.len() / classes;
    let s_len = 2 * labels.len() + 1;
    let ext = |s: usize| -> usize {
        if s % 2 == 0 {
            blank
        } else {
            labels[s / 2] as usize
        }
    };
    if t_len == 0 {
        return if labels.is_empty() {
            0.0
        } else {
            f64::NEG_INFINITY
        };
    }
    let mut alpha = vec![f64::NEG_INFINITY; s_len];
    let mut next = vec![f64::NEG_INFINITY; s_len];
    alpha[0] = lp[blank];
    if s_len > 1 {
        alpha[1] = lp[ext(1)];
    }
    for t in 1..t_len {
        let frame = &lp[t * classes..(t + 1) * classes];
        for s in 0..s_len {
            let mut a = alpha[s];
            if s >= 1 {
                a = lse(a, alpha[s - 1]);
            }
            if s >= 2 && s % 2 == 1 && ext(s) != ext(s - 2) {
                a = lse(a, alpha[s - 2]);
            }
            next[s] = a + frame[ext(s)];
        }
        std::mem::swap(&mut alpha, &mut next);
    }
    if s_len > 1 {
        lse(alpha[s_len - 1], alpha[s_len - 2])
    } else {
        alpha[0]
    }
}

/// [`sequence_log_prob`] from per-frame probabilities `p (T, C)` (`exp` of the log-probs): the
/// forward recursion in linear space, rescaled every frame, is several times faster than the
/// log-space one (no `exp`/`ln` per state).
fn sequence_log_prob_linear(p: &[f64], classes: usize, blank: usize, labels: &[u32]) -> f64 {
    let t_len = p.len() / classes;
    let s_len = 2 * labels.len() + 1;
    if t_len == 0 {
        return if labels.is_empty() {
            0.0
        } else {
            f64::NEG_INFINITY
        };
    }
    // Extended label sequence: blank, l1, blank, l2, ..., blank; `skip[s]`: s - 2 -> s allowed.
    let ext: Vec<usize> = (0..s_len)
        .map(|s| {
            if s % 2 == 0 {
                blank
            } else {
                labels[s / 2] as usize
            }
        })
        .collect();
    let skip: Vec<bool> = (0..s_len)
        .map(|s| s >= 2 && s % 2 == 1 && ext[s] != ext[s - 2])
        .collect();
    let mut alpha = vec![0.0f64; s_len];
    let mut next = vec![0.0f64; s_len];
    alpha[0] = p[blank];
    if s_len > 1 {
        alpha[1] = p[ext[1]];
    }
    let mut log_scale = 0.0f64;
    let mut normalise = |alpha: &mut [f64]| -> bool {
        let sum: f64 = alpha.iter().sum();
        if !(sum > 0.0 && sum.is_finite()) {
            return false;
        }
        alpha.iter_mut().for_each(|a| *a /= sum);
        log_scale += sum.ln();
        true
    };
    if !normalise(&mut alpha) {
        return f64::NEG_INFINITY;
    }
    for t in 1..t_len {
        let frame = &p[t * classes..(t + 1) * classes];
        for s in 0..s_len {
            let mut a = alpha[s];
            if s >= 1 {
                a += alpha[s - 1];
            }
            if skip[s] {
                a += alpha[s - 2];
            }
            next[s] = a * frame[ext[s]];
        }
        std::mem::swap(&mut alpha, &mut next);
        if !normalise(&mut alpha) {
            return f64::NEG_INFINITY;
        }
    }
    let end = if s_len > 1 {
        alpha[s_len - 1] + alpha[s_len - 2]
    } else {
        alpha[0]
    };
    end.ln() + log_scale
}

// ---------------------------------------------------------------------------------------------
// Format patterns

/// One pattern position: a set of characters given as inclusive ranges.
#[derive(Clone, Debug, PartialEq)]
struct CharClass(Vec<(char, char)>);

impl CharClass {
    fn matches(&self, c: char) -> bool {
        self.0.iter().any(|&(lo, hi)| lo <= c && c <= hi)
    }
}

/// The positions of a plate pattern as inclusive character ranges, one `Vec` per position: the one
/// parser behind both the constrained decoder and the Python format matcher (`alpr.regions`).
pub fn pattern_ranges(p: &str) -> Result<Vec<Vec<(char, char)>>> {
    Ok(parse_pattern(p)?.into_iter().map(|c| c.0).collect())
}

/// Parse a plate pattern: `L` = letter A-Z, `9` = digit, `*` = letter or digit, `[...]` = a
/// character class (ranges such as `A-HJ-NP-Z`; `\X` inside is a literal X), `\X` = literal X,
/// any other character = itself.
fn parse_pattern(p: &str) -> Result<Vec<CharClass>> {
    let err = |msg: String| CoreError::Value(format!("pattern {p:?}: {msg}"));
    let mut out = Vec::new();
    let mut it = p.chars();
    while let Some(c) = it.next() {
        let class = match c {
            'L' => CharClass(vec![('A', 'Z')]),
            '9' => CharClass(vec![('0', '9')]),
            '*' => CharClass(vec![('A', 'Z'), ('0', '9')]),
            '\\' => match it.next() {
                Some(x) => CharClass(vec![(x, x)]),
                None => return Err(err("expected a character after '\\', got the end".into())),
            },
            '[' => {
                let mut items: Vec<char> = Vec::new();
                let mut closed = false;
                let mut escaped = Vec::new();
                while let Some(x) = it.next() {
                    match x {
                        ']' => {
                            closed = true;
                            break;
                        }
                        '\\' => match it.next() {
                            Some(y) => {
                                escaped.push(items.len());
                                items.push(y);
                            }
                            None => {
                                return Err(err(
                                    "expected a character after '\\', got the end".into()
                                ))
                            }
                        },
                        _ => items.push(x),
                    }
                }
                if !closed {
                    return Err(err("expected ']' to close a character class".into()));
                }
                let mut ranges = Vec::new();
                let mut i = 0;
                while i < items.len() {
                    let is_dash = |j: usize| items[j] == '-' && !escaped.contains(&j);
                    if i + 2 < items.len() && is_dash(i + 1) {
                        let (lo, hi) = (items[i], items[i + 2]);
                        if lo > hi {
                            return Err(err(format!("expected lo <= hi in range {lo}-{hi}")));
                        }
                        ranges.push((lo, hi));
                        i += 3;
                    } else {
                        ranges.push((items[i], items[i]));
                        i += 1;
                    }
                }
                if ranges.is_empty() {
                    return Err(err("expected a non-empty character class, got []".into()));
                }
                CharClass(ranges)
            }
            other => CharClass(vec![(other, other)]),
        };
        out.push(class);
    }
    if out.is_empty() {
        return Err(err(
            "expected at least one position, got an empty pattern".into()
        ));
    }
    Ok(out)
}

/// Automaton over pattern positions: a prefix of `n` characters is described by the bitmask of
/// the patterns it still matches (every position consumes exactly one character, so `n` is the
/// position in all of them). `trans[n][class]` is the mask of patterns that accept the class's
/// token at positions `n..n + len(token)`.
struct Automaton {
    trans: Vec<Vec<u64>>,
    /// `accept[n]`: patterns of exactly `n` characters.
    accept: Vec<u64>,
    /// Characters per class (0 for the blank).
    token_len: Vec<usize>,
    all: u64,
}

/// Most patterns one constrained call may carry.
pub const MAX_PATTERNS: usize = 64;

impl Automaton {
    fn new(patterns: &[String], shape: &CtcShape, charset: &[String]) -> Result<Self> {
        if patterns.is_empty() || patterns.len() > MAX_PATTERNS {
            return Err(CoreError::Value(format!(
                "patterns: expected 1 to {MAX_PATTERNS} patterns, got {}",
                patterns.len()
            )));
        }
        let parsed = patterns
            .iter()
            .map(|p| parse_pattern(p))
            .collect::<Result<Vec<_>>>()?;
        let max_len = parsed.iter().map(Vec::len).max().unwrap_or(0);
        let tokens: Vec<Vec<char>> = (0..shape.classes)
            .map(|k| {
                if k == shape.blank {
                    Vec::new()
                } else {
                    charset[shape.token(k)].chars().collect()
                }
            })
            .collect();
        let mut trans = vec![vec![0u64; shape.classes]; max_len + 1];
        for (n, row) in trans.iter_mut().enumerate() {
            for (k, tok) in tokens.iter().enumerate() {
                if k == shape.blank {
                    continue;
                }
                for (pi, pat) in parsed.iter().enumerate() {
                    let fits = n + tok.len() <= pat.len()
                        && tok.iter().enumerate().all(|(j, &c)| pat[n + j].matches(c));
                    if fits {
                        row[k] |= 1 << pi;
                    }
                }
            }
        }
        let mut accept = vec![0u64; max_len + 1];
        for (pi, pat) in parsed.iter().enumerate() {
            accept[pat.len()] |= 1 << pi;
        }
        let all = if patterns.len() == 64 {
            u64::MAX
        } else {
            (1u64 << patterns.len()) - 1
        };
        Ok(Automaton {
            trans,
            accept,
            token_len: tokens.iter().map(Vec::len).collect(),
            all,
        })
    }

    /// Mask after appending `class` to a prefix of `n` characters that matched `mask`.
    #[inline]
    fn step(&self, mask: u64, n: usize, class: usize) -> u64 {
        match self.trans.get(n) {
            Some(row) => mask & row[class],
            None => 0,
        }
    }

    fn accepted(&self, mask: u64, n: usize) -> u64 {
        self.accept.get(n).map_or(0, |a| mask & a)
    }
}

// ---------------------------------------------------------------------------------------------
// Prefix beam search

/// The Fx hash (rustc's): the trie keys are small integers made by this code, not by an
/// adversary, so SipHash's flooding resistance buys nothing and costs most of the search time.
#[derive(Default, Clone, Copy)]
struct FxHasher(u64);

impl FxHasher {
    #[inline]
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.add(b as u64);
        }
    }

    fn write_u32(&mut self, i: u32) {
        self.add(i as u64);
    }

    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// A prefix in the trie of all prefixes seen in one row.
struct Node {
    parent: u32,
    class: u32,
    /// Characters in the prefix (pattern position).
    chars: u32,
    mask: u64,
}

struct Beam {
    node: u32,
    p_b: f64,
    p_nb: f64,
    conf: Vec<f32>,
}

/// A candidate of the next step; `best` is its most probable single contribution, whose
/// confidences it carries.
struct Cand {
    node: u32,
    p_b: f64,
    p_nb: f64,
    best: f64,
    conf: Vec<f32>,
}

fn labels_of(nodes: &[Node], mut node: u32) -> Vec<u32> {
    let mut out = Vec::new();
    while node != 0 {
        let n = &nodes[node as usize];
        out.push(n.class);
        node = n.parent;
    }
    out.reverse();
    out
}

/// Add a contribution of log-probability `p` (to the blank- or non-blank-ending mass) to the
/// candidate of `node`.
/// `slot[node]` is 1 + the candidate index of `node` in this frame, 0 if it has none yet.
fn contribute(
    cands: &mut Vec<Cand>,
    slot: &mut Vec<u32>,
    node: u32,
    p: f64,
    blank_end: bool,
    conf: impl FnOnce() -> Vec<f32>,
) {
    if p == f64::NEG_INFINITY {
        return;
    }
    let n = node as usize;
    if slot.len() <= n {
        slot.resize(n + 1, 0);
    }
    if slot[n] == 0 {
        cands.push(Cand {
            node,
            p_b: f64::NEG_INFINITY,
            p_nb: f64::NEG_INFINITY,
            best: f64::NEG_INFINITY,
            conf: Vec::new(),
        });
        slot[n] = cands.len() as u32;
    }
    let i = slot[n] as usize - 1;
    let c = &mut cands[i];
    if blank_end {
        c.p_b = lse(c.p_b, p);
    } else {
        c.p_nb = lse(c.p_nb, p);
    }
    // The first contribution always sets the confidences (even a NaN one from garbage input).
    if p > c.best || c.best == f64::NEG_INFINITY {
        c.best = p;
        c.conf = conf();
    }
}

/// Prefix beam search over one row; returns the final beams' labellings with their confidences,
/// best first, restricted to accepted ones when an automaton is given.
fn beam_row(
    lp: &[f64],
    shape: &CtcShape,
    beam_width: usize,
    automaton: Option<&Automaton>,
) -> Vec<(Vec<u32>, Vec<f32>, u64)> {
    let c_len = shape.classes;
    let blank = shape.blank;
    let mut nodes = vec![Node {
        parent: 0,
        class: u32::MAX,
        chars: 0,
        mask: automaton.map_or(0, |a| a.all),
    }];
    let t_len = lp.len() / c_len.max(1);
    let mut children: FxMap<(u32, u32), u32> = FxMap::default();
    children.reserve(
        t_len
            .saturating_mul(beam_width)
            .saturating_mul(beam_width.saturating_add(2))
            .min(1 << 16),
    );
    let mut beams = vec![Beam {
        node: 0,
        p_b: 0.0,
        p_nb: f64::NEG_INFINITY,
        conf: Vec::new(),
    }];
    let mut cands: Vec<Cand> = Vec::new();
    let mut slot: Vec<u32> = Vec::new();
    // Classes that can extend a prefix in this frame, best first.
    let mut order: Vec<usize> = Vec::with_capacity(c_len);
    for frame in lp.chunks_exact(c_len) {
        cands.clear();
        order.clear();
        order.extend((0..c_len).filter(|&k| k != blank && frame[k] > f64::NEG_INFINITY));
        if automaton.is_none() {
            // Unconstrained: of one parent's extensions only those by the beam_width + 1 most
            // likely classes can rank among the beam_width best (the +1 covers the repeat class,
            // which extends only the blank-ending mass). The dropped ones could only add mass to
            // a prefix already in the beam, and the final exact rescoring corrects the ranking.
            order.sort_by(|&a, &b| frame[b].total_cmp(&frame[a]));
            order.truncate(beam_width.saturating_add(1));
        }
        for beam in &beams {
            let total = lse(beam.p_b, beam.p_nb);
            let node = &nodes[beam.node as usize];
            let last = if beam.node == 0 {
                usize::MAX
            } else {
                node.class as usize
            };
            let (chars, mask) = (node.chars as usize, node.mask);
            // Stay on the prefix through a blank.
            contribute(
                &mut cands,
                &mut slot,
                beam.node,
                total + frame[blank],
                true,
                || beam.conf.clone(),
            );
            // Stay on the prefix by repeating its last character.
            if last != usize::MAX {
                let p = frame[last];
                contribute(
                    &mut cands,
                    &mut slot,
                    beam.node,
                    beam.p_nb + p,
                    false,
                    || {
                        let mut c = beam.conf.clone();
                        if let Some(x) = c.last_mut() {
                            *x = x.max(p.exp() as f32);
                        }
                        c
                    },
                );
            }
            for &k in &order {
                let new_mask = match automaton {
                    Some(a) => {
                        let m = a.step(mask, chars, k);
                        if m == 0 {
                            continue;
                        }
                        m
                    }
                    None => 0,
                };
                let p = if k == last { beam.p_b } else { total } + frame[k];
                if p == f64::NEG_INFINITY {
                    continue;
                }
                let key = (beam.node, k as u32);
                let child = match children.get(&key) {
                    Some(&c) => c,
                    None => {
                        let add = automaton.map_or(1, |a| a.token_len[k]);
                        nodes.push(Node {
                            parent: beam.node,
                            class: k as u32,
                            chars: (chars + add) as u32,
                            mask: new_mask,
                        });
                        let id = (nodes.len() - 1) as u32;
                        children.insert(key, id);
                        id
                    }
                };
                contribute(&mut cands, &mut slot, child, p, false, || {
                    let mut c = beam.conf.clone();
                    c.push(frame[k].exp() as f32);
                    c
                });
            }
        }
        // Keep the beam_width best candidates (stable: ties keep insertion order).
        let mut ranked: Vec<(f64, usize)> = cands
            .iter()
            .enumerate()
            .map(|(i, c)| (lse(c.p_b, c.p_nb), i))
            .collect();
        // Best first; ties keep insertion order. Only the top beam_width need sorting.
        let by_score = |a: &(f64, usize), b: &(f64, usize)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
        if ranked.len() > beam_width {
            ranked.select_nth_unstable_by(beam_width - 1, by_score);
            ranked.truncate(beam_width);
        }
        ranked.sort_unstable_by(by_score);
        for c in &cands {
            slot[c.node as usize] = 0;
        }
        let mut taken: Vec<Option<Cand>> = cands.drain(..).map(Some).collect();
        beams = ranked
            .into_iter()
            .filter_map(|(_, i)| taken[i].take())
            .map(|c| Beam {
                node: c.node,
                p_b: c.p_b,
                p_nb: c.p_nb,
                conf: c.conf,
            })
            .collect();
        if beams.is_empty() {
            break;
        }
    }
    beams
        .into_iter()
        .filter_map(|b| {
            let node = &nodes[b.node as usize];
            let acc = match automaton {
                Some(a) => {
                    let m = a.accepted(node.mask, node.chars as usize);
                    if m == 0 {
                        return None;
                    }
                    m
                }
                None => 0,
            };
            Some((labels_of(&nodes, b.node), b.conf, acc))
        })
        .collect()
}

/// Beam-search one row: rescore the final beams (and the greedy labelling, when admissible) with
/// their exact CTC probability and return the best, so a beam result is never less probable than
/// the greedy one. `None` when no admissible labelling survived (constrained search only).
fn beam_decode_row(
    row: &[f32],
    shape: &CtcShape,
    charset: &[String],
    beam_width: usize,
    automaton: Option<&Automaton>,
    lp: &mut Vec<f64>,
) -> Option<Decoded> {
    log_probs(row, shape, lp);
    let mut finals = beam_row(lp, shape, beam_width, automaton);
    let greedy = greedy_one(row, shape, charset);
    let greedy_acc = match automaton {
        Some(a) => {
            let mut mask = a.all;
            let mut n = 0;
            for &l in &greedy.labels {
                mask = a.step(mask, n, l as usize);
                n += a.token_len[l as usize];
            }
            a.accepted(mask, n)
        }
        None => 1,
    };
    if greedy_acc != 0 && !finals.iter().any(|f| f.0 == greedy.labels) {
        finals.push((
            greedy.labels.clone(),
            greedy.confidences.clone(),
            greedy_acc,
        ));
    }
    let probs: Vec<f64> = lp.iter().map(|v| v.exp()).collect();
    let mut best: Option<(f64, usize)> = None;
    for (i, f) in finals.iter().enumerate() {
        let s = sequence_log_prob_linear(&probs, shape.classes, shape.blank, &f.0);
        if best.is_none_or(|(b, _)| s > b) {
            best = Some((s, i));
        }
    }
    let (log_prob, i) = best?;
    let (labels, confidences, acc) = finals.swap_remove(i);
    let text = text_of(&labels, shape, charset);
    Some(Decoded {
        labels,
        text,
        confidences,
        log_prob,
        pattern: if automaton.is_some() {
            acc.trailing_zeros() as i32
        } else {
            -1
        },
    })
}

/// Run `f` over each batch row, on several threads when the work is large enough.
fn per_row<F>(batch: usize, work_per_row: usize, f: F) -> Vec<Decoded>
where
    F: Fn(usize, &mut Vec<f64>) -> Decoded + Sync,
{
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(batch.max(1));
    // Below ~1 ms of work a thread costs more than it saves.
    if threads <= 1 || batch.saturating_mul(work_per_row) < 200_000 {
        let mut lp = Vec::new();
        return (0..batch).map(|b| f(b, &mut lp)).collect();
    }
    let chunk = batch.div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|i| {
                let f = &f;
                s.spawn(move || {
                    let mut lp = Vec::new();
                    (i * chunk..((i + 1) * chunk).min(batch))
                        .map(|b| f(b, &mut lp))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| match h.join() {
                Ok(v) => v,
                // A panic in a worker is a bug; re-raise it on the caller's thread.
                Err(e) => std::panic::resume_unwind(e),
            })
            .collect()
    })
}

/// Greedy (best path) CTC decoding of every row of `data (B, T, C)`.
pub fn ctc_greedy(data: &[f32], shape: &CtcShape, charset: &[String]) -> Result<Vec<Decoded>> {
    check_charset(charset, "charset")?;
    // One argmax pass over the whole batch (frames are contiguous across rows).
    let mut best = Vec::with_capacity(shape.batch * shape.time);
    argmax_frames(data, shape.classes, &mut best);
    Ok((0..shape.batch)
        .map(|b| {
            let t = shape.time;
            greedy_row(
                shape.row(data, b),
                &best[b * t..(b + 1) * t],
                shape,
                charset,
            )
        })
        .collect())
}

/// Prefix beam search CTC decoding of every row of `data (B, T, C)`.
pub fn ctc_beam(
    data: &[f32],
    shape: &CtcShape,
    charset: &[String],
    beam_width: usize,
) -> Result<Vec<Decoded>> {
    check_charset(charset, "charset")?;
    check_beam_width(beam_width)?;
    let work = (shape.time * shape.classes).saturating_mul(beam_width.min(shape.classes));
    Ok(per_row(shape.batch, work, |b, lp| {
        let row = shape.row(data, b);
        beam_decode_row(row, shape, charset, beam_width, None, lp)
            .unwrap_or_else(|| greedy_one(row, shape, charset))
    }))
}

/// Beam search constrained to labellings matching one of `patterns` (see [`parse_pattern`]).
/// A row with no matching path gets the unconstrained beam result with `pattern = -1`.
pub fn ctc_constrained(
    data: &[f32],
    shape: &CtcShape,
    charset: &[String],
    patterns: &[String],
    beam_width: usize,
) -> Result<Vec<Decoded>> {
    check_charset(charset, "charset")?;
    check_beam_width(beam_width)?;
    let automaton = Automaton::new(patterns, shape, charset)?;
    let work = (shape.time * shape.classes).saturating_mul(beam_width);
    Ok(per_row(shape.batch, work, |b, lp| {
        let row = shape.row(data, b);
        beam_decode_row(row, shape, charset, beam_width, Some(&automaton), lp)
            .or_else(|| beam_decode_row(row, shape, charset, beam_width, None, lp))
            .unwrap_or_else(|| greedy_one(row, shape, charset))
    }))
}

/// Fixed-slot decoding (one character per slot, fast-plate-ocr style): `data (B, S, A)` over
/// `alphabet` (`A = len(alphabet)`); the argmax of each slot is kept unless it is `pad`. The
/// confidence of a character is its slot's probability (softmax of the logits when `logits`).
pub fn slot_decode(
    data: &[f32],
    shape: &[usize],
    alphabet: &[String],
    pad: &str,
    logits: bool,
) -> Result<Vec<Decoded>> {
    let [b, s, a] = match shape {
        [b, s, a] => [*b, *s, *a],
        _ => {
            return Err(CoreError::Shape(format!(
                "probs: expected (B, S, len(alphabet)) = (B, S, {}), got {shape:?}",
                alphabet.len()
            )))
        }
    };
    if b.checked_mul(s).and_then(|v| v.checked_mul(a)) != Some(data.len()) {
        return Err(CoreError::Shape(format!(
            "probs: expected {b} x {s} x {a} values, got {}",
            data.len()
        )));
    }
    if a != alphabet.len() {
        return Err(CoreError::Shape(format!(
            "probs: expected last axis = len(alphabet) = {}, got {a} (shape {shape:?})",
            alphabet.len()
        )));
    }
    check_charset(alphabet, "alphabet")?;
    let pad_class = alphabet.iter().position(|t| t == pad).ok_or_else(|| {
        CoreError::Value(format!(
            "pad_char: expected one of the alphabet's tokens, got {pad:?}"
        ))
    })?;
    let mut out = Vec::with_capacity(b);
    for row in data.chunks_exact((s * a).max(1)).take(b) {
        let mut labels = Vec::new();
        let mut text = String::new();
        let mut confidences = Vec::new();
        let mut log_prob = 0.0f64;
        for frame in row.chunks_exact(a.max(1)) {
            if a == 0 {
                break;
            }
            let k = argmax(frame);
            let p = frame_prob(frame, k, logits);
            log_prob += if p > 0.0 {
                (p as f64).ln()
            } else {
                f64::NEG_INFINITY
            };
            if k != pad_class {
                labels.push(k as u32);
                text.push_str(&alphabet[k]);
                confidences.push(p);
            }
        }
        out.push(Decoded {
            labels,
            text,
            confidences,
            log_prob,
            pattern: -1,
        });
    }
    // A batch of rows with S = 0 has no chunks to iterate; keep one empty result per row.
    while out.len() < b {
        out.push(Decoded {
            labels: Vec::new(),
            text: String::new(),
            confidences: Vec::new(),
            log_prob: 0.0,
            pattern: -1,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn charset(s: &str) -> Vec<String> {
        s.chars().map(String::from).collect()
    }

    /// One-hot-ish frames: class `k` gets `p`, the rest share `1 - p`.
    fn frames(classes: usize, seq: &[usize], p: f32) -> Vec<f32> {
        let mut out = Vec::new();
        for &k in seq {
            for c in 0..classes {
                out.push(if c == k {
                    p
                } else {
                    (1.0 - p) / (classes - 1) as f32
                });
            }
        }
        out
    }

    #[test]
    fn greedy_merges_repeats_and_drops_blanks() {
        let cs = charset("AB");
        let data = frames(3, &[1, 1, 0, 1, 2, 2, 0], 0.9);
        let shape = CtcShape::new(&[1, 7, 3], data.len(), 2, 0, false).unwrap();
        let d = ctc_greedy(&data, &shape, &cs).unwrap();
        assert_eq!(d[0].text, "AAB");
        assert_eq!(d[0].confidences.len(), 3);
        let b = ctc_beam(&data, &shape, &cs, 5).unwrap();
        assert_eq!(b[0].text, "AAB");
    }

    #[test]
    fn huge_tied_logits_share_the_mass() {
        // Two tied logits of 3.5e22 (blank and "A"), then "A" for sure: P("A") = 1, log 0.
        let cs = charset("A");
        let data = [3.5e22, 3.5e22, 0.0, 1.0e30];
        let shape = CtcShape::new(&[1, 2, 2], 4, 1, 0, true).unwrap();
        let d = ctc_beam(&data, &shape, &cs, 4).unwrap();
        assert_eq!(d[0].text, "A");
        assert!(d[0].log_prob.abs() < 1e-12, "{}", d[0].log_prob);
    }

    #[test]
    fn nan_probability_is_confidence_zero() {
        // An all-NaN frame in probability mode: argmax falls back to class 0 (here "A", blank is
        // class 1); NaN reads as impossible, so the confidence is 0, not NaN (found by fuzz_ctc).
        let cs = charset("A");
        let data = [f32::NAN, f32::NAN];
        let shape = CtcShape::new(&[1, 1, 2], 2, 1, 1, false).unwrap();
        let d = ctc_greedy(&data, &shape, &cs).unwrap();
        assert_eq!(
            (d[0].text.as_str(), d[0].confidences.as_slice()),
            ("A", &[0.0][..])
        );
        let s = slot_decode(&data, &[1, 1, 2], &charset("AB"), "B", false).unwrap();
        assert_eq!(s[0].confidences, vec![0.0]);
    }

    #[test]
    fn blank_not_zero_maps_charset_in_order() {
        let cs = charset("AB");
        // Blank is the last class: class 0 = A, class 1 = B.
        let data = frames(3, &[0, 2, 1], 0.9);
        let shape = CtcShape::new(&[1, 3, 3], data.len(), 2, 2, false).unwrap();
        assert_eq!(ctc_greedy(&data, &shape, &cs).unwrap()[0].text, "AB");
    }

    #[test]
    fn patterns_parse() {
        let p = parse_pattern("L9*[A-CX]\\L-").unwrap();
        assert_eq!(p.len(), 6);
        assert!(p[3].matches('B') && p[3].matches('X') && !p[3].matches('D'));
        assert!(p[4].matches('L') && !p[4].matches('A'));
        assert!(p[5].matches('-'));
        assert!(parse_pattern("[AB").is_err());
        assert!(parse_pattern("\\").is_err());
        assert!(parse_pattern("").is_err());
        assert!(parse_pattern("[]").is_err());
        assert!(parse_pattern("[Z-A]").is_err());
    }

    #[test]
    fn constrained_prefers_matching_path() {
        // "0" is slightly more likely than "O" in the first frame; the pattern asks for a letter.
        let cs = charset("0O1");
        let data = vec![
            0.0, 0.5, 0.45, 0.05, //
            0.0, 0.05, 0.05, 0.9,
        ];
        let shape = CtcShape::new(&[1, 2, 4], data.len(), 3, 0, false).unwrap();
        let free = ctc_beam(&data, &shape, &cs, 4).unwrap();
        assert_eq!(free[0].text, "01");
        let pats = vec!["L9".to_string()];
        let c = ctc_constrained(&data, &shape, &cs, &pats, 4).unwrap();
        assert_eq!((c[0].text.as_str(), c[0].pattern), ("O1", 0));
        let none = vec!["LL".to_string()];
        let c = ctc_constrained(&data, &shape, &cs, &none, 4).unwrap();
        assert_eq!((c[0].text.as_str(), c[0].pattern), ("01", -1));
    }

    #[test]
    fn bad_inputs_are_errors() {
        let cs = charset("AB");
        assert!(CtcShape::new(&[1, 2, 4], 8, 2, 0, false).is_err());
        assert!(CtcShape::new(&[1, 2, 3], 6, 2, 3, false).is_err());
        assert!(CtcShape::new(&[1, 2, 3], 6, 2, -1, false).is_err());
        assert!(CtcShape::new(&[2, 3], 6, 2, 0, false).is_err());
        assert!(CtcShape::new(&[1, 2, 3], 5, 2, 0, false).is_err());
        let shape = CtcShape::new(&[1, 1, 3], 3, 2, 0, false).unwrap();
        assert!(ctc_beam(&[0.1, 0.2, 0.7], &shape, &cs, 0).is_err());
        let empty = vec!["A".to_string(), String::new()];
        assert!(ctc_greedy(&[0.1, 0.2, 0.7], &shape, &empty).is_err());
    }

    #[test]
    fn forward_matches_enumeration() {
        // T = 2, C = 2 (blank + A): P("A") = p(A,A) + p(A,-) + p(-,A).
        let lp: Vec<f64> = [0.3f64, 0.7, 0.6, 0.4].iter().map(|p| p.ln()).collect();
        let got = sequence_log_prob(&lp, 2, 0, &[1]).exp();
        let want = 0.7 * 0.4 + 0.7 * 0.6 + 0.3 * 0.4;
        assert!((got - want).abs() < 1e-12);
        let aa = sequence_log_prob(&lp, 2, 0, &[1, 1]).exp();
        assert!(aa.abs() < 1e-12);
    }
}
