//! Fuzz target `decode`: YOLO head decoding, `HeadLayout::from_shape`, `decode_yolo` and
//! `postprocess_yolo` (decode + NMS + unletterbox) on `f32` and float16 (`F16Bits`, `as_f16`) heads
//! of arbitrary shape and contents. See `fuzz_common` for the harness and `ALPR_FUZZ_CASES`.

mod fuzz_common;

use alpr_core::decode::{
    self, Detections, F16Bits, HeadLayout, HeadValue, PostprocessOptions, Unletterbox,
};
use alpr_core::nms;
use fuzz_common::Input;

/// Would NMS let one of two boxes with this IoU suppress the other? (NaN never suppresses.)
fn nms_suppresses(iou: f32, thr: f64) -> bool {
    f64::from(iou) > thr
}

/// A head value: a box coordinate, a score, or anything at all.
fn value(inp: &mut Input<'_>, channel: usize, nc: usize) -> f32 {
    if channel < 4 {
        inp.f32_in(-50.0, 700.0)
    } else if channel < 4 + nc {
        inp.f32_in(0.0, 1.0)
    } else {
        inp.f32_in(-100.0, 800.0)
    }
}

fn check_detections(d: &Detections, layout: &HeadLayout, thr: f32) {
    let m = d.len();
    assert_eq!(d.boxes.len(), 4 * m);
    assert_eq!(d.class_ids.len(), m);
    assert_eq!(
        d.keypoints.len(),
        m * layout.num_keypoints * layout.keypoint_dim
    );
    assert!(m <= layout.anchors);
    for (&s, &c) in d.scores.iter().zip(&d.class_ids) {
        assert!(s > thr, "score {s} not above the threshold {thr}");
        assert!(c >= 0 && (c as usize) < layout.num_classes);
    }
}

fn run_head<T: HeadValue>(
    inp: &mut Input<'_>,
    data: &[T],
    shape: &[usize],
    nc: usize,
    (nk, kd): (usize, usize),
) -> bool {
    // Sometimes declare a layout that does not fit the head.
    let (nk, kd) = match inp.u8() % 16 {
        0 => (nk + 1, kd),
        1 => (nk, kd.saturating_sub(1)),
        2 => (nk.max(1), 1),
        _ => (nk, kd),
    };
    let Ok(layout) = HeadLayout::from_shape(shape, nc, nk, kd) else {
        return false;
    };
    let thr = inp.f32_in(0.0, 1.0);
    match decode::decode_yolo(data, &layout, thr) {
        Ok(d) => {
            assert!(!thr.is_nan());
            assert_eq!(data.len(), layout.channels * layout.anchors);
            check_detections(&d, &layout, thr);
        }
        Err(_) => assert!(thr.is_nan() || data.len() != layout.channels * layout.anchors),
    }
    let unletterbox = inp.bool().then(|| Unletterbox {
        scale: inp.f32_in(0.0, 4.0),
        pad_x: inp.f32_in(-10.0, 100.0),
        pad_y: inp.f32_in(-10.0, 100.0),
        width: inp.f32_in(0.0, 2000.0),
        height: inp.f32_in(0.0, 2000.0),
    });
    let opts = PostprocessOptions {
        conf_threshold: inp.f32_in(0.0, 1.0),
        iou_threshold: match inp.u8() % 6 {
            0 => f64::NAN,
            1 => -0.1,
            2 => 1.1,
            _ => f64::from(inp.u8()) / 255.0,
        },
        max_det: inp.size(50, &[0, 1, 30_000, usize::MAX]),
        agnostic: inp.bool(),
        unletterbox,
    };
    let Ok(d) = decode::postprocess_yolo(data, &layout, &opts) else {
        return true;
    };
    assert!(!opts.conf_threshold.is_nan() && !opts.iou_threshold.is_nan());
    check_detections(&d, &layout, opts.conf_threshold);
    assert!(d.len() <= opts.max_det);
    for w in d.scores.windows(2) {
        assert!(w[0] >= w[1], "scores not sorted: {w:?}");
    }
    match opts.unletterbox {
        Some(u) => {
            // Clipped to the frame (NaN coordinates stay NaN).
            for b in d.boxes.chunks_exact(4) {
                for (k, &v) in b.iter().enumerate() {
                    let hi = if k % 2 == 0 { u.width } else { u.height };
                    assert!(
                        v.is_nan() || (0.0..=hi).contains(&v),
                        "{v} outside 0..={hi}"
                    );
                }
            }
        }
        None => {
            // No kept pair (same class unless agnostic) overlaps above the threshold.
            for i in 0..d.len() {
                for j in i + 1..d.len() {
                    if opts.agnostic || d.class_ids[i] == d.class_ids[j] {
                        let iou = nms::iou(&d.boxes[i * 4..i * 4 + 4], &d.boxes[j * 4..j * 4 + 4]);
                        assert!(!nms_suppresses(iou, opts.iou_threshold));
                    }
                }
            }
        }
    }
    true
}

fn target(data: &[u8]) -> bool {
    let mut inp = Input::new(data);
    let nc = inp.pick(&[0usize, 1, 1, 2, 3]);
    let n = inp.size(40, &[0, 1, 200]);
    let nk = inp.upto(2);
    let kd = inp.pick(&[2usize, 3]);
    let c = 4 + nc + nk * kd;
    // Shapes: (1, C, N), (C, N), or wrong ones.
    let shape: Vec<usize> = match inp.u8() % 16 {
        0 => vec![c, n],
        1 => vec![2, c, n],
        2 => vec![c],
        3 => vec![1, c + 1, n],
        4 => vec![1, 1, c, n],
        _ => vec![1, c, n],
    };
    let mut len = c * n;
    match inp.u8() % 16 {
        0 => len = len.saturating_sub(1),
        1 => len += 1,
        _ => {}
    }
    if inp.bool() {
        let head: Vec<f32> = (0..len)
            .map(|i| value(&mut inp, i / n.max(1), nc))
            .collect();
        run_head(&mut inp, &head, &shape, nc, (nk, kd))
    } else {
        let bits: Vec<u16> = (0..len)
            .map(|i| {
                if inp.u8() < 32 {
                    inp.u16()
                } else {
                    half::f16::from_f32(value(&mut inp, i / n.max(1), nc)).to_bits()
                }
            })
            .collect();
        let head: &[F16Bits] = decode::as_f16(&bits);
        run_head(&mut inp, head, &shape, nc, (nk, kd))
    }
}

#[test]
fn fuzz_decode() {
    fuzz_common::run("decode", 8192, target);
}
