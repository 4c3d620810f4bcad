"""CuPy 14's names, read from ``cupy14_names.json`` (written by ``tools/cupy_names.py`` from a
real CuPy install), and the check that a call uses only parameters CuPy has."""

from __future__ import annotations

import json
import os
from typing import Any

_PATH = os.path.join(os.path.dirname(__file__), "cupy14_names.json")

with open(_PATH, encoding="utf-8") as _f:
    NAMES: dict[str, Any] = json.load(_f)


def check_call(name: str, params: list[list[Any]] | None, args: tuple[Any, ...],
               kwargs: dict[str, Any]) -> None:
    """TypeError unless CuPy's ``name`` takes this many positional arguments and these
    keyword arguments (``params`` as recorded: [[name, kind, has_default], ...])."""
    if params is None:  # CuPy does not say: nothing to check
        return
    kinds = [p[1] for p in params]
    if "var_pos" not in kinds:
        positional = sum(k in ("pos", "pos_or_kw") for k in kinds)
        if len(args) > positional:
            raise TypeError(f"cupy.{name}() takes at most {positional} positional arguments "
                            f"in CuPy {NAMES['cupy_version']}, {len(args)} given")
    if "var_kw" in kinds:
        return
    keywords = {p[0] for p in params if p[1] in ("pos_or_kw", "kw")}
    unknown = sorted(set(kwargs) - keywords)
    if unknown:
        raise TypeError(f"cupy.{name}() got unexpected keyword argument(s) {unknown}: CuPy "
                        f"{NAMES['cupy_version']}'s {name} takes "
                        f"{sorted(keywords) or 'no keyword arguments'}")
