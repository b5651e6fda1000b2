//! The one mapping from `CoreError` to Python exceptions.

use alpr_core::CoreError;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyType;

/// Raise the `alpr.errors` class `name` with `msg`, falling back to `ValueError` if the
/// Python package cannot be imported (it always can when the extension is loaded from it).
pub fn alpr_error(py: Python<'_>, name: &str, msg: String) -> PyErr {
    let cls = py
        .import("alpr.errors")
        .and_then(|m| m.getattr(name))
        .and_then(|c| c.cast_into::<PyType>().map_err(PyErr::from));
    match cls {
        Ok(cls) => PyErr::from_type(cls, msg),
        Err(_) => PyValueError::new_err(msg),
    }
}

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
            CoreError::Decode(m) => Python::attach(|py| alpr_error(py, "DecodeError", m)),
        }
    }
}

/// A `TypeError` for an argument of the wrong dtype: "NAME: expected WANT, got GOT".
pub fn dtype_error(name: &str, want: &str, got: &str) -> PyErr {
    PyTypeError::new_err(format!("{name}: expected {want}, got {got}"))
}
