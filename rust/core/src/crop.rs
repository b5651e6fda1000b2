//! TODO: crop kernels.
