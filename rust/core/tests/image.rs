//! Property tests of the image kernels: frame intake, letterbox, crops.

use alpr_core::crop::{crop_into, CropParams, Layout, Region};
use alpr_core::frame::{decode_jpeg, yuv_to_rgb, Frame, PixelFormat};
use alpr_core::letterbox::{letterbox_batch_into, letterbox_into, LetterboxInfo, LetterboxParams};
use alpr_core::CoreError;
use proptest::prelude::*;

fn params(parallel: bool) -> LetterboxParams {
    LetterboxParams {
        pad_value: 114.0,
        scale: 1.0 / 255.0,
        parallel,
    }
}

fn image(w: usize, h: usize, seed: u32) -> Vec<u8> {
    (0..w * h * 3)
        .map(|i| ((i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) >> 13) as u8)
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// letterbox then unletterbox round-trips points inside the frame.
    #[test]
    fn map_unmap_round_trip(
        sw in 1usize..4000, sh in 1usize..4000, tw in 1usize..2000, th in 1usize..2000,
        fx in 0.0f32..1.0, fy in 0.0f32..1.0,
    ) {
        let info = LetterboxInfo::compute(sw, sh, tw, th).unwrap();
        prop_assert!(info.new_width <= tw && info.new_height <= th);
        prop_assert!(info.pad_x + info.new_width as f64 <= tw as f64);
        prop_assert!(info.pad_y + info.new_height as f64 <= th as f64);
        let (x, y) = (fx * sw as f32, fy * sh as f32);
        let (mx, my) = info.map_point(x, y);
        let (ux, uy) = info.unmap_point(mx, my);
        let tol = 1e-3 * (sw.max(sh) as f32).max(1.0);
        prop_assert!((ux - x).abs() <= tol && (uy - y).abs() <= tol, "{x},{y} -> {ux},{uy}");
        let b = info.unmap_box(info.map_box([x, y, x + 1.0, y + 1.0]));
        prop_assert!(b[0] >= 0.0 && b[2] <= sw as f32 && b[1] >= 0.0 && b[3] <= sh as f32);
        prop_assert!((b[0] - x).abs() <= tol);
    }

    /// Output values: padding is exactly the pad value, content stays in the source range, and
    /// the parallel path writes the same tensor as the single-thread path.
    #[test]
    fn letterbox_values(sw in 1usize..80, sh in 1usize..80, tw in 1usize..64, th in 1usize..64, seed in 0u32..1000) {
        let data = image(sw, sh, seed);
        let frame = Frame::new(&data, sw, sh, PixelFormat::Bgr, None).unwrap();
        let mut a = vec![f32::NAN; 3 * tw * th];
        let mut b = vec![f32::NAN; 3 * tw * th];
        let info = letterbox_into(&frame, tw, th, &params(false), &mut a).unwrap();
        letterbox_into(&frame, tw, th, &params(true), &mut b).unwrap();
        prop_assert_eq!(&a, &b);
        let pad = 114.0f32 * (1.0 / 255.0);
        let (l, t) = (info.pad_x as usize, info.pad_y as usize);
        for c in 0..3 {
            for y in 0..th {
                for x in 0..tw {
                    let v = a[(c * th + y) * tw + x];
                    let inside = x >= l && x < l + info.new_width && y >= t && y < t + info.new_height;
                    if inside {
                        prop_assert!((0.0..=1.0 + 1e-6).contains(&v), "{v}");
                    } else {
                        prop_assert_eq!(v, pad);
                    }
                }
            }
        }
    }

    /// A constant frame letterboxes to a constant content region in every format.
    #[test]
    fn constant_frames(w2 in 1usize..20, h2 in 1usize..20, y in 16u8..=235, tw in 1usize..40) {
        let (w, h) = (2 * w2, 2 * h2);
        let rgb = yuv_to_rgb(y, 128, 128);
        let nv12: Vec<u8> = std::iter::repeat_n(y, w * h).chain(std::iter::repeat_n(128, w * h / 2)).collect();
        let frame = Frame::new(&nv12, w, h, PixelFormat::Nv12, None).unwrap();
        let mut out = vec![0.0f32; 3 * tw * tw];
        let info = letterbox_into(&frame, tw, tw, &LetterboxParams { pad_value: 0.0, scale: 1.0, parallel: false }, &mut out).unwrap();
        let (l, t) = (info.pad_x as usize, info.pad_y as usize);
        for c in 0..3 {
            let v = out[(c * tw + t) * tw + l];
            prop_assert!((v - f32::from(rgb[c])).abs() < 1e-3);
        }
    }

    /// OpenCV's fixed-point YUV -> RGB stays within one level of the exact BT.601 formula.
    #[test]
    fn yuv_matches_float_formula(y in 0u8..=255, u in 0u8..=255, v in 0u8..=255) {
        let got = yuv_to_rgb(y, u, v);
        let yy = 1.164 * (f64::from(y) - 16.0).max(0.0);
        let (u, v) = (f64::from(u) - 128.0, f64::from(v) - 128.0);
        let want = [yy + 1.596 * v, yy - 0.391 * u - 0.813 * v, yy + 2.018 * u];
        for c in 0..3 {
            prop_assert!((f64::from(got[c]) - want[c].clamp(0.0, 255.0)).abs() <= 1.0, "{:?} vs {:?}", got, want);
        }
    }

    /// Frame validation never panics and never accepts a buffer too short to read.
    #[test]
    fn frame_validation_total(len in 0usize..300, w in 0usize..40, h in 0usize..40, stride in proptest::option::of(0usize..200), f in 0usize..7) {
        let fmt = PixelFormat::parse(PixelFormat::NAMES[f]).unwrap();
        let data = vec![7u8; len];
        if let Ok(frame) = Frame::new(&data, w, h, fmt, stride) {
            // Reading every row must be in bounds.
            let mut row = vec![0u8; 3 * w];
            for y in 0..h {
                frame.row_to_rgb(y, &mut row);
            }
            prop_assert_eq!(frame.to_bgr().len(), 3 * w * h);
        }
    }

    /// Arbitrary bytes, with or without a JPEG header, never panic the decoder.
    #[test]
    fn jpeg_never_panics(mut data in proptest::collection::vec(any::<u8>(), 0..512), header in any::<bool>()) {
        if header {
            data.splice(0..0, [0xFF, 0xD8, 0xFF, 0xDB]);
        }
        match decode_jpeg(&data, true) {
            Ok(img) => prop_assert_eq!(img.data.len(), img.width * img.height * 3),
            Err(e) => prop_assert!(matches!(e, CoreError::Decode(_))),
        }
    }

    /// A box crop equals the crop of the quad with the same corners when downscaling (when
    /// upscaling they differ within half a pixel of the border: a box reads only its own pixels,
    /// like `cv2.resize` of the ROI, a quad reads the frame around it).
    #[test]
    fn box_equals_rect_quad(x1 in 0u16..40, y1 in 0u16..30, bw in 1u16..30, bh in 1u16..20, oh in 1usize..12, ow in 1usize..24) {
        prop_assume!(ow <= usize::from(bw) && oh <= usize::from(bh));
        let (w, h) = (64, 48);
        let data = image(w, h, 3);
        let frame = Frame::new(&data, w, h, PixelFormat::Bgr, None).unwrap();
        let (x1, y1) = (f32::from(x1), f32::from(y1));
        let (x2, y2) = (x1 + f32::from(bw), y1 + f32::from(bh));
        let p = CropParams {
            height: oh, width: ow, gray: false, keep_aspect: false, pad: 0.0,
            mean: [0.0; 3], std: [1.0; 3], normalize: false, layout: Layout::Nchw,
        };
        let mut a = vec![0.0f32; p.crop_len()];
        let mut b = vec![0.0f32; p.crop_len()];
        crop_into(&frame, &[Region::Box([x1, y1, x2, y2])], &p, &mut a).unwrap();
        crop_into(&frame, &[Region::Quad([[x1, y1], [x2, y1], [x2, y2], [x1, y2]])], &p, &mut b).unwrap();
        for (u, v) in a.iter().zip(&b) {
            prop_assert!((u - v).abs() < 0.05, "{u} vs {v}");
        }
    }
}

#[test]
fn batch_checks_out_length_and_handles_empty() {
    let data = image(4, 4, 1);
    let frame = Frame::new(&data, 4, 4, PixelFormat::Rgb, None).unwrap();
    let mut out = vec![0.0f32; 3 * 8 * 8 * 2];
    let infos = letterbox_batch_into(&[frame, frame], 8, 8, &params(true), &mut out).unwrap();
    assert_eq!(infos.len(), 2);
    let (a, b) = out.split_at(3 * 64);
    assert_eq!(a, b);
    let err = letterbox_batch_into(&[frame], 8, 8, &params(true), &mut out).unwrap_err();
    assert!(matches!(err, CoreError::Shape(_)));
    assert!(
        letterbox_batch_into::<f32>(&[], 8, 8, &params(true), &mut [])
            .unwrap()
            .is_empty()
    );
}

#[test]
fn float16_output_matches_float32() {
    let data = image(37, 21, 9);
    let frame = Frame::new(&data, 37, 21, PixelFormat::Bgr, None).unwrap();
    let mut f32s = vec![0.0f32; 3 * 32 * 32];
    let mut f16s = vec![half::f16::ZERO; 3 * 32 * 32];
    letterbox_into(&frame, 32, 32, &params(true), &mut f32s).unwrap();
    letterbox_into(&frame, 32, 32, &params(true), &mut f16s).unwrap();
    for (a, b) in f32s.iter().zip(&f16s) {
        assert!((a - b.to_f32()).abs() < 1e-3);
    }
}
