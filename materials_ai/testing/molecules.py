"""A tiny molecular dataset (SMILES + Hartree labels) and a fast molecular workflow."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from materials_ai.campaign.config import WorkflowConfig, parse_workflow
from materials_ai.data.cards import DatasetCard, card_from_mapping, dump_card
from materials_ai.data.registry import sha256_file

#: Small organic molecules (QM9-like), two of them PFAS (trifluoroacetic acid, CF3CH2F).
TINY_SMILES = (
    "C", "N", "O", "C#C", "C#N", "C=O", "CC", "CO", "CCO", "CC=O", "CC#N", "COC", "CCC",
    "C1CC1", "C1CO1", "CC(C)C", "CC(=O)O", "OCCO", "NCCO", "C1CCC1", "c1ccccc1", "c1ccncc1",
    "c1ccoc1", "c1cc[nH]c1", "Oc1ccccc1", "Nc1ccccc1", "Cc1ccccc1", "C=CC=C", "C#CC#C",
    "CC(C)=O", "O=CC=O", "NC=O", "CN(C)C", "OC(=O)C(F)(F)F", "FCC(F)(F)F", "Fc1ccccc1",
    "C1=CC=CC1", "CCCC", "CCCO", "OCC(O)CO",
)  # fmt: skip
INVALID_ROW = 17
INVALID_SMILES = "C1CC(=O"


@dataclass(frozen=True)
class TinyMolecules:
    """Where the tiny molecular dataset lives.

    Attributes:
        card: Its card (name ``tiny_mol``).
        cards_dir: Folder with ``tiny_mol.yaml`` (set ``MATERIALS_AI_CARDS_DIR`` to it).
        data_dir: Data folder (set ``MATERIALS_AI_DATA_DIR`` to it).
        path: The CSV.
    """

    card: DatasetCard
    cards_dir: Path
    data_dir: Path
    path: Path


def _labels_ha(smiles: str) -> tuple[float, float]:
    """Deterministic, learnable fake HOMO/LUMO (Ha) from simple counts."""
    from rdkit import Chem

    mol = Chem.MolFromSmiles(smiles)
    n = mol.GetNumHeavyAtoms()
    aromatic = sum(a.GetIsAromatic() for a in mol.GetAtoms())
    multiple = sum(b.GetBondTypeAsDouble() > 1 for b in mol.GetBonds())
    homo = -0.40 + 0.008 * n + 0.006 * aromatic + 0.01 * multiple
    lumo = 0.12 - 0.004 * n - 0.008 * aromatic - 0.02 * multiple
    return homo, lumo


def write_tiny_molecules(
    folder: str | Path, *, invalid_row: int | None = INVALID_ROW
) -> TinyMolecules:
    """Write a 40-row SMILES dataset with HOMO/LUMO/gap in Hartree and its card.

    Row ``invalid_row`` holds an unparsable SMILES (its labels are fine), so a loader must
    skip it with a reason and keep the rest. Labels convert to eV on load (card ``scale``).
    """
    folder = Path(folder)
    data_dir, cards_dir = folder / "data", folder / "cards"
    (data_dir / "molecular").mkdir(parents=True, exist_ok=True)
    cards_dir.mkdir(parents=True, exist_ok=True)
    lines = ["mol_id,smiles,homo_ha,lumo_ha,gap_ha"]
    for i, smiles in enumerate(TINY_SMILES):
        homo, lumo = _labels_ha(smiles)
        text = INVALID_SMILES if i == invalid_row else smiles
        lines.append(f"m{i},{text},{homo:.6f},{lumo:.6f},{lumo - homo:.6f}")
    path = data_dir / "molecular" / "tiny_mol.csv"
    path.write_text("\n".join(lines) + "\n")
    target = {"unit": "eV", "source_unit": "Hartree", "scale": 27.211386245988}
    card = card_from_mapping(
        {
            "name": "tiny_mol",
            "title": "Tiny synthetic molecules",
            "file": "molecular/tiny_mol.csv",
            "sha256": sha256_file(path),
            "rows": len(TINY_SMILES),
            "upstream": {
                "source": "written by materials_ai.testing.molecules",
                "urls": ["https://example.invalid/tiny"],
                "licence": "MIT",
                "citation": "none",
            },
            "level_of_theory": "synthetic labels",
            "id_column": "mol_id",
            "structure_column": "smiles",
            "structure_format": "smiles",
            "targets": {
                "homo": {"column": "homo_ha", "description": "fake HOMO", **target},
                "lumo": {"column": "lumo_ha", "description": "fake LUMO", **target},
                "gap": {"column": "gap_ha", "description": "fake gap", **target},
            },
        }
    )
    dump_card(card, cards_dir / "tiny_mol.yaml")
    return TinyMolecules(card=card, cards_dir=cards_dir, data_dir=data_dir, path=path)


def tiny_molecule_workflow(dataset: str = "tiny_mol", **overrides: Any) -> WorkflowConfig:
    """A seconds-long molecular campaign: HOMO-LUMO gap window, PFAS screened out,
    2 tiny MolGNN members, 2 selection iterations, tracking off."""
    data: dict[str, Any] = {
        "name": "tiny_molecules",
        "seed": 5,
        "data": {"dataset": dataset, "screens": ["pfas_free"]},
        "targets": ["homo", "lumo", "gap"],
        "objective": {"criteria": [{"target": "gap", "min": 5.0, "max": 8.0, "scale": 0.5}]},
        "surrogate": {
            "n_members": 2,
            "seed": 1,
            "model": {"kind": "mol_gnn", "hidden_dim": 8, "n_layers": 2, "mlp_dim": 8, "n_mlp": 1},
            "training": {
                "max_epochs": 5,
                "warm_start_epochs": 3,
                "batch_size": 8,
                "patience": 3,
                "min_val_size": 2,
            },
        },
        "acquisition": {"strategy": "qucb", "beta": 1.0},
        "loop": {
            "initial_labels": 8,
            "batch_size": 4,
            "iterations": 2,
            "ranked_list_size": 20,
            "top_cifs": 3,
        },
        "tracking": {"backend": "none"},
    }
    config = parse_workflow(data, "<tiny_molecule_workflow>")
    return config.with_overrides(**overrides) if overrides else config
