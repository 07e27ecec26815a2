"""ARCHITECTURE.md, enforced: the layer table is read from the document itself, every module of
the package must have a row, no module imports a higher layer at module level, and CuPy is
imported in minisegnet/backend.py only (anywhere in a file, inside functions too)."""

import ast
import fnmatch
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "minisegnet"
DOC = ROOT / "ARCHITECTURE.md"


def read_layers(text: str) -> dict[str, int]:
    """{module pattern: layer} from the table's rows ``| 0 | name | `pattern`, ... | ... |``."""
    layers = {}
    for line in text.splitlines():
        row = re.match(r"^\|\s*(\d+)\s*\|[^|]*\|([^|]*)\|", line)
        if row:
            for pattern in re.findall(r"`([^`]+)`", row.group(2)):
                layers[pattern] = int(row.group(1))
    return layers


LAYERS = read_layers(DOC.read_text(encoding="utf-8"))


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module: str) -> int | None:
    """The layer of the longest pattern that matches ``module`` (None: no row names it)."""
    matches = [p for p in LAYERS if fnmatch.fnmatchcase(module, p)]
    return LAYERS[max(matches, key=len)] if matches else None


def imports(path: Path) -> list[tuple[int, str, bool]]:
    """(line, imported module, at module level?) for every import in the file.

    ``from . import x`` names the submodule ``x`` where there is one, else the package. An import
    that is the file's last statement counts as deferred, not "at module level": it runs after
    everything the module defines (the import cycle's rule, ARCHITECTURE.md)."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {id(node) for node in tree.body[:-1]}
    if tree.body and not isinstance(tree.body[-1], (ast.Import, ast.ImportFrom)):
        top.add(id(tree.body[-1]))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name, id(node) in top) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for a in node.names:
                sub = f"{target}.{a.name}"
                found.append((node.lineno, sub if sub in MODULES else target, id(node) in top))
    return found


def test_the_document_has_a_layer_table():
    assert len(set(LAYERS.values())) >= 5, f"ARCHITECTURE.md's table was not read: {LAYERS}"
    assert layer_of("minisegnet.functional.sizes") == 0
    assert layer_of("minisegnet.functional.conv") == 2


def test_every_module_has_a_layer():
    missing = [m for m in MODULES if layer_of(m) is None]
    assert not missing, (
        f"modules without a row in ARCHITECTURE.md's layer table: {missing}; "
        "add each to the layer it belongs to"
    )


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_level_import_from_a_higher_layer(module):
    own = layer_of(module)
    if own is None:
        pytest.skip("no layer (test_every_module_has_a_layer fails)")
    upward = [
        f"line {line}: {target} (layer {layer_of(target)})"
        for line, target, at_top in imports(MODULES[module])
        if at_top and target.startswith("minisegnet") and (layer_of(target) or 0) > own
    ]
    assert not upward, (
        f"{module} (layer {own}) imports a higher layer at module level: "
        f"{upward}; move the code down, or import inside the function that needs "
        "it (ARCHITECTURE.md, the import cycle's rule)"
    )


def test_cupy_is_imported_only_in_backend():
    outside = [
        f"{module} line {line}: {target}"
        for module, path in MODULES.items()
        for line, target, _ in imports(path)
        if target.split(".")[0] in ("cupy", "cupyx") and module != "minisegnet.backend"
    ]
    outside += [
        f"{module}: importlib.import_module('cupy...')"
        for module, path in MODULES.items()
        if module != "minisegnet.backend"
        and re.search(r"import_module\(\s*['\"]cupy", path.read_text(encoding="utf-8"))
    ]
    assert not outside, f"cupy imported outside minisegnet/backend.py: {outside}"


def test_autograd_imports_functional_only_at_its_end():
    path = MODULES["minisegnet.autograd"]
    top = [target for _, target, at_top in imports(path) if at_top]
    assert not [t for t in top if t.startswith("minisegnet.functional")], top
    last = ast.parse(path.read_text(encoding="utf-8")).body[-1]
    assert isinstance(last, ast.ImportFrom) and last.names[0].name == "functional", (
        "autograd's last statement imports functional (the import cycle's rule)"
    )


def test_the_checks_catch_what_they_forbid(tmp_path, monkeypatch):
    """A module-level upward import and a cupy import are seen (the checks can fail)."""
    bad = PACKAGE / "nn" / "conv.py"
    fake = tmp_path / "minisegnet" / "nn" / "conv.py"
    fake.parent.mkdir(parents=True)
    fake.write_text(
        bad.read_text(encoding="utf-8") + "\nfrom ..models import unet\n\n"
        "def f():\n    import cupy\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    found = {(at_top, target) for _, target, at_top in imports(fake)}
    assert (True, "minisegnet.models.unet") in found and (False, "cupy") in found
    assert layer_of("minisegnet.models.unet") > layer_of("minisegnet.nn.conv")
