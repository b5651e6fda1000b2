//! Fuzz target `letterbox`: `LetterboxInfo::compute` (zero and huge sizes), the box and point maps,
//! `linear_taps`, `letterbox_into` and `letterbox_batch_into` into `f32`, `f16` and `u8` tensors
//! from frames of every format, with odd strides, hostile pad values and scales, wrong output
//! lengths, and the row-parallel path. See `fuzz_common` for the harness and `ALPR_FUZZ_CASES`.

mod fuzz_common;

use alpr_core::frame::Frame;
use alpr_core::letterbox::{
    letterbox_batch_into, letterbox_into, linear_taps, LetterboxInfo, LetterboxParams,
};
use fuzz_common::{frames, Input, Val};

fn check_info(info: &LetterboxInfo, sw: usize, sh: usize, w: usize, h: usize) {
    assert_eq!(
        (info.src_width, info.src_height, info.width, info.height),
        (sw, sh, w, h)
    );
    assert!(info.scale.is_finite() && info.scale > 0.0);
    assert!(
        info.new_width >= 1 && info.new_width <= w && info.new_height >= 1 && info.new_height <= h
    );
    assert!(
        info.pad_x >= 0.0
            && info.pad_x.fract() == 0.0
            && info.pad_y >= 0.0
            && info.pad_y.fract() == 0.0
    );
    assert!(info.pad_x as usize + info.new_width <= w, "{info:?}");
    assert!(info.pad_y as usize + info.new_height <= h, "{info:?}");
}

/// Bitwise equality (NaN equal to NaN).
fn same<T: Val>(a: &[T], b: &[T]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x == y || (x.f().is_nan() && y.f().is_nan()))
}

fn run_one<T: Val>(
    inp: &mut Input<'_>,
    frame: &Frame<'_>,
    w: usize,
    h: usize,
    p: &LetterboxParams,
) {
    let plane = w * h;
    let skew = match inp.u8() % 16 {
        0 => Some(3 * plane + 1),
        1 => Some((3 * plane).saturating_sub(1)),
        _ => None,
    };
    let mut out = vec![T::zero(); skew.unwrap_or(3 * plane)];
    let got = letterbox_into(frame, w, h, p, &mut out);
    let sizes_ok = (1..=8192).contains(&w) && (1..=8192).contains(&h);
    let info = match got {
        Ok(info) => {
            assert!(sizes_ok && skew.is_none());
            info
        }
        Err(_) => {
            assert!(!sizes_ok || skew.is_some());
            return;
        }
    };
    check_info(&info, frame.width(), frame.height(), w, h);
    // Padding is exactly the pad value; the content stays within the scaled pixel range.
    let pad = T::from_f32(p.pad_value * p.scale);
    let (lo, hi) = {
        let a = T::from_f32(0.0).f();
        let b = T::from_f32(255.0 * p.scale).f();
        (a.min(b), a.max(b))
    };
    let tol = 1e-5 * hi.abs().max(lo.abs()).max(1.0)
        + if std::mem::size_of::<T>() == 2 {
            1e-2 * hi.abs().max(lo.abs())
        } else {
            0.0
        };
    let (px, py) = (info.pad_x as usize, info.pad_y as usize);
    for c in 0..3 {
        for y in 0..h {
            for x in 0..w {
                let v = out[c * plane + y * w + x];
                let inside = (px..px + info.new_width).contains(&x)
                    && (py..py + info.new_height).contains(&y);
                if inside {
                    let f = v.f();
                    if p.scale.is_finite() {
                        assert!(
                            f >= lo - tol && f <= hi + tol,
                            "({c}, {y}, {x}) = {f} outside {lo}..={hi}"
                        );
                    }
                } else {
                    assert!(
                        same(&[v], &[pad]),
                        "padding ({c}, {y}, {x}) = {v:?}, want {pad:?}"
                    );
                }
            }
        }
    }
    // The row-parallel path gives the same tensor, bit for bit.
    if inp.u8() < 64 {
        let mut again = vec![T::zero(); 3 * plane];
        let q = LetterboxParams {
            parallel: !p.parallel,
            ..*p
        };
        letterbox_into(frame, w, h, &q, &mut again).expect("same call, other path");
        assert!(same(&out, &again), "parallel and serial letterbox differ");
    }
}

fn target(data: &[u8]) -> bool {
    let mut inp = Input::new(data);
    // Geometry alone, on any sizes.
    let edges = [0, 1, 8192, 8193, 1 << 16, usize::MAX];
    let (sw, sh) = (inp.size(255, &edges), inp.size(255, &edges));
    let (tw, th) = (inp.size(255, &edges), inp.size(255, &edges));
    if let Ok(info) = LetterboxInfo::compute(sw, sh, tw, th) {
        assert!(sw > 0 && sh > 0);
        check_info(&info, sw, sh, tw, th);
        let b = [
            inp.f32_in(-50.0, 400.0),
            inp.f32_in(-50.0, 400.0),
            inp.f32_in(-50.0, 400.0),
            inp.f32_in(-50.0, 400.0),
        ];
        let u = info.unmap_box(b);
        for (k, v) in u.iter().enumerate() {
            let max = if k % 2 == 0 { sw } else { sh } as f32;
            assert!(
                v.is_nan() || (0.0..=max).contains(v),
                "unmap_box {b:?} -> {u:?}"
            );
        }
        let m = info.map_box(b);
        let (x, y) = info.unmap_point(m[0], m[1]);
        // (Round trip through f32 tensor coordinates: only meaningful at sane scales.)
        if b[0].abs() < 1e4 && b[1].abs() < 1e4 && (1e-2..1e2).contains(&info.scale) {
            assert!(
                (x - b[0]).abs() <= 1e-2 * (1.0 + b[0].abs())
                    && (y - b[1]).abs() <= 1e-2 * (1.0 + b[1].abs()),
                "{b:?} -> {m:?} -> ({x}, {y})"
            );
        }
        let _ = info.map_point(b[2], b[3]);
    } else {
        assert!(sw == 0 || sh == 0 || !(1..=8192).contains(&tw) || !(1..=8192).contains(&th));
    }
    // Interpolation taps on any arguments: in range, weights in [0, 1].
    let dst = inp.upto(40);
    let origin = f64::from(inp.f32_in(-10.0, 10.0));
    let src_len = f64::from(inp.f32_in(0.0, 100.0));
    let (lo, hi) = (inp.upto(50), inp.upto(50));
    let taps = linear_taps(dst, origin, src_len, lo, hi);
    assert_eq!(taps.len(), dst);
    let (a, b) = (lo.min(hi), lo.max(hi));
    for t in &taps {
        assert!(
            (a..=b).contains(&t.i0) && (a..=b).contains(&t.i1),
            "{t:?} for {lo}..={hi}"
        );
        assert!((0.0..=1.0).contains(&t.f), "{t:?}");
    }

    // Letterbox frames of every format.
    let n = inp.pick(&[1usize, 1, 1, 0, 2, 3]);
    let bufs: Vec<_> = (0..n)
        .map(|_| frames::valid(&mut inp, &frames::FORMATS, 40))
        .collect();
    let views: Vec<Frame<'_>> = bufs
        .iter()
        .map(|(fmt, w, h, s, d)| Frame::new(d, *w, *h, *fmt, *s).expect("frames::valid is valid"))
        .collect();
    let (w, h) = match inp.u8() % 16 {
        0 => (0, 1 + inp.upto(31)),
        1 => (1 + inp.upto(31), 8193),
        _ => (1 + inp.upto(47), 1 + inp.upto(47)),
    };
    let p = LetterboxParams {
        pad_value: if inp.u8() < 32 {
            inp.f32_in(-300.0, 300.0)
        } else {
            114.0
        },
        scale: match inp.u8() % 8 {
            0 => inp.f32_in(-2.0, 2.0),
            1 => 1.0,
            _ => 1.0 / 255.0,
        },
        parallel: inp.u8() < 32,
    };
    let dtype = inp.u8() % 3;
    if let Some(frame) = views.first() {
        match dtype {
            0 => run_one::<f32>(&mut inp, frame, w, h, &p),
            1 => run_one::<half::f16>(&mut inp, frame, w, h, &p),
            _ => run_one::<u8>(&mut inp, frame, w, h, &p),
        }
    }
    // The batch is the single letterboxes side by side.
    let per = 3 * w * h;
    let skew = inp.u8() % 16 == 0;
    let len = views.len() * per + usize::from(skew);
    let mut out = vec![0.0f32; len];
    match letterbox_batch_into(&views, w, h, &p, &mut out) {
        Ok(infos) => {
            assert!(!skew && infos.len() == views.len());
            for (k, (f, info)) in views.iter().zip(&infos).enumerate() {
                let mut one = vec![0.0f32; per];
                let i1 = letterbox_into(f, w, h, &p, &mut one).expect("batch frame alone");
                assert_eq!(&i1, info);
                assert!(
                    same(&one, &out[k * per..(k + 1) * per]),
                    "batch frame {k} differs"
                );
            }
        }
        Err(_) => assert!(skew || !((1..=8192).contains(&w) && (1..=8192).contains(&h))),
    }
    !views.is_empty()
}

#[test]
fn fuzz_letterbox() {
    fuzz_common::run("letterbox", 16_384, target);
}
