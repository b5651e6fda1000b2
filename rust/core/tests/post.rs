//! Property tests of the post-processing kernels: NMS, YOLO head decoding, CTC decoding.

use alpr_core::ctc::{self, CtcShape};
use alpr_core::decode::{self, HeadLayout, PostprocessOptions, Unletterbox};
use alpr_core::nms;
use proptest::prelude::*;

// ------------------------------------------------------------------------------------------------
// NMS

/// Boxes on a coarse grid so that ties, identical boxes and exact-threshold IoUs all occur.
fn boxes_and_scores(max_n: usize) -> impl Strategy<Value = (Vec<f32>, Vec<f32>)> {
    (0..=max_n).prop_flat_map(|n| {
        (
            proptest::collection::vec((0u8..12, 0u8..12, 1u8..8, 1u8..8), n),
            proptest::collection::vec(0u8..6, n),
        )
            .prop_map(|(bs, ss)| {
                let boxes = bs
                    .iter()
                    .flat_map(|&(x, y, w, h)| {
                        let (x, y) = (x as f32, y as f32);
                        [x, y, x + w as f32, y + h as f32]
                    })
                    .collect();
                let scores = ss
                    .iter()
                    .map(|&s| if s == 5 { f32::NAN } else { s as f32 / 4.0 })
                    .collect();
                (boxes, scores)
            })
    })
}

/// The textbook O(N^2) greedy NMS over a `suppressed` bitmap.
fn reference_nms(boxes: &[f32], scores: &[f32], thr: f64, classes: Option<&[i64]>) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).filter(|&i| !scores[i].is_nan()).collect();
    order.sort_by(|&a, &b| scores[b].partial_cmp(&scores[a]).unwrap());
    let mut suppressed = vec![false; scores.len()];
    let mut keep = Vec::new();
    for (k, &i) in order.iter().enumerate() {
        if suppressed[i] {
            continue;
        }
        keep.push(i);
        for &j in &order[k + 1..] {
            let same = classes.is_none_or(|c| c[i] == c[j]);
            let iou = nms::iou(&boxes[i * 4..i * 4 + 4], &boxes[j * 4..j * 4 + 4]);
            if same && (iou as f64) > thr {
                suppressed[j] = true;
            }
        }
    }
    keep
}

proptest! {
    #[test]
    fn nms_matches_reference_and_invariants(
        (boxes, scores) in boxes_and_scores(40),
        thr in prop_oneof![Just(0.0f64), Just(0.5), Just(1.0), 0.0f64..1.0],
        max_det in proptest::option::of(0usize..10),
    ) {
        let keep = nms::nms(&boxes, &scores, thr, None, max_det).unwrap();
        let mut want = reference_nms(&boxes, &scores, thr, None);
        if let Some(m) = max_det {
            want.truncate(m);
        }
        prop_assert_eq!(&keep, &want);
        for w in keep.windows(2) {
            // Sorted by score; equal scores by index.
            prop_assert!(scores[w[0]] > scores[w[1]] || (scores[w[0]] == scores[w[1]] && w[0] < w[1]));
        }
        for (a, &i) in keep.iter().enumerate() {
            prop_assert!(!scores[i].is_nan());
            for &j in &keep[a + 1..] {
                let iou = nms::iou(&boxes[i * 4..i * 4 + 4], &boxes[j * 4..j * 4 + 4]);
                prop_assert!((iou as f64) <= thr || iou.is_nan());
            }
        }
    }

    #[test]
    fn class_aware_nms_is_per_class_nms(
        (boxes, scores) in boxes_and_scores(30),
        classes in proptest::collection::vec(0i64..3, 30),
        thr in 0.0f64..1.0,
    ) {
        let n = scores.len();
        let cls = &classes[..n];
        let keep = nms::nms(&boxes, &scores, thr, Some(cls), None).unwrap();
        prop_assert_eq!(&keep, &reference_nms(&boxes, &scores, thr, Some(cls)));
    }
}

/// Large inputs (the grid kernel): clustered boxes of mixed sizes, some huge, some inverted.
fn many_boxes() -> impl Strategy<Value = (Vec<f32>, Vec<f32>, Vec<i64>)> {
    (256usize..700).prop_flat_map(|n| {
        proptest::collection::vec(
            (
                0u16..400,
                0u16..400,
                0u16..60,
                0u16..60,
                0u8..20,
                0i64..2,
                any::<bool>(),
            ),
            n,
        )
        .prop_map(|v| {
            let mut boxes = Vec::new();
            let mut scores = Vec::new();
            let mut classes = Vec::new();
            for (x, y, w, h, s, c, odd) in v {
                let (x, y) = (x as f32 / 2.0, y as f32 / 2.0);
                let (w, h) = if odd && s == 0 {
                    (400.0, 300.0) // covers many cells
                } else if odd && s == 1 {
                    (-5.0, 3.0) // inverted
                } else {
                    (w as f32, h as f32)
                };
                boxes.extend_from_slice(&[x, y, x + w, y + h]);
                scores.push(s as f32 / 19.0);
                classes.push(c);
            }
            (boxes, scores, classes)
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn large_nms_matches_reference(
        (boxes, scores, classes) in many_boxes(),
        thr in prop_oneof![Just(0.0f64), Just(0.5), 0.0f64..1.0],
        aware in any::<bool>(),
        max_det in proptest::option::of(0usize..300),
    ) {
        let cls = if aware { Some(&classes[..]) } else { None };
        let keep = nms::nms(&boxes, &scores, thr, cls, max_det).unwrap();
        let mut want = reference_nms(&boxes, &scores, thr, cls);
        if let Some(m) = max_det {
            want.truncate(m);
        }
        prop_assert_eq!(keep, want);
    }
}

// ------------------------------------------------------------------------------------------------
// YOLO head

fn head_strategy() -> impl Strategy<Value = (usize, usize, Vec<f32>)> {
    (1usize..4, 0usize..40).prop_flat_map(|(nc, n)| {
        let c = 4 + nc + 8;
        (
            Just(nc),
            Just(n),
            proptest::collection::vec(0.0f32..1.0, c * n).prop_map(move |mut v| {
                // Box rows in pixels.
                for x in &mut v[..4 * n] {
                    *x *= 100.0;
                }
                v
            }),
        )
    })
}

proptest! {
    #[test]
    fn decode_reads_columns(
        (nc, n, data) in head_strategy(), thr in 0.0f32..1.0,
    ) {
        let layout = HeadLayout::from_shape(&[1, 4 + nc + 8, n], nc, 4, 2).unwrap();
        let d = decode::decode_yolo(&data, &layout, thr).unwrap();
        let at = |c: usize, a: usize| data[c * n + a];
        let mut m = 0;
        for a in 0..n {
            let scores: Vec<f32> = (0..nc).map(|k| at(4 + k, a)).collect();
            let best = scores.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
            if best <= thr {
                continue;
            }
            let cls = scores.iter().position(|&s| s == best).unwrap();
            prop_assert_eq!(d.scores[m], best);
            prop_assert_eq!(d.class_ids[m], cls as i64);
            let (cx, cy, w, h) = (at(0, a), at(1, a), at(2, a), at(3, a));
            prop_assert_eq!(&d.boxes[m * 4..m * 4 + 4], &[cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0]);
            for k in 0..8 {
                prop_assert_eq!(d.keypoints[m * 8 + k], at(4 + nc + k, a));
            }
            m += 1;
        }
        prop_assert_eq!(d.len(), m);
    }

    #[test]
    fn postprocess_is_decode_then_nms(
        (nc, n, data) in head_strategy(), thr in 0.0f32..0.9, iou in 0.1f64..0.9,
        agnostic in any::<bool>(), max_det in 0usize..50,
    ) {
        let layout = HeadLayout::from_shape(&[4 + nc + 8, n], nc, 4, 2).unwrap();
        let d = decode::decode_yolo(&data, &layout, thr).unwrap();
        let classes = if agnostic { None } else { Some(&d.class_ids[..]) };
        let keep = nms::nms(&d.boxes, &d.scores, iou, classes, Some(max_det)).unwrap();
        let opts = PostprocessOptions {
            conf_threshold: thr, iou_threshold: iou, max_det, agnostic, unletterbox: None,
        };
        let p = decode::postprocess_yolo(&data, &layout, &opts).unwrap();
        let want: Vec<f32> = keep.iter().map(|&i| d.scores[i]).collect();
        prop_assert_eq!(&p.scores, &want);
        let want_boxes: Vec<f32> = keep.iter().flat_map(|&i| d.boxes[i * 4..i * 4 + 4].to_vec()).collect();
        prop_assert_eq!(&p.boxes, &want_boxes);
        // Mapping to the frame: (v - pad) / scale, clipped.
        let u = Unletterbox { scale: 0.5, pad_x: 10.0, pad_y: 4.0, width: 150.0, height: 120.0 };
        let opts = PostprocessOptions { unletterbox: Some(u), ..opts };
        let q = decode::postprocess_yolo(&data, &layout, &opts).unwrap();
        for (a, b) in p.boxes.chunks(2).zip(q.boxes.chunks(2)) {
            prop_assert_eq!(b[0], ((a[0] - 10.0) / 0.5).clamp(0.0, 150.0));
            prop_assert_eq!(b[1], ((a[1] - 4.0) / 0.5).clamp(0.0, 120.0));
        }
    }
}

// ------------------------------------------------------------------------------------------------
// CTC

fn charset(n: usize) -> Vec<String> {
    "ABCDEFGHIJ".chars().take(n).map(String::from).collect()
}

/// `(B, T, C)` rows of normalised probabilities; `peaked` puts >= 0.9 on one class per frame.
fn probs_strategy(
    max_t: usize,
    max_c: usize,
    peaked: bool,
) -> impl Strategy<Value = (usize, usize, usize, Vec<f32>)> {
    (1usize..3, 0usize..=max_t, 2usize..=max_c).prop_flat_map(move |(b, t, c)| {
        (
            Just(b),
            Just(t),
            Just(c),
            proptest::collection::vec((0.01f32..1.0, 0usize..c), b * t * c).prop_map(move |v| {
                let mut out: Vec<f32> = v.iter().map(|x| x.0).collect();
                for (f, frame) in out.chunks_mut(c).enumerate() {
                    if peaked {
                        let k = v[f * c].1;
                        let rest = 0.09 / (c - 1) as f32;
                        for (i, x) in frame.iter_mut().enumerate() {
                            *x = if i == k { 0.91 } else { rest };
                        }
                    } else {
                        let s: f32 = frame.iter().sum();
                        for x in frame.iter_mut() {
                            *x /= s;
                        }
                    }
                }
                out
            }),
        )
    })
}

fn lp_row(row: &[f32]) -> Vec<f64> {
    row.iter().map(|&p| (p as f64).ln()).collect()
}

/// Every labelling of length <= `t` over `c - 1` symbols, with its exact CTC probability.
fn best_labelling(lp: &[f64], c: usize, t: usize) -> f64 {
    let mut best = f64::NEG_INFINITY;
    let mut stack: Vec<Vec<u32>> = vec![vec![]];
    while let Some(l) = stack.pop() {
        best = best.max(ctc::sequence_log_prob(lp, c, 0, &l));
        if l.len() < t {
            for k in 1..c as u32 {
                let mut m = l.clone();
                m.push(k);
                stack.push(m);
            }
        }
    }
    best
}

proptest! {
    #[test]
    fn greedy_merges_repeats_and_drops_blanks((b, t, c, data) in probs_strategy(12, 6, false)) {
        let cs = charset(c - 1);
        let shape = CtcShape::new(&[b, t, c], data.len(), c - 1, 0, false).unwrap();
        let out = ctc::ctc_greedy(&data, &shape, &cs).unwrap();
        for (r, d) in out.iter().enumerate() {
            let row = &data[r * t * c..(r + 1) * t * c];
            let path: Vec<usize> = row.chunks(c).map(|f| {
                (0..c).fold(0, |best, k| if f[k] > f[best] { k } else { best })
            }).collect();
            let mut want = Vec::new();
            for (i, &k) in path.iter().enumerate() {
                if k != 0 && (i == 0 || path[i - 1] != k) {
                    want.push(k as u32);
                }
            }
            prop_assert_eq!(&d.labels, &want);
            prop_assert!(!d.labels.contains(&0));
            prop_assert_eq!(d.confidences.len(), d.labels.len());
            prop_assert!(d.confidences.iter().all(|&p| p > 0.0 && p <= 1.0));
            prop_assert_eq!(d.text.chars().count(), d.labels.len());
        }
    }

    #[test]
    fn beam_width_one_is_greedy_on_peaked_rows((b, t, c, data) in probs_strategy(12, 6, true)) {
        let cs = charset(c - 1);
        let shape = CtcShape::new(&[b, t, c], data.len(), c - 1, 0, false).unwrap();
        let g = ctc::ctc_greedy(&data, &shape, &cs).unwrap();
        let bm = ctc::ctc_beam(&data, &shape, &cs, 1).unwrap();
        for (x, y) in g.iter().zip(&bm) {
            prop_assert_eq!(&x.text, &y.text);
        }
    }

    #[test]
    fn beam_is_never_less_probable_than_greedy(
        (b, t, c, data) in probs_strategy(10, 5, false), width in 1usize..6,
    ) {
        let cs = charset(c - 1);
        let shape = CtcShape::new(&[b, t, c], data.len(), c - 1, 0, false).unwrap();
        let g = ctc::ctc_greedy(&data, &shape, &cs).unwrap();
        let bm = ctc::ctc_beam(&data, &shape, &cs, width).unwrap();
        for r in 0..b {
            let lp = lp_row(&data[r * t * c..(r + 1) * t * c]);
            let pg = ctc::sequence_log_prob(&lp, c, 0, &g[r].labels);
            let pb = ctc::sequence_log_prob(&lp, c, 0, &bm[r].labels);
            prop_assert!((pb - bm[r].log_prob).abs() < 1e-9);
            prop_assert!(pb >= pg - 1e-12, "beam {} < greedy {}", pb, pg);
        }
    }

    #[test]
    fn wide_beam_finds_the_most_probable_labelling(
        (b, t, c, data) in probs_strategy(4, 3, false),
    ) {
        // T <= 4, C <= 3: at most 31 prefixes, so a beam of 64 is exhaustive.
        let cs = charset(c - 1);
        let shape = CtcShape::new(&[b, t, c], data.len(), c - 1, 0, false).unwrap();
        let bm = ctc::ctc_beam(&data, &shape, &cs, 64).unwrap();
        for r in 0..b {
            let lp = lp_row(&data[r * t * c..(r + 1) * t * c]);
            let best = best_labelling(&lp, c, t);
            prop_assert!((bm[r].log_prob - best).abs() < 1e-9, "{} vs {}", bm[r].log_prob, best);
        }
    }

    #[test]
    fn constrained_results_match_their_pattern(
        (b, t, c, data) in probs_strategy(8, 5, false), width in 1usize..8,
    ) {
        // Charset A.. with patterns over it: "AB" style fixed letters and classes.
        let cs = charset(c - 1);
        let pats = vec!["[AC]B".to_string(), "A".to_string(), "[A-D][A-D][A-D]".to_string()];
        let shape = CtcShape::new(&[b, t, c], data.len(), c - 1, 0, false).unwrap();
        let out = ctc::ctc_constrained(&data, &shape, &cs, &pats, width).unwrap();
        let free = ctc::ctc_beam(&data, &shape, &cs, width).unwrap();
        for (d, f) in out.iter().zip(&free) {
            let ok = |s: &str, p: usize| match p {
                0 => s.len() == 2 && "AC".contains(&s[..1]) && &s[1..] == "B",
                1 => s == "A",
                _ => s.len() == 3 && s.chars().all(|ch| ('A'..='D').contains(&ch)),
            };
            if d.pattern >= 0 {
                prop_assert!(ok(&d.text, d.pattern as usize), "{} vs pattern {}", d.text, d.pattern);
                // The lowest matching index is reported.
                for p in 0..d.pattern as usize {
                    prop_assert!(!ok(&d.text, p));
                }
            } else {
                prop_assert_eq!(&d.text, &f.text);
            }
        }
    }

    #[test]
    fn logits_decode_like_probabilities((b, t, c, data) in probs_strategy(10, 6, false)) {
        let cs = charset(c - 1);
        let logits: Vec<f32> = data.iter().map(|p| p.ln() + 3.0).collect();
        let sp = CtcShape::new(&[b, t, c], data.len(), c - 1, 0, false).unwrap();
        let sl = CtcShape::new(&[b, t, c], data.len(), c - 1, 0, true).unwrap();
        let (g1, g2) = (ctc::ctc_greedy(&data, &sp, &cs).unwrap(), ctc::ctc_greedy(&logits, &sl, &cs).unwrap());
        let (b1, b2) = (ctc::ctc_beam(&data, &sp, &cs, 4).unwrap(), ctc::ctc_beam(&logits, &sl, &cs, 4).unwrap());
        for r in 0..b {
            prop_assert_eq!(&g1[r].labels, &g2[r].labels);
            prop_assert_eq!(&b1[r].labels, &b2[r].labels);
            for (x, y) in g1[r].confidences.iter().zip(&g2[r].confidences) {
                prop_assert!((x - y).abs() < 1e-4);
            }
        }
    }

    #[test]
    fn decoders_survive_arbitrary_values(
        vals in proptest::collection::vec(prop_oneof![
            any::<f32>(), Just(f32::NAN), Just(f32::INFINITY), Just(f32::NEG_INFINITY), Just(0.0f32)
        ], 0..60),
        c in 2usize..5, logits in any::<bool>(),
    ) {
        let t = vals.len() / c;
        let data = &vals[..t * c];
        let cs = charset(c - 1);
        let shape = CtcShape::new(&[1, t, c], data.len(), c - 1, 0, logits).unwrap();
        let g = ctc::ctc_greedy(data, &shape, &cs).unwrap();
        let bm = ctc::ctc_beam(data, &shape, &cs, 3).unwrap();
        let k = ctc::ctc_constrained(data, &shape, &cs, &["A*".to_string()], 3).unwrap();
        prop_assert_eq!(g.len(), 1);
        prop_assert_eq!(bm[0].confidences.len(), bm[0].labels.len());
        prop_assert_eq!(k[0].confidences.len(), k[0].labels.len());
        let s = ctc::slot_decode(data, &[1, t, c], &cs_with_pad(c), "_", logits).unwrap();
        prop_assert_eq!(s.len(), 1);
    }
}

fn cs_with_pad(c: usize) -> Vec<String> {
    let mut v = charset(c - 1);
    v.push("_".to_string());
    v
}

#[test]
fn multi_char_and_unicode_tokens() {
    let cs: Vec<String> = ["Ä", "Ö", "CH"].iter().map(|s| s.to_string()).collect();
    let mut data = vec![0.0f32; 3 * 4];
    for (t, k) in [1usize, 2, 3].iter().enumerate() {
        data[t * 4 + k] = 1.0;
    }
    let shape = CtcShape::new(&[1, 3, 4], data.len(), 3, 0, false).unwrap();
    assert_eq!(ctc::ctc_greedy(&data, &shape, &cs).unwrap()[0].text, "ÄÖCH");
    let pats = vec!["[ÄÖ][ÄÖ]CH".to_string()];
    let k = ctc::ctc_constrained(&data, &shape, &cs, &pats, 4).unwrap();
    assert_eq!((k[0].text.as_str(), k[0].pattern), ("ÄÖCH", 0));
}
