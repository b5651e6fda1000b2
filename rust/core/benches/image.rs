//! Criterion benchmarks of the image kernels on a 1080p frame.
//!
//! `cargo bench -p alpr-core --bench image` (release profile). The floor is `memcpy` of the
//! frame; letterbox is measured single-threaded and row-parallel (rayon), into a preallocated
//! tensor so only the kernel is timed.

use alpr_core::crop::{crop_into, CropParams, Layout, Region};
use alpr_core::frame::{Frame, PixelFormat};
use alpr_core::letterbox::{letterbox_into, LetterboxParams};
use criterion::{black_box, criterion_group, criterion_main, Criterion};

const W: usize = 1920;
const H: usize = 1080;

fn frame_data() -> Vec<u8> {
    (0..W * H * 3)
        .map(|i| ((i as u32).wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect()
}

fn letterbox(c: &mut Criterion) {
    let data = frame_data();
    let frame = Frame::new(&data, W, H, PixelFormat::Bgr, None).unwrap();
    let nv12 = vec![128u8; W * H * 3 / 2];
    let nv12_frame = Frame::new(&nv12, W, H, PixelFormat::Nv12, None).unwrap();
    let mut copy = vec![0u8; data.len()];
    c.bench_function("memcpy 1080p bgr", |b| {
        b.iter(|| copy.copy_from_slice(black_box(&data)))
    });
    for size in [640usize, 384] {
        let mut out = vec![0.0f32; 3 * size * size];
        let mut out16 = vec![half::f16::ZERO; 3 * size * size];
        for parallel in [false, true] {
            let p = LetterboxParams {
                parallel,
                ..LetterboxParams::default()
            };
            let tag = if parallel { "rayon" } else { "1 thread" };
            c.bench_function(&format!("letterbox 1080p -> {size} f32 ({tag})"), |b| {
                b.iter(|| letterbox_into(black_box(&frame), size, size, &p, &mut out).unwrap())
            });
            c.bench_function(&format!("letterbox 1080p -> {size} f16 ({tag})"), |b| {
                b.iter(|| letterbox_into(black_box(&frame), size, size, &p, &mut out16).unwrap())
            });
            c.bench_function(
                &format!("letterbox nv12 1080p -> {size} f32 ({tag})"),
                |b| {
                    b.iter(|| {
                        letterbox_into(black_box(&nv12_frame), size, size, &p, &mut out).unwrap()
                    })
                },
            );
        }
    }
}

fn crops(c: &mut Criterion) {
    let data = frame_data();
    let frame = Frame::new(&data, W, H, PixelFormat::Bgr, None).unwrap();
    let boxes: Vec<Region> = (0..8)
        .map(|k| {
            let x = 100.0 + 150.0 * k as f32;
            Region::Box([x, 600.0, x + 160.0, 650.0])
        })
        .collect();
    let quads: Vec<Region> = (0..8)
        .map(|k| {
            let x = 100.0 + 150.0 * k as f32;
            Region::Quad([
                [x, 600.0],
                [x + 160.0, 605.0],
                [x + 160.0, 655.0],
                [x, 650.0],
            ])
        })
        .collect();
    let p = CropParams {
        height: 32,
        width: 128,
        gray: false,
        keep_aspect: false,
        pad: 0.0,
        mean: [0.0; 3],
        std: [1.0; 3],
        normalize: true,
        layout: Layout::Nchw,
    };
    let mut out = vec![0.0f32; 8 * p.crop_len()];
    c.bench_function("crop 8 boxes -> 3x32x128", |b| {
        b.iter(|| crop_into(black_box(&frame), &boxes, &p, &mut out).unwrap())
    });
    c.bench_function("crop 8 quads -> 3x32x128", |b| {
        b.iter(|| crop_into(black_box(&frame), &quads, &p, &mut out).unwrap())
    });
}

fn yuv_to_bgr(c: &mut Criterion) {
    // Same pseudo-random bytes for every format; the NV12/I420 sizes are the frame's 3/2 bytes.
    let data = frame_data();
    for (fmt, name) in [
        (PixelFormat::Nv12, "nv12"),
        (PixelFormat::I420, "i420"),
        (PixelFormat::Yuyv, "yuyv"),
    ] {
        let frame = Frame::new(&data, W, H, fmt, None).unwrap();
        c.bench_function(&format!("to_bgr {name} 1080p"), |b| {
            b.iter(|| black_box(&frame).to_bgr())
        });
        let mut out = vec![0u8; 3 * W * H];
        c.bench_function(&format!("to_bgr_into {name} 1080p (no allocation)"), |b| {
            b.iter(|| black_box(&frame).to_bgr_into(&mut out))
        });
    }
}

criterion_group!(benches, letterbox, crops, yuv_to_bgr);
criterion_main!(benches);
