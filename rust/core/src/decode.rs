//! TODO: decode kernels.
