//! `alpr._native`: thin pyo3 wrappers over `alpr-core`. Each binding borrows and validates
//! under the GIL, computes with the GIL released (`py.detach`), and returns owned arrays.

use pyo3::prelude::*;

mod arrays;
mod errors;
mod image;
mod post;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    image::register(m)?;
    post::register(m)?;
    Ok(())
}
