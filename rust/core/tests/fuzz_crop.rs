//! Fuzz target `crop`: plate crops, `crop_into` with axis-aligned boxes and 4-point quads
//! (inside, outside, inverted, zero-size, huge, NaN/inf corners, degenerate quads) from packed
//! frames (and YUV ones, which must be errors) into `f32`, `f16` and `u8`, NCHW and NHWC, with
//! hostile sizes, pad, mean and std; `rect_to_quad` and `Layout::parse` on their own.
//! See `fuzz_common` for the harness and `ALPR_FUZZ_CASES`.

mod fuzz_common;

use alpr_core::crop::{crop_into, rect_to_quad, CropParams, Layout, Region};
use alpr_core::frame::{Frame, PixelFormat};
use fuzz_common::{frames, Input, Val};

/// A coordinate near a frame of `n` pixels: inside, just outside, far outside, or special.
fn coord(inp: &mut Input<'_>, n: usize) -> f32 {
    match inp.u8() % 8 {
        0 => inp.f32_in(-1e9, 1e9),
        1 => f32::from(inp.u8() % 8) - 4.0 + n as f32 * f32::from(inp.u8() % 2),
        _ => inp.f32_in(-2.0, n as f32 + 2.0),
    }
}

fn region(inp: &mut Input<'_>, w: usize, h: usize) -> Region {
    if inp.bool() {
        Region::Box([coord(inp, w), coord(inp, h), coord(inp, w), coord(inp, h)])
    } else if inp.u8() < 160 {
        // Near-rectangles (the common plate), jittered.
        let (x0, y0) = (coord(inp, w), coord(inp, h));
        let (bw, bh) = (inp.f32_in(-2.0, w as f32), inp.f32_in(-2.0, h as f32));
        let mut j = || f32::from(inp.u8() % 9) / 4.0 - 1.0;
        Region::Quad([
            [x0 + j(), y0 + j()],
            [x0 + bw + j(), y0 + j()],
            [x0 + bw + j(), y0 + bh + j()],
            [x0 + j(), y0 + bh + j()],
        ])
    } else {
        Region::Quad(std::array::from_fn(|_| [coord(inp, w), coord(inp, h)]))
    }
}

fn run<T: Val>(
    frame: &Frame<'_>,
    regions: &[Region],
    p: &CropParams,
    skew: bool,
    packed: bool,
) -> bool {
    let valid = (1..=8192).contains(&p.height)
        && (1..=8192).contains(&p.width)
        && p.std.iter().all(|s| *s != 0.0 && s.is_finite())
        && p.mean.iter().all(|m| m.is_finite());
    let len = if valid {
        regions.len() * p.crop_len() + usize::from(skew)
    } else {
        0
    };
    let mut out = vec![T::zero(); len];
    let got = crop_into(frame, regions, p, &mut out);
    let finite = regions.iter().all(|r| match r {
        Region::Box(b) => b.iter().all(|v| v.is_finite()),
        Region::Quad(q) => q.iter().flatten().all(|v| v.is_finite()),
    });
    let boxes_only = regions.iter().all(|r| matches!(r, Region::Box(_)));
    let Ok(()) = got else {
        // Boxes with valid parameters on a packed frame never fail.
        assert!(
            !(valid && !skew && packed && finite && boxes_only),
            "{got:?}"
        );
        return false;
    };
    assert!(valid && !skew && packed && finite);
    // Every value is the pad or a mapped pixel value in range (bilinear of 0..=255, luma too).
    let bounds: Vec<(f32, f32)> = (0..p.channels())
        .map(|c| {
            let (a, b) = if p.normalize {
                (-p.mean[c] / p.std[c], (1.0 - p.mean[c]) / p.std[c])
            } else {
                (0.0, 255.0)
            };
            let (a, b) = (T::from_f32(a).f(), T::from_f32(b).f());
            (a.min(b), a.max(b))
        })
        .collect();
    // A std so small that 1 / (255 std) overflows maps pixels to inf (and 0 * inf to NaN), as
    // the formula does in f32: no range to check then.
    if p.normalize && p.std.iter().any(|s| !(1.0 / (255.0 * s)).is_finite()) {
        return true;
    }
    let pad = T::from_f32(p.pad).f();
    let per = p.crop_len();
    let half = std::mem::size_of::<T>() == 2;
    for crop in out.chunks_exact(per) {
        for (i, v) in crop.iter().enumerate() {
            let c = match p.layout {
                Layout::Nchw => i / (p.height * p.width),
                Layout::Nhwc => i % p.channels(),
            };
            let (lo, hi) = bounds[c];
            let tol = 1e-4 * lo.abs().max(hi.abs()).max(1.0) * if half { 100.0 } else { 1.0 };
            let f = v.f();
            let is_pad = f == pad || (f.is_nan() && pad.is_nan());
            assert!(
                is_pad || f == lo || f == hi || (f >= lo - tol && f <= hi + tol),
                "value {f} (channel {c}) outside {lo}..={hi} and not the pad {pad}"
            );
        }
    }
    true
}

fn target(data: &[u8]) -> bool {
    let mut inp = Input::new(data);
    // Layout names.
    let name = inp.string(5, &['n', 'c', 'h', 'w', 'N', 'C', 'H', 'W', 'x']);
    let layout = Layout::parse(&name);
    assert_eq!(
        layout.is_ok(),
        ["nchw", "nhwc"].contains(&name.to_ascii_lowercase().as_str())
    );
    // The homography on its own: Some only with finite entries, mapping the corners.
    let quad: [[f64; 2]; 4] = std::array::from_fn(|_| {
        [
            f64::from(inp.f32_in(-50.0, 50.0)),
            f64::from(inp.f32_in(-50.0, 50.0)),
        ]
    });
    let (qw, qh) = (
        f64::from(inp.f32_in(0.0, 64.0)),
        f64::from(inp.f32_in(0.0, 64.0)),
    );
    if let Some(hm) = rect_to_quad(qw, qh, &quad) {
        assert!(hm.iter().all(|v| v.is_finite()));
    }

    let formats = if inp.u8() < 16 {
        &frames::FORMATS[..]
    } else {
        &frames::FORMATS[..4]
    };
    let (fmt, w, h, stride, buf) = frames::valid(&mut inp, formats, 40);
    let frame = Frame::new(&buf, w, h, fmt, stride).expect("frames::valid is valid");
    let packed = matches!(
        fmt,
        PixelFormat::Bgr | PixelFormat::Rgb | PixelFormat::Bgra | PixelFormat::Gray
    );
    let n = inp.pick(&[0usize, 1, 1, 2, 3]);
    let regions: Vec<Region> = (0..n).map(|_| region(&mut inp, w, h)).collect();
    let side = |inp: &mut Input<'_>| match inp.u8() % 32 {
        0 => 0,
        1 => 8193,
        2 => usize::MAX,
        _ => 1 + inp.upto(31),
    };
    let per_channel = |inp: &mut Input<'_>, lo: f32, hi: f32, default: f32| -> [f32; 3] {
        if inp.u8() < 16 {
            std::array::from_fn(|_| inp.f32_in(lo, hi))
        } else {
            [default; 3]
        }
    };
    let p = CropParams {
        height: side(&mut inp),
        width: side(&mut inp),
        gray: inp.bool(),
        keep_aspect: inp.bool(),
        pad: if inp.u8() < 32 {
            inp.f32_in(-5.0, 5.0)
        } else {
            0.0
        },
        mean: per_channel(&mut inp, -1.0, 1.0, 0.5),
        std: per_channel(&mut inp, -1.0, 1.0, 0.5),
        normalize: inp.u8() < 200,
        layout: if inp.bool() {
            Layout::Nchw
        } else {
            Layout::Nhwc
        },
    };
    let skew = inp.u8() % 16 == 0;
    match inp.u8() % 3 {
        0 => run::<f32>(&frame, &regions, &p, skew, packed),
        1 => run::<half::f16>(&frame, &regions, &p, skew, packed),
        _ => run::<u8>(&frame, &regions, &p, skew, packed),
    }
}

#[test]
fn fuzz_crop() {
    fuzz_common::run("crop", 16_384, target);
}
