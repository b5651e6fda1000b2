//! Plate crops straight from the original frame into one batched OCR tensor: axis-aligned boxes
//! (bilinear, `cv2.resize(frame[y1:y2, x1:x2], (w, h), INTER_LINEAR)` semantics) and 4-point
//! perspective warps (homography solved here, bilinear sampling with edge replicate).
//!
//! Coordinates are continuous pixel coordinates: pixel `(i, j)` covers `[i, i + 1) x [j, j + 1)`,
//! so a box `[x1, y1, x2, y2]` and the quad with the same four corners give the same crop.

use crate::error::{CoreError, Result};
use crate::frame::Frame;
use crate::letterbox::{linear_taps, OutElem, Tap};

/// Where to crop.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Region {
    /// Axis-aligned `[x1, y1, x2, y2]` in frame pixels.
    Box([f32; 4]),
    /// Corners `[x, y]` ordered top-left, top-right, bottom-right, bottom-left, in frame pixels.
    Quad([[f32; 2]; 4]),
}

/// Memory layout of the output tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// `(N, C, H, W)`.
    Nchw,
    /// `(N, H, W, C)`.
    Nhwc,
}

impl Layout {
    pub fn parse(name: &str) -> Result<Self> {
        match name.to_ascii_lowercase().as_str() {
            "nchw" => Ok(Self::Nchw),
            "nhwc" => Ok(Self::Nhwc),
            _ => Err(CoreError::Value(format!(
                "layout: expected \"nchw\" or \"nhwc\", got {name:?}"
            ))),
        }
    }
}

/// Output geometry and value mapping of [`crop_into`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CropParams {
    pub height: usize,
    pub width: usize,
    /// One luma channel (`0.299 R + 0.587 G + 0.114 B`) instead of RGB.
    pub gray: bool,
    /// Resize to `height` keeping the aspect ratio (width capped at `width`), pad on the right.
    pub keep_aspect: bool,
    /// Value written into the right padding (output units).
    pub pad: f32,
    /// Per-channel mean and std (R, G, B; gray uses the first): `(px / 255 - mean) / std`.
    pub mean: [f32; 3],
    pub std: [f32; 3],
    /// `false` writes raw 0..255 pixel values (for `u8` outputs).
    pub normalize: bool,
    pub layout: Layout,
}

impl CropParams {
    /// Output channels.
    pub fn channels(&self) -> usize {
        if self.gray {
            1
        } else {
            3
        }
    }

    /// Values per crop.
    pub fn crop_len(&self) -> usize {
        self.channels() * self.height * self.width
    }

    fn validate(&self) -> Result<()> {
        if self.height == 0 || self.width == 0 || self.height > 8192 || self.width > 8192 {
            return Err(CoreError::Value(format!(
                "height, width: expected 1..=8192, got height={} width={}",
                self.height, self.width
            )));
        }
        if self.std.iter().any(|s| *s == 0.0 || !s.is_finite())
            || self.mean.iter().any(|m| !m.is_finite())
        {
            return Err(CoreError::Value(format!(
                "mean, std: expected finite values and non-zero std, got mean={:?} std={:?}",
                self.mean, self.std
            )));
        }
        Ok(())
    }
}

/// Solve the homography mapping the rectangle `(0,0),(w,0),(w,h),(0,h)` onto `quad`.
///
/// Returns the row-major 3x3 matrix, or `None` for a degenerate quad.
pub fn rect_to_quad(w: f64, h: f64, quad: &[[f64; 2]; 4]) -> Option<[f64; 9]> {
    let src = [[0.0, 0.0], [w, 0.0], [w, h], [0.0, h]];
    // Unknowns a..h with i = 1: x' = (a u + b v + c) / (g u + h v + 1), likewise y'.
    let mut m = [[0.0f64; 9]; 8];
    for k in 0..4 {
        let (u, v) = (src[k][0], src[k][1]);
        let (x, y) = (quad[k][0], quad[k][1]);
        m[2 * k] = [u, v, 1.0, 0.0, 0.0, 0.0, -u * x, -v * x, x];
        m[2 * k + 1] = [0.0, 0.0, 0.0, u, v, 1.0, -u * y, -v * y, y];
    }
    // Gaussian elimination with partial pivoting.
    let scale = quad
        .iter()
        .flatten()
        .fold(w.max(h), |a, &b| a.max(b.abs()))
        .max(1.0);
    for col in 0..8 {
        let piv = (col..8).max_by(|&a, &b| m[a][col].abs().total_cmp(&m[b][col].abs()))?;
        if m[piv][col].abs() < 1e-9 * scale || !m[piv][col].is_finite() {
            return None;
        }
        m.swap(col, piv);
        let pivot = m[col];
        for (r, row) in m.iter_mut().enumerate() {
            let f = row[col] / pivot[col];
            if r != col && f != 0.0 {
                for (v, p) in row[col..].iter_mut().zip(&pivot[col..]) {
                    *v -= f * p;
                }
            }
        }
    }
    let mut hm = [0.0; 9];
    for (k, (h, row)) in hm.iter_mut().zip(&m).enumerate() {
        *h = row[8] / row[k];
    }
    hm[8] = 1.0;
    hm.iter().all(|v| v.is_finite()).then_some(hm)
}

fn dist(a: [f32; 2], b: [f32; 2]) -> f32 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()
}

/// Bilinear taps with edge replicate for a continuous position `v` in pixel-centre coordinates
/// (pixel `i` at `i`) on an axis of `n` pixels.
#[inline(always)]
fn edge_tap(v: f32, n: usize) -> Tap {
    if !v.is_finite() || v <= 0.0 {
        return Tap {
            i0: 0,
            i1: 0,
            f: 0.0,
        };
    }
    if v >= (n - 1) as f32 {
        return Tap {
            i0: n - 1,
            i1: n - 1,
            f: 0.0,
        };
    }
    // 0 < v < n - 1 here, so truncation is the floor (and needs no libm call).
    let i = v as usize;
    Tap {
        i0: i,
        i1: i + 1,
        f: v - i as f32,
    }
}

/// Bilinear RGB at byte offsets `x0`, `x1` of rows `r0`, `r1` (channel offsets `off`).
#[inline(always)]
fn bilinear(
    r0: &[u8],
    r1: &[u8],
    x0: usize,
    x1: usize,
    fx: f32,
    fy: f32,
    off: &[usize; 3],
) -> [f32; 3] {
    let mut out = [0.0; 3];
    // One bounds check per pixel and row instead of one per byte: `off` is within the pixel.
    let (p0, p1) = (
        &r0[x0..x0 + 4.min(r0.len() - x0)],
        &r0[x1..x1 + 4.min(r0.len() - x1)],
    );
    let (q0, q1) = (
        &r1[x0..x0 + 4.min(r1.len() - x0)],
        &r1[x1..x1 + 4.min(r1.len() - x1)],
    );
    for (o, &c) in out.iter_mut().zip(off) {
        let a = f32::from(p0[c]);
        let b = f32::from(p1[c]);
        let cc = f32::from(q0[c]);
        let d = f32::from(q1[c]);
        let top = a + fx * (b - a);
        let bot = cc + fx * (d - cc);
        *o = top + fy * (bot - top);
    }
    out
}

/// Horizontal lerp of a vertically blended row (`vrow` starts at source column `c0`, interleaved
/// with `bpp` values per pixel) into planar R, G, B.
#[inline(always)]
fn hlerp(
    vrow: &[f32],
    xt: &[Tap],
    c0: usize,
    bpp: usize,
    off: &[usize; 3],
    planes: [&mut [f32]; 3],
) {
    let [r, g, b] = planes;
    for (x, t) in xt.iter().enumerate() {
        let (p, q) = (&vrow[(t.i0 - c0) * bpp..], &vrow[(t.i1 - c0) * bpp..]);
        let lerp = |o: usize| p[o] + t.f * (q[o] - p[o]);
        r[x] = lerp(off[0]);
        g[x] = lerp(off[1]);
        b[x] = lerp(off[2]);
    }
}

/// Crop every region of `frame` into `out` (`regions.len() * params.crop_len()` values).
///
/// `frame` must be packed (BGR, RGB, BGRA or gray). Errors with `CoreError::Value` on
/// non-finite coordinates, a degenerate quad or bad parameters, `CoreError::Shape` on a wrong
/// `out` length.
pub fn crop_into<T: OutElem>(
    frame: &Frame<'_>,
    regions: &[Region],
    params: &CropParams,
    out: &mut [T],
) -> Result<()> {
    // Compiled for AVX2 where the CPU has it (no FMA: identical results on every path).
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx2")]
        unsafe fn crop_avx2<T: OutElem>(
            frame: &Frame<'_>,
            regions: &[Region],
            params: &CropParams,
            out: &mut [T],
        ) -> Result<()> {
            crop_impl(frame, regions, params, out)
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked at run time just above).
            return unsafe { crop_avx2(frame, regions, params, out) };
        }
    }
    crop_impl(frame, regions, params, out)
}

#[inline(always)]
fn crop_impl<T: OutElem>(
    frame: &Frame<'_>,
    regions: &[Region],
    params: &CropParams,
    out: &mut [T],
) -> Result<()> {
    params.validate()?;
    let per = params.crop_len();
    if out.len() != regions.len() * per {
        return Err(CoreError::Shape(format!(
            "out: expected {} values for {} crops, got {}",
            regions.len() * per,
            regions.len(),
            out.len()
        )));
    }
    let (bpp, off) = frame.packed_layout().ok_or_else(|| {
        CoreError::Value(format!(
            "frame: crops need a packed bgr/rgb/bgra/gray frame, got {}",
            frame.format().name()
        ))
    })?;
    let (fw, fh) = (frame.width(), frame.height());
    let (oh, ow, nch) = (params.height, params.width, params.channels());
    // Output value = v * mul[c] + add[c]: (v / 255 - mean) / std, or v itself.
    let (mul, add): ([f32; 3], [f32; 3]) = if params.normalize {
        (
            std::array::from_fn(|c| 1.0 / (255.0 * params.std[c])),
            std::array::from_fn(|c| -params.mean[c] / params.std[c]),
        )
    } else {
        ([1.0; 3], [0.0; 3])
    };
    // One output row of samples (RGB, or gray in the first plane), then the values row.
    let mut rgb = [vec![0.0f32; ow], vec![0.0f32; ow], vec![0.0f32; ow]];
    let mut vals = vec![0.0f32; ow];
    // Source positions of one output row (quad crops).
    let (mut sx, mut sy) = (vec![0.0f32; ow], vec![0.0f32; ow]);
    // One vertically blended source row (the box's columns, interleaved) for box crops.
    let mut vrow = vec![0.0f32; fw * bpp];
    for (i, (region, dst)) in regions.iter().zip(out.chunks_exact_mut(per)).enumerate() {
        // Content width: fixed, or from the region's aspect ratio.
        let (rw, rh) = match region {
            Region::Box(b) => {
                if b.iter().any(|v| !v.is_finite()) {
                    return Err(CoreError::Value(format!(
                        "boxes[{i}]: expected finite coordinates, got {b:?}"
                    )));
                }
                (b[2] - b[0], b[3] - b[1])
            }
            Region::Quad(q) => {
                if q.iter().flatten().any(|v| !v.is_finite()) {
                    return Err(CoreError::Value(format!(
                        "corners[{i}]: expected finite coordinates, got {q:?}"
                    )));
                }
                (
                    (dist(q[0], q[1]) + dist(q[3], q[2])) / 2.0,
                    (dist(q[0], q[3]) + dist(q[1], q[2])) / 2.0,
                )
            }
        };
        let cw = if params.keep_aspect && rh > 0.0 && rw > 0.0 {
            ((oh as f32 * rw / rh).round_ties_even() as usize).clamp(1, ow)
        } else {
            ow
        };
        // Per-region setup: separable taps for boxes, the homography for quads.
        let mut box_taps = None;
        let mut hm = None;
        match region {
            Region::Box(b) => {
                let span = |a: f32, z: f32, n: usize| -> (usize, usize) {
                    let lo = ((a - 0.5).ceil().max(0.0) as usize).min(n - 1);
                    let hi = ((z - 0.5).floor().max(0.0) as usize).clamp(lo, n - 1);
                    (lo, hi)
                };
                let (xlo, xhi) = span(b[0], b[2], fw);
                let (ylo, yhi) = span(b[1], b[3], fh);
                let xt = linear_taps(cw, f64::from(b[0]), f64::from(rw.max(0.0)), xlo, xhi);
                let yt = linear_taps(oh, f64::from(b[1]), f64::from(rh.max(0.0)), ylo, yhi);
                box_taps = Some((xt, yt));
            }
            Region::Quad(q) => {
                let quad = q.map(|p| [f64::from(p[0]), f64::from(p[1])]);
                hm = Some(rect_to_quad(cw as f64, oh as f64, &quad).ok_or_else(|| {
                    CoreError::Value(format!(
                        "corners[{i}]: expected a non-degenerate quadrilateral, got {q:?}"
                    ))
                })?);
            }
        }
        for y in 0..oh {
            // Sample the content part of output row `y` into `rgb`.
            let [pr, pg, pb] = &mut rgb;
            if let Some((xt, yt)) = &box_taps {
                // Separable, vertical first: blend the two source rows over the box's columns
                // (contiguous, vectorises), then one horizontal lerp per output value.
                let ty = yt[y];
                let (c0, c1) = (xt[0].i0, xt[cw - 1].i1);
                let span = c0 * bpp..(c1 + 1) * bpp;
                let vrow = &mut vrow[..span.len()];
                let (r0, r1) = (&frame.row(ty.i0)[span.clone()], &frame.row(ty.i1)[span]);
                for ((d, &p), &q) in vrow.iter_mut().zip(r0).zip(r1) {
                    let p = f32::from(p);
                    *d = p + ty.f * (f32::from(q) - p);
                }
                hlerp(
                    vrow,
                    xt,
                    c0,
                    bpp,
                    &off,
                    [&mut pr[..cw], &mut pg[..cw], &mut pb[..cw]],
                );
            } else if let Some(h) = &hm {
                // Two passes: the source positions of the whole row first (no branches or loads, so
                // the f64 arithmetic vectorises; the row's terms are constant, one reciprocal per
                // pixel instead of two divides), then the bilinear gathers.
                let v = y as f64 + 0.5;
                let (bx, by, bz) = (h[1] * v + h[2], h[4] * v + h[5], h[7] * v + h[8]);
                let (sxs, sys) = (&mut sx[..cw], &mut sy[..cw]);
                for (x, (sxv, syv)) in sxs.iter_mut().zip(sys.iter_mut()).enumerate() {
                    let u = x as f64 + 0.5;
                    let iz = 1.0 / (h[6] * u + bz);
                    *sxv = ((h[0] * u + bx) * iz - 0.5) as f32;
                    *syv = ((h[3] * u + by) * iz - 0.5) as f32;
                }
                let (pr, pg, pb) = (&mut pr[..cw], &mut pg[..cw], &mut pb[..cw]);
                for x in 0..cw {
                    let (tx, ty) = (edge_tap(sxs[x], fw), edge_tap(sys[x], fh));
                    let (r0, r1) = (frame.row(ty.i0), frame.row(ty.i1));
                    let px = bilinear(r0, r1, tx.i0 * bpp, tx.i1 * bpp, tx.f, ty.f, &off);
                    pr[x] = px[0];
                    pg[x] = px[1];
                    pb[x] = px[2];
                }
            }
            if params.gray {
                let [pr, pg, pb] = &mut rgb;
                for ((r, &g), &b) in pr[..cw].iter_mut().zip(&pg[..cw]).zip(&pb[..cw]) {
                    *r = 0.299 * *r + 0.587 * g + 0.114 * b;
                }
            }
            for c in 0..nch {
                let plane = if params.gray { &rgb[0] } else { &rgb[c] };
                for (v, &p) in vals[..cw].iter_mut().zip(&plane[..cw]) {
                    *v = p * mul[c] + add[c];
                }
                vals[cw..].fill(params.pad);
                match params.layout {
                    Layout::Nchw => {
                        let start = (c * oh + y) * ow;
                        T::store(&mut dst[start..start + ow], &vals);
                    }
                    Layout::Nhwc => {
                        for (x, &v) in vals.iter().enumerate() {
                            dst[(y * ow + x) * nch + c] = T::from_f32(v);
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn homography_maps_corners() {
        let quad = [[10.0, 5.0], [50.0, 8.0], [48.0, 30.0], [12.0, 28.0]];
        let h = rect_to_quad(40.0, 20.0, &quad).unwrap();
        for (k, (u, v)) in [(0.0, 0.0), (40.0, 0.0), (40.0, 20.0), (0.0, 20.0)]
            .into_iter()
            .enumerate()
        {
            let z = h[6] * u + h[7] * v + h[8];
            let x = (h[0] * u + h[1] * v + h[2]) / z;
            let y = (h[3] * u + h[4] * v + h[5]) / z;
            assert!((x - quad[k][0]).abs() < 1e-9 && (y - quad[k][1]).abs() < 1e-9);
        }
    }

    #[test]
    fn degenerate_quad_is_none() {
        assert!(rect_to_quad(4.0, 4.0, &[[1.0, 1.0]; 4]).is_none());
    }
}
