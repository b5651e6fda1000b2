//! The stable-toolchain fuzz harness shared by the `fuzz_*` integration tests (no nightly, no
//! libFuzzer): each target is a function of one byte string, read through [`Input`] into structured
//! arguments (sizes, formats, floats biased towards NaN/inf/0/huge) and raw byte buffers.
//!
//! Every run replays the committed corpus (`tests/fuzz_corpus/<target>/`) first, then runs
//! `ALPR_FUZZ_CASES` generated cases (default [`DEFAULT_CASES`]): random byte strings of random
//! length, and corpus entries mutated (bit flips, byte overwrites, truncation, insertion, splices).
//! `ALPR_FUZZ_SEED` picks the generator seed (default fixed, so CI runs are reproducible).
//!
//! A panic in a target is caught, its input is written to
//! `$CARGO_TARGET_TMPDIR/fuzz-failures/<target>/<hash>.bin` (copy it into the corpus as a
//! regression) and the test fails after the run with the number of failing inputs.
//! `ALPR_FUZZ_REPLAY=<file>` runs one input file alone (to reproduce a failure).
//! `ALPR_FUZZ_SEED_OUT=<folder>` writes the first 8 generated inputs (of at most 2 KB) that got
//! past validation there: how the committed `seed-*.bin` files were made.

#![allow(dead_code)] // each test crate uses a different subset

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::time::Instant;

/// Generated cases per target when `ALPR_FUZZ_CASES` is unset: small enough that the whole set
/// stays a few seconds in a debug `cargo test --workspace`.
pub const DEFAULT_CASES: u64 = 2_000;

/// SplitMix64: tiny, fast and good enough to drive input generation.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next_u64() as u8).collect()
    }
}

/// Structured reads from a byte string. Reads past the end yield zeros, so every byte string
/// (empty and truncated ones included) is a valid input.
pub struct Input<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Input<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Self { data, pos: 0 }
    }

    pub fn u8(&mut self) -> u8 {
        let v = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        v
    }

    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    pub fn bool(&mut self) -> bool {
        self.u8() & 1 == 1
    }

    /// `0..=max`, one byte (or two for `max > 255`).
    pub fn upto(&mut self, max: usize) -> usize {
        if max < 256 {
            usize::from(self.u8()) % (max + 1)
        } else {
            usize::from(self.u16()) % (max + 1)
        }
    }

    /// One of `items`.
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[usize::from(self.u8()) % items.len()]
    }

    /// A size: mostly small (`0..=small`), sometimes one of the edge values in `edges`
    /// (zero, one, huge, `usize::MAX`).
    pub fn size(&mut self, small: usize, edges: &[usize]) -> usize {
        let sel = self.u8();
        if sel < 240 || edges.is_empty() {
            usize::from(sel) % (small + 1)
        } else {
            edges[usize::from(sel) % edges.len()]
        }
    }

    /// A float: a special value (NaN, infinities, zeros, extremes, denormals), a raw bit pattern,
    /// or a value in `lo..hi` (the common case).
    pub fn f32_in(&mut self, lo: f32, hi: f32) -> f32 {
        const SPECIAL: [f32; 16] = [
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.5,
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::MAX,
            f32::MIN,
            f32::MIN_POSITIVE,
            1e-45,
            1e-30,
            1e30,
            -1e30,
            255.0,
        ];
        let sel = self.u8();
        match sel {
            0..=23 => SPECIAL[usize::from(sel) % SPECIAL.len()],
            24..=31 => f32::from_bits(self.u32()),
            _ => lo + (hi - lo) * (f32::from(self.u16()) / 65535.0),
        }
    }

    /// The next `n` bytes (fewer at the end of the input).
    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        let start = self.pos.min(self.data.len());
        let end = start.saturating_add(n).min(self.data.len());
        self.pos = self.pos.saturating_add(n);
        &self.data[start..end]
    }

    /// Everything not read yet.
    pub fn rest(&mut self) -> &'a [u8] {
        let start = self.pos.min(self.data.len());
        self.pos = self.data.len();
        &self.data[start..]
    }

    /// A short string of characters from `pool` (which holds the odd ones worth trying).
    pub fn string(&mut self, max_len: usize, pool: &[char]) -> String {
        let n = self.upto(max_len);
        (0..n).map(|_| self.pick(pool)).collect()
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .replace('_', "")
            .parse()
            .unwrap_or_else(|_| panic!("{name}: expected an integer, got {v:?}")),
        Err(_) => default,
    }
}

fn corpus_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz_corpus")
        .join(target)
}

/// The committed corpus of `target`, sorted by file name.
pub fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let Ok(dir) = std::fs::read_dir(corpus_dir(target)) else {
        return Vec::new();
    };
    let mut files: Vec<(String, Vec<u8>)> = dir
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_file())
        .map(|e| {
            let data = std::fs::read(e.path()).expect("corpus file is readable");
            (e.file_name().to_string_lossy().into_owned(), data)
        })
        .collect();
    files.sort();
    files
}

/// One mutation of `base` (libFuzzer-style, without coverage feedback).
fn mutate(rng: &mut Rng, base: &[u8], other: &[u8]) -> Vec<u8> {
    let mut v = base.to_vec();
    for _ in 0..1 + rng.below(4) {
        match rng.below(7) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] ^= 1 << rng.below(8);
            }
            1 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] = [0x00, 0xFF, 0x7F, 0x80, 0x01, 0xFE][rng.below(6)];
            }
            2 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] = rng.next_u64() as u8;
            }
            3 => v.truncate(rng.below(v.len() + 1)),
            4 => {
                let i = rng.below(v.len() + 1);
                let n = 1 + rng.below(8);
                let ins = rng.bytes(n);
                v.splice(i..i, ins);
            }
            5 if !v.is_empty() => {
                // Duplicate or delete a run.
                let i = rng.below(v.len());
                let n = (1 + rng.below(16)).min(v.len() - i);
                if rng.below(2) == 0 {
                    v.drain(i..i + n);
                } else {
                    let run: Vec<u8> = v[i..i + n].to_vec();
                    v.splice(i..i, run);
                }
            }
            _ if !other.is_empty() => {
                // Splice the tail of another input.
                let cut = rng.below(v.len() + 1);
                let from = rng.below(other.len());
                v.truncate(cut);
                v.extend_from_slice(&other[from..]);
            }
            _ => {}
        }
    }
    v
}

fn fnv(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Run `target` on its corpus, then on `ALPR_FUZZ_CASES` generated inputs of at most `max_len`
/// bytes. `f` returns whether the input got past validation into the kernels (counted, so that a
/// harness whose inputs are all rejected shows). Fails the test if any input panicked (each one
/// is saved, see the module docs).
pub fn run(target: &str, max_len: usize, f: impl Fn(&[u8]) -> bool) {
    if let Ok(path) = std::env::var("ALPR_FUZZ_REPLAY") {
        let data = std::fs::read(&path).expect("ALPR_FUZZ_REPLAY names a readable file");
        let deep = f(&data);
        eprintln!("fuzz {target}: {path} replayed, accepted: {deep}");
        return;
    }
    let cases = env_u64("ALPR_FUZZ_CASES", DEFAULT_CASES);
    let seed = env_u64("ALPR_FUZZ_SEED", 0x5EED_A1B2);
    let seeds = corpus(target);
    let fail_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("fuzz-failures")
        .join(target);
    let mut failures: Vec<PathBuf> = Vec::new();
    let mut accepted = 0u64;
    let seed_out = std::env::var("ALPR_FUZZ_SEED_OUT").ok().map(PathBuf::from);
    let mut seeds_written = 0;
    let mut check = |data: &[u8], what: &str| match catch_unwind(AssertUnwindSafe(|| f(data))) {
        Ok(deep) => {
            accepted += u64::from(deep);
            if let Some(dir) = seed_out.as_ref().filter(|_| deep && seeds_written < 8) {
                if data.len() <= 2048 && what.starts_with("case") {
                    std::fs::create_dir_all(dir).expect("seed folder");
                    let path = dir.join(format!("seed-{:016x}.bin", fnv(data)));
                    std::fs::write(path, data).expect("seed file");
                    seeds_written += 1;
                }
            }
        }
        Err(_) => {
            std::fs::create_dir_all(&fail_dir).expect("failure folder");
            let path = fail_dir.join(format!("{:016x}.bin", fnv(data)));
            std::fs::write(&path, data).expect("failure file");
            eprintln!(
                "fuzz {target}: panic on {what}, input saved to {}",
                path.display()
            );
            failures.push(path);
        }
    };
    let start = Instant::now();
    for (name, data) in &seeds {
        check(data, &format!("corpus file {name}"));
    }
    let mut rng = Rng::new(seed ^ fnv(target.as_bytes()));
    for case in 0..cases {
        let data = if seeds.is_empty() || rng.below(2) == 0 {
            // Lengths biased to short ones: half of them at most 64 bytes.
            let len = if rng.below(2) == 0 {
                rng.below(65)
            } else {
                rng.below(max_len + 1)
            };
            rng.bytes(len)
        } else {
            let a = &seeds[rng.below(seeds.len())].1;
            let b = &seeds[rng.below(seeds.len())].1;
            mutate(&mut rng, a, b)
        };
        check(&data, &format!("case {case} (seed {seed})"));
    }
    let secs = start.elapsed().as_secs_f64();
    let total = seeds.len() as u64 + cases;
    eprintln!(
        "fuzz {target}: {} corpus files + {cases} cases in {secs:.1} s ({:.0} cases/s), \
         {accepted} accepted ({:.0} %), {} panics",
        seeds.len(),
        cases as f64 / secs.max(1e-9),
        100.0 * accepted as f64 / total.max(1) as f64,
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "fuzz {target}: {} inputs panicked, saved under {}",
        failures.len(),
        fail_dir.display()
    );
}

/// Pixel buffers for frames the fuzz targets build.
pub mod frames {
    use super::Input;
    use alpr_core::frame::PixelFormat;

    pub const FORMATS: [PixelFormat; 7] = [
        PixelFormat::Bgr,
        PixelFormat::Rgb,
        PixelFormat::Bgra,
        PixelFormat::Gray,
        PixelFormat::Nv12,
        PixelFormat::I420,
        PixelFormat::Yuyv,
    ];

    /// A valid frame description: format, width, height, stride and a buffer that holds it
    /// (pixel bytes from the input, then a pattern once the input runs out). Sizes up to
    /// `max_side`, even where the format needs it.
    pub fn valid(
        inp: &mut Input<'_>,
        formats: &[PixelFormat],
        max_side: usize,
    ) -> (PixelFormat, usize, usize, Option<usize>, Vec<u8>) {
        let fmt = inp.pick(formats);
        let even = |v: usize| match fmt {
            PixelFormat::Nv12 | PixelFormat::I420 => (v + 1) & !1,
            _ => v,
        };
        let w = match fmt {
            PixelFormat::Yuyv => (1 + inp.upto(max_side - 1) + 1) & !1,
            _ => even(1 + inp.upto(max_side - 1)),
        };
        let h = even(1 + inp.upto(max_side - 1));
        let row = w * fmt.row_bytes_per_pixel();
        let stride = match inp.u8() % 4 {
            0 => None,
            1 => Some(row),
            _ => Some(row + 2 * inp.upto(8)),
        };
        let s = stride.unwrap_or(row);
        let len = match fmt {
            PixelFormat::Nv12 => s * h + s * (h / 2),
            PixelFormat::I420 => s * h + 2 * (s / 2) * (h / 2),
            _ => s * h,
        };
        let mut data = inp.bytes(len).to_vec();
        let k = data.len();
        data.extend((k..len).map(|i| (i * 37 % 251) as u8));
        (fmt, w, h, stride, data)
    }
}

/// Output element types of the letterbox and crop kernels, read back as `f32` for the checks.
pub trait Val: alpr_core::letterbox::OutElem + PartialEq + std::fmt::Debug {
    fn zero() -> Self;
    fn f(self) -> f32;
}
impl Val for f32 {
    fn zero() -> Self {
        0.0
    }
    fn f(self) -> f32 {
        self
    }
}
impl Val for half::f16 {
    fn zero() -> Self {
        half::f16::ZERO
    }
    fn f(self) -> f32 {
        self.to_f32()
    }
}
impl Val for u8 {
    fn zero() -> Self {
        0
    }
    fn f(self) -> f32 {
        f32::from(self)
    }
}
