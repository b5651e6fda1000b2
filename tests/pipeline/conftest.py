from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from models import write_models


@pytest.fixture
def models_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Constant-output models (one plate at the centre of a 64 px letterbox, reading ABC1234)."""
    root = write_models(tmp_path / "models")
    monkeypatch.setenv("ALPR_MODELS_DIR", str(root))
    return root
