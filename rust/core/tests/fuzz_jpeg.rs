//! Fuzz target `jpeg`: `decode_jpeg` on hostile bytes (mutated real JPEGs from the corpus: baseline
//! 4:2:0 / 4:2:2 / 4:4:4, progressive, gray, CMYK, restart markers; and marker soup between SOI
//! and EOI). Every decoded image is checked (size, RGB and BGR outputs channel-swapped equal) and
//! letterboxed. See `fuzz_common` for the harness and `ALPR_FUZZ_CASES`.

mod fuzz_common;

use alpr_core::frame::{decode_jpeg, MAX_JPEG_SIDE};
use alpr_core::letterbox::{letterbox_into, LetterboxParams};
use alpr_core::CoreError;

fn decode(data: &[u8]) -> bool {
    let rgb = decode_jpeg(data, false);
    let bgr = decode_jpeg(data, true);
    let (rgb, bgr) = match (rgb, bgr) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(a), Err(b)) => {
            assert!(matches!(a, CoreError::Decode(_)) && matches!(b, CoreError::Decode(_)));
            return false;
        }
        (a, b) => panic!(
            "RGB and BGR decoding disagree: {:?} vs {:?}",
            a.err(),
            b.err()
        ),
    };
    let (w, h) = (rgb.width, rgb.height);
    assert_eq!((bgr.width, bgr.height), (w, h));
    assert!(w >= 1 && h >= 1 && w <= MAX_JPEG_SIDE && h <= MAX_JPEG_SIDE);
    assert_eq!(rgb.data.len(), 3 * w * h);
    assert_eq!(bgr.data.len(), 3 * w * h);
    for (p, q) in rgb.data.chunks_exact(3).zip(bgr.data.chunks_exact(3)) {
        assert_eq!(
            [p[2], p[1], p[0]],
            [q[0], q[1], q[2]],
            "BGR is not RGB swapped"
        );
    }
    let frame = rgb.frame().expect("a decoded image is a valid frame");
    let side = 1 + data.len() % 13;
    let p = LetterboxParams {
        parallel: false,
        ..LetterboxParams::default()
    };
    let mut out = vec![0.0f32; 3 * side * side];
    letterbox_into(&frame, side, side, &p, &mut out).expect("a decoded image letterboxes");
    // In [0, 1] up to f32 rounding of the bilinear blend (255 * w0 + 255 * w1 can be 1 ulp over).
    let bad: Vec<f32> = out
        .iter()
        .copied()
        .filter(|v| !(0.0..=1.0 + 1e-6).contains(v))
        .collect();
    assert!(bad.is_empty(), "{w}x{h} -> {side}: {bad:?}");
    true
}

fn target(data: &[u8]) -> bool {
    let ok = decode(data);
    if data.len() < 2 || data[..2] != [0xFF, 0xD8] {
        // Random bytes as the segments of a stream: SOI, the bytes, EOI.
        let mut soup = vec![0xFF, 0xD8];
        soup.extend_from_slice(data);
        soup.extend_from_slice(&[0xFF, 0xD9]);
        return decode(&soup) || ok;
    }
    ok
}

#[test]
fn fuzz_jpeg() {
    fuzz_common::run("jpeg", 2048, target);
}

/// Regression (found by this target): a CMYK JPEG decoded to RGB (`letterbox_jpeg`) but
/// `decode_jpeg(.., bgr = true)` failed with "Unimplemented colorspace mapping from CMYK to BGR".
#[test]
fn cmyk_decodes_to_bgr_and_rgb() {
    let data = include_bytes!("fuzz_corpus/jpeg/cmyk-8x8.jpg");
    let rgb = decode_jpeg(data, false).expect("CMYK to RGB");
    let bgr = decode_jpeg(data, true).expect("CMYK to BGR");
    assert_eq!((rgb.width, rgb.height, bgr.width, bgr.height), (8, 8, 8, 8));
    assert!(decode(data));
}
