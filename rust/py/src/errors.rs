//! The one mapping from `CoreError` to Python exceptions.

use alpr_core::CoreError;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

// `alpr.errors.DecodeError` (a ValueError), imported from the Python package on first use.
pyo3::import_exception!(alpr.errors, DecodeError);

/// Wrapper so that `?` converts core errors inside binding functions.
pub struct NativeError(pub CoreError);

impl From<CoreError> for NativeError {
    fn from(e: CoreError) -> Self {
        NativeError(e)
    }
}

impl From<NativeError> for PyErr {
    fn from(e: NativeError) -> PyErr {
        match e.0 {
            CoreError::Shape(m) | CoreError::Value(m) => PyValueError::new_err(m),
            CoreError::Decode(m) => DecodeError::new_err(m),
        }
    }
}

/// A `TypeError` for an argument of the wrong dtype: "NAME: expected WANT, got GOT".
pub fn dtype_error(name: &str, want: &str, got: &str) -> PyErr {
    PyTypeError::new_err(format!("{name}: expected {want}, got {got}"))
}
