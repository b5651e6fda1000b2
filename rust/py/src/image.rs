//! Bindings for frame intake, letterbox and plate crops.
//!
//! Each function borrows and validates under the GIL, runs the kernel with the GIL released and
//! hands back an owned array (or writes into the caller's `out`).

use alpr_core::crop::{crop_into, CropParams, Layout, Region};
use alpr_core::frame::{decode_jpeg as core_decode_jpeg, Frame, PixelFormat};
use alpr_core::letterbox::{self as lb, LetterboxParams, OutElem};
use numpy::{Element, PyArray3, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::arrays::{
    borrow_bytes, borrow_f32, borrow_frame, core, shape_str, FloatDtype, FrameArray, OutArray,
};

/// The mapping between frame pixels and letterboxed tensor pixels.
#[pyclass(frozen, eq, module = "alpr._native", name = "LetterboxInfo")]
#[derive(Clone, Copy, PartialEq)]
pub struct PyLetterboxInfo(pub lb::LetterboxInfo);

fn map_array<'py>(
    py: Python<'py>,
    obj: &Bound<'py, PyAny>,
    name: &str,
    want: &str,
    last: usize,
    f: impl Fn(&[f32], &mut [f32]) + Send + Sync,
) -> PyResult<Bound<'py, PyAny>> {
    let arr = borrow_f32(obj, name, want)?;
    let shape = arr.shape().to_vec();
    if shape.last() != Some(&last) || (last == 4 && shape.len() != 2) {
        return Err(PyValueError::new_err(format!(
            "{name}: expected {want}, got shape {}",
            shape_str(&shape)
        )));
    }
    let src = arr.as_slice()?;
    let mut out = vec![0.0f32; src.len()];
    for (s, d) in src.chunks_exact(last).zip(out.chunks_exact_mut(last)) {
        f(s, d);
    }
    let out = numpy::PyArray1::from_vec(py, out);
    Ok(out.reshape(shape)?.into_any())
}

#[pymethods]
impl PyLetterboxInfo {
    #[new]
    #[pyo3(signature = (scale, pad_x, pad_y, src_width, src_height, width, height))]
    fn new(
        scale: f64,
        pad_x: f64,
        pad_y: f64,
        src_width: usize,
        src_height: usize,
        width: usize,
        height: usize,
    ) -> PyResult<Self> {
        if !(scale.is_finite() && scale > 0.0 && pad_x.is_finite() && pad_y.is_finite()) {
            return Err(PyValueError::new_err(format!(
                "LetterboxInfo: expected a finite scale > 0 and finite padding, got scale={scale} pad=({pad_x}, {pad_y})"
            )));
        }
        let new_width =
            ((src_width as f64 * scale).round_ties_even() as usize).clamp(1, width.max(1));
        let new_height =
            ((src_height as f64 * scale).round_ties_even() as usize).clamp(1, height.max(1));
        Ok(Self(lb::LetterboxInfo {
            scale,
            pad_x,
            pad_y,
            src_width,
            src_height,
            width,
            height,
            new_width,
            new_height,
        }))
    }

    /// Resize gain from frame to tensor pixels.
    #[getter]
    fn scale(&self) -> f64 {
        self.0.scale
    }
    #[getter]
    fn pad_x(&self) -> f64 {
        self.0.pad_x
    }
    #[getter]
    fn pad_y(&self) -> f64 {
        self.0.pad_y
    }
    /// `(pad_x, pad_y)`.
    #[getter]
    fn pad(&self) -> (f64, f64) {
        (self.0.pad_x, self.0.pad_y)
    }
    #[getter]
    fn src_width(&self) -> usize {
        self.0.src_width
    }
    #[getter]
    fn src_height(&self) -> usize {
        self.0.src_height
    }
    #[getter]
    fn width(&self) -> usize {
        self.0.width
    }
    #[getter]
    fn height(&self) -> usize {
        self.0.height
    }

    /// float32 (N, 4) xyxy boxes in tensor pixels -> frame pixels, clipped to the frame.
    fn unmap_boxes<'py>(
        &self,
        py: Python<'py>,
        boxes: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let info = self.0;
        map_array(py, boxes, "boxes", "float32 (N, 4)", 4, move |s, d| {
            d.copy_from_slice(&info.unmap_box([s[0], s[1], s[2], s[3]]));
        })
    }

    /// float32 (N, 4) xyxy boxes in frame pixels -> tensor pixels.
    fn map_boxes<'py>(
        &self,
        py: Python<'py>,
        boxes: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let info = self.0;
        map_array(py, boxes, "boxes", "float32 (N, 4)", 4, move |s, d| {
            d.copy_from_slice(&info.map_box([s[0], s[1], s[2], s[3]]));
        })
    }

    /// float32 (..., 2) points in tensor pixels -> frame pixels (not clipped).
    fn unmap_points<'py>(
        &self,
        py: Python<'py>,
        points: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let info = self.0;
        map_array(py, points, "points", "float32 (..., 2)", 2, move |s, d| {
            let (x, y) = info.unmap_point(s[0], s[1]);
            d[0] = x;
            d[1] = y;
        })
    }

    fn __repr__(&self) -> String {
        let i = &self.0;
        format!(
            "LetterboxInfo(scale={:?}, pad_x={:?}, pad_y={:?}, src_width={}, src_height={}, width={}, height={})",
            i.scale, i.pad_x, i.pad_y, i.src_width, i.src_height, i.width, i.height
        )
    }
}

fn parse_order(order: &str) -> PyResult<PixelFormat> {
    match order.to_ascii_lowercase().as_str() {
        "bgr" => Ok(PixelFormat::Bgr),
        "rgb" => Ok(PixelFormat::Rgb),
        _ => Err(PyValueError::new_err(format!(
            "input_order: expected \"bgr\" or \"rgb\", got {order:?}"
        ))),
    }
}

fn params(pad_value: f32, scale: f32) -> PyResult<LetterboxParams> {
    if !pad_value.is_finite() || !scale.is_finite() {
        return Err(PyValueError::new_err(format!(
            "pad_value, scale: expected finite numbers, got {pad_value}, {scale}"
        )));
    }
    Ok(LetterboxParams {
        pad_value,
        scale,
        parallel: true,
    })
}

/// Letterbox `frames` into a new or the caller's `(N, 3, height, width)` tensor.
fn letterbox_frames<'py>(
    py: Python<'py>,
    frames: &[Frame<'_>],
    width: usize,
    height: usize,
    p: LetterboxParams,
    dtype: FloatDtype,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<(Bound<'py, PyAny>, Vec<lb::LetterboxInfo>)> {
    fn run<'py, T: OutElem + Element>(
        py: Python<'py>,
        frames: &[Frame<'_>],
        width: usize,
        height: usize,
        p: LetterboxParams,
        dtype: FloatDtype,
        out: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<(Bound<'py, PyAny>, Vec<lb::LetterboxInfo>)> {
        // Validate the geometry before allocating.
        if width == 0 || height == 0 || width > 1 << 13 || height > 1 << 13 {
            return Err(PyValueError::new_err(format!(
                "size: expected 1..=8192 pixels per side, got width={width} height={height}"
            )));
        }
        let arr = OutArray::<T>::prepare(py, out, &[frames.len(), 3, height, width], dtype)?;
        let mut rw = arr.write()?;
        let slice = rw.as_slice_mut()?;
        let infos = py.detach(|| lb::letterbox_batch_into(frames, width, height, &p, slice));
        drop(rw);
        Ok((arr.result, core(infos)?))
    }
    match dtype {
        FloatDtype::F32 => run::<f32>(py, frames, width, height, p, dtype, out),
        FloatDtype::F16 => run::<half::f16>(py, frames, width, height, p, dtype, out),
        FloatDtype::U8 => Err(PyValueError::new_err(
            "dtype: expected float32 or float16, got uint8",
        )),
    }
}

fn single<'py>(
    py: Python<'py>,
    frame: Frame<'_>,
    width: usize,
    height: usize,
    p: LetterboxParams,
    dtype: &str,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<(Bound<'py, PyAny>, PyLetterboxInfo)> {
    let dtype = FloatDtype::parse(dtype, false)?;
    let (t, infos) = letterbox_frames(py, &[frame], width, height, p, dtype, out)?;
    let info = infos
        .first()
        .copied()
        .ok_or_else(|| PyValueError::new_err("letterbox: no frame"))?;
    Ok((t, PyLetterboxInfo(info)))
}

/// Letterbox one numpy frame into a `(1, 3, height, width)` RGB tensor.
#[pyfunction]
#[pyo3(signature = (frame, width, height, input_order, pad_value, scale, dtype, out=None))]
#[allow(clippy::too_many_arguments)]
fn letterbox<'py>(
    py: Python<'py>,
    frame: &Bound<'py, PyAny>,
    width: usize,
    height: usize,
    input_order: &str,
    pad_value: f32,
    scale: f32,
    dtype: &str,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<(Bound<'py, PyAny>, PyLetterboxInfo)> {
    let fa = borrow_frame(frame, "frame", parse_order(input_order)?)?;
    single(
        py,
        fa.frame()?,
        width,
        height,
        params(pad_value, scale)?,
        dtype,
        out,
    )
}

/// Letterbox a sequence of numpy frames into one `(N, 3, height, width)` tensor.
#[pyfunction]
#[pyo3(signature = (frames, width, height, input_order, pad_value, scale, dtype, out=None))]
#[allow(clippy::too_many_arguments)]
fn letterbox_batch<'py>(
    py: Python<'py>,
    frames: &Bound<'py, PyAny>,
    width: usize,
    height: usize,
    input_order: &str,
    pad_value: f32,
    scale: f32,
    dtype: &str,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<(Bound<'py, PyAny>, Vec<PyLetterboxInfo>)> {
    let order = parse_order(input_order)?;
    let dtype = FloatDtype::parse(dtype, false)?;
    let p = params(pad_value, scale)?;
    let mut arrays: Vec<FrameArray<'py>> = Vec::new();
    for (i, f) in frames.try_iter()?.enumerate() {
        arrays.push(borrow_frame(&f?, &format!("frames[{i}]"), order)?);
    }
    let views = arrays
        .iter()
        .map(|a| a.frame())
        .collect::<PyResult<Vec<_>>>()?;
    let (t, infos) = letterbox_frames(py, &views, width, height, p, dtype, out)?;
    Ok((t, infos.into_iter().map(PyLetterboxInfo).collect()))
}

/// Letterbox a raw frame buffer (NV12, I420, YUYV, BGRA, BGR, RGB, gray).
#[pyfunction]
#[pyo3(signature = (data, src_width, src_height, fmt, stride, width, height, pad_value, scale, dtype, out=None))]
#[allow(clippy::too_many_arguments)]
fn letterbox_raw<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyAny>,
    src_width: usize,
    src_height: usize,
    fmt: &str,
    stride: Option<usize>,
    width: usize,
    height: usize,
    pad_value: f32,
    scale: f32,
    dtype: &str,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<(Bound<'py, PyAny>, PyLetterboxInfo)> {
    let format = core(PixelFormat::parse(fmt))?;
    let buf = borrow_bytes(data, "data")?;
    let frame = core(Frame::new(
        buf.as_slice()?,
        src_width,
        src_height,
        format,
        stride,
    ))?;
    single(
        py,
        frame,
        width,
        height,
        params(pad_value, scale)?,
        dtype,
        out,
    )
}

/// Decode JPEG bytes in Rust and letterbox them.
#[pyfunction]
#[pyo3(signature = (data, width, height, pad_value, scale, dtype, out=None))]
#[allow(clippy::too_many_arguments)]
fn letterbox_jpeg<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyAny>,
    width: usize,
    height: usize,
    pad_value: f32,
    scale: f32,
    dtype: &str,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<(Bound<'py, PyAny>, PyLetterboxInfo)> {
    let buf = borrow_bytes(data, "data")?;
    let bytes = buf.as_slice()?;
    let img = core(py.detach(|| core_decode_jpeg(bytes, false)))?;
    single(
        py,
        core(img.frame())?,
        width,
        height,
        params(pad_value, scale)?,
        dtype,
        out,
    )
}

/// Decode JPEG bytes into a `uint8 (H, W, 3)` BGR array.
#[pyfunction]
fn decode_jpeg<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyArray3<u8>>> {
    let buf = borrow_bytes(data, "data")?;
    let bytes = buf.as_slice()?;
    let img = core(py.detach(|| core_decode_jpeg(bytes, true)))?;
    let (h, w) = (img.height, img.width);
    numpy::PyArray1::from_vec(py, img.data).reshape([h, w, 3])
}

/// Convert a raw frame buffer to a `uint8 (H, W, 3)` BGR array.
#[pyfunction]
#[pyo3(signature = (data, width, height, fmt, stride=None))]
fn raw_to_bgr<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyAny>,
    width: usize,
    height: usize,
    fmt: &str,
    stride: Option<usize>,
) -> PyResult<Bound<'py, PyArray3<u8>>> {
    let format = core(PixelFormat::parse(fmt))?;
    let buf = borrow_bytes(data, "data")?;
    let frame = core(Frame::new(buf.as_slice()?, width, height, format, stride))?;
    // An uninitialised NumPy array (like `np.empty`, NumPy's allocator reuses freed blocks),
    // filled in place: no zeroing pass and no fresh pages per frame.
    // SAFETY: every byte is written by `to_bgr_into` before the array is handed to Python.
    let arr = unsafe { PyArray3::<u8>::new(py, [height, width, 3], false) };
    // SAFETY: the array was just created, is contiguous and not shared with anything yet.
    let out = unsafe { arr.as_slice_mut() }
        .map_err(|e| PyValueError::new_err(format!("raw_to_bgr: {e}")))?;
    py.detach(|| frame.to_bgr_into(out));
    Ok(arr)
}

fn per_channel(v: &[f32], name: &str) -> PyResult<[f32; 3]> {
    match v {
        [a] => Ok([*a; 3]),
        [a, b, c] => Ok([*a, *b, *c]),
        _ => Err(PyValueError::new_err(format!(
            "{name}: expected 1 or 3 values, got {}",
            v.len()
        ))),
    }
}

/// Crop plates (boxes or 4-point quads) from a frame into one `(N, C, H, W)` / `(N, H, W, C)`
/// tensor.
#[pyfunction]
#[pyo3(signature = (frame, boxes, corners, height, width, gray, keep_aspect, pad, mean, std, layout, dtype))]
#[allow(clippy::too_many_arguments)]
fn crop_plates<'py>(
    py: Python<'py>,
    frame: &Bound<'py, PyAny>,
    boxes: Option<&Bound<'py, PyAny>>,
    corners: Option<&Bound<'py, PyAny>>,
    height: usize,
    width: usize,
    gray: bool,
    keep_aspect: bool,
    pad: f32,
    mean: Vec<f32>,
    std: Vec<f32>,
    layout: &str,
    dtype: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let layout = core(Layout::parse(layout))?;
    let dtype = FloatDtype::parse(dtype, true)?;
    let fa = borrow_frame(frame, "frame", PixelFormat::Bgr)?;
    let regions: Vec<Region> = match (boxes, corners) {
        (Some(b), None) => {
            let arr = borrow_f32(b, "boxes", "float32 (N, 4)")?;
            if arr.shape().len() != 2 || arr.shape()[1] != 4 {
                return Err(PyValueError::new_err(format!(
                    "boxes: expected float32 (N, 4), got shape {}",
                    shape_str(arr.shape())
                )));
            }
            arr.as_slice()?
                .chunks_exact(4)
                .map(|b| Region::Box([b[0], b[1], b[2], b[3]]))
                .collect()
        }
        (None, Some(c)) => {
            let arr = borrow_f32(c, "corners", "float32 (N, 4, 2)")?;
            if arr.shape().len() != 3 || arr.shape()[1] != 4 || arr.shape()[2] != 2 {
                return Err(PyValueError::new_err(format!(
                    "corners: expected float32 (N, 4, 2), got shape {}",
                    shape_str(arr.shape())
                )));
            }
            arr.as_slice()?
                .chunks_exact(8)
                .map(|q| Region::Quad([[q[0], q[1]], [q[2], q[3]], [q[4], q[5]], [q[6], q[7]]]))
                .collect()
        }
        _ => {
            return Err(PyValueError::new_err(
                "crop_plates: expected exactly one of boxes or corners",
            ))
        }
    };
    let p = CropParams {
        height,
        width,
        gray,
        keep_aspect,
        pad,
        mean: per_channel(&mean, "mean")?,
        std: per_channel(&std, "std")?,
        normalize: dtype != FloatDtype::U8,
        layout,
    };
    let c = p.channels();
    let n = regions.len();
    let shape = match layout {
        Layout::Nchw => [n, c, height, width],
        Layout::Nhwc => [n, height, width, c],
    };
    let f = fa.frame()?;
    fn run<'py, T: OutElem + Element>(
        py: Python<'py>,
        f: &Frame<'_>,
        regions: &[Region],
        p: &CropParams,
        shape: &[usize],
        dtype: FloatDtype,
    ) -> PyResult<Bound<'py, PyAny>> {
        if p.height == 0 || p.width == 0 || p.height > 8192 || p.width > 8192 {
            return Err(PyValueError::new_err(format!(
                "height, width: expected 1..=8192, got height={} width={}",
                p.height, p.width
            )));
        }
        let arr = OutArray::<T>::prepare(py, None, shape, dtype)?;
        let mut rw = arr.write()?;
        let slice = rw.as_slice_mut()?;
        core(py.detach(|| crop_into(f, regions, p, slice)))?;
        drop(rw);
        Ok(arr.result)
    }
    match dtype {
        FloatDtype::F32 => run::<f32>(py, &f, &regions, &p, &shape, dtype),
        FloatDtype::F16 => run::<half::f16>(py, &f, &regions, &p, &shape, dtype),
        FloatDtype::U8 => run::<u8>(py, &f, &regions, &p, &shape, dtype),
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyLetterboxInfo>()?;
    m.add_function(wrap_pyfunction!(letterbox, m)?)?;
    m.add_function(wrap_pyfunction!(letterbox_batch, m)?)?;
    m.add_function(wrap_pyfunction!(letterbox_raw, m)?)?;
    m.add_function(wrap_pyfunction!(letterbox_jpeg, m)?)?;
    m.add_function(wrap_pyfunction!(decode_jpeg, m)?)?;
    m.add_function(wrap_pyfunction!(raw_to_bgr, m)?)?;
    m.add_function(wrap_pyfunction!(crop_plates, m)?)?;
    Ok(())
}
