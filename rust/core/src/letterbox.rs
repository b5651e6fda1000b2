//! Fused letterbox: colour conversion + aspect-preserving bilinear resize + constant padding +
//! scaling + HWC -> CHW into `f32` or `f16`, in one pass over the output.
//!
//! Geometry follows Ultralytics' `LetterBox` (centred, `new = round(side * r)`,
//! `top = round(dh - 0.1)`, `left = round(dw - 0.1)`, Python's round-half-even) and sampling
//! follows `cv2.resize(..., INTER_LINEAR)` (half-pixel centres, edge replicate). The kernel
//! precomputes per-column and per-row interpolation tables, resizes each needed source row
//! horizontally once (cached, so upscaling reuses rows), blends two rows vertically and writes
//! every output value exactly once; padding is written directly.

use crate::error::{CoreError, Result};
use crate::frame::{Frame, PixelFormat};
use std::ops::Range;

/// The mapping between frame pixels and tensor pixels produced by a letterbox.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LetterboxInfo {
    /// Resize gain `r = min(width / src_width, height / src_height)`.
    pub scale: f64,
    /// Left padding in tensor pixels.
    pub pad_x: f64,
    /// Top padding in tensor pixels.
    pub pad_y: f64,
    pub src_width: usize,
    pub src_height: usize,
    /// Tensor width.
    pub width: usize,
    /// Tensor height.
    pub height: usize,
    /// Width of the resized frame inside the tensor.
    pub new_width: usize,
    /// Height of the resized frame inside the tensor.
    pub new_height: usize,
}

/// The tensor sizes a letterbox accepts: 1..=8192 pixels per side.
fn check_size(width: usize, height: usize) -> Result<()> {
    if width == 0 || height == 0 || width > 1 << 13 || height > 1 << 13 {
        return Err(CoreError::Value(format!(
            "size: expected 1..=8192 pixels per side, got {width}x{height} (width x height)"
        )));
    }
    Ok(())
}

/// Python's `round()` (half to even) as Ultralytics relies on it.
fn py_round(v: f64) -> f64 {
    v.round_ties_even()
}

impl LetterboxInfo {
    /// The Ultralytics `LetterBox` geometry for a `src_width` x `src_height` frame into a
    /// `width` x `height` tensor.
    pub fn compute(
        src_width: usize,
        src_height: usize,
        width: usize,
        height: usize,
    ) -> Result<Self> {
        if src_width == 0 || src_height == 0 {
            return Err(CoreError::Value(format!(
                "frame: expected a non-empty frame, got {src_width}x{src_height} (width x height)"
            )));
        }
        check_size(width, height)?;
        let r = (height as f64 / src_height as f64).min(width as f64 / src_width as f64);
        let new_w = (py_round(src_width as f64 * r) as usize).clamp(1, width);
        let new_h = (py_round(src_height as f64 * r) as usize).clamp(1, height);
        let dw = (width - new_w) as f64 / 2.0;
        let dh = (height - new_h) as f64 / 2.0;
        Ok(Self {
            scale: r,
            pad_x: py_round(dw - 0.1).max(0.0),
            pad_y: py_round(dh - 0.1).max(0.0),
            src_width,
            src_height,
            width,
            height,
            new_width: new_w,
            new_height: new_h,
        })
    }

    /// A tensor-pixel point to frame pixels (not clipped).
    #[inline]
    pub fn unmap_point(&self, x: f32, y: f32) -> (f32, f32) {
        (
            ((f64::from(x) - self.pad_x) / self.scale) as f32,
            ((f64::from(y) - self.pad_y) / self.scale) as f32,
        )
    }

    /// A frame-pixel point to tensor pixels.
    #[inline]
    pub fn map_point(&self, x: f32, y: f32) -> (f32, f32) {
        (
            (f64::from(x) * self.scale + self.pad_x) as f32,
            (f64::from(y) * self.scale + self.pad_y) as f32,
        )
    }

    /// An xyxy box in tensor pixels to frame pixels, clipped to the frame.
    pub fn unmap_box(&self, b: [f32; 4]) -> [f32; 4] {
        let (x1, y1) = self.unmap_point(b[0], b[1]);
        let (x2, y2) = self.unmap_point(b[2], b[3]);
        let (w, h) = (self.src_width as f32, self.src_height as f32);
        [
            x1.clamp(0.0, w),
            y1.clamp(0.0, h),
            x2.clamp(0.0, w),
            y2.clamp(0.0, h),
        ]
    }

    /// An xyxy box in frame pixels to tensor pixels.
    pub fn map_box(&self, b: [f32; 4]) -> [f32; 4] {
        let (x1, y1) = self.map_point(b[0], b[1]);
        let (x2, y2) = self.map_point(b[2], b[3]);
        [x1, y1, x2, y2]
    }
}

/// An element type the kernels can write: `f32`, `half::f16`, or
/// `u8` (rounded and saturated).
pub trait OutElem: Copy + Send + Sync + 'static {
    /// Convert one value.
    fn from_f32(v: f32) -> Self;
    /// Store `src` into `dst` (same length).
    fn store(dst: &mut [Self], src: &[f32]);
    /// The element type is `f32` (see `as_f32_mut`).
    const IS_F32: bool = false;
    /// `dst` itself when the element type is `f32` (lets kernels write results in place).
    fn as_f32_mut(_dst: &mut [Self]) -> Option<&mut [f32]> {
        None
    }
    /// `dst[i] = a[i] * w0 + b[i] * w1`, using `tmp` as scratch where needed.
    fn blend(dst: &mut [Self], a: &[f32], b: &[f32], w0: f32, w1: f32, tmp: &mut [f32]) {
        let tmp = &mut tmp[..dst.len()];
        for ((t, &x), &y) in tmp.iter_mut().zip(a).zip(b) {
            *t = x * w0 + y * w1;
        }
        Self::store(dst, tmp);
    }
}

impl OutElem for f32 {
    const IS_F32: bool = true;
    #[inline]
    fn from_f32(v: f32) -> Self {
        v
    }
    #[inline(always)]
    fn store(dst: &mut [Self], src: &[f32]) {
        dst.copy_from_slice(src);
    }
    fn as_f32_mut(dst: &mut [Self]) -> Option<&mut [f32]> {
        Some(dst)
    }
    #[inline(always)]
    fn blend(dst: &mut [Self], a: &[f32], b: &[f32], w0: f32, w1: f32, _tmp: &mut [f32]) {
        for ((d, &x), &y) in dst.iter_mut().zip(a).zip(b) {
            *d = x * w0 + y * w1;
        }
    }
}

impl OutElem for half::f16 {
    #[inline]
    fn from_f32(v: f32) -> Self {
        half::f16::from_f32(v)
    }
    fn store(dst: &mut [Self], src: &[f32]) {
        use half::slice::HalfFloatSliceExt;
        dst.convert_from_f32_slice(src);
    }
}

impl OutElem for u8 {
    #[inline]
    fn from_f32(v: f32) -> Self {
        // `as` saturates and maps NaN to 0.
        (v + 0.5) as u8
    }
    fn store(dst: &mut [Self], src: &[f32]) {
        for (d, &s) in dst.iter_mut().zip(src) {
            *d = Self::from_f32(s);
        }
    }
}

/// Values of the letterbox other than geometry.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LetterboxParams {
    /// Padding colour in 0..=255 (before scaling).
    pub pad_value: f32,
    /// Multiplier applied to every pixel value (`1/255` for [0, 1] tensors).
    pub scale: f32,
    /// Split the rows of each frame over the rayon pool.
    pub parallel: bool,
}

impl Default for LetterboxParams {
    fn default() -> Self {
        Self {
            pad_value: 114.0,
            scale: 1.0 / 255.0,
            parallel: true,
        }
    }
}

/// One bilinear tap pair along an axis: `v = src[i0] * (1 - f) + src[i1] * f`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tap {
    pub i0: usize,
    pub i1: usize,
    pub f: f32,
}

/// The `cv2.resize(INTER_LINEAR)` taps for resizing `src` samples to `dst` samples, restricted
/// to source indices `lo..=hi` (edge replicate), starting at `origin` with step `src_len / dst`.
pub fn linear_taps(dst: usize, origin: f64, src_len: f64, lo: usize, hi: usize) -> Vec<Tap> {
    let step = src_len / dst as f64;
    (0..dst)
        .map(|d| {
            let s = ((d as f64 + 0.5) * step - 0.5) as f32;
            let s = f64::from(s) + origin;
            let i0 = s.floor();
            let (i0, f) = if i0 < lo as f64 || !i0.is_finite() {
                (lo, 0.0)
            } else if i0 >= hi as f64 {
                (hi, 0.0)
            } else {
                (i0 as usize, (s - i0) as f32)
            };
            // A zero weight reads one pixel only (exact integer downscales are all like this).
            let i1 = if f == 0.0 { i0 } else { (i0 + 1).min(hi) };
            Tap { i0, i1, f }
        })
        .collect()
}

/// Precomputed tables for one frame size.
struct Plan {
    info: LetterboxInfo,
    /// Byte offsets (into the row `hpass` reads) of the two taps of each output column.
    x0: Vec<usize>,
    x1: Vec<usize>,
    fx: Vec<f32>,
    /// Every column weight is zero: the horizontal pass is a gather.
    nearest_x: bool,
    /// Bytes per pixel of the row `hpass` reads, and the row length every offset fits in.
    bpp: usize,
    row_len: usize,
    ytaps: Vec<Tap>,
    /// Converted sources: the source columns to convert (the taps index this compact row).
    cols: Vec<usize>,
}

impl Plan {
    fn new(info: LetterboxInfo, src: &Source<'_>) -> Self {
        let xt = linear_taps(
            info.new_width,
            0.0,
            info.src_width as f64,
            0,
            info.src_width - 1,
        );
        let ytaps = linear_taps(
            info.new_height,
            0.0,
            info.src_height as f64,
            0,
            info.src_height - 1,
        );
        let (bpp, cols, pos) = match src {
            Source::Packed(_, bpp, _) => (*bpp, Vec::new(), None),
            Source::Converted(_) => {
                // Convert only the columns the taps read (a third of them for 1080p -> 640).
                let mut cols: Vec<usize> = xt.iter().flat_map(|t| [t.i0, t.i1]).collect();
                cols.sort_unstable();
                cols.dedup();
                let mut pos = vec![0usize; info.src_width];
                for (k, &c) in cols.iter().enumerate() {
                    pos[c] = k;
                }
                (1, cols, Some(pos))
            }
        };
        let idx = |i: usize| pos.as_ref().map_or(i, |p| p[i]) * bpp;
        let x0: Vec<usize> = xt.iter().map(|t| idx(t.i0)).collect();
        let x1: Vec<usize> = xt.iter().map(|t| idx(t.i1)).collect();
        let row_len = x0.iter().chain(&x1).max().map_or(0, |m| m + bpp);
        Self {
            info,
            nearest_x: xt.iter().all(|t| t.f == 0.0),
            fx: xt.iter().map(|t| t.f).collect(),
            x0,
            x1,
            bpp,
            row_len,
            ytaps,
            cols,
        }
    }
}

/// Horizontal resize of one source row, times `scale`, into `outs` (one slice of `new_width`
/// values per channel offset in `off`).
#[inline(always)]
fn hpass(plan: &Plan, row: &[u8], off: &[usize], outs: &mut [&mut [f32]], scale: f32) {
    // Checked once per row so the loops below can skip per-pixel bounds checks.
    assert!(row.len() >= plan.row_len && off.iter().all(|&o| o < plan.bpp));
    assert!(outs.len() == off.len() && outs.iter().all(|o| o.len() == plan.info.new_width));
    match (off, outs) {
        ([2, 1, 0], [r, g, b]) => hpass3::<2, 1, 0>(plan, row, [r, g, b], scale),
        ([0, 1, 2], [r, g, b]) => hpass3::<0, 1, 2>(plan, row, [r, g, b], scale),
        (_, outs) => hpass_planes(plan, row, off, outs, scale),
    }
}

/// One plane at a time (gray, and any other channel layout).
#[inline(always)]
fn hpass_planes(plan: &Plan, row: &[u8], off: &[usize], outs: &mut [&mut [f32]], scale: f32) {
    for (dst, &o) in outs.iter_mut().zip(off) {
        if plan.nearest_x {
            for (d, &a) in dst.iter_mut().zip(&plan.x0) {
                // SAFETY: a + o < a + bpp <= plan.row_len <= row.len() (Plan::new, `hpass`).
                *d = f32::from(unsafe { *row.get_unchecked(a + o) }) * scale;
            }
            continue;
        }
        for (((d, &a), &b), &f) in dst.iter_mut().zip(&plan.x0).zip(&plan.x1).zip(&plan.fx) {
            // SAFETY: as above, for both taps.
            let (p0, p1) = unsafe { (*row.get_unchecked(a + o), *row.get_unchecked(b + o)) };
            let p0 = f32::from(p0);
            *d = (p0 + f * (f32::from(p1) - p0)) * scale;
        }
    }
}

/// Three channels per pixel read (R, G, B at byte offsets R, G, B): one table lookup per pixel.
#[inline(always)]
fn hpass3<const R: usize, const G: usize, const B: usize>(
    plan: &Plan,
    row: &[u8],
    outs: [&mut &mut [f32]; 3],
    scale: f32,
) {
    let nw = plan.info.new_width;
    let [r, g, b] = outs;
    let (r, g, b) = (&mut r[..nw], &mut g[..nw], &mut b[..nw]);
    // SAFETY (every read below): an offset plus R, G or B (< bpp, checked in `hpass`) stays
    // below plan.row_len <= row.len().
    let px = |a: usize| unsafe {
        [
            f32::from(*row.get_unchecked(a + R)),
            f32::from(*row.get_unchecked(a + G)),
            f32::from(*row.get_unchecked(a + B)),
        ]
    };
    if plan.nearest_x {
        // Gather bytes first, then convert whole blocks (the conversion vectorises; a scalar
        // load-convert-multiply-store per value does not).
        const BLOCK: usize = 64;
        let mut bytes = [[0u8; BLOCK]; 3];
        for (k, offs) in plan.x0[..nw].chunks(BLOCK).enumerate() {
            let n = offs.len();
            for (j, &a) in offs.iter().enumerate() {
                // SAFETY: as for `px`.
                unsafe {
                    bytes[0][j] = *row.get_unchecked(a + R);
                    bytes[1][j] = *row.get_unchecked(a + G);
                    bytes[2][j] = *row.get_unchecked(a + B);
                }
            }
            let at = k * BLOCK;
            for (dst, src) in [&mut *r, &mut *g, &mut *b].into_iter().zip(&bytes) {
                for (d, &v) in dst[at..at + n].iter_mut().zip(&src[..n]) {
                    *d = f32::from(v) * scale;
                }
            }
        }
        return;
    }
    for (i, ((&a, &c), &f)) in plan.x0[..nw]
        .iter()
        .zip(&plan.x1[..nw])
        .zip(&plan.fx[..nw])
        .enumerate()
    {
        let (p, q) = (px(a), px(c));
        r[i] = (p[0] + f * (q[0] - p[0])) * scale;
        g[i] = (p[1] + f * (q[1] - p[1])) * scale;
        b[i] = (p[2] + f * (q[2] - p[2])) * scale;
    }
}

/// Per-band scratch: two cached horizontally-resized rows and a converted-row buffer.
struct RowCache {
    rows: [Option<usize>; 2],
    bufs: [Vec<f32>; 2],
    rgb: Vec<u8>,
    tmp: Vec<f32>,
}

/// How source rows are read for this frame.
enum Source<'a> {
    /// Direct reads: bytes per pixel and channel offsets (one offset for gray).
    Packed(Frame<'a>, usize, Vec<usize>),
    /// The needed pixels of each row are converted to planar RGB first (YUV formats).
    Converted(Frame<'a>),
}

impl Source<'_> {
    fn channels(&self) -> usize {
        match self {
            Source::Packed(_, _, off) => off.len(),
            Source::Converted(_) => 3,
        }
    }

    #[inline(always)]
    fn load(&self, plan: &Plan, y: usize, cache: &mut RowCache, slot: usize) {
        let nw = plan.info.new_width;
        let mut outs: Vec<&mut [f32]> = cache.bufs[slot].chunks_exact_mut(nw).collect();
        self.hpass_row(plan, y, &mut cache.rgb, &mut outs, 1.0);
        cache.rows[slot] = Some(y);
    }

    /// Horizontal pass of source row `y`, times `scale`, into `outs` (one slice per channel).
    #[inline(always)]
    fn hpass_row(
        &self,
        plan: &Plan,
        y: usize,
        rgb: &mut [u8],
        outs: &mut [&mut [f32]],
        scale: f32,
    ) {
        match self {
            Source::Packed(frame, _, off) => hpass(plan, frame.row(y), off, outs, scale),
            Source::Converted(frame) => {
                // Planar R, G, B of the needed columns, then one plane at a time.
                let n = plan.cols.len();
                let (r8, rest) = rgb.split_at_mut(n);
                let (g8, b8) = rest.split_at_mut(n);
                frame.pixels_to_planes(y, &plan.cols, [&mut *r8, &mut *g8, &mut *b8]);
                for (plane, out) in [&*r8, &*g8, &*b8].into_iter().zip(outs.iter_mut()) {
                    hpass(plan, plane, &[0], std::slice::from_mut(out), scale);
                }
            }
        }
    }
}

/// Fill output rows `rows` (of the full tensor) into `planes` (each covering exactly those rows).
#[inline(always)]
fn run_band<T: OutElem>(
    src: &Source<'_>,
    plan: &Plan,
    params: &LetterboxParams,
    rows: Range<usize>,
    planes: [&mut [T]; 3],
) {
    let info = &plan.info;
    let (ow, nw, nh) = (info.width, info.new_width, info.new_height);
    let (left, top) = (info.pad_x as usize, info.pad_y as usize);
    let nch = src.channels();
    let pad = T::from_f32(params.pad_value * params.scale);
    let rgb_len = 3 * plan.cols.len();
    let mut cache = RowCache {
        rows: [None, None],
        bufs: [vec![0.0; nch * nw], vec![0.0; nch * nw]],
        rgb: vec![0; rgb_len],
        tmp: vec![0.0; nw],
    };
    let [p0, p1, p2] = planes;
    let mut planes = [p0, p1, p2];
    for (k, y) in rows.clone().enumerate() {
        let line = k * ow..(k + 1) * ow;
        if y < top || y >= top + nh {
            for p in planes.iter_mut() {
                p[line.clone()].fill(pad);
            }
            continue;
        }
        let tap = plan.ytaps[y - top];
        if tap.f == 0.0 && nch == 3 && !T::IS_F32 {
            // One source row, non-f32 output: resize it once into scratch, convert each line.
            let (r, rest) = cache.bufs[0].split_at_mut(nw);
            let (g, b) = rest.split_at_mut(nw);
            src.hpass_row(plan, tap.i0, &mut cache.rgb, &mut [r, g, b], params.scale);
            cache.rows[0] = None;
            for (c, p) in planes.iter_mut().enumerate() {
                let l = &mut p[line.clone()];
                l[..left].fill(pad);
                l[left + nw..].fill(pad);
                T::store(
                    &mut l[left..left + nw],
                    &cache.bufs[0][c * nw..(c + 1) * nw],
                );
            }
            continue;
        }
        if tap.f == 0.0 && nch == 3 {
            // One source row (exact downscales): resize it straight into the output lines.
            let [p0, p1, p2] = &mut planes;
            let lines = [
                &mut p0[line.clone()],
                &mut p1[line.clone()],
                &mut p2[line.clone()],
            ];
            if let [Some(r), Some(g), Some(b)] = lines.map(|l| {
                l[..left].fill(pad);
                l[left + nw..].fill(pad);
                T::as_f32_mut(&mut l[left..left + nw])
            }) {
                src.hpass_row(plan, tap.i0, &mut cache.rgb, &mut [r, g, b], params.scale);
                continue;
            }
        }
        let find = |c: &RowCache, r: usize| c.rows.iter().position(|&s| s == Some(r));
        let ia = match find(&cache, tap.i0) {
            Some(s) => s,
            None => {
                let s = usize::from(cache.rows[0] == Some(tap.i1));
                src.load(plan, tap.i0, &mut cache, s);
                s
            }
        };
        let ib = match find(&cache, tap.i1) {
            Some(s) => s,
            None => {
                let s = 1 - ia;
                src.load(plan, tap.i1, &mut cache, s);
                s
            }
        };
        let w1 = tap.f * params.scale;
        let w0 = (1.0 - tap.f) * params.scale;
        for (c, p) in planes.iter_mut().enumerate() {
            let line = &mut p[line.clone()];
            line[..left].fill(pad);
            line[left + nw..].fill(pad);
            let sc = if nch == 1 { 0 } else { c };
            let a = &cache.bufs[ia][sc * nw..(sc + 1) * nw];
            let b = &cache.bufs[ib][sc * nw..(sc + 1) * nw];
            if nch == 1 && c > 0 {
                // Gray: the three planes are equal; copy the first.
                continue;
            }
            T::blend(&mut line[left..left + nw], a, b, w0, w1, &mut cache.tmp);
        }
        if nch == 1 {
            let [p0, p1, p2] = &mut planes;
            p1[line.clone()].copy_from_slice(&p0[line.clone()]);
            p2[line.clone()].copy_from_slice(&p0[line]);
        }
    }
}

/// `run_band`, compiled for AVX2 where the CPU has it (the row loops vectorise 8 wide instead
/// of 4; no FMA, so results are identical on every path).
fn run_band_dispatch<T: OutElem>(
    src: &Source<'_>,
    plan: &Plan,
    params: &LetterboxParams,
    rows: Range<usize>,
    planes: [&mut [T]; 3],
) {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx2")]
        unsafe fn run_band_avx2<T: OutElem>(
            src: &Source<'_>,
            plan: &Plan,
            params: &LetterboxParams,
            rows: Range<usize>,
            planes: [&mut [T]; 3],
        ) {
            run_band(src, plan, params, rows, planes)
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked at run time just above).
            unsafe { run_band_avx2(src, plan, params, rows, planes) };
            return;
        }
    }
    run_band(src, plan, params, rows, planes)
}

fn source_for(frame: Frame<'_>) -> Source<'_> {
    match frame.format() {
        PixelFormat::Nv12 | PixelFormat::I420 | PixelFormat::Yuyv => Source::Converted(frame),
        PixelFormat::Gray => Source::Packed(frame, 1, vec![0]),
        _ => {
            let (bpp, off) = frame.packed_layout().unwrap_or((3, [2, 1, 0]));
            Source::Packed(frame, bpp, off.to_vec())
        }
    }
}

/// Letterbox one frame into `out`, a `3 * height * width` CHW RGB tensor.
///
/// Errors with `CoreError::Shape` if `out` has the wrong length.
pub fn letterbox_into<T: OutElem>(
    frame: &Frame<'_>,
    width: usize,
    height: usize,
    params: &LetterboxParams,
    out: &mut [T],
) -> Result<LetterboxInfo> {
    let info = LetterboxInfo::compute(frame.width(), frame.height(), width, height)?;
    let plane = width * height;
    if out.len() != 3 * plane {
        return Err(CoreError::Shape(format!(
            "out: expected {} values (3, {height}, {width}), got {}",
            3 * plane,
            out.len()
        )));
    }
    let src = source_for(*frame);
    let plan = Plan::new(info, &src);
    let (r, rest) = out.split_at_mut(plane);
    let (g, b) = rest.split_at_mut(plane);
    let bands = if params.parallel {
        rayon::current_num_threads().min(height / 16).max(1)
    } else {
        1
    };
    if bands == 1 {
        run_band_dispatch(&src, &plan, params, 0..height, [r, g, b]);
        return Ok(info);
    }
    let rows_per = height.div_ceil(bands);
    let chunk = rows_per * width;
    use rayon::prelude::*;
    r.par_chunks_mut(chunk)
        .zip(g.par_chunks_mut(chunk))
        .zip(b.par_chunks_mut(chunk))
        .enumerate()
        .for_each(|(k, ((r, g), b))| {
            let start = k * rows_per;
            let end = (start + rows_per).min(height);
            run_band_dispatch(&src, &plan, params, start..end, [r, g, b]);
        });
    Ok(info)
}

/// Letterbox a batch of frames into `out`, an `(N, 3, height, width)` tensor.
pub fn letterbox_batch_into<T: OutElem>(
    frames: &[Frame<'_>],
    width: usize,
    height: usize,
    params: &LetterboxParams,
    out: &mut [T],
) -> Result<Vec<LetterboxInfo>> {
    // Before any size arithmetic: a zero side made `chunks_exact_mut(0)` panic, a huge one
    // overflowed `per` (found by fuzz_letterbox).
    check_size(width, height)?;
    let per = 3 * width * height;
    if out.len() != frames.len() * per {
        return Err(CoreError::Shape(format!(
            "out: expected {} values ({}, 3, {height}, {width}), got {}",
            frames.len() * per,
            frames.len(),
            out.len()
        )));
    }
    if frames.is_empty() {
        return Ok(Vec::new());
    }
    frames
        .iter()
        .zip(out.chunks_exact_mut(per))
        .map(|(f, o)| letterbox_into(f, width, height, params, o))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ultralytics_geometry_1080p() {
        let info = LetterboxInfo::compute(1920, 1080, 640, 640).unwrap();
        assert_eq!((info.new_width, info.new_height), (640, 360));
        assert_eq!((info.pad_x, info.pad_y), (0.0, 140.0));
        let info = LetterboxInfo::compute(1921, 1080, 640, 640).unwrap();
        // 1080 * 640 / 1921 = 359.81 -> 360; dh = 140.
        assert_eq!(info.new_height, 360);
        let info = LetterboxInfo::compute(100, 51, 64, 64).unwrap();
        // r = 0.64, new = (64, 33), dh = 15.5 -> top 15 (round(15.4)), bottom 16.
        assert_eq!(
            (info.new_width, info.new_height, info.pad_y),
            (64, 33, 15.0)
        );
    }

    #[test]
    fn batch_rejects_zero_and_huge_sizes() {
        // A zero side once reached `chunks_exact_mut(0)` (a panic; found by fuzz_letterbox).
        let data = [0u8; 12];
        let f = Frame::new(&data, 2, 2, PixelFormat::Bgr, None).unwrap();
        let p = LetterboxParams::default();
        let mut out: [f32; 0] = [];
        assert!(letterbox_batch_into(&[f], 0, 4, &p, &mut out).is_err());
        assert!(letterbox_batch_into(&[f], usize::MAX, usize::MAX, &p, &mut out).is_err());
    }

    #[test]
    fn taps_match_opencv_edges() {
        let t = |i0, i1, f| Tap { i0, i1, f };
        let taps = linear_taps(2, 0.0, 6.0, 0, 5);
        // (0.5 * 3 - 0.5) = 1.0 and 4.0: exact, one pixel read.
        assert_eq!(taps, vec![t(1, 1, 0.0), t(4, 4, 0.0)]);
        let taps = linear_taps(4, 0.0, 2.0, 0, 1);
        // -0.25 clamps to 0, 0.25, 0.75, 1.25 clamps to the last pixel.
        assert_eq!(
            taps,
            vec![t(0, 0, 0.0), t(0, 1, 0.25), t(0, 1, 0.75), t(1, 1, 0.0)]
        );
    }
}
