//! TODO: frame kernels.
