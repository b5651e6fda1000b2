//! The one error type of the core crate. The bindings map it to Python exceptions.

use thiserror::Error;

/// Every failure a kernel can report. Messages say what was expected and what was got.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum CoreError {
    /// An argument has the wrong shape or size (maps to `ValueError`).
    #[error("{0}")]
    Shape(String),
    /// An argument has a value outside its domain (maps to `ValueError`).
    #[error("{0}")]
    Value(String),
    /// Encoded data (JPEG, raw frame buffer) could not be decoded (maps to `alpr.errors.DecodeError`).
    #[error("{0}")]
    Decode(String),
}

pub type Result<T> = std::result::Result<T, CoreError>;
