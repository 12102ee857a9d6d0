"""Packaging glue that pyproject.toml cannot say alone.

rules/ and templates/ sit at the top of the checkout (the design card), yet must ship
inside the installed package so `jcbot` finds them from any directory: they are mapped
to jcbot._shipped.rules and jcbot._shipped.templates (with every sub-folder) here.
"""
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).resolve().parent


def _data_packages(folder: str, package: str) -> list[str]:
    """The package of a data folder and of each of its sub-folders."""
    root = HERE / folder
    subs = sorted(p.relative_to(root) for p in root.rglob("*") if p.is_dir() and "__pycache__" not in p.parts)
    return [package] + [f"{package}.{'.'.join(s.parts)}" for s in subs]


setup(
    packages=find_packages(include=["jcbot", "jcbot.*"])
    + _data_packages("rules", "jcbot._shipped.rules")
    + _data_packages("templates", "jcbot._shipped.templates"),
    package_dir={
        "jcbot._shipped.rules": "rules",
        "jcbot._shipped.templates": "templates",
    },
    # Every file of the data folders (each sub-folder is a package of its own above).
    package_data={"jcbot._shipped.rules": ["*.yaml"], "jcbot._shipped.templates": ["**/*"],
                  **{p: ["*"] for p in _data_packages("templates", "jcbot._shipped.templates")[1:]},
                  "jcbot.store": ["migrations/README", "migrations/*.mako"]},
)
