"""The notebook API: ``import neuromkt as nm`` and the examples in its docstrings.

Every name in ``nm.__all__`` is a function or class (never a module) defined in the
module ``neuromkt`` says it is, with a Google-style docstring whose ``Example:``
section runs here as a doctest, from the repository root (the examples read
``sample_data/``).
"""

from __future__ import annotations

import doctest
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

import neuromkt as nm
import neuromkt.model.inference

REPO = Path(__file__).resolve().parents[1]
SLOW = {"neuromkt", "fit", "TrainResult", "build_report"}  # they train or write the report
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def test_every_name_is_a_documented_function_or_class() -> None:
    assert len(set(nm.__all__)) == len(nm.__all__)
    for name in nm.__all__:
        obj = getattr(nm, name)
        assert inspect.isfunction(obj) or inspect.isclass(obj), name
        assert obj.__name__ == name, name
        doc = inspect.getdoc(obj) or ""
        assert "\nExample:\n" in f"\n{doc}", f"{name}'s docstring has no Example: section"
        assert ">>> " in doc.split("Example:", 1)[1], f"{name}'s example has no >>> line"


def test_each_name_comes_from_its_one_home() -> None:
    assert nm.predict is neuromkt.model.inference.predict
    for name, home in nm._HOMES.items():
        assert getattr(nm, name).__module__ == home, name
        assert getattr(sys.modules[home], name) is getattr(nm, name)


def test_unknown_names_fail_and_dir_lists_the_api() -> None:
    assert set(nm.__all__) <= set(dir(nm))
    with pytest.raises(AttributeError, match="no attribute 'fitt'"):
        nm.fitt  # noqa: B018


def test_import_does_not_load_torch() -> None:
    """Names load on first use: the package and the data room start without torch."""
    code = "import sys, neuromkt as nm; nm.load_table; nm.Schema; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=REPO, timeout=120, check=True)  # fmt: skip
    assert done.stdout.strip() == "False"


def _doctests(name: str) -> list[doctest.DocTest]:
    obj = nm if name == "neuromkt" else getattr(nm, name)
    finder = doctest.DocTestFinder(recurse=False, exclude_empty=True)
    return finder.find(obj, name, module=False, globs={})


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n
        for n in ["neuromkt", *nm.__all__]
    ],
)
def test_docstring_example_runs(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    tests = _doctests(name)
    assert tests and sum(len(t.examples) for t in tests) >= 2, f"{name} has no runnable example"
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    report: list[str] = []
    for test in tests:
        runner.run(test, out=report.append)
    assert runner.failures == 0, "".join(report)
