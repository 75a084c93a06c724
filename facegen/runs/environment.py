"""The package versions a result depends on, stated by every report and manifest."""

from __future__ import annotations

from facegen import config


def package_versions() -> dict[str, str | None]:
    """Installed versions of the packages a result depends on (None when one is missing)."""
    import importlib.metadata

    versions: dict[str, str | None] = {}
    for name in config.REPORTED_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def environment_summary() -> str:
    """One line of versions, printed at the top of every notebook so each page states them."""
    import platform

    parts = [f"Python {platform.python_version()}"]
    parts += [
        f"{name} {version or '(not installed)'}" for name, version in package_versions().items()
    ]
    return " · ".join(parts)
