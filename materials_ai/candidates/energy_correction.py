"""Map CHGNet energies per atom onto MP-2018 formation energies with per-element references.

CHGNet 0.3.0 predicts an MP2020-compatible *total* energy per atom ``E`` (eV/atom). The
hull of :class:`~materials_ai.candidates.stability.HullReference` is built from MP-2018
formation energies (legacy MP corrections). The two scales differ by a function that is,
to first order, linear in composition (elemental chemical potentials and the anion and
U corrections, which are per atom of an element), so a formation energy on the hull's
scale is::

    E_f(x) ~= E(x) - sum_i x_i mu_i                       (eV/atom)

with ``x_i`` the atom fraction of element ``i`` and ``mu_i`` one fitted reference energy
per element (eV/atom). The ``mu_i`` are fitted by least squares on ``E - E_f`` over the
**training split only** (rows of a held-out split never enter the fit); the error is
reported on the test split. An element absent from the training rows gets no reference,
and a structure containing it gets a NaN formation energy (no extrapolation).

The fitted references are small (one number per element) and are stored as JSON under
``models/`` (:data:`DEFAULT_CORRECTION_PATH`) with the split, the errors and the date, so
that generation reads them offline. ``benchmarks/generation_energy_correction.py`` fits
them from the cached CHGNet features of MP-2018.

Caveat: CHGNet was trained on MPtrj (Materials Project relaxation trajectories), which
contains the MP-2018 structures, so the test-split error is an in-distribution figure for
CHGNet itself; only the ``mu_i`` are held out from the test rows.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from materials_ai.errors import CandidateError
from materials_ai.settings import PROJECT_ROOT

__all__ = [
    "DEFAULT_CORRECTION_FILE",
    "DEFAULT_CORRECTION_PATH",
    "EnergyCorrection",
    "fit_energy_correction",
    "load_energy_correction",
    "read_split_ids",
]

#: The shipped correction (CHGNet 0.3.0 -> MP-2018 formation energy), repository-relative.
DEFAULT_CORRECTION_FILE = "models/chgnet_mp2018_energy_correction.json"
DEFAULT_CORRECTION_PATH = PROJECT_ROOT / DEFAULT_CORRECTION_FILE

#: Bump when the JSON layout changes.
CORRECTION_FORMAT_VERSION = 1


def read_split_ids(path: str | Path) -> set[str]:
    """Ids of one split file (one id per line; blank lines ignored)."""
    return {line.strip() for line in Path(path).read_text().splitlines() if line.strip()}


def _fractions(
    compositions: Sequence[Mapping[str, float]], elements: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """`n x e` atom fractions over ``elements`` and an `n` mask of rows fully covered."""
    column = {el: j for j, el in enumerate(elements)}
    x = np.zeros((len(compositions), len(elements)))
    covered = np.ones(len(compositions), dtype=bool)
    for i, amounts in enumerate(compositions):
        total = float(sum(amounts.values()))
        if total <= 0:
            covered[i] = False
            continue
        for el, n in amounts.items():
            j = column.get(str(el))
            if j is None:
                covered[i] = False
            else:
                x[i, j] += float(n) / total
    return x, covered


@dataclass(frozen=True)
class EnergyCorrection:
    """Per-element references mapping a potential's energy per atom to formation energies.

    Attributes:
        references: Element -> reference energy ``mu_i`` (eV/atom).
        potential: Which energies are corrected (``CHGNet 0.3.0``).
        target: What they are mapped onto (``mp2018:formation_energy``).
        split: The split the fit used (its training file).
        n_train: Training rows used in the fit.
        n_test: Test rows the errors below were measured on.
        mae_train_ev_per_atom: Mean absolute error on the training rows.
        mae_test_ev_per_atom: Mean absolute error on the test rows.
        rmse_test_ev_per_atom: Root-mean-square error on the test rows.
        residual_std_ev_per_atom: The corrected energy's uncertainty (``sigma`` of a CHGNet
            formation energy): the 68.27 % quantile of the absolute training residuals, so
            that 68 % of the training entries lie within one sigma, as a Gaussian's would.
            The residuals are heavy-tailed, so this is well below their RMS.
        residual_rms_ev_per_atom: Root mean square of the training residuals.
        date: When the fit was made (YYYY-MM-DD).
        notes: Free text (provenance, caveats).
    """

    references: dict[str, float]
    potential: str = "CHGNet 0.3.0"
    target: str = "mp2018:formation_energy"
    split: str = ""
    n_train: int = 0
    n_test: int = 0
    mae_train_ev_per_atom: float = math.nan
    mae_test_ev_per_atom: float = math.nan
    rmse_test_ev_per_atom: float = math.nan
    residual_std_ev_per_atom: float = math.nan
    residual_rms_ev_per_atom: float = math.nan
    date: str = ""
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def reference_dataset(self) -> str:
        """The dataset whose formation energies the correction maps onto (``mp2018``)."""
        return self.target.partition(":")[0]

    def formation_energy(
        self,
        compositions: Sequence[Mapping[str, float]],
        energy_per_atom_ev: Sequence[float] | np.ndarray,
    ) -> np.ndarray:
        """Corrected formation energies.

        Args:
            compositions: `n` element -> amount mappings.
            energy_per_atom_ev: `n` potential energies per atom (eV/atom; NaN allowed).

        Returns:
            `n` formation energies on the target's scale (eV/atom); NaN where the energy is
            NaN or an element has no reference.
        """
        elements = sorted(self.references)
        x, covered = _fractions(compositions, elements)
        mu = np.array([self.references[el] for el in elements])
        energies = np.asarray(energy_per_atom_ev, dtype=np.float64)
        if energies.shape != (len(compositions),):
            raise CandidateError(
                f"need one energy per composition ({len(compositions)}); got {energies.shape}"
            )
        return np.where(covered, energies - x @ mu, np.nan)

    # -- persistence ------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict (with ``format_version``)."""
        data = asdict(self)
        data["references"] = {k: float(v) for k, v in sorted(self.references.items())}
        return {"format_version": CORRECTION_FORMAT_VERSION, **data}

    def save(self, path: str | Path) -> Path:
        """Write the JSON file (atomically) and return its path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=1) + "\n")
        tmp.replace(path)
        return path

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EnergyCorrection:
        """Inverse of :meth:`to_dict`.

        Raises:
            CandidateError: Unknown format version or no references.
        """
        version = data.get("format_version")
        if version != CORRECTION_FORMAT_VERSION:
            raise CandidateError(
                f"energy correction format {version!r}; expected {CORRECTION_FORMAT_VERSION}"
            )
        fields = {k: v for k, v in data.items() if k != "format_version"}
        references = {str(k): float(v) for k, v in dict(fields.pop("references", {})).items()}
        if not references:
            raise CandidateError("energy correction without references")
        return cls(references=references, **fields)


def load_energy_correction(path: str | Path | None = None) -> EnergyCorrection:
    """Read a stored correction (default: :data:`DEFAULT_CORRECTION_PATH`).

    Relative paths are taken from the repository root.

    Raises:
        CandidateError: The file is missing or malformed.
    """
    path = DEFAULT_CORRECTION_PATH if path is None else Path(path)
    if not path.is_absolute():
        path = PROJECT_ROOT / path
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise CandidateError(
            f"no energy correction at {path}; fit one with "
            "benchmarks/generation_energy_correction.py"
        ) from None
    except json.JSONDecodeError as error:
        raise CandidateError(f"energy correction {path} is not JSON: {error}") from None
    return EnergyCorrection.from_dict(data)


def fit_energy_correction(
    ids: Sequence[str],
    compositions: Sequence[Mapping[str, float]],
    energy_per_atom_ev: Sequence[float] | np.ndarray,
    formation_energy_ev_per_atom: Sequence[float] | np.ndarray,
    *,
    train_ids: Collection[str],
    test_ids: Collection[str] = (),
    split: str = "",
    potential: str = "CHGNet 0.3.0",
    target: str = "mp2018:formation_energy",
    notes: str = "",
) -> EnergyCorrection:
    """Fit per-element references on the training rows only; report test errors.

    Solves ``min_mu || (E - E_f) - X mu ||_2`` over the rows whose id is in ``train_ids``
    (``X``: atom fractions, `n_train x e`; rows with a non-finite energy are skipped).
    Rows of ``test_ids`` never enter the fit; ids in both sets are an error.

    Args:
        ids: `n` row ids.
        compositions: `n` element -> amount mappings.
        energy_per_atom_ev: `n` potential energies (eV/atom).
        formation_energy_ev_per_atom: `n` reference formation energies (eV/atom).
        train_ids: Ids the references are fitted on.
        test_ids: Ids the errors are reported on.
        split: Name of the split (stored with the fit).
        potential: Name of the potential (stored).
        target: ``dataset:target`` the energies are mapped onto (stored).
        notes: Stored free text.

    Returns:
        The fitted correction.

    Raises:
        CandidateError: Mismatched lengths, overlapping splits or no training row.
    """
    energies = np.asarray(energy_per_atom_ev, dtype=np.float64)
    targets = np.asarray(formation_energy_ev_per_atom, dtype=np.float64)
    n = len(ids)
    if len(compositions) != n or energies.shape != (n,) or targets.shape != (n,):
        raise CandidateError("ids, compositions, energies and targets must have one row each")
    train_set, test_set = set(train_ids), set(test_ids)
    overlap = train_set & test_set
    if overlap:
        raise CandidateError(f"{len(overlap)} ids are in both the training and the test split")
    finite = np.isfinite(energies) & np.isfinite(targets)
    train = np.array([i in train_set for i in ids]) & finite
    test = np.array([i in test_set for i in ids]) & finite
    if not train.any():
        raise CandidateError("no training row with finite energies")
    train_idx = [int(i) for i in np.flatnonzero(train)]
    elements = sorted({str(el) for i in train_idx for el in compositions[i]})
    x_train, _ = _fractions([compositions[i] for i in train_idx], elements)
    y_train = energies[train] - targets[train]
    mu, *_ = np.linalg.lstsq(x_train, y_train, rcond=None)
    references = {el: float(m) for el, m in zip(elements, mu, strict=True)}
    resid_train = y_train - x_train @ mu
    mae_test = rmse_test = math.nan
    n_test = 0
    if test.any():
        idx = [int(i) for i in np.flatnonzero(test)]
        probe = EnergyCorrection(references=references)
        predicted = probe.formation_energy([compositions[i] for i in idx], energies[idx])
        err = predicted - targets[idx]
        err = err[np.isfinite(err)]
        n_test = int(err.size)
        if n_test:
            mae_test = float(np.mean(np.abs(err)))
            rmse_test = float(np.sqrt(np.mean(err**2)))
    return EnergyCorrection(
        references=references,
        potential=potential,
        target=target,
        split=split,
        n_train=int(train.sum()),
        n_test=n_test,
        mae_train_ev_per_atom=float(np.mean(np.abs(resid_train))),
        mae_test_ev_per_atom=mae_test,
        rmse_test_ev_per_atom=rmse_test,
        residual_std_ev_per_atom=float(np.quantile(np.abs(resid_train), 0.6827)),
        residual_rms_ev_per_atom=float(np.sqrt(np.mean(resid_train**2))),
        date=time.strftime("%Y-%m-%d"),
        notes=notes,
    )
