"""Files written atomically: a crash or an error mid-write never leaves a half-written file.

``atomic_file(path, mode)`` writes to a temporary file in the same folder and renames it over
``path`` only when the block succeeds; checkpoints and training histories are written this way.
The temporary file is ``.NAME.XXXXXXXX.tmp`` and is locked while being written; one left behind
by a process that was killed mid-write (kill -9, power loss) is no longer locked, and the next
write of the same file removes it.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterator
from typing import Any

try:  # POSIX advisory locks: released by the kernel when the writing process dies
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["atomic_file", "atomic_write_text", "default_file_mode", "remove_stale_temporaries",
           "check_output_folder"]

_STALE_SECONDS = 24 * 3600  # without locks (Windows): a temporary this old is abandoned


@contextlib.contextmanager
def atomic_file(path: str, mode: str) -> Iterator[Any]:
    """A temporary file in ``path``'s folder, renamed over ``path`` only if the block succeeds.

    A crash or error mid-write leaves ``path`` as it was (os.replace is atomic on POSIX and
    Windows when source and target are on the same file system, hence the same folder).
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    remove_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp",
                               dir=folder)
    lock = os.dup(fd)  # holds the lock until the rename is done, after the file is closed
    try:
        if fcntl is not None:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a fresh file: never contended
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
    finally:
        os.close(lock)


def remove_stale_temporaries(path: str) -> list[str]:
    """Remove the temporary files ``atomic_file(path)`` left behind when a writer died, and
    return their paths. Only names of our own pattern (``.NAME.XXXXXXXX.tmp``) are touched,
    and only when no live process holds their lock (on Windows: when a day old)."""
    folder = os.path.dirname(os.path.abspath(path))
    pattern = re.compile(re.escape("." + os.path.basename(path) + ".") + r"[a-z0-9_]{8}\.tmp")
    removed = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        if not pattern.fullmatch(name):
            continue
        stale = os.path.join(folder, name)
        with contextlib.suppress(OSError):
            if _abandoned(stale):
                os.remove(stale)
                removed.append(stale)
    return removed


def _abandoned(tmp: str) -> bool:
    """True when no process is writing ``tmp`` (its lock can be taken)."""
    if fcntl is None:  # pragma: no cover - Windows
        import time

        return time.time() - os.path.getmtime(tmp) > _STALE_SECONDS
    fd = os.open(tmp, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # locked: a writer is alive
        return False
    finally:
        os.close(fd)  # closing releases the lock we may have taken
    return True


def check_output_folder(folder: str, names: tuple[str, ...] = (), need_bytes: int = 0) -> str:
    """Make sure files ``names`` can be written into ``folder`` before long work starts.

    The folder is created if missing; it must not be a file, no name in it may be a folder,
    a test file must be writable (a read-only file system fails here), and the file system
    must have ``need_bytes`` free. Raises OSError (or ValueError for an empty name) saying
    which; returns the folder.
    """
    import shutil

    folder = os.fspath(folder)
    if not folder:
        raise ValueError("the output folder is an empty name")
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise NotADirectoryError(f"output folder {folder} is a file, not a folder")
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise OSError(exc.errno, f"cannot create output folder {folder}: {exc.strerror}") \
            from None
    for name in names:
        if os.path.isdir(os.path.join(folder, name)):
            raise IsADirectoryError(f"cannot write {os.path.join(folder, name)}: it is a "
                                    "folder")
    try:
        with tempfile.TemporaryFile(dir=folder, prefix=".minialex-write-test.") as probe:
            probe.write(b"minialex")
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as exc:
        raise OSError(exc.errno, f"cannot write into output folder {folder}: "
                                 f"{exc.strerror}") from None
    free = shutil.disk_usage(folder).free
    if free < need_bytes:
        raise OSError(f"output folder {folder} has {free / 1e6:,.1f} MB free; the files to "
                      f"write there need about {need_bytes / 1e6:,.1f} MB")
    return folder


def default_file_mode() -> int:
    """The mode ``open(path, "w")`` gives a new file: 0o666 less the process umask."""
    umask = os.umask(0)  # reading the umask means setting it; put it straight back
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write_text(path: str, text: str) -> None:
    with atomic_file(path, "w") as f:
        f.write(text)
