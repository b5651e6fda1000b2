//! Frame intake: borrowed views of packed and planar frames (BGR, RGB, BGRA, gray, NV12, I420,
//! YUYV) and JPEG decoding. Nothing here copies a frame unless a conversion is asked for.
//!
//! YUV conversions use OpenCV's fixed-point BT.601 limited-range coefficients (the ones behind
//! `cv2.cvtColor(..., COLOR_YUV2BGR_NV12 / _I420 / _YUYV)`), so results match it bit for bit
//! in the common case and within one level everywhere.

use crate::error::{CoreError, Result};

mod yuv;

/// Pixel layout of a frame buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PixelFormat {
    /// Packed 8-bit blue, green, red (OpenCV's default).
    Bgr,
    /// Packed 8-bit red, green, blue.
    Rgb,
    /// Packed 8-bit blue, green, red, alpha (alpha ignored).
    Bgra,
    /// One 8-bit luma channel.
    Gray,
    /// Y plane, then one interleaved U/V plane at half resolution.
    Nv12,
    /// Y plane, then U and V planes at half resolution.
    I420,
    /// Packed 4:2:2, Y0 U Y1 V.
    Yuyv,
}

impl PixelFormat {
    /// Every format name accepted by [`PixelFormat::parse`].
    pub const NAMES: [&'static str; 7] = ["nv12", "i420", "yuyv", "bgra", "bgr", "rgb", "gray"];

    /// Parse a lower-case format name such as `"nv12"`.
    pub fn parse(name: &str) -> Result<Self> {
        Ok(match name.to_ascii_lowercase().as_str() {
            "bgr" => Self::Bgr,
            "rgb" => Self::Rgb,
            "bgra" => Self::Bgra,
            "gray" | "grey" => Self::Gray,
            "nv12" => Self::Nv12,
            "i420" | "yuv420p" => Self::I420,
            "yuyv" | "yuy2" => Self::Yuyv,
            _ => {
                return Err(CoreError::Value(format!(
                    "fmt: expected one of {:?}, got {name:?}",
                    Self::NAMES
                )))
            }
        })
    }

    /// The canonical lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Bgr => "bgr",
            Self::Rgb => "rgb",
            Self::Bgra => "bgra",
            Self::Gray => "gray",
            Self::Nv12 => "nv12",
            Self::I420 => "i420",
            Self::Yuyv => "yuyv",
        }
    }

    /// Bytes per pixel of the first (or only) plane row.
    pub fn row_bytes_per_pixel(self) -> usize {
        match self {
            Self::Bgr | Self::Rgb => 3,
            Self::Bgra => 4,
            Self::Gray | Self::Nv12 | Self::I420 => 1,
            Self::Yuyv => 2,
        }
    }
}

/// A borrowed, validated frame: `height` rows of `stride` bytes (the last row may be short).
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    data: &'a [u8],
    width: usize,
    height: usize,
    stride: usize,
    format: PixelFormat,
}

/// Bytes needed for `rows` rows of `row_bytes` spaced `stride` apart (the last row may be short).
fn plane_len(rows: usize, stride: usize, row_bytes: usize) -> Option<usize> {
    if rows == 0 {
        return Some(0);
    }
    (rows - 1).checked_mul(stride)?.checked_add(row_bytes)
}

impl<'a> Frame<'a> {
    /// Validate `data` as a `width` x `height` frame of `format` with row `stride` in bytes
    /// (default: packed rows). For I420 the chroma planes have stride `stride / 2`.
    ///
    /// Errors with `CoreError::Value` for zero sizes, odd sizes that the format cannot hold,
    /// a stride shorter than a row, or a buffer shorter than the frame.
    pub fn new(
        data: &'a [u8],
        width: usize,
        height: usize,
        format: PixelFormat,
        stride: Option<usize>,
    ) -> Result<Self> {
        if width == 0 || height == 0 {
            return Err(CoreError::Value(format!(
                "frame: expected a non-empty frame, got {width}x{height} (width x height)"
            )));
        }
        if width > 1 << 16 || height > 1 << 16 {
            return Err(CoreError::Value(format!(
                "frame: expected width and height <= 65536, got {width}x{height}"
            )));
        }
        match format {
            PixelFormat::Nv12 | PixelFormat::I420 if width % 2 != 0 || height % 2 != 0 => {
                return Err(CoreError::Value(format!(
                    "frame: {} needs an even width and height, got {width}x{height}",
                    format.name()
                )))
            }
            PixelFormat::Yuyv if width % 2 != 0 => {
                return Err(CoreError::Value(format!(
                    "frame: yuyv needs an even width, got {width}"
                )))
            }
            _ => {}
        }
        let row_bytes = width * format.row_bytes_per_pixel();
        let stride = stride.unwrap_or(row_bytes);
        if stride < row_bytes {
            return Err(CoreError::Value(format!(
                "stride: expected >= {row_bytes} bytes for {width} {} pixels, got {stride}",
                format.name()
            )));
        }
        if format == PixelFormat::I420 && stride % 2 != 0 {
            return Err(CoreError::Value(format!(
                "stride: i420 needs an even stride, got {stride}"
            )));
        }
        let need = match format {
            PixelFormat::Nv12 => stride
                .checked_mul(height)
                .and_then(|y| y.checked_add(plane_len(height / 2, stride, width)?)),
            PixelFormat::I420 => stride.checked_mul(height).and_then(|y| {
                let c = (stride / 2).checked_mul(height / 2)?;
                y.checked_add(c)?
                    .checked_add(plane_len(height / 2, stride / 2, width / 2)?)
            }),
            _ => plane_len(height, stride, row_bytes),
        };
        let need = need.ok_or_else(|| CoreError::Value("frame: size overflows".into()))?;
        if data.len() < need {
            return Err(CoreError::Value(format!(
                "data: expected at least {need} bytes for a {width}x{height} {} frame with stride {stride}, got {}",
                format.name(),
                data.len()
            )));
        }
        Ok(Self {
            data,
            width,
            height,
            stride,
            format,
        })
    }

    pub fn width(&self) -> usize {
        self.width
    }

    pub fn height(&self) -> usize {
        self.height
    }

    pub fn stride(&self) -> usize {
        self.stride
    }

    pub fn format(&self) -> PixelFormat {
        self.format
    }

    /// Row `y` of the first plane, `width * bpp` bytes long.
    #[inline]
    pub fn row(&self, y: usize) -> &'a [u8] {
        let start = y * self.stride;
        &self.data[start..start + self.width * self.format.row_bytes_per_pixel()]
    }

    /// Direct access for packed formats: (row bytes per pixel, offsets of R, G, B).
    pub fn packed_layout(&self) -> Option<(usize, [usize; 3])> {
        match self.format {
            PixelFormat::Bgr => Some((3, [2, 1, 0])),
            PixelFormat::Rgb => Some((3, [0, 1, 2])),
            PixelFormat::Bgra => Some((4, [2, 1, 0])),
            PixelFormat::Gray => Some((1, [0, 0, 0])),
            _ => None,
        }
    }

    /// Convert row `y` to packed RGB (`out.len() == 3 * width`).
    pub fn row_to_rgb(&self, y: usize, out: &mut [u8]) {
        self.row_to_3::<false>(y, out);
    }

    /// Convert row `y` to packed BGR (`out.len() == 3 * width`).
    pub fn row_to_bgr(&self, y: usize, out: &mut [u8]) {
        self.row_to_3::<true>(y, out);
    }

    /// Convert the pixels at columns `cols` of row `y` into planar R, G, B (`cols.len()` bytes
    /// each). YUV is gathered first and converted in one branch-free pass that vectorises.
    pub fn pixels_to_planes(&self, y: usize, cols: &[usize], planes: [&mut [u8]; 3]) {
        let n = cols.len();
        let [r, g, b] = planes;
        let (r, g, b) = (&mut r[..n], &mut g[..n], &mut b[..n]);
        match self.format {
            PixelFormat::Nv12 | PixelFormat::I420 | PixelFormat::Yuyv => {
                // Gather Y, U, V into the R, G, B planes, then convert in place.
                if self.format == PixelFormat::Yuyv {
                    let row = self.row(y);
                    for (i, &x) in cols.iter().enumerate() {
                        let q = x / 2 * 4;
                        r[i] = row[2 * x];
                        g[i] = row[q + 1];
                        b[i] = row[q + 3];
                    }
                } else {
                    let luma = self.row(y);
                    let (us, vs, step) = self.chroma_rows(y);
                    for (i, &x) in cols.iter().enumerate() {
                        let c = x / 2 * step;
                        r[i] = luma[x];
                        g[i] = us[c];
                        b[i] = vs[c];
                    }
                }
                yuv_planes_to_rgb(r, g, b);
            }
            _ => {
                let (bpp, off) = self.packed_layout().unwrap_or((3, [2, 1, 0]));
                let row = self.row(y);
                for (i, &x) in cols.iter().enumerate() {
                    let p = x * bpp;
                    r[i] = row[p + off[0]];
                    g[i] = row[p + off[1]];
                    b[i] = row[p + off[2]];
                }
            }
        }
    }

    /// Row `y` as packed RGB, or BGR when `BGR`.
    fn row_to_3<const BGR: bool>(&self, y: usize, out: &mut [u8]) {
        let w = self.width;
        let out = &mut out[..3 * w];
        match self.format {
            PixelFormat::Nv12 | PixelFormat::I420 => {
                let luma = self.row(y);
                let (us, vs, step) = self.chroma_rows(y);
                // Width is even: each chroma sample covers one pair of pixels.
                let pairs = luma.chunks_exact(2).zip(out.chunks_exact_mut(6));
                for (k, (yy, px)) in pairs.enumerate() {
                    let c = chroma(us[k * step], vs[k * step]);
                    let (p0, p1) = px.split_at_mut(3);
                    put::<BGR>(p0, yuv_pixel(yy[0], c));
                    put::<BGR>(p1, yuv_pixel(yy[1], c));
                }
            }
            PixelFormat::Yuyv => {
                let row = self.row(y);
                for (quad, px) in row.chunks_exact(4).zip(out.chunks_exact_mut(6)) {
                    let c = chroma(quad[1], quad[3]);
                    let (p0, p1) = px.split_at_mut(3);
                    put::<BGR>(p0, yuv_pixel(quad[0], c));
                    put::<BGR>(p1, yuv_pixel(quad[2], c));
                }
            }
            _ => {
                // Packed formats always have a layout.
                let (bpp, off) = self.packed_layout().unwrap_or((3, [2, 1, 0]));
                let row = self.row(y);
                for (src, px) in row.chunks_exact(bpp).zip(out.chunks_exact_mut(3)) {
                    put::<BGR>(px, [src[off[0]], src[off[1]], src[off[2]]]);
                }
            }
        }
    }

    /// The U and V samples for luma row `y` of NV12/I420, and the step between chroma samples.
    fn chroma_rows(&self, y: usize) -> (&'a [u8], &'a [u8], usize) {
        let (w, h, s) = (self.width, self.height, self.stride);
        let cy = y / 2;
        if self.format == PixelFormat::Nv12 {
            let start = s * h + cy * s;
            let uv = &self.data[start..start + w];
            (uv, &uv[1..], 2)
        } else {
            let cs = s / 2;
            let u0 = s * h + cy * cs;
            let v0 = s * h + cs * (h / 2) + cy * cs;
            (&self.data[u0..u0 + w / 2], &self.data[v0..v0 + w / 2], 1)
        }
    }

    /// Convert the whole frame to a packed BGR buffer of `3 * width * height` bytes.
    pub fn to_bgr(&self) -> Vec<u8> {
        let mut out = vec![0u8; 3 * self.width * self.height];
        self.to_bgr_into(&mut out);
        out
    }

    /// Convert the whole frame into `out` (packed BGR, at least `3 * width * height` bytes).
    /// YUV formats use a whole-frame kernel (two luma rows per chroma row, SIMD where
    /// available); rows are split over the rayon pool in blocks when the frame is large.
    pub fn to_bgr_into(&self, out: &mut [u8]) {
        use rayon::prelude::*;
        const ROWS: usize = 16;
        let row = 3 * self.width;
        let out = &mut out[..row * self.height];
        if matches!(
            self.format,
            PixelFormat::Nv12 | PixelFormat::I420 | PixelFormat::Yuyv
        ) {
            yuv::to_bgr(self, out);
            return;
        }
        out.par_chunks_mut(row * ROWS)
            .enumerate()
            .for_each(|(k, block)| {
                for (j, dst) in block.chunks_exact_mut(row).enumerate() {
                    self.row_to_bgr(k * ROWS + j, dst);
                }
            });
    }
}

// OpenCV's ITU-R BT.601 limited-range constants (modules/imgproc/src/color_yuv.simd.hpp).
const SHIFT: i32 = 20;
const CY: i32 = 1_220_542;
const CUB: i32 = 2_116_026;
const CUG: i32 = -409_993;
const CVG: i32 = -852_492;
const CVR: i32 = 1_673_527;

#[inline(always)]
fn clamp_u8(v: i32) -> u8 {
    v.clamp(0, 255) as u8
}

/// Write an RGB triple as RGB, or as BGR when `BGR`.
#[inline(always)]
fn put<const BGR: bool>(px: &mut [u8], rgb: [u8; 3]) {
    if BGR {
        px[0] = rgb[2];
        px[1] = rgb[1];
        px[2] = rgb[0];
    } else {
        px[0] = rgb[0];
        px[1] = rgb[1];
        px[2] = rgb[2];
    }
}

/// The chroma terms (R, G, B) shared by the pixels of one U/V sample, rounding included.
#[inline(always)]
fn chroma(u: u8, v: u8) -> [i32; 3] {
    let u = i32::from(u) - 128;
    let v = i32::from(v) - 128;
    let half = 1 << (SHIFT - 1);
    [half + CVR * v, half + CVG * v + CUG * u, half + CUB * u]
}

#[inline(always)]
fn yuv_pixel(y: u8, c: [i32; 3]) -> [u8; 3] {
    let yy = (i32::from(y) - 16).max(0) * CY;
    [
        clamp_u8((yy + c[0]) >> SHIFT),
        clamp_u8((yy + c[1]) >> SHIFT),
        clamp_u8((yy + c[2]) >> SHIFT),
    ]
}

/// Convert planar Y, U, V (one U/V per pixel) to R, G, B in place.
fn yuv_planes_to_rgb(r: &mut [u8], g: &mut [u8], b: &mut [u8]) {
    #[inline(always)]
    fn body(r: &mut [u8], g: &mut [u8], b: &mut [u8]) {
        for ((r, g), b) in r.iter_mut().zip(g.iter_mut()).zip(b.iter_mut()) {
            let px = yuv_pixel(*r, chroma(*g, *b));
            *r = px[0];
            *g = px[1];
            *b = px[2];
        }
    }
    // 32-bit lane multiplies need SSE4.1/AVX2; the x86-64 baseline (SSE2) keeps this scalar.
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx2")]
        unsafe fn body_avx2(r: &mut [u8], g: &mut [u8], b: &mut [u8]) {
            body(r, g, b)
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked at run time just above).
            unsafe { body_avx2(r, g, b) };
            return;
        }
    }
    body(r, g, b)
}

/// One YUV sample to RGB with OpenCV's fixed-point BT.601 limited-range formula.
#[inline(always)]
pub fn yuv_to_rgb(y: u8, u: u8, v: u8) -> [u8; 3] {
    yuv_pixel(y, chroma(u, v))
}

/// A decoded image owned by Rust: packed 3-channel rows.
#[derive(Clone, Debug)]
pub struct DecodedImage {
    pub data: Vec<u8>,
    pub width: usize,
    pub height: usize,
    pub format: PixelFormat,
}

impl DecodedImage {
    /// A frame view of the pixels.
    pub fn frame(&self) -> Result<Frame<'_>> {
        Frame::new(&self.data, self.width, self.height, self.format, None)
    }
}

/// Largest JPEG side accepted; bigger images are rejected before any allocation.
pub const MAX_JPEG_SIDE: usize = 16_384;

/// Decode JPEG bytes into packed RGB (`bgr = false`) or BGR (`bgr = true`).
///
/// Errors with `CoreError::Decode` on anything that is not a decodable JPEG; never panics.
pub fn decode_jpeg(data: &[u8], bgr: bool) -> Result<DecodedImage> {
    use zune_jpeg::zune_core::colorspace::ColorSpace;
    use zune_jpeg::zune_core::options::DecoderOptions;
    use zune_jpeg::JpegDecoder;

    if data.len() < 4 || data[0] != 0xFF || data[1] != 0xD8 {
        return Err(CoreError::Decode(format!(
            "jpeg: expected data starting with the SOI marker FF D8, got {} bytes starting {:02X?}",
            data.len(),
            &data[..data.len().min(4)]
        )));
    }
    // zune-jpeg fills a truncated scan with grey and succeeds; a camera frame cut short must be
    // an error instead. Entropy-coded data never holds FF D9 (FF is stuffed as FF 00), so a
    // complete stream has an EOI marker after its last SOS marker (a thumbnail's come earlier).
    let last = |m: u8| data.windows(2).rposition(|w| w[0] == 0xFF && w[1] == m);
    match (last(0xDA), last(0xD9)) {
        (Some(sos), Some(eoi)) if eoi > sos => {}
        _ => {
            return Err(CoreError::Decode(format!(
            "jpeg: truncated or incomplete stream ({} bytes, no EOI marker after the last scan)",
            data.len()
        )))
        }
    }
    let options = |cs: ColorSpace| {
        DecoderOptions::new_fast()
            .set_max_width(MAX_JPEG_SIDE)
            .set_max_height(MAX_JPEG_SIDE)
            .jpeg_set_out_colorspace(cs)
    };
    // A decoder bug must surface as a DecodeError, not as a panic crossing into Python.
    let decoded = std::panic::catch_unwind(|| {
        // zune-jpeg converts only YCbCr (and gray) to BGR; CMYK, YCCK and RGB streams only to
        // RGB (found by fuzz_jpeg: a CMYK JPEG letterboxed but failed `decode_jpeg`). Those are
        // decoded as RGB, with a fresh decoder (the converter is chosen with the headers), and
        // swapped. The colour space can also change after the headers (an Adobe marker later in
        // the stream), so a BGR decode that fails on such a stream is retried the same way.
        let rgb_only = |d: &JpegDecoder<&[u8]>| {
            !matches!(
                d.get_input_colorspace(),
                Some(ColorSpace::YCbCr | ColorSpace::Luma)
            )
        };
        if bgr {
            let mut decoder = JpegDecoder::new_with_options(data, options(ColorSpace::BGR));
            decoder.decode_headers()?;
            if !rgb_only(&decoder) {
                match decoder.decode() {
                    Ok(pixels) => {
                        let cs = decoder.get_output_colorspace();
                        return Ok((pixels, decoder.info(), cs, false));
                    }
                    Err(e) if !rgb_only(&decoder) => return Err(e),
                    Err(_) => {}
                }
            }
        }
        let mut decoder = JpegDecoder::new_with_options(data, options(ColorSpace::RGB));
        decoder.decode_headers()?;
        let pixels = decoder.decode()?;
        let cs = decoder.get_output_colorspace();
        Ok::<_, zune_jpeg::errors::DecodeErrors>((pixels, decoder.info(), cs, bgr))
    });
    let (pixels, info, out_cs, swap) = match decoded {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => return Err(CoreError::Decode(format!("jpeg: {e:?}"))),
        Err(_) => {
            return Err(CoreError::Decode(
                "jpeg: the decoder failed on this input".into(),
            ))
        }
    };
    let info = info.ok_or_else(|| CoreError::Decode("jpeg: no image header".into()))?;
    let (width, height) = (usize::from(info.width), usize::from(info.height));
    let channels = out_cs.map(|c| c.num_components()).unwrap_or(0);
    if width == 0 || height == 0 || pixels.len() < width * height * channels {
        return Err(CoreError::Decode(format!(
            "jpeg: decoder returned {} bytes for a {width}x{height} image",
            pixels.len()
        )));
    }
    let format = if bgr {
        PixelFormat::Bgr
    } else {
        PixelFormat::Rgb
    };
    let data = match channels {
        3 if swap => pixels
            .chunks_exact(3)
            .flat_map(|p| [p[2], p[1], p[0]])
            .collect(),
        3 => pixels,
        1 => pixels.iter().flat_map(|&g| [g, g, g]).collect(),
        4 if swap => pixels
            .chunks_exact(4)
            .flat_map(|p| [p[2], p[1], p[0]])
            .collect(),
        4 => pixels
            .chunks_exact(4)
            .flat_map(|p| [p[0], p[1], p[2]])
            .collect(),
        n => {
            return Err(CoreError::Decode(format!(
                "jpeg: unsupported number of output channels {n}"
            )))
        }
    };
    Ok(DecodedImage {
        data,
        width,
        height,
        format,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yuv_grey_points() {
        assert_eq!(yuv_to_rgb(16, 128, 128), [0, 0, 0]);
        assert_eq!(yuv_to_rgb(235, 128, 128), [255, 255, 255]);
    }

    #[test]
    fn short_buffer_is_an_error() {
        let data = vec![0u8; 10];
        let err = Frame::new(&data, 4, 4, PixelFormat::Bgr, None).unwrap_err();
        assert!(
            err.to_string().contains("expected at least 48 bytes"),
            "{err}"
        );
    }

    #[test]
    fn garbage_jpeg_is_decode_error() {
        assert!(matches!(
            decode_jpeg(b"not a jpeg", false),
            Err(CoreError::Decode(_))
        ));
        assert!(matches!(
            decode_jpeg(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0], false),
            Err(CoreError::Decode(_))
        ));
    }
}
