# Hand-written stub of the Rust extension alpr._native; checked by `python -m mypy.stubtest alpr._native`.
# Each section is owned by one Rust module (rust/py/src/image.rs, rust/py/src/post.rs).

__version__: str

# --- image: frame intake, letterbox, crops (rust/py/src/image.rs) ---

# --- post: detector decoding, NMS, CTC (rust/py/src/post.rs) ---
