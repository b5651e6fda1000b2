//! `alpr-core`: the hot array kernels of alpr, free of any Python dependency so that
//! `cargo test` never links libpython. The `alpr-py` crate wraps them for Python.

pub mod error;

// Frame intake, letterbox preprocessing and plate crops.
pub mod crop;
pub mod frame;
pub mod letterbox;

// Detector decoding, NMS and CTC decoding.
pub mod ctc;
pub mod decode;
pub mod nms;

pub use error::{CoreError, Result};
