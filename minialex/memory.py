"""How much memory a piece of work may take, checked from shapes before anything is allocated.

A mistyped pool size or input shape can make a model's fc6 need tens of GiB, and a hostile
file can claim terabytes: better one clear sentence with the number than an allocation the
operating system kills. ``check_budget(what, nbytes)`` refuses above ``budget()``: the
environment variable ``MINIALEX_MEMORY_LIMIT`` (bytes, or with a unit: ``512MB``, ``8GiB``)
when set, else the memory the system reports as available (``MemAvailable`` on Linux, the
physical memory elsewhere).
"""

from __future__ import annotations

import os
import re

__all__ = ["MemoryBudgetError", "budget", "check_budget", "format_bytes", "ENV_VAR"]

ENV_VAR = "MINIALEX_MEMORY_LIMIT"
_FALLBACK = 8 << 30  # when the system says nothing
_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
          "KIB": 1 << 10, "MIB": 1 << 20, "GIB": 1 << 30, "TIB": 1 << 40}


class MemoryBudgetError(ValueError):
    """The work would need more memory than the budget allows (said with both numbers)."""


def format_bytes(n: float) -> str:
    """1536 -> '1.5 KiB'; binary units, three significant digits."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.3g} {unit}"
        n /= 1024
    return f"{n:.3g} PiB"  # pragma: no cover


def _parse(text: str) -> int:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text)
    unit = match.group(2).upper() if match else ""
    if not match or unit not in _UNITS:
        raise ValueError(f"environment variable {ENV_VAR}={text!r}: expected a size such as "
                         "4000000000, 512MB or 8GiB")
    return int(float(match.group(1)) * _UNITS[unit])


def _system_available() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def budget() -> int:
    """Bytes one command may plan to allocate (see the module docstring)."""
    text = os.environ.get(ENV_VAR)
    if text:
        return _parse(text)
    return _system_available() or _FALLBACK


def check_budget(what: str, nbytes: int, limit: int | None = None) -> None:
    """Raise MemoryBudgetError when ``nbytes`` (for ``what``) is above ``limit`` (default:
    ``budget()``); the message gives both numbers and how to raise the limit."""
    limit = budget() if limit is None else limit
    if nbytes > limit:
        source = (f"set by {ENV_VAR}" if os.environ.get(ENV_VAR) else
                  f"the memory available here; set {ENV_VAR} to allow more")
        raise MemoryBudgetError(f"{what} would need {format_bytes(nbytes)} "
                                f"({nbytes:,} bytes), above the limit of "
                                f"{format_bytes(limit)} ({source})")
