//! Fuzz target `frame`: raw frame intake, `PixelFormat::parse`, `Frame::new` on arbitrary sizes
//! (zero, odd, 65536 and beyond, `usize::MAX`), strides and truncated buffers of every format
//! (NV12, I420, YUYV, BGRA, BGR, RGB, gray); every accepted frame is converted (`to_bgr`,
//! `to_bgr_into`, `row_to_rgb`, `row_to_bgr`, `pixels_to_planes`) and the paths are compared.
//! See `fuzz_common` for the harness and `ALPR_FUZZ_CASES`.

mod fuzz_common;

use alpr_core::frame::{Frame, PixelFormat};
use fuzz_common::{frames, Input};

const NAME_CHARS: [char; 14] = [
    'n', 'v', '1', '2', 'i', '4', '0', 'y', 'u', 'B', 'G', 'R', 'a', '\u{0130}',
];

fn target(data: &[u8]) -> bool {
    let mut inp = Input::new(data);
    // Format names: Ok exactly for the known names, any case.
    let name = inp.string(7, &NAME_CHARS);
    let known = [
        "bgr", "rgb", "bgra", "gray", "grey", "nv12", "i420", "yuv420p", "yuyv", "yuy2",
    ];
    let parsed = PixelFormat::parse(&name);
    assert_eq!(
        parsed.is_ok(),
        known.contains(&name.to_ascii_lowercase().as_str()),
        "{name:?}"
    );
    if let Ok(f) = parsed {
        assert_eq!(PixelFormat::parse(f.name()), Ok(f));
    }

    let (fmt, w, h, stride, buf) = if inp.bool() {
        // Arbitrary sizes and strides over whatever bytes are left.
        let fmt = inp.pick(&frames::FORMATS);
        let edges = [0, 1, 2, 65_535, 65_536, 65_537, usize::MAX / 2, usize::MAX];
        let w = inp.size(64, &edges);
        let h = inp.size(64, &edges);
        let stride = match inp.u8() % 4 {
            0 => None,
            1 => Some(inp.size(255, &[0, 1, usize::MAX / 3, usize::MAX])),
            _ => Some(
                w.saturating_mul(fmt.row_bytes_per_pixel())
                    .saturating_add(inp.upto(9)),
            ),
        };
        (fmt, w, h, stride, inp.rest().to_vec())
    } else {
        let (fmt, w, h, stride, mut buf) = frames::valid(&mut inp, &frames::FORMATS, 48);
        // Sometimes cut the buffer short.
        if inp.u8() < 32 {
            let cut = inp.upto(buf.len().min(65_535));
            buf.truncate(buf.len() - cut.min(buf.len()));
        }
        (fmt, w, h, stride, buf)
    };
    let Ok(frame) = Frame::new(&buf, w, h, fmt, stride) else {
        return false;
    };
    assert!(w >= 1 && h >= 1 && w <= 1 << 16 && h <= 1 << 16);
    assert_eq!((frame.width(), frame.height(), frame.format()), (w, h, fmt));
    assert!(frame.stride() >= w * fmt.row_bytes_per_pixel());
    // Bound the work on huge accepted frames (a 65536-wide gray row is fine, many of them not).
    if w * h > 1 << 16 {
        let _ = frame.to_bgr();
        return true;
    }
    let bgr = frame.to_bgr();
    assert_eq!(bgr.len(), 3 * w * h);
    let mut bigger = vec![7u8; 3 * w * h + 5];
    frame.to_bgr_into(&mut bigger);
    assert_eq!(
        &bigger[..3 * w * h],
        &bgr[..],
        "to_bgr_into differs from to_bgr"
    );
    assert_eq!(
        &bigger[3 * w * h..],
        &[7u8; 5],
        "to_bgr_into wrote past the frame"
    );
    // Rows: the row kernels agree with the whole-frame kernel and with each other.
    let mut rgb_row = vec![0u8; 3 * w];
    let mut bgr_row = vec![0u8; 3 * w];
    let cols: Vec<usize> = (0..inp.upto(8)).map(|_| inp.upto(w - 1)).collect();
    let mut planes = [
        vec![0u8; cols.len()],
        vec![0u8; cols.len()],
        vec![0u8; cols.len()],
    ];
    for y in 0..h {
        frame.row_to_rgb(y, &mut rgb_row);
        frame.row_to_bgr(y, &mut bgr_row);
        assert_eq!(&bgr_row[..], &bgr[3 * w * y..3 * w * (y + 1)], "row {y}");
        for (p, q) in rgb_row.chunks_exact(3).zip(bgr_row.chunks_exact(3)) {
            assert_eq!([p[2], p[1], p[0]], [q[0], q[1], q[2]]);
        }
        let [r, g, b] = &mut planes;
        frame.pixels_to_planes(y, &cols, [r, g, b]);
        for (i, &x) in cols.iter().enumerate() {
            let want = &rgb_row[3 * x..3 * x + 3];
            assert_eq!(
                [planes[0][i], planes[1][i], planes[2][i]],
                want,
                "({x}, {y})"
            );
        }
    }
    true
}

#[test]
fn fuzz_frame() {
    fuzz_common::run("frame", 16_384, target);
}
