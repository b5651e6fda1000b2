//! Bindings for detector decoding, NMS and CTC decoding.
//!
//! Each function borrows and validates its arrays under the GIL (dtype, rank, C-contiguity: a
//! wrong one is a `TypeError` / `ValueError` saying expected vs got, never a silent copy), runs the
//! `alpr-core` kernel with the GIL released, and returns owned numpy arrays.

use alpr_core::ctc::{self, CtcShape, Decoded};
use alpr_core::decode::{self, Detections, HeadLayout, PostprocessOptions, Unletterbox};
use alpr_core::nms as core_nms;
use numpy::ndarray::{Array2, Array3};
use numpy::npyffi::NPY_TYPES;
use numpy::{
    Element, IntoPyArray, PyArray1, PyArray2, PyArray3, PyArrayDescrMethods, PyArrayDyn,
    PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArray, PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyString;

use crate::arrays::{as_ndarray as untyped, shape_str};
use crate::errors::NativeError;

/// Shape and dtype of an array as `(3, 4) float64`.
fn describe(arr: &Bound<'_, PyUntypedArray>) -> String {
    format!("{} {}", shape_str(arr.shape()), arr.dtype())
}

/// Borrow `obj` as a C-contiguous array of `T`, read-only.
fn borrow<'py, T: Element>(
    obj: &Bound<'py, PyAny>,
    name: &str,
    want: &str,
) -> PyResult<PyReadonlyArrayDyn<'py, T>> {
    let arr = untyped(obj, name, want)?;
    if !arr.dtype().is_equiv_to(&numpy::dtype::<T>(obj.py())) {
        return Err(PyTypeError::new_err(format!(
            "{name}: expected {want}, got {}",
            describe(arr)
        )));
    }
    if !arr.is_c_contiguous() {
        return Err(PyValueError::new_err(format!(
            "{name}: expected a C-contiguous {want}, got a strided view {} \
             (np.ascontiguousarray makes a contiguous copy)",
            describe(arr)
        )));
    }
    let typed = arr.cast::<PyArrayDyn<T>>()?;
    typed
        .try_readonly()
        .map_err(|e| PyValueError::new_err(format!("{name}: {e}")))
}

fn slice<'a, T: Element>(arr: &'a PyReadonlyArrayDyn<'_, T>, name: &str) -> PyResult<&'a [T]> {
    arr.as_slice()
        .map_err(|e| PyValueError::new_err(format!("{name}: {e}")))
}

/// A `ValueError` unless `v >= min`.
fn at_least(name: &str, v: i64, min: i64) -> PyResult<usize> {
    if v < min {
        return Err(PyValueError::new_err(format!(
            "{name}: expected >= {min}, got {v}"
        )));
    }
    usize::try_from(v).map_err(|_| PyValueError::new_err(format!("{name}: {v} is too large")))
}

/// A charset given as a `str` (one token per character) or a sequence of `str` tokens.
fn tokens(obj: &Bound<'_, PyAny>, name: &str) -> PyResult<Vec<String>> {
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(s.to_str()?.chars().map(String::from).collect());
    }
    obj.extract::<Vec<String>>().map_err(|_| {
        let got = obj
            .get_type()
            .name()
            .map_or_else(|_| "?".to_string(), |n| n.to_string());
        PyTypeError::new_err(format!(
            "{name}: expected a str or a list of str tokens, got {got}"
        ))
    })
}

// ---------------------------------------------------------------------------------------------
// NMS

/// Greedy NMS; returns kept indices sorted by score. See `alpr.ops.nms`.
#[pyfunction]
#[pyo3(signature = (boxes, scores, iou_threshold, class_ids=None, max_det=None))]
fn nms<'py>(
    py: Python<'py>,
    boxes: &Bound<'py, PyAny>,
    scores: &Bound<'py, PyAny>,
    iou_threshold: f64,
    class_ids: Option<&Bound<'py, PyAny>>,
    max_det: Option<i64>,
) -> PyResult<Bound<'py, PyArray1<i64>>> {
    let b = borrow::<f32>(boxes, "boxes", "(N, 4) float32")?;
    if b.shape().len() != 2 || b.shape()[1] != 4 {
        return Err(PyValueError::new_err(format!(
            "boxes: expected (N, 4) float32, got {} float32",
            shape_str(b.shape())
        )));
    }
    let n = b.shape()[0];
    let want_n = format!("({n},) float32");
    let s = borrow::<f32>(scores, "scores", &want_n)?;
    if s.shape() != [n] {
        return Err(PyValueError::new_err(format!(
            "scores: expected ({n},) float32 to match boxes, got {} float32",
            shape_str(s.shape())
        )));
    }
    let c = match class_ids {
        Some(obj) if !obj.is_none() => {
            let c = borrow::<i64>(obj, "class_ids", &format!("({n},) int64"))?;
            if c.shape() != [n] {
                return Err(PyValueError::new_err(format!(
                    "class_ids: expected ({n},) int64 to match boxes, got {} int64",
                    shape_str(c.shape())
                )));
            }
            Some(c)
        }
        _ => None,
    };
    let max_det = max_det.map(|m| at_least("max_det", m, 0)).transpose()?;
    let (bs, ss) = (slice(&b, "boxes")?, slice(&s, "scores")?);
    let cs = c.as_ref().map(|c| slice(c, "class_ids")).transpose()?;
    let keep = py
        .detach(|| core_nms::nms(bs, ss, iou_threshold, cs, max_det))
        .map_err(NativeError)?;
    let keep: Vec<i64> = keep.into_iter().map(|i| i as i64).collect();
    Ok(PyArray1::from_vec(py, keep))
}

// ---------------------------------------------------------------------------------------------
// YOLO head

/// A head borrowed as float32 or float16 (bits).
enum Head<'py> {
    F32(PyReadonlyArrayDyn<'py, f32>),
    F16(PyReadonlyArrayDyn<'py, half::f16>),
}

impl Head<'_> {
    fn shape(&self) -> &[usize] {
        match self {
            Head::F32(a) => a.shape(),
            Head::F16(a) => a.shape(),
        }
    }
}

fn borrow_head<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Head<'py>> {
    const WANT: &str = "float32 or float16 (1, 4 + nc + K*D, N)";
    let arr = untyped(obj, "output", WANT)?;
    // Compare type numbers: building a float16 descriptor from its name on every call costs more
    // than the decoding itself.
    if arr.dtype().num() == NPY_TYPES::NPY_HALF as std::os::raw::c_int {
        // Borrowed as half::f16 (no copy); converted per value in Rust.
        if !arr.is_c_contiguous() {
            return Err(PyValueError::new_err(format!(
                "output: expected a C-contiguous {WANT}, got a strided view {}",
                describe(arr)
            )));
        }
        return Ok(Head::F16(borrow::<half::f16>(obj, "output", WANT)?));
    }
    if !arr.dtype().is_equiv_to(&numpy::dtype::<f32>(obj.py())) {
        return Err(PyTypeError::new_err(format!(
            "output: expected {WANT}, got {}",
            describe(arr)
        )));
    }
    Ok(Head::F32(borrow::<f32>(obj, "output", WANT)?))
}

type DetectionArrays<'py> = (
    Bound<'py, PyArray2<f32>>,
    Bound<'py, PyArray1<f32>>,
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray3<f32>>,
);

fn detections_to_py<'py>(
    py: Python<'py>,
    d: Detections,
    layout: &HeadLayout,
) -> PyResult<DetectionArrays<'py>> {
    let m = d.len();
    let err = |e: numpy::ndarray::ShapeError| PyValueError::new_err(e.to_string());
    let boxes = Array2::from_shape_vec((m, 4), d.boxes).map_err(err)?;
    let kps = Array3::from_shape_vec((m, layout.num_keypoints, layout.keypoint_dim), d.keypoints)
        .map_err(err)?;
    Ok((
        boxes.into_pyarray(py),
        PyArray1::from_vec(py, d.scores),
        PyArray1::from_vec(py, d.class_ids),
        kps.into_pyarray(py),
    ))
}

fn layout_of(
    head: &Head<'_>,
    num_classes: i64,
    num_keypoints: i64,
    keypoint_dim: i64,
) -> PyResult<HeadLayout> {
    let nc = at_least("num_classes", num_classes, 1)?;
    let k = at_least("num_keypoints", num_keypoints, 0)?;
    let d = at_least("keypoint_dim", keypoint_dim, 1)?;
    Ok(HeadLayout::from_shape(head.shape(), nc, k, d).map_err(NativeError)?)
}

/// Decode a YOLOv8/11 head: `(boxes (M, 4), scores (M,), class_ids (M,), keypoints (M, K, D))`.
#[pyfunction]
#[pyo3(signature = (output, num_classes, score_threshold, num_keypoints=0, keypoint_dim=2))]
fn decode_yolo<'py>(
    py: Python<'py>,
    output: &Bound<'py, PyAny>,
    num_classes: i64,
    score_threshold: f32,
    num_keypoints: i64,
    keypoint_dim: i64,
) -> PyResult<DetectionArrays<'py>> {
    let head = borrow_head(output)?;
    let layout = layout_of(&head, num_classes, num_keypoints, keypoint_dim)?;
    let d = match &head {
        Head::F32(a) => {
            let s = slice(a, "output")?;
            py.detach(|| decode::decode_yolo(s, &layout, score_threshold))
        }
        Head::F16(a) => {
            let s = decode::as_f16(half::slice::HalfFloatSliceExt::reinterpret_cast(slice(
                a, "output",
            )?));
            py.detach(|| decode::decode_yolo(s, &layout, score_threshold))
        }
    }
    .map_err(NativeError)?;
    detections_to_py(py, d, &layout)
}

/// Decode + NMS (+ mapping to frame pixels through `(scale, pad_x, pad_y, width, height)`).
#[pyfunction]
#[pyo3(signature = (output, num_classes, conf_threshold, iou_threshold, max_det, num_keypoints=0,
                    keypoint_dim=2, agnostic=true, unletterbox=None))]
#[allow(clippy::too_many_arguments)]
fn postprocess_yolo<'py>(
    py: Python<'py>,
    output: &Bound<'py, PyAny>,
    num_classes: i64,
    conf_threshold: f32,
    iou_threshold: f64,
    max_det: i64,
    num_keypoints: i64,
    keypoint_dim: i64,
    agnostic: bool,
    unletterbox: Option<(f32, f32, f32, f32, f32)>,
) -> PyResult<DetectionArrays<'py>> {
    let head = borrow_head(output)?;
    let layout = layout_of(&head, num_classes, num_keypoints, keypoint_dim)?;
    let opts = PostprocessOptions {
        conf_threshold,
        iou_threshold,
        max_det: at_least("max_det", max_det, 0)?,
        agnostic,
        unletterbox: unletterbox.map(|(scale, pad_x, pad_y, width, height)| Unletterbox {
            scale,
            pad_x,
            pad_y,
            width,
            height,
        }),
    };
    let d = match &head {
        Head::F32(a) => {
            let s = slice(a, "output")?;
            py.detach(|| decode::postprocess_yolo(s, &layout, &opts))
        }
        Head::F16(a) => {
            let s = decode::as_f16(half::slice::HalfFloatSliceExt::reinterpret_cast(slice(
                a, "output",
            )?));
            py.detach(|| decode::postprocess_yolo(s, &layout, &opts))
        }
    }
    .map_err(NativeError)?;
    detections_to_py(py, d, &layout)
}

// ---------------------------------------------------------------------------------------------
// CTC and slot decoding

type Row<'py> = (String, Bound<'py, PyArray1<f32>>);
type MatchedRow<'py> = (String, Bound<'py, PyArray1<f32>>, i32);

fn borrow_probs<'py>(obj: &Bound<'py, PyAny>, c: usize) -> PyResult<PyReadonlyArrayDyn<'py, f32>> {
    borrow::<f32>(obj, "probs", &format!("(B, T, {c}) float32"))
}

fn rows_to_py<'py>(py: Python<'py>, rows: Vec<Decoded>) -> Vec<Row<'py>> {
    rows.into_iter()
        .map(|d| (d.text, PyArray1::from_slice(py, &d.confidences)))
        .collect()
}

/// Greedy or prefix-beam CTC decoding: one `(text, confidences)` per batch row.
#[pyfunction]
#[pyo3(signature = (probs, charset, blank=0, method="greedy", beam_width=10, logits=false))]
fn ctc_decode<'py>(
    py: Python<'py>,
    probs: &Bound<'py, PyAny>,
    charset: &Bound<'py, PyAny>,
    blank: i64,
    method: &str,
    beam_width: i64,
    logits: bool,
) -> PyResult<Vec<Row<'py>>> {
    let cs = tokens(charset, "charset")?;
    let p = borrow_probs(probs, cs.len() + 1)?;
    let shape = CtcShape::new(p.shape(), p.len(), cs.len(), blank, logits).map_err(NativeError)?;
    let data = slice(&p, "probs")?;
    let rows = match method {
        "greedy" => py.detach(|| ctc::ctc_greedy(data, &shape, &cs)),
        "beam" => {
            let w = at_least("beam_width", beam_width, 1)?;
            py.detach(|| ctc::ctc_beam(data, &shape, &cs, w))
        }
        other => {
            return Err(PyValueError::new_err(format!(
                "method: expected 'greedy' or 'beam', got {other:?}"
            )))
        }
    }
    .map_err(NativeError)?;
    Ok(rows_to_py(py, rows))
}

/// Pattern-constrained beam search: one `(text, confidences, pattern index or -1)` per row.
#[pyfunction]
#[pyo3(signature = (probs, charset, patterns, blank=0, beam_width=10, logits=false))]
fn ctc_decode_constrained<'py>(
    py: Python<'py>,
    probs: &Bound<'py, PyAny>,
    charset: &Bound<'py, PyAny>,
    patterns: &Bound<'py, PyAny>,
    blank: i64,
    beam_width: i64,
    logits: bool,
) -> PyResult<Vec<MatchedRow<'py>>> {
    let cs = tokens(charset, "charset")?;
    if patterns.cast::<PyString>().is_ok() {
        return Err(PyTypeError::new_err(
            "patterns: expected a list of str patterns, got a single str (wrap it in a list)",
        ));
    }
    let pats: Vec<String> = patterns.extract().map_err(|_| {
        PyTypeError::new_err("patterns: expected a list of str patterns".to_string())
    })?;
    let p = borrow_probs(probs, cs.len() + 1)?;
    let shape = CtcShape::new(p.shape(), p.len(), cs.len(), blank, logits).map_err(NativeError)?;
    let w = at_least("beam_width", beam_width, 1)?;
    let data = slice(&p, "probs")?;
    let rows = py
        .detach(|| ctc::ctc_constrained(data, &shape, &cs, &pats, w))
        .map_err(NativeError)?;
    Ok(rows
        .into_iter()
        .map(|d| (d.text, PyArray1::from_slice(py, &d.confidences), d.pattern))
        .collect())
}

/// The positions of a plate pattern as inclusive `(lo, hi)` character ranges (the decoder's parser).
#[pyfunction]
fn parse_pattern(pattern: &str) -> PyResult<Vec<Vec<(char, char)>>> {
    Ok(ctc::pattern_ranges(pattern).map_err(NativeError)?)
}

/// Fixed-slot decoding: one `(text, confidences)` per row, pad slots dropped.
#[pyfunction]
#[pyo3(signature = (probs, alphabet, pad_char="_", logits=false))]
fn slot_decode<'py>(
    py: Python<'py>,
    probs: &Bound<'py, PyAny>,
    alphabet: &Bound<'py, PyAny>,
    pad_char: &str,
    logits: bool,
) -> PyResult<Vec<Row<'py>>> {
    let al = tokens(alphabet, "alphabet")?;
    let p = borrow::<f32>(probs, "probs", &format!("(B, S, {}) float32", al.len()))?;
    let shape = p.shape().to_vec();
    let data = slice(&p, "probs")?;
    let rows = py
        .detach(|| ctc::slot_decode(data, &shape, &al, pad_char, logits))
        .map_err(NativeError)?;
    Ok(rows_to_py(py, rows))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(nms, m)?)?;
    m.add_function(wrap_pyfunction!(decode_yolo, m)?)?;
    m.add_function(wrap_pyfunction!(postprocess_yolo, m)?)?;
    m.add_function(wrap_pyfunction!(ctc_decode, m)?)?;
    m.add_function(wrap_pyfunction!(ctc_decode_constrained, m)?)?;
    m.add_function(wrap_pyfunction!(parse_pattern, m)?)?;
    m.add_function(wrap_pyfunction!(slot_decode, m)?)?;
    Ok(())
}
