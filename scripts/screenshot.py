"""Refresh the README's screenshots from the browser journey test.

The journey test (``tests/browser/test_journey.py``) walks a new user through every
page in headless Chromium and saves a full-page screenshot of each step under
``test-artifacts/journey/``. This script runs that walk and copies the steps the
README shows to ``docs/screenshot-<step>.png``, so the pictures always come from the
same, tested path through the app.

Usage: ``python scripts/screenshot.py [--out docs]`` (``make screenshot``).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
JOURNEY = ROOT / "tests" / "browser" / "test_journey.py"
SHOTS = ROOT / "test-artifacts" / "journey"
README_STEPS = ("home", "data", "attention", "explain")  # docs/screenshot-<step>.png


def run_journey() -> None:
    """Run the journey's steps (not the side tests); raise if any step fails or skips."""
    command = [sys.executable, "-m", "pytest", str(JOURNEY), "-q", "-p", "no:cacheprovider",
               "-k", "test_0", "-rs", "--timeout=600"]  # fmt: skip
    result = subprocess.run(command, cwd=ROOT, check=False, capture_output=True, text=True)
    print(result.stdout[-2000:], end="")
    if result.returncode != 0 or " skipped" in result.stdout:
        raise SystemExit(f"the journey did not pass in full; screenshots not updated:\n"
                         f"{result.stderr[-2000:]}")  # fmt: skip


def copy_screenshots(out_dir: Path, steps: Sequence[str] = README_STEPS) -> list[Path]:
    """Copy the journey's screenshot of each of ``steps`` to ``out_dir``.

    Args:
        out_dir: Folder for the PNG files (created if needed).
        steps: Step names, as in the journey's ``NN-<step>.png`` files.

    Returns:
        The files written.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for step in steps:
        found = sorted(SHOTS.glob(f"[0-9][0-9]-{step}.png"))
        if not found:
            raise SystemExit(f"no screenshot of the step '{step}' in {SHOTS}")
        target = out_dir / f"screenshot-{step}.png"
        shutil.copyfile(found[-1], target)
        written.append(target)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the arguments, run the journey, copy its screenshots, print where they went."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="output folder")
    args = parser.parse_args(argv)
    run_journey()
    for path in copy_screenshots(args.out):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
