"""File permissions for what holds plates: SQLite databases are private to their owner."""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

__all__ = ["private_sqlite_file"]

_COMPANIONS = ("", "-wal", "-shm", "-journal")


def private_sqlite_file(path: str | os.PathLike[str]) -> None:
    """Create the SQLite file ``path`` as 0600, or make an existing one private.

    For an existing file, the group and other bits are taken off it and its ``-wal`` / ``-shm`` / ``-journal``
    (SQLite gives those the mode of the database file, so a private database keeps them private too). A file
    this user does not own is left as it is.
    """
    p = Path(path)
    fd = os.open(p, os.O_RDWR | os.O_CREAT, 0o600)
    os.close(fd)
    for suffix in _COMPANIONS:
        f = Path(f"{p}{suffix}")
        with contextlib.suppress(OSError):  # missing, or owned by someone else
            mode = stat.S_IMODE(f.stat().st_mode)
            if mode & 0o077:
                os.chmod(f, mode & 0o700)
