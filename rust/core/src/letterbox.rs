//! TODO: letterbox kernels.
