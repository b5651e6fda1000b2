//! Criterion benchmarks of the post-processing kernels (no Python in the loop):
//! `cargo bench -p alpr-core --bench post`.

use alpr_core::ctc::{self, CtcShape};
use alpr_core::decode::{self, HeadLayout, PostprocessOptions};
use alpr_core::nms;
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion};

/// A small deterministic generator (xorshift), so the bench needs no RNG crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 40) as f32 / (1u64 << 24) as f32
    }
}

/// `n` candidate boxes in clusters of ~20 around objects, as a detector produces them.
fn candidates(n: usize) -> (Vec<f32>, Vec<f32>) {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ n as u64);
    let clusters: Vec<(f32, f32)> = (0..(n / 20).max(1))
        .map(|_| (40.0 + 560.0 * rng.next(), 40.0 + 560.0 * rng.next()))
        .collect();
    let mut boxes = Vec::with_capacity(n * 4);
    let mut scores = Vec::with_capacity(n);
    for _ in 0..n {
        let (cx, cy) = clusters[(rng.next() * clusters.len() as f32) as usize % clusters.len()];
        let (cx, cy) = (
            cx + 12.0 * (rng.next() - 0.5),
            cy + 12.0 * (rng.next() - 0.5),
        );
        let (w, h) = (20.0 + 60.0 * rng.next(), 20.0 + 60.0 * rng.next());
        boxes.extend_from_slice(&[cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0]);
        scores.push(0.05 + 0.95 * rng.next());
    }
    (boxes, scores)
}

fn bench_nms(c: &mut Criterion) {
    let mut g = c.benchmark_group("nms");
    for n in [100, 1000, 8400] {
        let (boxes, scores) = candidates(n);
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| nms::nms(black_box(&boxes), black_box(&scores), 0.45, None, None))
        });
    }
    g.finish();
}

fn bench_yolo(c: &mut Criterion) {
    let n = 8400;
    let mut rng = Rng(7);
    let mut head = vec![0.0f32; 13 * n];
    for (i, v) in head.iter_mut().enumerate() {
        let row = i / n;
        *v = match row {
            0 | 1 => 640.0 * rng.next(),
            2 | 3 => 10.0 + 110.0 * rng.next(),
            4 => rng.next(),
            _ => 640.0 * rng.next(),
        };
    }
    let layout = HeadLayout::from_shape(&[1, 13, n], 1, 4, 2).unwrap();
    let opts = PostprocessOptions {
        conf_threshold: 0.25,
        iou_threshold: 0.45,
        max_det: 300,
        agnostic: true,
        unletterbox: None,
    };
    c.bench_function("yolo decode+nms (1,13,8400) dense", |b| {
        b.iter(|| decode::postprocess_yolo(black_box(&head), &layout, &opts))
    });
    // Quiet background: only a few anchors above the threshold (the usual frame).
    for v in &mut head[4 * n..5 * n] {
        *v *= 0.05;
    }
    for a in (0..n).step_by(27) {
        head[4 * n + a] = 0.3 + 0.6 * rng.next();
    }
    c.bench_function("yolo decode+nms (1,13,8400) sparse", |b| {
        b.iter(|| decode::postprocess_yolo(black_box(&head), &layout, &opts))
    });
}

fn bench_ctc(c: &mut Criterion) {
    let (b, t, k) = (64, 32, 37);
    let mut rng = Rng(3);
    let mut probs: Vec<f32> = (0..b * t * k).map(|_| (6.0 * rng.next()).exp()).collect();
    for frame in probs.chunks_mut(k) {
        let s: f32 = frame.iter().sum();
        frame.iter_mut().for_each(|v| *v /= s);
    }
    let charset: Vec<String> = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
        .chars()
        .map(String::from)
        .collect();
    let shape = CtcShape::new(&[b, t, k], probs.len(), 36, 0, false).unwrap();
    c.bench_function("ctc greedy 64x32x37", |bn| {
        bn.iter(|| ctc::ctc_greedy(black_box(&probs), &shape, &charset))
    });
    c.bench_function("ctc beam10 64x32x37", |bn| {
        bn.iter(|| ctc::ctc_beam(black_box(&probs), &shape, &charset, 10))
    });
    let pats = vec!["LLL9999".to_string(), "LL99LLL".to_string()];
    c.bench_function("ctc constrained beam10 64x32x37", |bn| {
        bn.iter(|| ctc::ctc_constrained(black_box(&probs), &shape, &charset, &pats, 10))
    });
}

criterion_group!(benches, bench_nms, bench_yolo, bench_ctc);
criterion_main!(benches);
