#!/usr/bin/env python3
"""The floor versions that pyproject.toml declares, read from it (so CI's floor run cannot drift).

    python3 .ci/floor_requirements.py          # numpy==1.23, matplotlib==3.5, ... (+ test extra)
    python3 .ci/floor_requirements.py --python # 3.10: the oldest Python requires-python allows

Every dependency of ``[project] dependencies`` and of the ``test`` extra must have a ``>=`` floor;
each is printed pinned at it (``numpy>=1.23`` -> ``numpy==1.23``, which pip reads as 1.23.0).
A dependency without a floor is an error: it could not be tested at its oldest version.
Runs on Python 3.10 too (no tomllib there: a small reader for the two lists it needs).
"""

from __future__ import annotations

import argparse
import pathlib
import re
import sys

PYPROJECT = pathlib.Path(__file__).resolve().parents[1] / "pyproject.toml"
FLOOR = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*>=\s*([0-9][0-9.]*)\s*$")


def _read(text: str) -> tuple[list[str], dict[str, list[str]], str]:
    """(dependencies, optional-dependencies, requires-python) from pyproject.toml's text."""
    try:
        import tomllib  # Python >= 3.11
    except ModuleNotFoundError:
        tomllib = None
    if tomllib is not None:
        project = tomllib.loads(text)["project"]
        return (
            project.get("dependencies", []),
            project.get("optional-dependencies", {}),
            project.get("requires-python", ""),
        )

    def strings(block: str) -> list[str]:
        return re.findall(r'"([^"]*)"', block)

    deps = re.search(r"^dependencies\s*=\s*\[(.*?)\]", text, re.S | re.M)
    extras: dict[str, list[str]] = {}
    section = re.search(
        r"^\[project\.optional-dependencies\]\s*$(.*?)(?=^\[|\Z)", text, re.S | re.M
    )
    if section:
        for name, block in re.findall(
            r"^([A-Za-z0-9_-]+)\s*=\s*\[(.*?)\]", section.group(1), re.S | re.M
        ):
            extras[name] = strings(block)
    python = re.search(r'^requires-python\s*=\s*"([^"]*)"', text, re.M)
    return strings(deps.group(1)) if deps else [], extras, python.group(1) if python else ""


def floors(extras: list[str]) -> list[str]:
    deps, optional, _ = _read(PYPROJECT.read_text(encoding="utf-8"))
    wanted = list(deps)
    for extra in extras:
        if extra not in optional:
            raise SystemExit(
                f"floor_requirements: pyproject.toml has no extra {extra!r} "
                f"(it has {sorted(optional)})"
            )
        wanted += optional[extra]
    pins = []
    for spec in wanted:
        m = FLOOR.match(spec)
        if not m:
            raise SystemExit(
                f"floor_requirements: {spec!r} in pyproject.toml has no single '>=' "
                "floor; declare one (e.g. 'numpy>=1.23') so CI can test it"
            )
        pins.append(f"{m.group(1)}=={m.group(3)}")
    return pins


def oldest_python() -> str:
    _, _, spec = _read(PYPROJECT.read_text(encoding="utf-8"))
    m = re.fullmatch(r"\s*>=\s*(\d+\.\d+)\s*", spec)
    if not m:
        raise SystemExit(f"floor_requirements: requires-python {spec!r} is not of the form '>=X.Y'")
    return m.group(1)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--extra",
        action="append",
        default=None,
        help="an extra whose floors to add (default: test)",
    )
    parser.add_argument(
        "--python",
        action="store_true",
        help="print the oldest Python that requires-python allows, and stop",
    )
    args = parser.parse_args(argv)
    if args.python:
        print(oldest_python())
    else:
        print("\n".join(floors(["test"] if args.extra is None else args.extra)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
