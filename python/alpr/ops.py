"""Public array kernels of alpr, implemented in Rust (``alpr._native``).

Shapes and dtypes are part of the contract: frames are ``uint8 (H, W, 3)`` BGR (or ``(H, W)``
gray), model tensors ``float32 (N, 3, S, S)``, boxes ``float32 (N, 4)`` xyxy in pixels.
Every function validates its inputs and raises ``ValueError`` / ``TypeError`` saying what it
expected and what it got; the heavy work runs with the GIL released.
"""

from __future__ import annotations

__all__: list[str] = []

# --- image: frame intake, letterbox, crops ---

# --- post: detector decoding, NMS, CTC ---
