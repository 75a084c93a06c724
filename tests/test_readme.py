"""The README's layout section names every module and folder of the package, and its links
resolve: a newcomer reading it finds what is in the tree, and nothing that is not."""

from __future__ import annotations

import re

from facegen import config

README = config.PROJECT_ROOT / "README.md"


def _layout() -> str:
    text = README.read_text()
    section = text[text.index("## Layout") :]
    return section[section.index("```") + 3 : section.index("```", section.index("```") + 3)]


def test_the_layout_names_every_module_and_folder_of_the_package():
    layout = _layout()
    named = set(re.findall(r"[\w.]+(?:/|\.py)", layout))
    package = config.PROJECT_ROOT / "facegen"
    modules = {p.name for p in package.rglob("*.py") if p.name != "__init__.py"}
    folders = {f"{p.name}/" for p in package.rglob("*") if p.is_dir() and p.name != "__pycache__"}
    assert modules - named == set(), "modules missing from the README's layout"
    assert folders - named == set(), "folders missing from the README's layout"
    anywhere = {p.name for p in config.PROJECT_ROOT.rglob("*.py") if ".venv" not in p.parts}
    stray = {n for n in named if n.endswith(".py") and n not in anywhere}
    assert stray == set(), "the layout names modules that do not exist"


def test_the_readmes_links_to_docs_resolve():
    for target in re.findall(r"\]\((docs/[^)#]+)", README.read_text()):
        assert (config.PROJECT_ROOT / target).exists(), target
