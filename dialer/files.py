"""Files dialer writes for people (campaigns, prompts, lead files): whole or not at all."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def file_mode(path: Path) -> int:
    """The mode to give a file written at `path`: the one it has, or 0644 for a new one.

    `mkstemp` makes its files private (0600); a campaign or lead file is meant to be read by the
    team (and committed), like one saved in an editor.
    """
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        return 0o644


def write_atomic(path: Path, data: bytes) -> None:
    """Replace `path` with `data` through a temporary file beside it: a reader never sees half."""
    mode = file_mode(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
