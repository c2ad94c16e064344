"""Packaging (issue 18): ranges in pyproject.toml, exact versions in constraints.txt, the
Makefile installs through the constraints file, and the version is reported."""

from __future__ import annotations

import ast
import json
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
    assert pins["torch"] == "2.13.0"  # the CPU wheel on disk; see docs/installation.md
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


# -- optional features (extras) ----------------------------------------------------------

#: Extra -> the distributions it must bring; none of them is a core dependency.
FEATURE_EXTRAS = {
    "molecules": {"rdkit", "tblite", "pyscf"},
    "mace": {"mace-torch"},
    "hpc": {"dask-jobqueue"},
    "dft": {"gpaw"},
}
#: The optional packages' top-level modules, blocked to imitate an install without extras.
OPTIONAL_MODULES = ("rdkit", "mace", "e3nn", "dask_jobqueue", "pyscf", "tblite", "selfies", "gpaw")


def test_optional_packages_are_in_feature_extras() -> None:
    project = _project()
    core = {Requirement(d).name for d in project["dependencies"]}
    extras = project["optional-dependencies"]
    for extra, names in FEATURE_EXTRAS.items():
        assert names <= {Requirement(r).name for r in extras[extra]}, extra
        assert not names & core, f"{names & core} must not be core dependencies"
    # CI installs `.[dev]`: it must pull every feature whose tests run there.
    (self_ref,) = [Requirement(r) for r in extras["dev"] if r.startswith("materials-ai")]
    assert {"molecules", "mace", "hpc"} <= self_ref.extras


#: Core modules that use an optional package inside functions (fast to import; the AST
#: test below covers every module).
_USERS = ("materials_ai.data.records", "materials_ai.compute.jobqueue")

_WITHOUT_EXTRAS = f"""
import importlib, json, sys
for name in {OPTIONAL_MODULES!r}:
    sys.modules[name] = None  # `import name` now fails like a missing package
for module in {_USERS!r}:
    importlib.import_module(module)
from materials_ai.data.records import Molecule
from materials_ai.extras import MissingExtraError
try:
    Molecule.from_smiles("CCO")
    message = None
except MissingExtraError as exc:
    message = str(exc)
print(json.dumps(message))
"""


def _module_level_imports(path: Path) -> set[str]:
    """Top-level packages a module imports at import time (not in functions, not under
    ``if TYPE_CHECKING``)."""
    found: set[str] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
            elif isinstance(node, ast.If) and "TYPE_CHECKING" not in ast.unparse(node.test):
                visit(node.body + node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)

    visit(ast.parse(path.read_text()).body)
    return found


def test_core_modules_import_no_optional_package_at_import_time() -> None:
    package = ROOT / "materials_ai"
    offenders = {
        str(path.relative_to(ROOT)): sorted(_module_level_imports(path) & set(OPTIONAL_MODULES))
        for path in package.rglob("*.py")
        if "molecules" not in path.relative_to(package).parts  # the extra's own branch
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_core_imports_without_the_optional_packages() -> None:
    """The core modules that use RDKit, MACE or dask-jobqueue import without them, and a
    feature that needs one names the extra to install."""
    done = subprocess.run(
        [sys.executable, "-c", _WITHOUT_EXTRAS],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == (
        "SMILES input (RDKit) needs rdkit, which is not installed: "
        "pip install 'materials-ai[molecules]'"
    )


def test_cli_help_without_the_optional_packages() -> None:
    code = (
        f"import sys\nfor name in {OPTIONAL_MODULES!r}:\n    sys.modules[name] = None\n"
        "sys.argv = ['materials-ai', '--help']\n"
        "from materials_ai.cli.app import main\nmain()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "campaign" in done.stdout


def test_python_m_materials_ai_help() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "materials_ai", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Usage:" in done.stdout and "campaign" in done.stdout


@pytest.mark.parametrize(
    ("module", "extra"),
    [("mace", "mace"), ("dask_jobqueue", "hpc"), ("tblite", "molecules"), ("gpaw", "dft")],
)
def test_missing_optional_package_names_its_extra(
    module: str, extra: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib

    from materials_ai.errors import MaterialsAIError
    from materials_ai.extras import MissingExtraError, requires_extra

    monkeypatch.setitem(sys.modules, module, None)  # imitate a missing package
    expected = rf"pip install 'materials-ai\[{extra}\]'"
    with pytest.raises(MissingExtraError, match=expected) as info, requires_extra("This feature"):
        importlib.import_module(f"{module}.sub")
    assert info.value.extra == extra
    assert isinstance(info.value, MaterialsAIError) and isinstance(info.value, ImportError)
    # Any other missing module is not turned into an extra's message.
    monkeypatch.setitem(sys.modules, "not_an_extra_pkg", None)
    with pytest.raises(ModuleNotFoundError) as other, requires_extra("This feature"):
        importlib.import_module("not_an_extra_pkg")
    assert not isinstance(other.value, MissingExtraError)
