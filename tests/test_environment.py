"""environment.yml and pyproject.toml must list the same packages in the same words."""

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
    wanted = project["dependencies"] + project["optional-dependencies"]["dev"]
    listed = _pip_section((config.PROJECT_ROOT / "environment.yml").read_text())
    assert "--editable ." in listed  # the package itself, so `import facegen` works in conda
    assert sorted(p for p in listed if not p.startswith("-")) == sorted(wanted)


def test_python_version_is_within_the_supported_range():
    text = (config.PROJECT_ROOT / "environment.yml").read_text()
    assert "python=3.11" in text
