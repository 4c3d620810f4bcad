"""The README's promises hold: its quoted output is what the program prints, its code runs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def _block(tag: str) -> str:
    match = re.search(rf"<!-- {tag}:begin -->\n```text\n(.*?)```\n<!-- {tag}:end -->", README,
                      re.S)
    assert match, f"README has no {tag} block"
    return match.group(1)


def test_quick_start_is_the_two_commands():
    start = README.index("## Quick start")
    block = README[start:].split("```")[1]
    lines = [line for line in block.splitlines() if line.strip() and not line.startswith("bash")]
    assert lines == ['pip install -e ".[dev]" && python -m minialex', "python -m pytest"]


def test_main_output_excerpt_is_current():
    done = subprocess.run([sys.executable, "-m", "minialex"], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    printed = done.stdout.splitlines()
    for line in _block("main-output").splitlines():
        if line.strip():
            assert line.rstrip() in (p.rstrip() for p in printed), f"not printed any more: {line}"


def test_python_snippets_run_in_order():
    """The snippets read as one session: later ones use the imports of earlier ones."""
    namespace: dict = {}
    for index, code in enumerate(re.findall(r"```python\n(.*?)```", README, re.S)):
        if "minialex.trace(model, (3, 224, 224))" in code:
            # The README says this line raises, naming fc6: check exactly that.
            code = code.replace(
                "minialex.trace(model, (3, 224, 224))",
                "with pytest.raises(ValueError, match='fc6'):\n"
                "    minialex.trace(model, (3, 224, 224))")
        namespace["pytest"] = pytest
        exec(compile(code, f"README snippet {index}", "exec"), namespace)
    assert namespace["model"].conv1.weight.grad is not None  # "conv1.weight.grad is filled"
