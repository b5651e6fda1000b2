//! Fuzz target `nms`: `nms::nms` (both kernels: compact below 64 candidates, grid from 64 on),
//! `nms_ordered` with out-of-range indices, `check_inputs`, `check_threshold`, `score_order`, `iou`.
//! See `fuzz_common` for the harness and `ALPR_FUZZ_CASES`.

mod fuzz_common;

use alpr_core::nms;
use fuzz_common::Input;

/// Would NMS let one of two boxes with this IoU suppress the other? (NaN never suppresses.)
fn nms_suppresses(iou: f32, thr: f64) -> bool {
    f64::from(iou) > thr
}

/// Boxes: on a coarse grid (ties, duplicates, exact-threshold IoUs), arbitrary floats, or huge /
/// inverted / zero-area ones.
fn boxes(inp: &mut Input<'_>, n: usize) -> Vec<f32> {
    let style = inp.u8() % 4;
    let mut out = Vec::with_capacity(4 * n);
    for _ in 0..n {
        match style {
            0 => {
                let (x, y) = (f32::from(inp.u8() % 16), f32::from(inp.u8() % 16));
                let (w, h) = (f32::from(inp.u8() % 8), f32::from(inp.u8() % 8));
                out.extend_from_slice(&[x, y, x + w, y + h]);
            }
            1 => {
                for _ in 0..4 {
                    out.push(inp.f32_in(-100.0, 1000.0));
                }
            }
            2 => {
                let x = inp.f32_in(-1e6, 1e6);
                let y = inp.f32_in(-1e6, 1e6);
                let w = inp.f32_in(-10.0, 1e5);
                let h = inp.f32_in(-10.0, 1e5);
                out.extend_from_slice(&[x, y, x + w, y + h]);
            }
            _ => {
                let x = f32::from(inp.u16()) / 64.0;
                let y = f32::from(inp.u16()) / 64.0;
                let w = 1.0 + f32::from(inp.u8());
                let h = 1.0 + f32::from(inp.u8());
                out.extend_from_slice(&[x, y, x + w, y + h]);
            }
        }
    }
    out
}

/// The textbook greedy NMS over a `suppressed` bitmap (same arithmetic as the kernels).
fn reference(boxes: &[f32], scores: &[f32], thr: f64, classes: Option<&[i64]>) -> Vec<usize> {
    let order = nms::score_order(scores);
    let mut suppressed = vec![false; scores.len()];
    let mut keep = Vec::new();
    for (k, &i) in order.iter().enumerate() {
        let i = i as usize;
        if suppressed[i] {
            continue;
        }
        keep.push(i);
        for &j in &order[k + 1..] {
            let j = j as usize;
            let same = classes.is_none_or(|c| c[i] == c[j]);
            let iou = nms::iou(&boxes[i * 4..i * 4 + 4], &boxes[j * 4..j * 4 + 4]);
            if same && f64::from(iou) > thr {
                suppressed[j] = true;
            }
        }
    }
    keep
}

fn target(data: &[u8]) -> bool {
    let mut inp = Input::new(data);
    let n = inp.size(100, &[0, 1, 63, 64, 65, 300]);
    let mut bx = boxes(&mut inp, n);
    let mut scores: Vec<f32> = (0..n)
        .map(|_| {
            if inp.u8() < 16 {
                inp.f32_in(0.0, 1.0)
            } else {
                f32::from(inp.u8() % 8) / 8.0
            }
        })
        .collect();
    let n_classes = 1 + i64::from(inp.u8() % 4);
    let mut classes: Vec<i64> = (0..n).map(|_| i64::from(inp.u8()) % n_classes).collect();
    let thr = match inp.u8() % 8 {
        0 => f64::from(inp.f32_in(-2.0, 2.0)),
        1 => f64::NAN,
        2 => -0.5,
        3 => 1.5,
        4 => 0.0,
        _ => f64::from(inp.u8()) / 255.0,
    };
    let max_det = match inp.u8() % 4 {
        0 => None,
        1 => Some(0),
        _ => Some(inp.upto(120)),
    };
    let use_classes = inp.bool();
    // Wrong shapes sometimes: one value too many or too few in one of the arrays.
    match inp.u8() % 16 {
        0 => {
            bx.push(1.0);
        }
        1 => {
            scores.pop();
        }
        2 => classes.push(0),
        3 => {
            scores.push(0.5);
        }
        _ => {}
    }
    let cls = use_classes.then_some(&classes[..]);
    let shapes_ok = bx.len() % 4 == 0
        && scores.len() == bx.len() / 4
        && cls.is_none_or(|c| c.len() == scores.len());
    let got = nms::nms(&bx, &scores, thr, cls, max_det);
    match (&got, shapes_ok, thr.is_nan()) {
        (Err(_), false, _) | (Err(_), _, true) => return false,
        (Ok(_), true, false) => {}
        _ => panic!("nms: Ok/Err disagrees with the inputs: {got:?}"),
    }
    let keep = got.unwrap();
    let n = scores.len();
    // Indices: in range, distinct, non-NaN scores, sorted by score (ties by index), at most max_det.
    assert!(keep.len() <= max_det.unwrap_or(usize::MAX));
    let mut seen = vec![false; n];
    for &i in &keep {
        assert!(i < n && !seen[i], "index {i} out of range or repeated");
        seen[i] = true;
        assert!(!scores[i].is_nan());
    }
    for w in keep.windows(2) {
        let (a, b) = (scores[w[0]], scores[w[1]]);
        assert!(a > b || (a == b && w[0] < w[1]), "not sorted: {w:?}");
    }
    // No kept pair of the same class overlaps above the threshold.
    for (k, &i) in keep.iter().enumerate() {
        for &j in &keep[k + 1..] {
            if cls.is_none_or(|c| c[i] == c[j]) {
                let iou = nms::iou(&bx[i * 4..i * 4 + 4], &bx[j * 4..j * 4 + 4]);
                assert!(
                    !nms_suppresses(iou, thr),
                    "kept {i} and {j} with IoU {iou} > {thr}"
                );
            }
        }
    }
    // Exactly the textbook result (the prefix of it under max_det).
    let mut want = reference(&bx, &scores, thr, cls);
    want.truncate(max_det.unwrap_or(usize::MAX));
    assert_eq!(keep, want, "nms differs from the reference");

    // nms_ordered skips indices out of range instead of panicking.
    let mut order = nms::score_order(&scores);
    order.push(n as u32);
    order.insert(0, u32::MAX);
    let again = nms::nms_ordered(&bx, &order, thr, cls, max_det);
    assert_eq!(again, keep);
    true
}

#[test]
fn fuzz_nms() {
    fuzz_common::run("nms", 4096, target);
}
