"""Files written atomically: a crash or an error mid-write never leaves a half-written file.

``atomic_file(path, mode)`` writes to a temporary file in the same folder and renames it over
``path`` only when the block succeeds; checkpoints and training histories are written this way.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from typing import Any

__all__ = ["atomic_file", "atomic_write_text", "default_file_mode"]


@contextlib.contextmanager
def atomic_file(path: str, mode: str) -> Iterator[Any]:
    """A temporary file in ``path``'s folder, renamed over ``path`` only if the block succeeds.

    A crash or error mid-write leaves ``path`` as it was (os.replace is atomic on POSIX and
    Windows when source and target are on the same file system, hence the same folder).
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp",
                               dir=folder)
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, default_file_mode())  # mkstemp makes it 0600, open() would not
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


def default_file_mode() -> int:
    """The mode ``open(path, "w")`` gives a new file: 0o666 less the process umask."""
    umask = os.umask(0)  # reading the umask means setting it; put it straight back
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write_text(path: str, text: str) -> None:
    with atomic_file(path, "w") as f:
        f.write(text)
