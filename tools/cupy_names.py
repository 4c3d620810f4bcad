"""Write the list of names CuPy has, for minialex's CuPy-rules emulator.

Generated from a real CuPy install (pinned: CuPy 14.2.0, ``pip install cupy-cuda12x==14.2.0``).
CuPy imports without a GPU; nothing here needs one. Run from the repository root::

    python tools/cupy_names.py            # writes minialex/_cupy_emulator/cupy14_names.json
    python tools/cupy_names.py --check    # exit 1 if the committed file is out of date

What is recorded, all read from the installed CuPy:

- every public name of ``cupy``, ``cupy.random``, ``cupy.linalg`` and
  ``cupy.lib.stride_tricks``, with its kind (function, ufunc, type, module, value, or
  ``numpy``: the very NumPy object re-exported) and, for functions, the parameter names
  (from ``inspect.signature``, or from the signature line Cython writes into a docstring);
- the methods and attributes of ``cupy.ndarray`` (with parameters), of ``ndarray.flags``, of
  ``cupy.ufunc`` objects (``at``, ``reduce``, ... with parameters; the keyword arguments of a
  call) and of ``cupy.random.Generator``;
- how each top-level function treats a Python scalar, a list and a NumPy (host) array given as
  its first argument (other required arguments are 1, or a fitting value for axis/shape/...),
  found by calling it without a GPU: a TypeError or AttributeError that is not about missing
  arguments means CuPy refuses it ("rejected"); reaching the CUDA runtime, or returning
  something that is not a NumPy value, means it accepted it ("accepted"); returning a NumPy
  value means CuPy handed the work to NumPy on the host ("host"); anything else is "unknown"
  and the emulator does not judge it.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import inspect
import io
import json
import os
import sys
import tempfile
import types
import warnings

OUTPUT = os.path.join("minialex", "_cupy_emulator", "cupy14_names.json")
MODULES = ("cupy", "cupy.random", "cupy.linalg", "cupy.lib.stride_tricks")
# Functions not called while probing: they write files, print, or change global state.
NO_PROBE = {"save", "savez", "savez_compressed", "savetxt", "load", "loadtxt", "genfromtxt",
            "fromfile", "show_config", "disp", "set_printoptions", "printoptions",
            "set_string_function", "seterr", "seterrcall", "errstate", "clear_memo", "memoize",
            "fuse", "get_default_memory_pool", "get_default_pinned_memory_pool",
            "asnumpy"}  # asnumpy is a host transfer by definition; recorded as such below
# Values given to the other required parameters while probing the first one.
PROBE_DEFAULTS = {"axis": 0, "axes": (0,), "shape": (1,), "newshape": (1,), "dims": (1,),
                  "size": 1, "dtype": "float32", "repeats": 1, "indices_or_sections": 1,
                  "pad_width": 0, "reps": 1, "k": 0, "n": 1, "source": 0, "destination": 0}
VARIADIC = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
PARAM_KINDS = {inspect.Parameter.POSITIONAL_ONLY: "pos",
               inspect.Parameter.POSITIONAL_OR_KEYWORD: "pos_or_kw",
               inspect.Parameter.VAR_POSITIONAL: "var_pos",
               inspect.Parameter.KEYWORD_ONLY: "kw",
               inspect.Parameter.VAR_KEYWORD: "var_kw"}


def _from_docstring(obj: object) -> list[list[str]] | None:
    """Parameters from a Cython signature line ``name(self, a, b=None, *, c=1) -> T``."""
    doc = (getattr(obj, "__doc__", None) or "").strip()
    first = doc.split("\n", 1)[0].replace("\\*", "*")
    start, end = first.find("("), first.rfind(")")
    if start < 0 or end < start:
        return None
    try:
        tree = ast.parse(f"def f({first[start + 1:end]}): pass")
    except SyntaxError:
        return None
    a = tree.body[0].args  # type: ignore[attr-defined]
    positional = a.posonlyargs + a.args
    first_default = len(positional) - len(a.defaults)  # defaults belong to the last ones
    params = [[p.arg, "pos" if k < len(a.posonlyargs) else "pos_or_kw", k >= first_default]
              for k, p in enumerate(positional)]
    if a.vararg:
        params.append([a.vararg.arg, "var_pos", True])
    params += [[p.arg, "kw", d is not None] for p, d in
               zip(a.kwonlyargs, a.kw_defaults, strict=True)]
    if a.kwarg:
        params.append([a.kwarg.arg, "var_kw", True])
    return [p for p in params if p[0] != "self"]


def parameters(obj: object) -> list[list[str]] | None:
    """[[name, kind, has_default], ...] of a callable, or None when CuPy does not say.

    kind: "pos" (positional only), "pos_or_kw", "var_pos" (*args), "kw" (keyword only) or
    "var_kw" (**kwargs)."""
    try:
        sig = inspect.signature(obj)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return _from_docstring(obj)
    return [[p.name, PARAM_KINDS[p.kind], p.default is not p.empty or p.kind in VARIADIC]
            for p in sig.parameters.values() if p.name != "self"]


def _probe(func: object, first: object, params: list[list[str]] | None) -> str:
    """How CuPy treats ``first`` as the first argument of ``func`` (see the module doc)."""
    import numpy

    args = [first]
    for name, kind, has_default in (params or [])[1:]:
        if kind not in ("pos", "pos_or_kw") or has_default:
            break
        args.append(PROBE_DEFAULTS.get(name, 1))
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            result = func(*args)  # type: ignore[operator]
    except Exception as exc:
        name, message = type(exc).__name__, str(exc)
        if "CUDA" in name or "cuda" in message.lower() or "driver" in message.lower():
            return "accepted"
        if name in ("TypeError", "AttributeError") and "argument" not in message:
            return "rejected"
        return "unknown"
    if isinstance(result, (numpy.ndarray, numpy.generic)):
        return "host"
    return "accepted"


def _kind(obj: object, module_name: str, name: str) -> str:
    import cupy
    import numpy

    numpy_twin = numpy
    for part in module_name.split(".")[1:]:
        numpy_twin = getattr(numpy_twin, part, None)
    if numpy_twin is not None and getattr(numpy_twin, name, object()) is obj:
        return "numpy"
    if isinstance(obj, types.ModuleType):
        return "module"
    if isinstance(obj, cupy.ufunc):
        return "ufunc"
    if type(obj).__name__ == "_GUFunc":
        return "gufunc"
    if isinstance(obj, type):
        return "type"
    if callable(obj):
        return "function"
    return "value"


def ufunc_methods(ufunc: object) -> list[str]:
    """The ufunc methods CuPy implements for this ufunc. CuPy's ``ufunc.at`` works where the
    ufunc has a scatter kernel, ``reduce``/``accumulate`` only for add and multiply,
    ``reduceat`` only for add; the others raise NotImplementedError (cupy/_core/_kernel.pyx)."""
    methods = ["outer"]
    if getattr(ufunc, "_scatter_op", None) is not None:
        methods.append("at")
    internal = getattr(ufunc, "name", "")
    if internal in ("cupy_add", "cupy_multiply"):
        methods += ["reduce", "accumulate"]
    if internal == "cupy_add":
        methods.append("reduceat")
    return sorted(methods)


def module_names(module_name: str) -> dict[str, dict]:
    import importlib

    import numpy

    module = importlib.import_module(module_name)
    out: dict[str, dict] = {}
    for name in sorted(dir(module)):
        if name.startswith("_") or name == "annotations":
            continue
        obj = getattr(module, name)
        entry: dict = {"kind": _kind(obj, module_name, name)}
        if entry["kind"] in ("function", "gufunc"):
            entry["params"] = parameters(obj)
        if entry["kind"] == "value" and isinstance(obj, (bool, int, float)):
            entry["value"] = obj
        if entry["kind"] == "ufunc":
            entry["nin"], entry["nout"] = obj.nin, obj.nout
            entry["methods"] = ufunc_methods(obj)
        if (entry["kind"] == "function" and module_name == "cupy" and name not in NO_PROBE
                and entry.get("params")):
            entry["scalar_first"] = _probe(obj, 2, entry["params"])
            entry["list_first"] = _probe(obj, [2.0, 3.0], entry["params"])
            entry["host_first"] = _probe(obj, numpy.ones(2), entry["params"])
        if name == "asnumpy":
            entry["host_first"] = "host"
        out[name] = entry
    return out


def members(cls: type) -> dict[str, list[list[str]] | None | str]:
    """Public methods (with parameters) and attributes ("attribute") of a class."""
    out: dict = {}
    for name in sorted(dir(cls)):
        if name.startswith("_"):
            continue
        obj = getattr(cls, name)
        is_method = callable(obj) and not isinstance(obj, (property, type))
        if type(obj).__name__ in ("getset_descriptor", "member_descriptor", "property"):
            is_method = False
        out[name] = parameters(obj) if is_method else "attribute"
    return out


def collect() -> dict:
    import cupy
    from cupy._core import flags as _flags

    ufunc_call = parameters(cupy.maximum) or []
    return {
        "cupy_version": cupy.__version__,
        "generated_by": "tools/cupy_names.py",
        "modules": {m: module_names(m) for m in MODULES},
        "ndarray": members(cupy.ndarray),
        "ndarray_dunders": sorted(n for n in dir(cupy.ndarray)
                                  if n.startswith("__") and n.endswith("__")),
        "flags": sorted(n for n in dir(_flags.Flags) if not n.startswith("_")),
        "ufunc": {"call": [p for p in ufunc_call if p[1] == "kw"],
                  "methods": {m: parameters(getattr(cupy.ufunc, m))
                              for m in ("at", "reduce", "accumulate", "outer", "reduceat")}},
        "random.Generator": members(cupy.random.Generator),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--check", action="store_true",
                        help="compare with the committed file instead of writing it")
    parser.add_argument("--output", default=OUTPUT)
    args = parser.parse_args(argv)
    try:
        import cupy
    except ImportError as exc:
        print(f"cupy_names: CuPy is not installed ({exc}); pip install cupy-cuda12x==14.2.0",
              file=sys.stderr)
        return 2
    if not cupy.__version__.startswith("14."):
        print(f"cupy_names: expected CuPy 14.x, found {cupy.__version__}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:  # probes that touch files do it there
        cwd = os.getcwd()
        os.chdir(tmp)
        try:
            data = collect()
        finally:
            os.chdir(cwd)
    text = json.dumps(data, indent=1, sort_keys=True) + "\n"
    if args.check:
        with open(args.output, encoding="utf-8") as f:
            same = f.read() == text
        print("up to date" if same else f"{args.output} differs from CuPy {cupy.__version__}")
        return 0 if same else 1
    with open(args.output, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"wrote {args.output}: {sum(len(v) for v in data['modules'].values())} module names, "
          f"{len(data['ndarray'])} ndarray members (CuPy {cupy.__version__})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
