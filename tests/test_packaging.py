"""Packaging (issue 18): ranges in pyproject.toml, exact versions in constraints.txt, the
Makefile installs through the constraints file, and the version is reported."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest
from packaging.requirements import Requirement

import materials_ai

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"
CONSTRAINTS = ROOT / "constraints.txt"
MAKEFILE = ROOT / "Makefile"

# Exact pins allowed in [project] dependencies/extras, each with the reason a comment in
# pyproject.toml must give. None at present: constraints.txt holds the exact versions.
ALLOWED_EXACT_PINS: dict[str, str] = {}


def _project() -> dict:  # type: ignore[type-arg]
    return tomllib.loads(PYPROJECT.read_text())["project"]


def _all_requirements() -> list[Requirement]:
    project = _project()
    reqs = [Requirement(r) for r in project["dependencies"]]
    for extra in project.get("optional-dependencies", {}).values():
        reqs += [Requirement(r) for r in extra]
    return reqs


def _constraints() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in CONSTRAINTS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        req = Requirement(line)
        specs = list(req.specifier)
        assert len(specs) == 1 and specs[0].operator == "==", f"not an exact pin: {line}"
        pins[req.name.lower().replace("_", "-")] = specs[0].version
    return pins


def test_dependencies_are_ranges_not_pins() -> None:
    text = PYPROJECT.read_text()
    for req in _all_requirements():
        if req.name == "materials-ai":  # self-reference of an extra
            continue
        exact = [s for s in req.specifier if s.operator in ("==", "===")]
        if exact:
            assert req.name in ALLOWED_EXACT_PINS, f"exact pin in pyproject.toml: {req}"
            assert ALLOWED_EXACT_PINS[req.name] in text, f"no comment justifies the pin {req}"
        assert str(req.specifier), f"no version bounds at all: {req}"


def test_distributed_comes_only_through_dask_extra() -> None:
    names = [r.name for r in (Requirement(d) for d in _project()["dependencies"])]
    assert "distributed" not in names
    dask = next(Requirement(d) for d in _project()["dependencies"] if d.startswith("dask["))
    assert "distributed" in dask.extras


def test_requires_python_and_classifiers_agree() -> None:
    project = _project()
    from packaging.specifiers import SpecifierSet

    spec = SpecifierSet(project["requires-python"])
    classified = {
        c.rsplit(" :: ", 1)[1]
        for c in project["classifiers"]
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    }
    assert "3.11" in classified
    for minor in classified:
        assert f"{minor}.0" in spec, f"classifier {minor} outside requires-python {spec}"
    assert f"{sys.version_info.major}.{sys.version_info.minor}.0" in spec


def test_constraints_pin_the_tested_stack() -> None:
    pins = _constraints()
    assert pins["torch"] == "2.13.0"  # the CPU wheel on disk; see docs/python_versions.md
    assert pins["mlflow"] == "3.17.2"
    assert pins["mace-torch"] == "0.3.16"
    assert pins["chgnet"] == "0.4.2"
    assert pins["gpaw"] == "26.7.0"


def test_constraints_lie_inside_the_declared_ranges() -> None:
    pins = _constraints()
    for req in _all_requirements():
        name = req.name.lower().replace("_", "-")
        if name == "materials-ai":
            continue
        assert name in pins, f"{name} has no exact version in constraints.txt"
        assert req.specifier.contains(pins[name], prereleases=True), (
            f"constraints.txt {name}=={pins[name]} is outside pyproject's {req.specifier}"
        )


def test_makefile_installs_use_the_constraints_file() -> None:
    text = MAKEFILE.read_text()
    assert re.search(r"^CONSTRAINTS\s*:?=\s*constraints\.txt\s*$", text, re.M)
    logical = text.replace("\\\n", " ")  # join continued recipe lines
    installs = [
        re.split(r"\|\||&&|;|\s\)|\n", tail, maxsplit=1)[0]
        for tail in re.split(r"(?=\bpip install\b)", logical)[1:]
    ]
    # $(STAMP) (uv itself, uv + pip fallback), gpaw (uv + pip + rebuild), mlp (uv + pip).
    assert len(installs) >= 8, installs
    for command in installs:
        assert "-c $(CONSTRAINTS)" in command, f"install without the constraints file: {command}"
    assert re.search(r"^\$\(STAMP\):.*\$\(CONSTRAINTS\)", text, re.M)


def test_installed_versions_match_the_constraints() -> None:
    """The running environment was installed from constraints.txt (torch, mlflow, ...)."""
    pins = _constraints()
    for name in ("torch", "mlflow", "botorch", "torch-geometric", "pymatgen"):
        installed = version(name).split("+", 1)[0]
        assert installed == pins[name], f"{name} {installed} installed, {pins[name]} pinned"


@pytest.mark.parametrize(
    "command",
    [
        [sys.executable, "-m", "materials_ai", "--version"],
        [str(Path(sys.executable).with_name("materials-ai")), "--version"],
    ],
    ids=["python-m", "script"],
)
def test_version_commands(command: list[str]) -> None:
    if not Path(command[0]).exists():
        pytest.skip(f"{command[0]} is not installed next to this interpreter")
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    expected = version("materials-ai")
    assert done.stdout.strip() == f"materials-ai {expected}"
    assert expected == materials_ai.__version__ == _project()["version"]
