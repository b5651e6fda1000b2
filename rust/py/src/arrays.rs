//! Shared helpers for borrowing and validating numpy arrays and Python buffers.
