//! TODO: ctc kernels.
