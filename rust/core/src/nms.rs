//! Non-maximum suppression with `torchvision.ops.nms` semantics.
//!
//! * Candidates are visited by score, descending; equal scores keep the lower index first (a stable
//!   sort, as torchvision's CPU kernel does).
//! * A candidate is suppressed by a kept box when their IoU is strictly greater than the threshold.
//!   IoU is `inter / (area_a + area_b - inter)` with `area = (x2 - x1) * (y2 - y1)` computed in `f32`
//!   exactly as torchvision does (no `+1`, no clamping of the areas), so results match it bit for bit.
//! * NaN scores are never kept (torchvision would sort them first and keep them).
//! * Class-aware NMS only lets boxes of the same class suppress each other (exactly, not through the
//!   coordinate-offset trick of `batched_nms`, which loses precision on large coordinates).
//!
//! The kernel sorts once. Small inputs keep the surviving candidates in a compact
//! structure-of-arrays that shrinks every round (one branch-free, auto-vectorised IoU pass per kept
//! box); large inputs test each candidate only against the kept boxes near it, found through a
//! uniform grid (see `nms_grid`). Both give exactly the textbook greedy result.

use crate::error::{CoreError, Result};

/// Validate the shapes of an NMS call. `boxes` is `(N, 4)` flattened, `scores` `(N,)`.
pub fn check_inputs(boxes: &[f32], scores: &[f32], class_ids: Option<&[i64]>) -> Result<usize> {
    if boxes.len() % 4 != 0 {
        return Err(CoreError::Shape(format!(
            "boxes: expected (N, 4) float32, got {} values (not a multiple of 4)",
            boxes.len()
        )));
    }
    let n = boxes.len() / 4;
    if scores.len() != n {
        return Err(CoreError::Shape(format!(
            "scores: expected ({n},) to match boxes (N={n}), got ({},)",
            scores.len()
        )));
    }
    if let Some(c) = class_ids {
        if c.len() != n {
            return Err(CoreError::Shape(format!(
                "class_ids: expected ({n},) to match boxes (N={n}), got ({},)",
                c.len()
            )));
        }
    }
    Ok(n)
}

/// Validate an IoU threshold: any finite number is accepted (torchvision accepts any float; a
/// threshold below 0 suppresses every overlap, above 1 suppresses nothing), NaN is not.
pub fn check_threshold(iou_threshold: f64) -> Result<()> {
    if iou_threshold.is_nan() {
        return Err(CoreError::Value(
            "iou_threshold: expected a number, got NaN".to_string(),
        ));
    }
    Ok(())
}

/// Candidate order: indices of the non-NaN scores sorted by score descending, ties by index.
pub fn score_order(scores: &[f32]) -> Vec<u32> {
    let mut order: Vec<u32> = (0..scores.len() as u32)
        .filter(|&i| !scores[i as usize].is_nan())
        .collect();
    // Stable sort by descending score keeps equal scores in ascending index order. `partial_cmp`
    // (never `None` once NaN is gone), not `total_cmp`: -0.0 and 0.0 are equal scores, as in torch.
    order.sort_by(|&a, &b| {
        scores[b as usize]
            .partial_cmp(&scores[a as usize])
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    order
}

/// Greedy NMS. `boxes` is `(N, 4)` xyxy flattened, `scores` `(N,)`; when `class_ids` is given only
/// boxes of the same class suppress each other. Returns kept indices sorted by score (descending),
/// at most `max_det` of them.
pub fn nms(
    boxes: &[f32],
    scores: &[f32],
    iou_threshold: f64,
    class_ids: Option<&[i64]>,
    max_det: Option<usize>,
) -> Result<Vec<usize>> {
    check_inputs(boxes, scores, class_ids)?;
    check_threshold(iou_threshold)?;
    let order = score_order(scores);
    Ok(nms_ordered(
        boxes,
        &order,
        iou_threshold,
        class_ids,
        max_det,
    ))
}

/// Below this many candidates the compacting kernel wins; above it the grid kernel does.
const GRID_MIN: usize = 64;

/// NMS over candidates already in visiting order (`order` holds row indices into `boxes`).
/// Inputs must have been validated; indices out of range are skipped rather than panicking.
pub fn nms_ordered(
    boxes: &[f32],
    order: &[u32],
    iou_threshold: f64,
    class_ids: Option<&[i64]>,
    max_det: Option<usize>,
) -> Vec<usize> {
    let n_boxes = boxes.len() / 4;
    let order: Vec<u32> = order
        .iter()
        .copied()
        .filter(|&i| (i as usize) < n_boxes)
        .collect();
    // The grid kernel relies on "IoU > threshold needs a positive intersection", true for
    // thresholds >= 0, and on finite coordinates to place boxes in cells.
    let grid_ok = order.len() >= GRID_MIN
        && iou_threshold >= 0.0
        && order.iter().all(|&i| {
            boxes[i as usize * 4..i as usize * 4 + 4]
                .iter()
                .all(|v| v.is_finite())
        });
    if grid_ok {
        nms_grid(boxes, &order, iou_threshold, class_ids, max_det)
    } else {
        nms_compact(boxes, &order, iou_threshold, class_ids, max_det)
    }
}

/// Greedy NMS restated as "a candidate is kept when no kept box suppresses it", with the kept
/// boxes in a uniform grid so that each candidate is tested only against kept boxes sharing a
/// cell with it. Two boxes with a positive intersection share the cell of any common point
/// (cell indices are monotone in the coordinates), and with a threshold >= 0 only such pairs
/// can suppress, so the result is exactly that of the textbook loop: `O(N x local density)`
/// instead of `O(N x kept)`.
fn nms_grid(
    boxes: &[f32],
    order: &[u32],
    iou_threshold: f64,
    class_ids: Option<&[i64]>,
    max_det: Option<usize>,
) -> Vec<usize> {
    /// A box covering more cells than this is tested against / kept in a flat list instead.
    const MAX_CELLS: usize = 16;
    let limit = max_det.unwrap_or(usize::MAX);
    let get = |i: u32| -> [f32; 4] {
        let b = &boxes[i as usize * 4..i as usize * 4 + 4];
        [b[0], b[1], b[2], b[3]]
    };
    let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    let (mut sum_w, mut sum_h) = (0.0f64, 0.0f64);
    for &i in order {
        let b = get(i);
        x0 = x0.min(b[0]);
        y0 = y0.min(b[1]);
        x1 = x1.max(b[2]);
        y1 = y1.max(b[3]);
        sum_w += (b[2] - b[0]).max(0.0) as f64;
        sum_h += (b[3] - b[1]).max(0.0) as f64;
    }
    let m = order.len() as f64;
    // Cells about the size of a typical box, but no more than ~m cells (allocating and visiting
    // an empty grid must stay cheaper than the IoU tests it saves), and at most 128 x 128.
    let span = ((x1 - x0).max(y1 - y0) as f64).max(1e-6);
    let per_side = m.sqrt().ceil().clamp(1.0, 128.0);
    let cell = (sum_w.max(sum_h) / m).max(span / per_side).max(1e-6);
    let inv = 1.0 / cell;
    let gx = (((x1 - x0) as f64 * inv) as usize + 1).min(129);
    let gy = (((y1 - y0) as f64 * inv) as usize + 1).min(129);
    let col = |v: f32| ((((v - x0) as f64) * inv) as usize).min(gx - 1);
    let row = |v: f32| ((((v - y0) as f64) * inv) as usize).min(gy - 1);
    let mut cells: Vec<Vec<u32>> = vec![Vec::new(); gx * gy];
    let mut big: Vec<u32> = Vec::new();
    // Kept boxes: coordinates, area, class (indexed by position in `keep`).
    let mut kb: Vec<[f32; 4]> = Vec::new();
    let mut ka: Vec<f32> = Vec::new();
    let mut kc: Vec<i64> = Vec::new();
    let mut keep = Vec::new();
    let suppresses =
        |k: usize, b: &[f32; 4], area: f32, cls: i64, kb: &[[f32; 4]], ka: &[f32], kc: &[i64]| {
            let a = &kb[k];
            let w = (b[2].min(a[2]) - b[0].max(a[0])).max(0.0);
            let h = (b[3].min(a[3]) - b[1].max(a[1])).max(0.0);
            let inter = w * h;
            let iou = inter / (ka[k] + area - inter);
            (iou as f64) > iou_threshold && kc[k] == cls
        };
    for &i in order {
        if keep.len() >= limit {
            break;
        }
        let b = get(i);
        let area = (b[2] - b[0]) * (b[3] - b[1]);
        let cls = class_ids.map_or(0, |c| c[i as usize]);
        let (c0, c1, r0, r1) = (col(b[0]), col(b[2]), row(b[1]), row(b[3]));
        let n_cells = (c1 + 1).saturating_sub(c0) * (r1 + 1).saturating_sub(r0);
        let mut hit = big
            .iter()
            .any(|&k| suppresses(k as usize, &b, area, cls, &kb, &ka, &kc));
        if !hit {
            if n_cells > MAX_CELLS {
                hit = (0..kb.len()).any(|k| suppresses(k, &b, area, cls, &kb, &ka, &kc));
            } else {
                'cells: for r in r0..=r1 {
                    for c in c0..=c1 {
                        for &k in &cells[r * gx + c] {
                            if suppresses(k as usize, &b, area, cls, &kb, &ka, &kc) {
                                hit = true;
                                break 'cells;
                            }
                        }
                    }
                }
            }
        }
        if hit {
            continue;
        }
        let k = kb.len() as u32;
        kb.push(b);
        ka.push(area);
        kc.push(cls);
        keep.push(i as usize);
        if n_cells > MAX_CELLS {
            big.push(k);
        } else {
            for r in r0..=r1 {
                for c in c0..=c1 {
                    cells[r * gx + c].push(k);
                }
            }
        }
    }
    keep
}

/// The compacting kernel: visit the candidates in order; each kept box removes the candidates
/// it suppresses from a shrinking structure-of-arrays in one branch-free, vectorised pass.
fn nms_compact(
    boxes: &[f32],
    order: &[u32],
    iou_threshold: f64,
    class_ids: Option<&[i64]>,
    max_det: Option<usize>,
) -> Vec<usize> {
    let limit = max_det.unwrap_or(usize::MAX);
    let n_boxes = boxes.len() / 4;
    let m = order.len();
    // Compact structure-of-arrays of the surviving candidates, in visiting order.
    let mut x1 = Vec::with_capacity(m);
    let mut y1 = Vec::with_capacity(m);
    let mut x2 = Vec::with_capacity(m);
    let mut y2 = Vec::with_capacity(m);
    let mut area = Vec::with_capacity(m);
    let mut cls = Vec::with_capacity(m);
    let mut idx = Vec::with_capacity(m);
    for &i in order {
        let i = i as usize;
        if i >= n_boxes {
            continue;
        }
        let b = &boxes[i * 4..i * 4 + 4];
        x1.push(b[0]);
        y1.push(b[1]);
        x2.push(b[2]);
        y2.push(b[3]);
        area.push((b[2] - b[0]) * (b[3] - b[1]));
        cls.push(class_ids.map_or(0, |c| c[i]));
        idx.push(i as u32);
    }
    let mut keep = Vec::new();
    let mut suppress: Vec<bool> = vec![false; x1.len()];
    let mut len = x1.len();
    let mut head = 0;
    while head < len && keep.len() < limit {
        let (bx1, by1, bx2, by2, barea, bcls) = (
            x1[head], y1[head], x2[head], y2[head], area[head], cls[head],
        );
        keep.push(idx[head] as usize);
        let start = head + 1;
        // Pass 1: branch-free IoU test over the remaining candidates (vectorises).
        for j in start..len {
            let w = (x2[j].min(bx2) - x1[j].max(bx1)).max(0.0);
            let h = (y2[j].min(by2) - y1[j].max(by1)).max(0.0);
            let inter = w * h;
            let iou = inter / (barea + area[j] - inter);
            suppress[j] = (iou as f64) > iou_threshold && cls[j] == bcls;
        }
        // Pass 2: compact the survivors to the front, in order.
        let mut w = start;
        for j in start..len {
            if !suppress[j] {
                x1[w] = x1[j];
                y1[w] = y1[j];
                x2[w] = x2[j];
                y2[w] = y2[j];
                area[w] = area[j];
                cls[w] = cls[j];
                idx[w] = idx[j];
                w += 1;
            }
        }
        len = w;
        head = start;
    }
    keep
}

/// IoU of two xyxy boxes with the same arithmetic as [`nms`] (a reference for tests).
pub fn iou(a: &[f32], b: &[f32]) -> f32 {
    let area_a = (a[2] - a[0]) * (a[3] - a[1]);
    let area_b = (b[2] - b[0]) * (b[3] - b[1]);
    let w = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let h = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = w * h;
    inter / (area_a + area_b - inter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_best_and_suppresses_overlap() {
        let boxes = [
            0.0, 0.0, 10.0, 10.0, 1.0, 1.0, 11.0, 11.0, 20.0, 20.0, 30.0, 30.0,
        ];
        let scores = [0.5, 0.9, 0.7];
        assert_eq!(nms(&boxes, &scores, 0.5, None, None).unwrap(), vec![1, 2]);
        // Different classes never suppress each other.
        let cls = [0, 1, 0];
        assert_eq!(
            nms(&boxes, &scores, 0.5, Some(&cls), None).unwrap(),
            vec![1, 2, 0]
        );
        assert_eq!(nms(&boxes, &scores, 0.5, None, Some(1)).unwrap(), vec![1]);
    }

    #[test]
    fn nan_scores_dropped_and_ties_stable() {
        let boxes = [0.0, 0.0, 1.0, 1.0, 5.0, 5.0, 6.0, 6.0, 9.0, 9.0, 10.0, 10.0];
        let scores = [0.5, f32::NAN, 0.5];
        assert_eq!(nms(&boxes, &scores, 0.5, None, None).unwrap(), vec![0, 2]);
    }

    #[test]
    fn negative_zero_ties_with_zero() {
        // -0.0 == 0.0: a tie, so index order (found by fuzz_nms; `total_cmp` put 0.0 first).
        let boxes = [0.0, 0.0, 1.0, 1.0, 5.0, 5.0, 6.0, 6.0];
        assert_eq!(
            nms(&boxes, &[-0.0, 0.0], 0.5, None, None).unwrap(),
            vec![0, 1]
        );
    }

    #[test]
    fn bad_shapes_are_errors() {
        assert!(nms(&[0.0; 5], &[0.0], 0.5, None, None).is_err());
        assert!(nms(&[0.0; 8], &[0.0], 0.5, None, None).is_err());
        assert!(nms(&[0.0; 4], &[0.0], f64::NAN, None, None).is_err());
        assert!(nms(&[0.0; 4], &[0.0], 0.5, Some(&[]), None).is_err());
        assert!(nms(&[], &[], 0.5, None, None).unwrap().is_empty());
    }
}
