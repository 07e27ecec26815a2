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
            raise AssertionError(
                f"{page.relative_to(ROOT)} snippet {i} failed: {exc!r}\n{code}"
            ) from exc
    assert namespace  # the page ran to its end


EXAMPLES = sorted((ROOT / "docs" / "examples").glob("*.py"))


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.name)
def test_example_scripts_run(script, tmp_path, monkeypatch):
    """docs/examples/*.py are whole programs a page shows (the PyTorch twin): each runs to its end
    (its own asserts check what it claims)."""
    import runpy

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    runpy.run_path(str(script), run_name="__main__")


def test_the_from_pytorch_page_shows_its_twin_verbatim():
    page = (ROOT / "docs" / "from_pytorch.md").read_text(encoding="utf-8")
    twin = (ROOT / "docs" / "examples" / "from_pytorch_twin.py").read_text(encoding="utf-8")
    blocks = re.findall(r"^```py\n(.*?)^```", page, re.S | re.M)
    assert len(blocks) == 2, "the page shows the PyTorch script and its twin, side by side"
    torch_script, shown_twin = blocks
    assert shown_twin == twin, "docs/from_pytorch.md must show docs/examples/from_pytorch_twin.py"
    assert "import torch" in torch_script and "torch" not in twin.replace("from_pytorch", "")
    # line for line: every PyTorch line without a torch-only spelling is in the twin as it is
    twin_lines = {line.strip() for line in twin.splitlines()}
    same = [
        line.strip()
        for line in torch_script.splitlines()
        if not re.search(r"torch|dim=|cuda", line)
    ]
    assert len(same) > 30 and [line for line in same if line not in twin_lines] == []
    for page_name in ("index.md",):
        assert "from_pytorch.md" in (ROOT / "docs" / page_name).read_text(encoding="utf-8")
    assert "docs/from_pytorch.md" in (ROOT / "README.md").read_text(encoding="utf-8")
