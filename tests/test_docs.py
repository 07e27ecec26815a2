"""Every ```python snippet in docs/*.md (and the README) runs: the docs cannot drift from the code.

Snippets of one page run in order in one namespace (a page reads like a session); a snippet that
should not run (none should) would have to be fenced as ```text. Figures go to a temporary folder.
"""

import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PAGES = sorted((ROOT / "docs").glob("**/*.md")) + [ROOT / "README.md"]
FENCE = re.compile(r"^```python[^\n]*\n(.*?)^```", re.S | re.M)


def snippets(page: pathlib.Path) -> list[str]:
    return FENCE.findall(page.read_text(encoding="utf-8"))


def test_docs_have_snippets():
    found = {p.name: len(snippets(p)) for p in PAGES}
    assert sum(found.values()) > 0, f"no ```python snippets found in {found}"


@pytest.mark.parametrize("page", [p for p in PAGES if snippets(p)], ids=lambda p: p.name)
def test_snippets_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("MINISEGNET_FAST", "1")
    namespace: dict = {"__name__": f"docs_{page.stem}"}
    for i, code in enumerate(snippets(page)):
        try:
            exec(compile(code, f"{page.name}[snippet {i}]", "exec"), namespace)
        except Exception as exc:  # show which snippet broke
            raise AssertionError(f"{page.relative_to(ROOT)} snippet {i} failed: {exc!r}\n{code}") from exc
    assert namespace  # the page ran to its end
