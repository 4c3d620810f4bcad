"""The package's shape: argparse only in the CLI, a light ``import minialex``, and the
``summary`` function surviving the import of the module of the same name. (The import layers
and the absence of cycles are import-linter contracts in pyproject.toml, run by .ci/run.)"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import minialex

PACKAGE = Path(minialex.__file__).parent


def imported_modules(source: str) -> list[str]:
    """Absolute module names imported by ``source`` (import and from-import, at any depth)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append(node.module)
    return found


def test_scanner_sees_nested_imports():
    source = "import os\ndef f():\n    import argparse\n    from argparse import Namespace\n"
    assert imported_modules(source) == ["os", "argparse", "argparse"]


def test_only_the_cli_imports_argparse():
    files = sorted(PACKAGE.rglob("*.py"))
    cli = PACKAGE / "cli"
    offenders = [str(p.relative_to(PACKAGE)) for p in files
                 if cli not in p.parents and "argparse" in imported_modules(p.read_text())]
    assert not offenders, f"argparse belongs in minialex/cli/ only: {offenders}"
    assert "argparse" in imported_modules((cli / "_args.py").read_text())  # the scan is live


def _run(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_import_minialex_loads_only_the_core():
    loaded = _run("import sys, minialex\n"
                  "print(' '.join(sorted(m for m in sys.modules if m.startswith('minialex'))))")
    assert loaded.split() == ["minialex", "minialex.backend", "minialex.gradcheck",
                              "minialex.tensor", "minialex.tensor_ops"]


def test_summary_stays_the_function_when_its_module_is_imported_first():
    out = _run("from minialex.summary import Trace\n"
               "import minialex\n"
               "import minialex.summary as s\n"
               "print(callable(minialex.summary), minialex.summary.__module__, s is "
               "minialex.summary, minialex.trace.__name__)")
    assert out == "True minialex.summary True trace"
