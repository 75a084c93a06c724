"""environment.yml and pyproject.toml must list the same packages in the same words, and the
Python versions and build requirements they state must hold."""

import re
import sys
import tomllib

from facegen import config


def _pip_section(text: str) -> list[str]:
    lines, inside = [], False
    for raw in text.splitlines():
        stripped = raw.strip()
        if stripped == "- pip:":
            inside = True
            continue
        if inside and stripped.startswith("- "):
            lines.append(stripped[2:].strip())
        elif inside and stripped and not stripped.startswith("#"):
            break
    return lines


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((config.PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    wanted = project["dependencies"] + extras["dev"] + extras["ray"]  # as `make` installs
    listed = _pip_section((config.PROJECT_ROOT / "environment.yml").read_text())
    assert "--editable ." in listed  # the package itself, so `import facegen` works in conda
    assert sorted(p for p in listed if not p.startswith("-")) == sorted(wanted)


def _pyproject() -> dict:
    return tomllib.loads((config.PROJECT_ROOT / "pyproject.toml").read_text())


def test_the_lowest_python_promised_is_the_one_tested():
    """pyproject, environment.yml, the README and ruff name the same lowest Python, the one CI
    runs the tests on (this file itself needs 3.11: tomllib)."""
    lowest = re.search(r">=\s*3\.(\d+)", _pyproject()["project"]["requires-python"]).group(1)
    assert f"python=3.{lowest}" in (config.PROJECT_ROOT / "environment.yml").read_text()
    assert _pyproject()["tool"]["ruff"]["target-version"] == f"py3{lowest}"
    readme = " ".join((config.PROJECT_ROOT / "README.md").read_text().split())
    assert f"CI tests Python 3.{lowest}" in readme
    assert sys.version_info >= (3, int(lowest))


def test_the_build_backend_reads_the_licence_field():
    """``license = "MIT"`` (an SPDX expression) needs setuptools 77 or newer."""
    project = _pyproject()
    assert isinstance(project["project"]["license"], str)
    (setuptools,) = [r for r in project["build-system"]["requires"] if r.startswith("setuptools")]
    assert int(re.fullmatch(r"setuptools>=(\d+)(\.\d+)*", setuptools).group(1)) >= 77
