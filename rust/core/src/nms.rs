//! TODO: nms kernels.
