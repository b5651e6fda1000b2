//! Decoding of the Ultralytics YOLOv8 / YOLO11 ONNX detection head.
//!
//! The head is one `(C, N)` array (the batch axis of `(1, C, N)` dropped) with
//! `C = 4 + nc + K * D` rows: `cx, cy, w, h` in input pixels, `nc` class scores (sigmoid already
//! applied), then `K` keypoints of `D` values each (`x, y[, visibility]`) in input pixels.
//!
//! The array is read in place, never transposed: the class rows are contiguous, so the per-anchor
//! best score is one vectorised max-pass over `nc` rows; only the anchors above the threshold are
//! then gathered column-wise (strided reads of `4 + K * D` values each).
//!
//! Semantics follow `ultralytics.utils.ops.non_max_suppression` with `multi_label=False`: an anchor
//! is kept when its best class score is strictly greater than the threshold, its class is the first
//! class reaching that best score, and NaN scores are never kept.

use crate::error::{CoreError, Result};
use crate::nms;

/// A head element type: `f32`, or IEEE half floats given as their `u16` bit patterns.
pub trait HeadValue: Copy + Send + Sync {
    fn to_f32(self) -> f32;
}

impl HeadValue for f32 {
    #[inline(always)]
    fn to_f32(self) -> f32 {
        self
    }
}

/// A float16 value stored as its bit pattern (what numpy's `float16` holds in memory).
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(transparent)]
pub struct F16Bits(pub u16);

impl HeadValue for F16Bits {
    #[inline(always)]
    fn to_f32(self) -> f32 {
        half::f16::from_bits(self.0).to_f32()
    }
}

/// View float16 bit patterns (numpy `float16` memory read as `u16`) as [`F16Bits`], without a copy.
pub fn as_f16(bits: &[u16]) -> &[F16Bits] {
    // SAFETY: `F16Bits` is `repr(transparent)` over `u16`, so both types have the same size,
    // alignment and validity; the returned slice borrows the same memory for the same lifetime.
    unsafe { std::slice::from_raw_parts(bits.as_ptr().cast::<F16Bits>(), bits.len()) }
}

/// Layout of a YOLO head: `channels x anchors`, with the number of classes and keypoints.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HeadLayout {
    pub channels: usize,
    pub anchors: usize,
    pub num_classes: usize,
    pub num_keypoints: usize,
    pub keypoint_dim: usize,
}

impl HeadLayout {
    /// Check a head of shape `shape` (`(1, C, N)` or `(C, N)`) against the declared classes and
    /// keypoints; returns the layout.
    pub fn from_shape(
        shape: &[usize],
        num_classes: usize,
        num_keypoints: usize,
        keypoint_dim: usize,
    ) -> Result<Self> {
        if num_classes == 0 {
            return Err(CoreError::Value(
                "num_classes: expected >= 1, got 0".to_string(),
            ));
        }
        if num_keypoints > 0 && keypoint_dim < 2 {
            return Err(CoreError::Value(format!(
                "keypoint_dim: expected >= 2 (x, y[, visibility]), got {keypoint_dim}"
            )));
        }
        let want = 4 + num_classes + num_keypoints * keypoint_dim;
        let (c, n) = match shape {
            [1, c, n] | [c, n] => (*c, *n),
            _ => {
                return Err(CoreError::Shape(format!(
                    "output: expected (1, {want}, N) or ({want}, N) (4 box + {num_classes} class + \
                     {num_keypoints}x{keypoint_dim} keypoint rows), got {shape:?}"
                )))
            }
        };
        if c != want {
            return Err(CoreError::Shape(format!(
                "output: expected {want} channels (4 box + {num_classes} class + \
                 {num_keypoints}x{keypoint_dim} keypoint rows), got shape {shape:?} with {c}"
            )));
        }
        Ok(HeadLayout {
            channels: c,
            anchors: n,
            num_classes,
            num_keypoints,
            keypoint_dim,
        })
    }

    fn kp_len(&self) -> usize {
        self.num_keypoints * self.keypoint_dim
    }
}

/// Decoded detections, flattened row-major: `boxes (M, 4)` xyxy, `scores (M,)`, `class_ids (M,)`,
/// `keypoints (M, K, D)`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Detections {
    pub boxes: Vec<f32>,
    pub scores: Vec<f32>,
    pub class_ids: Vec<i64>,
    pub keypoints: Vec<f32>,
}

impl Detections {
    pub fn len(&self) -> usize {
        self.scores.len()
    }

    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }
}

/// The anchors whose best class score is strictly above `threshold`: `(anchor, score, class)`.
fn candidates<T: HeadValue>(
    data: &[T],
    layout: &HeadLayout,
    threshold: f32,
) -> Vec<(u32, f32, u32)> {
    let n = layout.anchors;
    let mut best = vec![f32::NEG_INFINITY; n];
    let mut arg = vec![0u32; n];
    for k in 0..layout.num_classes {
        let row = &data[(4 + k) * n..(5 + k) * n];
        // Strict `>` keeps the first class on ties; NaN never wins (comparison is false).
        for ((b, a), v) in best.iter_mut().zip(arg.iter_mut()).zip(row) {
            let v = v.to_f32();
            if v > *b {
                *b = v;
                *a = k as u32;
            }
        }
    }
    best.iter()
        .zip(&arg)
        .enumerate()
        .filter(|(_, (s, _))| **s > threshold)
        .map(|(i, (s, c))| (i as u32, *s, *c))
        .collect()
}

fn push_detection<T: HeadValue>(
    data: &[T],
    layout: &HeadLayout,
    anchor: usize,
    score: f32,
    class: u32,
    out: &mut Detections,
) {
    let n = layout.anchors;
    let at = |c: usize| data[c * n + anchor].to_f32();
    let (cx, cy, w, h) = (at(0), at(1), at(2), at(3));
    out.boxes
        .extend_from_slice(&[cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0]);
    out.scores.push(score);
    out.class_ids.push(class as i64);
    let base = 4 + layout.num_classes;
    for c in base..base + layout.kp_len() {
        out.keypoints.push(at(c));
    }
}

fn check_len<T>(data: &[T], layout: &HeadLayout) -> Result<()> {
    let want = layout.channels * layout.anchors;
    if data.len() != want {
        return Err(CoreError::Shape(format!(
            "output: expected {} x {} = {want} values, got {}",
            layout.channels,
            layout.anchors,
            data.len()
        )));
    }
    Ok(())
}

fn check_threshold(name: &str, v: f32) -> Result<()> {
    if v.is_nan() {
        return Err(CoreError::Value(format!(
            "{name}: expected a number, got NaN"
        )));
    }
    Ok(())
}

/// Decode every anchor whose best class score is strictly above `score_threshold`, in anchor order.
pub fn decode_yolo<T: HeadValue>(
    data: &[T],
    layout: &HeadLayout,
    score_threshold: f32,
) -> Result<Detections> {
    check_len(data, layout)?;
    check_threshold("score_threshold", score_threshold)?;
    let cands = candidates(data, layout, score_threshold);
    let mut out = Detections::default();
    for (a, s, c) in cands {
        push_detection(data, layout, a as usize, s, c, &mut out);
    }
    Ok(out)
}

/// Mapping from letterboxed tensor pixels back to frame pixels: `frame = (tensor - pad) / scale`,
/// clipped to `[0, width] x [0, height]` (Ultralytics `scale_boxes` / `scale_coords`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Unletterbox {
    pub scale: f32,
    pub pad_x: f32,
    pub pad_y: f32,
    pub width: f32,
    pub height: f32,
}

impl Unletterbox {
    pub fn check(&self) -> Result<()> {
        if !(self.scale.is_finite() && self.scale > 0.0) {
            return Err(CoreError::Value(format!(
                "info.scale: expected a finite number > 0, got {}",
                self.scale
            )));
        }
        if !(self.pad_x.is_finite() && self.pad_y.is_finite()) {
            return Err(CoreError::Value(format!(
                "info.pad: expected finite numbers, got ({}, {})",
                self.pad_x, self.pad_y
            )));
        }
        if !(self.width >= 0.0 && self.height >= 0.0) {
            return Err(CoreError::Value(format!(
                "info.src_width/src_height: expected >= 0, got ({}, {})",
                self.width, self.height
            )));
        }
        Ok(())
    }

    #[inline]
    fn x(&self, v: f32) -> f32 {
        ((v - self.pad_x) / self.scale).clamp(0.0, self.width)
    }

    #[inline]
    fn y(&self, v: f32) -> f32 {
        ((v - self.pad_y) / self.scale).clamp(0.0, self.height)
    }
}

/// Options of [`postprocess_yolo`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PostprocessOptions {
    pub conf_threshold: f32,
    pub iou_threshold: f64,
    pub max_det: usize,
    pub agnostic: bool,
    pub unletterbox: Option<Unletterbox>,
}

/// Decode + NMS (+ optional mapping to frame pixels) in one pass. Detections are sorted by score,
/// descending, at most `max_det` of them. Like Ultralytics, at most 30,000 candidates (the best by
/// score) enter NMS.
pub fn postprocess_yolo<T: HeadValue>(
    data: &[T],
    layout: &HeadLayout,
    opts: &PostprocessOptions,
) -> Result<Detections> {
    const MAX_NMS: usize = 30_000;
    check_len(data, layout)?;
    check_threshold("conf_threshold", opts.conf_threshold)?;
    nms::check_threshold(opts.iou_threshold)?;
    if let Some(u) = &opts.unletterbox {
        u.check()?;
    }
    let mut cands = candidates(data, layout, opts.conf_threshold);
    // Stable sort: equal scores (-0.0 and 0.0 included; no NaN gets here) keep anchor order, as
    // in `nms`.
    cands.sort_by(|a, b| b.1.partial_cmp(&a.1).unwrap_or(std::cmp::Ordering::Equal));
    cands.truncate(MAX_NMS);
    // Gather the boxes of the candidates (already in visiting order) for the NMS kernel.
    let mut boxes = Vec::with_capacity(cands.len() * 4);
    let mut classes = Vec::with_capacity(if opts.agnostic { 0 } else { cands.len() });
    let n = layout.anchors;
    for &(a, _, c) in &cands {
        let a = a as usize;
        let at = |ch: usize| data[ch * n + a].to_f32();
        let (cx, cy, w, h) = (at(0), at(1), at(2), at(3));
        boxes.extend_from_slice(&[cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0]);
        if !opts.agnostic {
            classes.push(c as i64);
        }
    }
    let order: Vec<u32> = (0..cands.len() as u32).collect();
    let class_ids = if opts.agnostic {
        None
    } else {
        Some(&classes[..])
    };
    let keep = nms::nms_ordered(
        &boxes,
        &order,
        opts.iou_threshold,
        class_ids,
        Some(opts.max_det),
    );
    let mut out = Detections::default();
    for k in keep {
        let (a, s, c) = cands[k];
        push_detection(data, layout, a as usize, s, c, &mut out);
    }
    if let Some(u) = &opts.unletterbox {
        for b in out.boxes.chunks_exact_mut(4) {
            b[0] = u.x(b[0]);
            b[1] = u.y(b[1]);
            b[2] = u.x(b[2]);
            b[3] = u.y(b[3]);
        }
        if layout.keypoint_dim >= 2 {
            for p in out.keypoints.chunks_exact_mut(layout.keypoint_dim) {
                p[0] = u.x(p[0]);
                p[1] = u.y(p[1]);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A (C, N) head from per-anchor columns.
    fn head(cols: &[Vec<f32>]) -> Vec<f32> {
        let c = cols[0].len();
        let n = cols.len();
        let mut out = vec![0.0; c * n];
        for (a, col) in cols.iter().enumerate() {
            for (ch, v) in col.iter().enumerate() {
                out[ch * n + a] = *v;
            }
        }
        out
    }

    #[test]
    fn decodes_boxes_classes_and_keypoints() {
        let cols = vec![
            vec![10.0, 10.0, 4.0, 2.0, 0.1, 0.8, 1.0, 2.0],
            vec![50.0, 50.0, 10.0, 10.0, 0.2, 0.1, 3.0, 4.0],
            vec![20.0, 20.0, 2.0, 2.0, 0.5, 0.5, 5.0, 6.0],
        ];
        let data = head(&cols);
        let layout = HeadLayout::from_shape(&[1, 8, 3], 2, 1, 2).unwrap();
        let d = decode_yolo(&data, &layout, 0.25).unwrap();
        assert_eq!(d.scores, vec![0.8, 0.5]);
        assert_eq!(d.class_ids, vec![1, 0]);
        assert_eq!(d.boxes, vec![8.0, 9.0, 12.0, 11.0, 19.0, 19.0, 21.0, 21.0]);
        assert_eq!(d.keypoints, vec![1.0, 2.0, 5.0, 6.0]);
    }

    #[test]
    fn f16_matches_f32() {
        let vals = [1.0f32, 0.5, 0.25, 65504.0, -2.0];
        for v in vals {
            let bits = half::f16::from_f32(v).to_bits();
            assert_eq!(F16Bits(bits).to_f32(), v);
        }
    }

    #[test]
    fn bad_layouts_are_errors() {
        assert!(HeadLayout::from_shape(&[1, 6, 3], 1, 0, 2).is_err());
        assert!(HeadLayout::from_shape(&[2, 5, 3], 1, 0, 2).is_err());
        assert!(HeadLayout::from_shape(&[5], 1, 0, 2).is_err());
        assert!(HeadLayout::from_shape(&[5, 3], 0, 0, 2).is_err());
        assert!(HeadLayout::from_shape(&[5, 3], 1, 0, 2).is_ok());
    }
}
