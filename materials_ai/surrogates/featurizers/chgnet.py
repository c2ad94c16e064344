"""CHGNet 0.3.0's learned features of a crystal, for Gaussian-process heads.

A static single point (no relaxation) of the pretrained CHGNet 0.3.0 (``chgnet`` 0.4.2,
weights shipped in the wheel, loaded by :func:`materials_ai.oracles.mlp.load_chgnet` with
``weights_only=True``) gives per structure ``d = 64 + 64 + 1 = 129`` columns:

* ``chgnet_crystal_000..063``: the crystal feature (``return_crystal_feas``) divided by
  the number of atoms. CHGNet 0.3.0 reads out site-wise (``mlp_first``), so its crystal
  feature is the *sum* over atoms of the last convolution's layer-normalised output; the
  mean makes it intensive (a supercell has the same features).
* ``chgnet_atom_mean_000..063``: the mean over atoms of the atom features before the last
  convolution (``return_atom_feas``).
* ``chgnet_energy_per_atom``: the predicted energy (eV/atom, MP2020-compatible scale).

Structures CHGNet cannot take (elements outside H..Pu, disordered sites, atoms with no
neighbour within its 6 Å cutoff, a failed graph or forward pass) get a NaN row and a
:class:`RuntimeWarning` naming their index and formula; the rest of the batch goes on.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from materials_ai.surrogates.featurizers.base import FeatureProvenance

if TYPE_CHECKING:
    from pymatgen.core import Structure

logger = logging.getLogger(__name__)

#: Bump when the features' definition changes.
CHGNET_FEATURIZER_VERSION = 1
#: The shipped CHGNet model used.
CHGNET_MODEL = "0.3.0"
#: Width of CHGNet 0.3.0's atom and crystal features.
CHGNET_FEA_DIM = 64
#: CHGNet's element embedding covers atomic numbers 1..94 (H..Pu).
CHGNET_MAX_Z = 94
#: Individual warnings per call before the rest are summarised in one.
MAX_WARNINGS = 10

PROVENANCE = FeatureProvenance(
    model="CHGNet 0.3.0 (chgnet 0.4.2)",
    pretraining_data="MPtrj: Materials Project relaxation trajectories (~1.58 M structures, "
    "~146 k materials, GGA/GGA+U)",
    overlaps=("mp2018", "mp_abx3_perovskites"),
    licence="Modified BSD",
)


@lru_cache(maxsize=4)
def _weights_digest(model: str) -> str:
    """First 12 hex digits of the sha256 of the shipped weights file (no torch import)."""
    from materials_ai.oracles.mlp import CHGNET_WEIGHTS

    spec = importlib.util.find_spec("chgnet")
    if spec is None or spec.origin is None:
        raise ImportError("chgnet is not installed (pip install -e '.[mlp]')")
    path = Path(spec.origin).parent / CHGNET_WEIGHTS[model]
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


@dataclass
class ChgnetFeaturizer:
    """CHGNet 0.3.0 crystal features, mean atom features and energy per atom.

    Attributes:
        name: Registry name.
        batch_size: Structures per forward pass (graphs are built per batch).
        num_threads: Torch CPU threads while featurizing (restored afterwards); None
            leaves torch's setting alone. One thread was fastest on a shared 2-core
            machine (5-atom cells: ~60 structures/s at batch 64, 13-19/s with 2 threads).
    """

    name: str = "chgnet"
    batch_size: int = 64
    num_threads: int | None = 1

    def feature_names(self) -> tuple[str, ...]:
        """``chgnet_crystal_*`` (64), ``chgnet_atom_mean_*`` (64), ``chgnet_energy_per_atom``."""
        crystal = tuple(f"chgnet_crystal_{i:03d}" for i in range(CHGNET_FEA_DIM))
        atom = tuple(f"chgnet_atom_mean_{i:03d}" for i in range(CHGNET_FEA_DIM))
        return (*crystal, *atom, "chgnet_energy_per_atom")

    def fingerprint(self) -> str:
        """Package version, model version, weights hash and featurizer version."""
        version = importlib.metadata.version("chgnet")
        digest = _weights_digest(CHGNET_MODEL)
        return f"chgnet{version}-m{CHGNET_MODEL}-w{digest}-v{CHGNET_FEATURIZER_VERSION}"

    def featurize(self, structures: Sequence[Structure]) -> np.ndarray:
        """Features of `n` structures.

        Args:
            structures: `n` pymatgen structures (any size; ordered sites).

        Returns:
            `n x 129` float64 (columns as :meth:`feature_names`; energy in eV/atom); a row
            is NaN where CHGNet cannot take the structure (a warning names it).
        """
        import torch

        from materials_ai.oracles.mlp import load_chgnet

        out = np.full((len(structures), len(self.feature_names())), np.nan)
        if not structures:
            return out
        model = load_chgnet(CHGNET_MODEL)
        converter = _converter(model)
        failures: list[tuple[int, str]] = []
        threads_before = torch.get_num_threads()
        if self.num_threads is not None:
            torch.set_num_threads(self.num_threads)
        try:
            with torch.no_grad(), warnings.catch_warnings():
                # CHGNet's batching converts grad-tracking volumes to scalars (harmless).
                warnings.filterwarnings("ignore", message="Converting a tensor with requires_grad")
                for start in range(0, len(structures), self.batch_size):
                    chunk = range(start, min(start + self.batch_size, len(structures)))
                    graphs: list[tuple[int, Any]] = []
                    for i in chunk:
                        try:
                            graphs.append((i, _graph(converter, structures[i], i)))
                        except Exception as exc:
                            failures.append((i, _reason(exc)))
                    self._forward(model, graphs, out, failures)
        finally:
            if self.num_threads is not None:
                torch.set_num_threads(threads_before)
        _warn(structures, failures)
        return out

    def _forward(
        self,
        model: Any,
        graphs: list[tuple[int, Any]],
        out: np.ndarray,
        failures: list[tuple[int, str]],
    ) -> None:
        """Fill the rows of ``graphs``; a failing batch is retried one graph at a time."""
        if not graphs:
            return
        try:
            predictions = model.predict_graph(
                [g for _, g in graphs],
                task="e",
                return_crystal_feas=True,
                return_atom_feas=True,
                batch_size=len(graphs),
            )
        except Exception as exc:
            if len(graphs) == 1:
                failures.append((graphs[0][0], _reason(exc)))
                return
            for item in graphs:
                self._forward(model, [item], out, failures)
            return
        if isinstance(predictions, dict):
            predictions = [predictions]
        for (i, _), pred in zip(graphs, predictions, strict=True):
            n_atoms = pred["atom_fea"].shape[0]
            row = np.concatenate(
                [
                    np.asarray(pred["crystal_fea"], dtype=np.float64) / n_atoms,
                    np.asarray(pred["atom_fea"], dtype=np.float64).mean(axis=0),
                    [float(pred["e"])],
                ]
            )
            if np.isfinite(row).all():
                out[i] = row
            else:
                failures.append((i, "non-finite CHGNet output"))


def _converter(model: Any) -> Any:
    """A graph converter with the model's cutoffs that raises on isolated atoms."""
    from chgnet.graph import CrystalGraphConverter

    base = model.graph_converter
    return CrystalGraphConverter(
        atom_graph_cutoff=base.atom_graph_cutoff,
        bond_graph_cutoff=base.bond_graph_cutoff,
        algorithm=base.algorithm,
        on_isolated_atoms="error",
    )


def _graph(converter: Any, structure: Structure, index: int) -> Any:
    """The CHGNet graph of one structure.

    Raises:
        ValueError: Disordered sites, an element CHGNet has no embedding for, no atoms,
            or an atom without neighbours within the cutoff.
    """
    if len(structure) == 0:
        raise ValueError("no atoms")
    if not structure.is_ordered:
        raise ValueError("disordered sites")
    unknown = sorted({str(s.specie) for s in structure if not 1 <= s.specie.Z <= CHGNET_MAX_Z})
    if unknown:
        raise ValueError(f"element(s) outside CHGNet's H..Pu: {', '.join(unknown)}")
    return converter(structure, graph_id=str(index))


def _reason(exc: BaseException) -> str:
    text = str(exc).split("\n")[0]
    if "isolated atom" in text:
        return "atom(s) with no neighbour within CHGNet's 6 Å cutoff"
    return text[:200] if isinstance(exc, ValueError) else f"{type(exc).__name__}: {text[:200]}"


def _formula(structure: Structure) -> str:
    try:
        return str(structure.composition.reduced_formula)
    except Exception:
        return "?"


def _warn(structures: Sequence[Structure], failures: list[tuple[int, str]]) -> None:
    """One warning per failed structure (at most :data:`MAX_WARNINGS`, then a summary)."""
    failures.sort()
    for i, reason in failures[:MAX_WARNINGS]:
        message = f"CHGNet cannot featurize structure {i} ({_formula(structures[i])}): {reason}"
        logger.warning("%s; its row is NaN", message)
        warnings.warn(f"{message}; its row is NaN", RuntimeWarning, stacklevel=3)
    if len(failures) > MAX_WARNINGS:
        rest = [i for i, _ in failures[MAX_WARNINGS:]]
        warnings.warn(
            f"CHGNet could not featurize {len(rest)} more structures (indices {rest[:20]}"
            f"{' ...' if len(rest) > 20 else ''}); their rows are NaN",
            RuntimeWarning,
            stacklevel=3,
        )


def chgnet_featurizer() -> ChgnetFeaturizer:
    """CHGNet 0.3.0 features (129 columns), 64 structures per batch, one torch thread."""
    return ChgnetFeaturizer()
