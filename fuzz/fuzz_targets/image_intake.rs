//! JPEG and raw-frame intake: arbitrary bytes must give a frame or a `CoreError`, never a panic,
//! and whatever is accepted must letterbox without reading out of bounds.
#![no_main]

use alpr_core::frame::{decode_jpeg, Frame, PixelFormat};
use alpr_core::letterbox::{letterbox_into, LetterboxParams};
use libfuzzer_sys::fuzz_target;

fn letterbox_small(frame: &Frame<'_>, side: usize) {
    let p = LetterboxParams {
        parallel: false,
        ..LetterboxParams::default()
    };
    let mut out = vec![0.0f32; 3 * side * side];
    letterbox_into(frame, side, side, &p, &mut out).expect("valid frame must letterbox");
    assert!(out.iter().all(|v| v.is_finite()));
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        // JPEG: the bytes as they are.
        if let Ok(img) = decode_jpeg(rest, mode & 2 == 0) {
            assert_eq!(img.data.len(), img.width * img.height * 3);
            let frame = img.frame().expect("decoded image is a valid frame");
            letterbox_small(&frame, 1 + usize::from(mode >> 4));
        }
        return;
    }
    // Raw: a 4-byte header (width, height, stride slack, format) then the pixels.
    if rest.len() < 4 {
        return;
    }
    let (hdr, pixels) = rest.split_at(4);
    let width = usize::from(hdr[0]);
    let height = usize::from(hdr[1]);
    let fmt = PixelFormat::parse(PixelFormat::NAMES[usize::from(hdr[3]) % 7]).unwrap();
    let stride = match hdr[2] {
        0 => None,
        s => Some(width * fmt.row_bytes_per_pixel() + usize::from(s) - 1),
    };
    if let Ok(frame) = Frame::new(pixels, width, height, fmt, stride) {
        assert_eq!(frame.to_bgr().len(), 3 * width * height);
        letterbox_small(&frame, 1 + usize::from(mode >> 3));
    }
});
