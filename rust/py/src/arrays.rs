//! Shared helpers for borrowing and validating numpy arrays and Python buffers.
//!
//! Frames are borrowed without a copy: a `uint8 (H, W, 3)` or `(H, W)` array whose pixels are
//! packed within rows (any positive row stride, so ROI slices work) becomes an
//! [`alpr_core::frame::Frame`] over the array's own memory. Anything else is an error that says
//! what was expected and what was got.

use alpr_core::frame::{Frame, PixelFormat};
use numpy::{
    Element, PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn, PyReadwriteArrayDyn, PyUntypedArray,
    PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::errors::{dtype_error, NativeError};

/// Convert a core result into a Python result.
pub fn core<T>(r: alpr_core::Result<T>) -> PyResult<T> {
    r.map_err(|e| PyErr::from(NativeError(e)))
}

/// `obj` as a numpy array, or a `TypeError` naming `name` and `want`.
pub fn as_ndarray<'a, 'py>(
    obj: &'a Bound<'py, PyAny>,
    name: &str,
    want: &str,
) -> PyResult<&'a Bound<'py, PyUntypedArray>> {
    obj.cast::<PyUntypedArray>().map_err(|_| {
        let got = obj
            .get_type()
            .name()
            .map(|n| n.to_string())
            .unwrap_or_else(|_| "?".into());
        PyTypeError::new_err(format!(
            "{name}: expected a numpy.ndarray {want}, got {got}"
        ))
    })
}

/// The numpy dtype name of `arr`, e.g. `"float32"`.
pub fn dtype_name(arr: &Bound<'_, PyUntypedArray>) -> String {
    arr.dtype()
        .getattr("name")
        .and_then(|n| n.extract::<String>())
        .unwrap_or_else(|_| "?".into())
}

/// Shape as Python writes it: `(2, 3)`.
pub fn shape_str(shape: &[usize]) -> String {
    match shape {
        [one] => format!("({one},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Check that `arr` has element type `T` (named `want` in the error).
pub fn typed<'a, 'py, T: Element>(
    arr: &'a Bound<'py, PyUntypedArray>,
    name: &str,
    want: &str,
) -> PyResult<&'a Bound<'py, PyArrayDyn<T>>> {
    arr.cast::<PyArrayDyn<T>>()
        .map_err(|_| dtype_error(name, want, &dtype_name(arr)))
}

/// A borrowed frame array and how to read it.
pub struct FrameArray<'py> {
    guard: PyReadonlyArrayDyn<'py, u8>,
    len: usize,
    width: usize,
    height: usize,
    stride: usize,
    format: PixelFormat,
}

impl FrameArray<'_> {
    /// The frame view; lives as long as the borrow.
    pub fn frame(&self) -> PyResult<Frame<'_>> {
        // SAFETY: `guard` holds numpy's shared borrow of the array (no `readwrite` borrow can
        // coexist), the pointer is the array's data pointer, and `len` bytes from it stay inside
        // the array: `(H - 1) * stride0 + W * C` with positive strides checked in `borrow_frame`.
        let data = unsafe { std::slice::from_raw_parts(self.guard.data() as *const u8, self.len) };
        core(Frame::new(
            data,
            self.width,
            self.height,
            self.format,
            Some(self.stride),
        ))
    }
}

/// Borrow `obj` as a frame: `uint8 (H, W, 3)` in `order` ("bgr" or "rgb"), or `(H, W)` /
/// `(H, W, 1)` gray. Rows may be strided (ROI slices); pixels within a row must be packed.
pub fn borrow_frame<'py>(
    obj: &Bound<'py, PyAny>,
    name: &str,
    order: PixelFormat,
) -> PyResult<FrameArray<'py>> {
    let want = "uint8 (H, W, 3) or (H, W)";
    let arr = as_ndarray(obj, name, want)?;
    let arr = typed::<u8>(arr, name, "uint8")?;
    let shape = arr.shape().to_vec();
    let strides = arr.strides().to_vec();
    let (h, w, c) = match shape.as_slice() {
        [h, w] => (*h, *w, 1),
        [h, w, c] if *c == 3 || *c == 1 => (*h, *w, *c),
        _ => {
            return Err(PyValueError::new_err(format!(
                "{name}: expected {want}, got shape {}",
                shape_str(&shape)
            )))
        }
    };
    if h == 0 || w == 0 {
        return Err(PyValueError::new_err(format!(
            "{name}: expected a non-empty frame, got shape {}",
            shape_str(&shape)
        )));
    }
    let row = w * c;
    // A dimension of length 1 may carry any stride; only the others matter.
    let packed_px = w == 1 || strides[1] == c as isize;
    let packed_ch = c == 1 || shape.len() == 2 || strides[2] == 1;
    let stride0 = if h == 1 { row as isize } else { strides[0] };
    if !packed_px || !packed_ch || stride0 < row as isize {
        return Err(PyValueError::new_err(format!(
            "{name}: expected pixels packed within rows (strides ({}, {c}{}) in bytes), got strides {:?}; \
             pass np.ascontiguousarray({name})",
            if h == 1 { "any".to_string() } else { format!(">= {row}") },
            if shape.len() == 3 { ", 1" } else { "" },
            strides
        )));
    }
    let format = if c == 1 { PixelFormat::Gray } else { order };
    let guard = arr
        .try_readonly()
        .map_err(|e| PyValueError::new_err(format!("{name}: cannot borrow the array ({e})")))?;
    Ok(FrameArray {
        guard,
        len: (h - 1) * stride0 as usize + row,
        width: w,
        height: h,
        stride: stride0 as usize,
        format,
    })
}

/// Bytes borrowed from a Python object without a copy.
pub enum ByteBuf<'py> {
    Bytes(Bound<'py, PyBytes>),
    Array(PyReadonlyArrayDyn<'py, u8>),
}

impl ByteBuf<'_> {
    pub fn as_slice(&self) -> PyResult<&[u8]> {
        match self {
            ByteBuf::Bytes(b) => Ok(b.as_bytes()),
            ByteBuf::Array(a) => a
                .as_slice()
                .map_err(|_| PyValueError::new_err("data: expected a C-contiguous buffer")),
        }
    }
}

/// Borrow any buffer-protocol object (bytes, bytearray, memoryview, numpy array) as bytes.
/// Non-`bytes` objects go through `numpy.frombuffer`, which shares their memory and holds the
/// buffer export (so a `bytearray` cannot be resized while Rust reads it).
pub fn borrow_bytes<'py>(obj: &Bound<'py, PyAny>, name: &str) -> PyResult<ByteBuf<'py>> {
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(ByteBuf::Bytes(b.clone()));
    }
    let arr = if let Ok(a) = obj.cast::<PyUntypedArray>() {
        a.clone()
    } else {
        let np = obj.py().import("numpy")?;
        let a = np
            .call_method1("frombuffer", (obj, "uint8"))
            .map_err(|e| {
                let got = obj
                    .get_type()
                    .name()
                    .map(|n| n.to_string())
                    .unwrap_or_else(|_| "?".into());
                PyTypeError::new_err(format!(
                    "{name}: expected a buffer (bytes, bytearray, memoryview, numpy uint8 array), got {got} ({e})"
                ))
            })?;
        a.cast_into::<PyUntypedArray>()?
    };
    let typed = typed::<u8>(&arr, name, "uint8")?;
    if !arr.is_c_contiguous() {
        return Err(PyValueError::new_err(format!(
            "{name}: expected a C-contiguous buffer, got an array with strides {:?}; pass np.ascontiguousarray({name})",
            arr.strides()
        )));
    }
    let guard = typed
        .try_readonly()
        .map_err(|e| PyValueError::new_err(format!("{name}: cannot borrow the array ({e})")))?;
    Ok(ByteBuf::Array(guard))
}

/// Float element types an output tensor can have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FloatDtype {
    F32,
    F16,
    U8,
}

impl FloatDtype {
    pub fn parse(name: &str, allow_u8: bool) -> PyResult<Self> {
        match name {
            "float32" => Ok(Self::F32),
            "float16" => Ok(Self::F16),
            "uint8" if allow_u8 => Ok(Self::U8),
            _ => Err(PyTypeError::new_err(format!(
                "dtype: expected float32 or float16{}, got {name}",
                if allow_u8 { " or uint8" } else { "" }
            ))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::F32 => "float32",
            Self::F16 => "float16",
            Self::U8 => "uint8",
        }
    }
}

/// An output tensor: the object handed back to Python and a writable typed view of it
/// (float16 as `half::f16`, rust-numpy's `half` feature).
pub struct OutArray<'py, T: Element> {
    pub result: Bound<'py, PyAny>,
    pub view: Bound<'py, PyArrayDyn<T>>,
}

impl<'py, T: Element> OutArray<'py, T> {
    /// Allocate a new uninitialised C-contiguous array of `shape` (the kernel writes every value),
    /// or validate the caller's `out` (shape, dtype, C-contiguity, writeable).
    pub fn prepare(
        py: Python<'py>,
        out: Option<&Bound<'py, PyAny>>,
        shape: &[usize],
        dtype: FloatDtype,
    ) -> PyResult<Self> {
        let Some(out) = out else {
            // SAFETY: the array is only returned to Python after a kernel that writes every
            // element succeeded; on error it is dropped unseen.
            let view = unsafe { PyArrayDyn::<T>::new(py, shape, false) };
            let result = view.clone().into_any();
            return Ok(Self { result, view });
        };
        let want = format!("{} {}", dtype.name(), shape_str(shape));
        let arr = as_ndarray(out, "out", &want)?;
        let got = dtype_name(arr);
        if got != dtype.name() {
            return Err(dtype_error(
                "out",
                &want,
                &format!("{got} {}", shape_str(arr.shape())),
            ));
        }
        if arr.shape() != shape {
            return Err(PyValueError::new_err(format!(
                "out: expected shape {}, got {}",
                shape_str(shape),
                shape_str(arr.shape())
            )));
        }
        if !arr.is_c_contiguous() {
            return Err(PyValueError::new_err(format!(
                "out: expected a C-contiguous array, got strides {:?}",
                arr.strides()
            )));
        }
        let view = arr.cast::<PyArrayDyn<T>>()?.clone();
        Ok(Self {
            result: out.clone(),
            view,
        })
    }

    /// Borrow the view for writing (fails if `out` overlaps an input that is borrowed).
    pub fn write(&self) -> PyResult<PyReadwriteArrayDyn<'py, T>> {
        self.view.try_readwrite().map_err(|e| {
            PyValueError::new_err(format!(
                "out: cannot write into the array ({e}); is it read-only or does it share memory with an input?"
            ))
        })
    }
}

/// Borrow a float32 array of exactly `ndim`-compatible `shape` check done by the caller.
pub fn borrow_f32<'py>(
    obj: &Bound<'py, PyAny>,
    name: &str,
    want: &str,
) -> PyResult<PyReadonlyArrayDyn<'py, f32>> {
    let arr = as_ndarray(obj, name, want)?;
    let t = arr.cast::<PyArrayDyn<f32>>().map_err(|_| {
        dtype_error(
            name,
            want,
            &format!("{} {}", dtype_name(arr), shape_str(arr.shape())),
        )
    })?;
    if !arr.is_c_contiguous() {
        return Err(PyValueError::new_err(format!(
            "{name}: expected a C-contiguous {want}, got strides {:?}; pass np.ascontiguousarray({name})",
            arr.strides()
        )));
    }
    t.try_readonly()
        .map_err(|e| PyValueError::new_err(format!("{name}: cannot borrow the array ({e})")))
}
