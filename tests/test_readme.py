"""The README's quick start is exactly two commands; CI runs the README's test command verbatim."""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]
BASH = re.compile(r"^```bash\n(.*?)^```", re.S | re.M)


def quick_start() -> list[str]:
    return [
        block.strip() for block in BASH.findall((ROOT / "README.md").read_text(encoding="utf-8"))
    ]


def test_readme_has_exactly_two_quick_start_commands():
    blocks = quick_start()
    assert len(blocks) == 2, f"README must have exactly two ```bash blocks, found {blocks}"
    assert all("\n" not in b for b in blocks), f"each block must be one command line: {blocks}"
    train = [b for b in blocks if "minisegnet train" in b]
    tests = [b for b in blocks if "pytest" in b]
    assert len(train) == 1 and train[0].startswith("pip install"), blocks
    assert len(tests) == 1 and '".[test]"' in tests[0], blocks


def test_ci_runs_the_readme_test_command_verbatim():
    command = next(b for b in quick_start() if "pytest" in b)
    ci_lines = [
        line.strip()
        for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
        if not line.lstrip().startswith("#")
    ]
    assert command in ci_lines, f".ci/run must contain the line {command!r}"
    assert any("HYPOTHESIS_PROFILE=ci" in line for line in ci_lines)
