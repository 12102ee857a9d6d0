"""Packaging glue that pyproject.toml cannot say alone.

rules/ and templates/ sit at the top of the checkout (the design card), yet must ship
inside the installed package so `jcbot` finds them from any directory: they are mapped
to jcbot._shipped.rules and jcbot._shipped.templates here.
"""
from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["jcbot", "jcbot.*"])
    + ["jcbot._shipped.rules", "jcbot._shipped.templates"],
    package_dir={
        "jcbot._shipped.rules": "rules",
        "jcbot._shipped.templates": "templates",
    },
)
