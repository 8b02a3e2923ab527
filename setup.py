"""Packages and package data for setuptools; everything else is in pyproject.toml.

pyproject.toml alone cannot both discover kubelearn's subpackages and map the repository's
``notebooks/`` folder (the lessons, where authors edit them) into the wheel as ``kubelearn.lessons``
with its subfolders (``manifests/``, ``data/``, and any a new lesson adds).
"""

from setuptools import find_namespace_packages, setup

lesson_folders = [f"kubelearn.lessons.{p}" for p in find_namespace_packages(where="notebooks")]

setup(
    packages=[*find_namespace_packages(include=["kubelearn", "kubelearn.*"]), "kubelearn.lessons", *lesson_folders],
    package_dir={"kubelearn.lessons": "notebooks"},
    package_data={"kubelearn": ["py.typed", "data/**/*"], "kubelearn.lessons": ["*.ipynb"], **{p: ["*"] for p in lesson_folders}},
)
