//! Whole-frame NV12 / I420 / YUYV -> packed BGR.
//!
//! Two luma rows share one chroma row (NV12/I420), so the chroma terms are computed once per 2x2
//! block. The arithmetic is OpenCV's 20-bit fixed-point BT.601 formula in 32-bit lanes, so the
//! result equals [`super::yuv_to_rgb`] bit for bit. On x86-64 with AVX2 (checked at run time)
//! 16 pixels go through at once and are interleaved to BGR with `pshufb`; elsewhere (aarch64,
//! older x86) a branch-free scalar loop over pixel pairs runs, with no bounds checks inside.

use super::{chroma, yuv_pixel, Frame, PixelFormat};

/// Rows per rayon task (even, so NV12/I420 row pairs never straddle two tasks).
const BLOCK_ROWS: usize = 32;
/// Frames with fewer pixels are converted on the calling thread.
const PARALLEL_PIXELS: usize = 1 << 18;

/// Convert a YUV frame into `out` (`3 * width * height` bytes, packed BGR).
pub(super) fn to_bgr(frame: &Frame<'_>, out: &mut [u8]) {
    use rayon::prelude::*;
    let row = 3 * frame.width;
    let simd = has_avx2();
    let job = |(k, block): (usize, &mut [u8])| convert_block(frame, k * BLOCK_ROWS, block, simd);
    let chunks = BLOCK_ROWS * row;
    if frame.width * frame.height >= PARALLEL_PIXELS {
        out.par_chunks_mut(chunks).enumerate().for_each(job);
    } else {
        out.chunks_mut(chunks).enumerate().for_each(job);
    }
}

#[cfg(target_arch = "x86_64")]
fn has_avx2() -> bool {
    std::arch::is_x86_feature_detected!("avx2")
}

#[cfg(not(target_arch = "x86_64"))]
fn has_avx2() -> bool {
    false
}

/// Convert the rows starting at `y0` into `block` (whole output rows).
fn convert_block(frame: &Frame<'_>, y0: usize, block: &mut [u8], simd: bool) {
    let row = 3 * frame.width;
    if frame.format == PixelFormat::Yuyv {
        for (j, dst) in block.chunks_exact_mut(row).enumerate() {
            let src = frame.row(y0 + j);
            let done = simd_yuyv(src, dst, simd);
            yuyv_scalar(&src[2 * done..], &mut dst[3 * done..]);
        }
        return;
    }
    // NV12 / I420: the height is even, and so is every block's first row.
    for (j, pair) in block.chunks_exact_mut(2 * row).enumerate() {
        let y = y0 + 2 * j;
        let (o0, o1) = pair.split_at_mut(row);
        let (l0, l1) = (frame.row(y), frame.row(y + 1));
        let (us, vs, _) = frame.chroma_rows(y);
        let nv12 = frame.format == PixelFormat::Nv12;
        let done = simd_pair(l0, l1, us, vs, nv12, o0, o1, simd);
        let (l0, l1, o0, o1) = (
            &l0[done..],
            &l1[done..],
            &mut o0[3 * done..],
            &mut o1[3 * done..],
        );
        if nv12 {
            let uv = us[done..].chunks_exact(2).map(|c| (c[0], c[1]));
            pair_scalar(l0, l1, uv, o0, o1);
        } else {
            let uv = us[done / 2..]
                .iter()
                .copied()
                .zip(vs[done / 2..].iter().copied());
            pair_scalar(l0, l1, uv, o0, o1);
        }
    }
}

/// Two luma rows sharing the chroma samples of `uv` (one per pixel pair).
#[inline(always)]
fn pair_scalar(
    l0: &[u8],
    l1: &[u8],
    uv: impl Iterator<Item = (u8, u8)>,
    o0: &mut [u8],
    o1: &mut [u8],
) {
    let rows = l0.chunks_exact(2).zip(l1.chunks_exact(2));
    let outs = o0.chunks_exact_mut(6).zip(o1.chunks_exact_mut(6));
    for (((a, b), (p, q)), (u, v)) in rows.zip(outs).zip(uv) {
        let c = chroma(u, v);
        put_bgr(&mut p[..3], yuv_pixel(a[0], c));
        put_bgr(&mut p[3..], yuv_pixel(a[1], c));
        put_bgr(&mut q[..3], yuv_pixel(b[0], c));
        put_bgr(&mut q[3..], yuv_pixel(b[1], c));
    }
}

/// One YUYV row (`Y0 U Y1 V` per pixel pair).
fn yuyv_scalar(src: &[u8], dst: &mut [u8]) {
    for (s, d) in src.chunks_exact(4).zip(dst.chunks_exact_mut(6)) {
        let c = chroma(s[1], s[3]);
        put_bgr(&mut d[..3], yuv_pixel(s[0], c));
        put_bgr(&mut d[3..], yuv_pixel(s[2], c));
    }
}

#[inline(always)]
fn put_bgr(px: &mut [u8], rgb: [u8; 3]) {
    px[0] = rgb[2];
    px[1] = rgb[1];
    px[2] = rgb[0];
}

/// The SIMD part of a row pair; returns how many leading pixels it converted (a multiple of 16).
#[allow(clippy::too_many_arguments)]
fn simd_pair(
    l0: &[u8],
    l1: &[u8],
    us: &[u8],
    vs: &[u8],
    nv12: bool,
    o0: &mut [u8],
    o1: &mut [u8],
    simd: bool,
) -> usize {
    #[cfg(target_arch = "x86_64")]
    if simd {
        // SAFETY: AVX2 was detected at run time; the kernel checks every length it reads/writes.
        return unsafe { avx2::pair(l0, l1, us, vs, nv12, o0, o1) };
    }
    let _ = (l0, l1, us, vs, nv12, o0, o1, simd);
    0
}

/// The SIMD part of a YUYV row; returns how many leading pixels it converted.
fn simd_yuyv(src: &[u8], dst: &mut [u8], simd: bool) -> usize {
    #[cfg(target_arch = "x86_64")]
    if simd {
        // SAFETY: AVX2 was detected at run time; the kernel checks every length it reads/writes.
        return unsafe { avx2::yuyv(src, dst) };
    }
    let _ = (src, dst, simd);
    0
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::super::{CUB, CUG, CVG, CVR, CY, SHIFT};
    use std::arch::x86_64::*;

    /// `pshufb` mask picking channel `c` (0 = B, 1 = G, 2 = R) for output bytes `16 j ..`.
    const fn mask(j: usize, c: usize) -> [u8; 16] {
        let mut m = [0x80u8; 16];
        let mut i = 0;
        while i < 16 {
            let k = 16 * j + i;
            if k % 3 == c {
                m[i] = (k / 3) as u8;
            }
            i += 1;
        }
        m
    }

    static MASKS: [[u8; 16]; 9] = [
        mask(0, 0),
        mask(0, 1),
        mask(0, 2),
        mask(1, 0),
        mask(1, 1),
        mask(1, 2),
        mask(2, 0),
        mask(2, 1),
        mask(2, 2),
    ];

    #[inline(always)]
    unsafe fn load16(p: *const u8) -> __m128i {
        _mm_loadu_si128(p.cast())
    }

    /// Chroma terms (rounding included) for 8 U/V samples, each duplicated to its pixel pair:
    /// `[r(0..8), r(8..16), g.., g.., b.., b..]` over 16 pixels.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn chroma8(u: __m128i, v: __m128i) -> [__m256i; 6] {
        let k128 = _mm256_set1_epi32(128);
        let half = _mm256_set1_epi32(1 << (SHIFT - 1));
        let u = _mm256_sub_epi32(_mm256_cvtepu8_epi32(u), k128);
        let v = _mm256_sub_epi32(_mm256_cvtepu8_epi32(v), k128);
        let r = _mm256_add_epi32(half, _mm256_mullo_epi32(v, _mm256_set1_epi32(CVR)));
        let g = _mm256_add_epi32(
            _mm256_add_epi32(half, _mm256_mullo_epi32(v, _mm256_set1_epi32(CVG))),
            _mm256_mullo_epi32(u, _mm256_set1_epi32(CUG)),
        );
        let b = _mm256_add_epi32(half, _mm256_mullo_epi32(u, _mm256_set1_epi32(CUB)));
        let lo = _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3);
        let hi = _mm256_setr_epi32(4, 4, 5, 5, 6, 6, 7, 7);
        [
            _mm256_permutevar8x32_epi32(r, lo),
            _mm256_permutevar8x32_epi32(r, hi),
            _mm256_permutevar8x32_epi32(g, lo),
            _mm256_permutevar8x32_epi32(g, hi),
            _mm256_permutevar8x32_epi32(b, lo),
            _mm256_permutevar8x32_epi32(b, hi),
        ]
    }

    /// `clamp((y + c) >> SHIFT, 0, 255)` for 16 pixels, as 16 bytes.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn channel(yl: __m256i, yh: __m256i, cl: __m256i, ch: __m256i) -> __m128i {
        let a = _mm256_srai_epi32::<SHIFT>(_mm256_add_epi32(yl, cl));
        let b = _mm256_srai_epi32::<SHIFT>(_mm256_add_epi32(yh, ch));
        // Saturating packs clamp exactly like `clamp(0, 255)`; the permute undoes lane order.
        let p = _mm256_permute4x64_epi64::<0b11_01_10_00>(_mm256_packs_epi32(a, b));
        _mm_packus_epi16(_mm256_castsi256_si128(p), _mm256_extracti128_si256::<1>(p))
    }

    /// 16 luma samples with their chroma terms -> 48 bytes of BGR at `out`.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn luma16(y: __m128i, c: &[__m256i; 6], out: *mut u8) {
        let k16 = _mm256_set1_epi32(16);
        let cy = _mm256_set1_epi32(CY);
        let zero = _mm256_setzero_si256();
        let yl = _mm256_sub_epi32(_mm256_cvtepu8_epi32(y), k16);
        let yh = _mm256_sub_epi32(_mm256_cvtepu8_epi32(_mm_srli_si128::<8>(y)), k16);
        let yl = _mm256_mullo_epi32(_mm256_max_epi32(yl, zero), cy);
        let yh = _mm256_mullo_epi32(_mm256_max_epi32(yh, zero), cy);
        let r = channel(yl, yh, c[0], c[1]);
        let g = channel(yl, yh, c[2], c[3]);
        let b = channel(yl, yh, c[4], c[5]);
        for j in 0..3 {
            let mb = load16(MASKS[3 * j].as_ptr());
            let mg = load16(MASKS[3 * j + 1].as_ptr());
            let mr = load16(MASKS[3 * j + 2].as_ptr());
            let v = _mm_or_si128(
                _mm_or_si128(_mm_shuffle_epi8(b, mb), _mm_shuffle_epi8(g, mg)),
                _mm_shuffle_epi8(r, mr),
            );
            _mm_storeu_si128(out.add(16 * j).cast(), v);
        }
    }

    /// Row pair of NV12 (`us` = interleaved U/V row, `nv12`) or I420 (`us`, `vs` = U and V rows).
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn pair(
        l0: &[u8],
        l1: &[u8],
        us: &[u8],
        vs: &[u8],
        nv12: bool,
        o0: &mut [u8],
        o1: &mut [u8],
    ) -> usize {
        let w = l0.len();
        assert!(l1.len() >= w && o0.len() >= 3 * w && o1.len() >= 3 * w);
        assert!(if nv12 {
            us.len() >= w
        } else {
            us.len() >= w / 2 && vs.len() >= w / 2
        });
        let deint_u = _mm_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, -1, -1, -1, -1, -1, -1, -1, -1);
        let deint_v = _mm_setr_epi8(1, 3, 5, 7, 9, 11, 13, 15, -1, -1, -1, -1, -1, -1, -1, -1);
        let mut x = 0;
        while x + 16 <= w {
            let (u, v) = if nv12 {
                let uv = load16(us.as_ptr().add(x));
                (_mm_shuffle_epi8(uv, deint_u), _mm_shuffle_epi8(uv, deint_v))
            } else {
                (
                    _mm_loadl_epi64(us.as_ptr().add(x / 2).cast()),
                    _mm_loadl_epi64(vs.as_ptr().add(x / 2).cast()),
                )
            };
            let c = chroma8(u, v);
            luma16(load16(l0.as_ptr().add(x)), &c, o0.as_mut_ptr().add(3 * x));
            luma16(load16(l1.as_ptr().add(x)), &c, o1.as_mut_ptr().add(3 * x));
            x += 16;
        }
        x
    }

    /// One YUYV row (`2 * width` bytes) into `3 * width` bytes of BGR.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn yuyv(src: &[u8], dst: &mut [u8]) -> usize {
        let w = src.len() / 2;
        assert!(dst.len() >= 3 * w);
        let sy = _mm_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, -1, -1, -1, -1, -1, -1, -1, -1);
        let su = _mm_setr_epi8(1, 5, 9, 13, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
        let sv = _mm_setr_epi8(3, 7, 11, 15, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
        let mut x = 0;
        while x + 16 <= w {
            let a = load16(src.as_ptr().add(2 * x));
            let b = load16(src.as_ptr().add(2 * x + 16));
            let y = _mm_unpacklo_epi64(_mm_shuffle_epi8(a, sy), _mm_shuffle_epi8(b, sy));
            let u = _mm_unpacklo_epi32(_mm_shuffle_epi8(a, su), _mm_shuffle_epi8(b, su));
            let v = _mm_unpacklo_epi32(_mm_shuffle_epi8(a, sv), _mm_shuffle_epi8(b, sv));
            luma16(y, &chroma8(u, v), dst.as_mut_ptr().add(3 * x));
            x += 16;
        }
        x
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Frame, PixelFormat};

    /// Deterministic pseudo-random bytes.
    fn bytes(n: usize, seed: u32) -> Vec<u8> {
        (0..n as u32)
            .map(|i| (i.wrapping_add(seed).wrapping_mul(2_654_435_761) >> 24) as u8)
            .collect()
    }

    /// The whole-frame kernel equals the per-row reference, SIMD body and scalar tail alike.
    #[test]
    fn to_bgr_matches_rows() {
        for fmt in [PixelFormat::Nv12, PixelFormat::I420, PixelFormat::Yuyv] {
            for (w, h, pad) in [
                (2, 2, 0),
                (16, 2, 0),
                (34, 6, 4),
                (62, 40, 2),
                (96, 66, 0),
                (640, 480, 6),
            ] {
                let stride = w * fmt.row_bytes_per_pixel() + pad;
                let data = bytes(stride * h * 2, (w * h) as u32);
                let frame = Frame::new(&data, w, h, fmt, Some(stride)).unwrap();
                let got = frame.to_bgr();
                let mut want = vec![0u8; 3 * w];
                for y in 0..h {
                    frame.row_to_bgr(y, &mut want);
                    assert_eq!(
                        &got[3 * w * y..3 * w * (y + 1)],
                        &want[..],
                        "{fmt:?} {w}x{h} row {y}"
                    );
                }
            }
        }
    }
}
