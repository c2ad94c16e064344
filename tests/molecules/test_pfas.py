"""PFAS classification against labels written from the OECD (2021) definition.

Definition (OECD 2021): a PFAS contains at least one fully fluorinated methyl or methylene
carbon atom, i.e. a saturated (sp3) carbon with no H, Cl, Br or I attached that carries
-CF3 (3 F) or -CF2- (2 F). Each label below says which carbon decides it.
"""

from __future__ import annotations

import numpy as np
import pytest
from rdkit import Chem

from materials_ai.candidates.screens import run_screens
from materials_ai.data.records import Candidate, Molecule
from materials_ai.molecules.pfas import (
    PFAS_SMARTS,
    PFASScreen,
    is_pfas,
    pfas_carbons,
    pfas_desirability,
    pfas_reason,
)

# (name, SMILES, is PFAS, why)
LABELLED: list[tuple[str, str, bool, str]] = [
    # --- PFAS named in the issue -------------------------------------------------------
    (
        "PFOS",
        "OS(=O)(=O)C(F)(F)C(F)(F)C(F)(F)C(F)(F)C(F)(F)C(F)(F)C(F)(F)C(F)(F)F",
        True,
        "C8F17 chain: seven -CF2- and one -CF3",
    ),
    (
        "PFOA",
        "OC(=O)C(F)(F)C(F)(F)C(F)(F)C(F)(F)C(F)(F)C(F)(F)C(F)(F)F",
        True,
        "C7F15 chain after the carboxyl carbon",
    ),
    ("triflate anion", "[O-]S(=O)(=O)C(F)(F)F", True, "CF3 bonded to S: no H/Cl/Br/I"),
    (
        "nonaflate anion",
        "[O-]S(=O)(=O)C(F)(F)C(F)(F)C(F)(F)C(F)(F)F",
        True,
        "C4F9: three -CF2- and a -CF3",
    ),
    # --- non-PFAS named in the issue ---------------------------------------------------
    ("fluorobenzene", "Fc1ccccc1", False, "one F on an aromatic (sp2) carbon"),
    (
        "(difluoromethyl)benzene",
        "FC(F)c1ccccc1",
        False,
        "a single CHF2 group: its carbon carries H",
    ),
    # --- edge cases from the brief -----------------------------------------------------
    (
        "benzotrifluoride",
        "FC(F)(F)c1ccccc1",
        True,
        "CF3 on an aromatic ring is a fully fluorinated methyl carbon (OECD 2021 includes it)",
    ),
    ("trifluoroacetic acid", "OC(=O)C(F)(F)F", True, "CF3 next to the carboxyl"),
    ("HFC-134a", "FCC(F)(F)F", True, "the CF3 carbon; the CH2F carbon alone would not count"),
    ("difluoromethane", "FCF", False, "CH2F2: the only carbon carries two H"),
    (
        "chlorotrifluoroethylene",
        "FC(F)=C(F)Cl",
        False,
        "both carbons are sp2 (=CF2, =CFCl): not methyl/methylene; one also bears Cl",
    ),
    (
        "tetrafluoroethylene",
        "FC(F)=C(F)F",
        False,
        "=CF2 carbons are sp2 alkene carbons, not saturated methylene carbons",
    ),
    # --- refrigerants, solvents, etchants ------------------------------------------------
    (
        "tetrafluoromethane",
        "FC(F)(F)F",
        True,
        "CF4: a saturated carbon, fully fluorinated, nothing else attached",
    ),
    ("hexafluoroethane", "FC(F)(F)C(F)(F)F", True, "two CF3 carbons (a plasma etch gas)"),
    ("octafluorocyclobutane", "FC1(F)C(F)(F)C(F)(F)C1(F)F", True, "four ring -CF2- carbons"),
    ("fluoroform HFC-23", "FC(F)F", False, "CHF3: the carbon carries H"),
    ("HCFC-22", "FC(F)Cl", False, "CHClF2: carries H and Cl"),
    ("CFC-12", "FC(F)(Cl)Cl", False, "CCl2F2: carries Cl"),
    ("CFC-13", "FC(F)(F)Cl", False, "CClF3: three F but a Cl on the same carbon"),
    ("halon 1301", "FC(F)(F)Br", False, "CBrF3: Br on the carbon"),
    ("trifluoroiodomethane", "FC(F)(F)I", False, "CF3I: I on the carbon"),
    (
        "CFC-113a",
        "ClC(Cl)(Cl)C(F)(F)F",
        True,
        "the CF3 carbon bears no Cl; the Cl atoms sit on the other carbon",
    ),
    ("CFC-114", "FC(F)(Cl)C(F)(F)Cl", False, "each CF2 carbon also bears a Cl"),
    ("HFC-134", "FC(F)C(F)F", False, "CHF2-CHF2: each carbon carries H"),
    ("HFC-143a", "CC(F)(F)F", True, "CH3-CF3: the CF3 carbon"),
    ("HFC-152a", "CC(F)F", False, "CH3-CHF2: H on the fluorinated carbon"),
    ("2,2-difluoropropane", "CC(F)(F)C", True, "-CF2- between two methyls: no H on it"),
    ("vinylidene fluoride", "C=C(F)F", False, "=CF2 is sp2, and no saturated CF2/CF3"),
    ("hexafluoropropene", "FC(F)=C(F)C(F)(F)F", True, "its CF3 carbon"),
    ("HFO-1234yf", "C=C(C(F)(F)F)F", True, "its CF3 carbon"),
    ("HCFO-1233zd", "ClC=CC(F)(F)F", True, "CF3; the Cl is on another carbon"),
    ("carbonyl fluoride", "O=C(F)F", False, "sp2 carbonyl carbon"),
    ("hexafluoroacetone", "O=C(C(F)(F)F)C(F)(F)F", True, "two CF3 carbons"),
    ("2,2,2-trifluoroethanol", "OCC(F)(F)F", True, "CF3"),
    ("sulfur hexafluoride", "FS(F)(F)(F)(F)F", False, "no carbon"),
    ("nitrogen trifluoride", "FN(F)F", False, "no carbon"),
    ("monofluoroacetic acid", "OC(=O)CF", False, "CH2F carries H and only one F"),
    # --- anaesthetics and drugs ---------------------------------------------------------
    ("sevoflurane", "FCOC(C(F)(F)F)C(F)(F)F", True, "two CF3 groups"),
    ("isoflurane", "FC(F)OC(Cl)C(F)(F)F", True, "CF3 (the CHF2 and CHCl carbons do not count)"),
    ("enflurane", "FC(F)OC(F)(F)C(F)Cl", True, "the O-CF2-C carbon: 2 F, no H/Cl"),
    ("halothane", "FC(F)(F)C(Cl)Br", True, "CF3; Cl and Br sit on the other carbon"),
    ("fluoxetine", "CNCCC(Oc1ccc(cc1)C(F)(F)F)c1ccccc1", True, "aryl CF3"),
    ("flurbiprofen", "CC(C(=O)O)c1ccc(-c2ccccc2)c(F)c1", False, "one aromatic F only"),
    ("gemcitabine", "Nc1ccn(C2OC(CO)C(O)C2(F)F)c(=O)n1", True, "ring -CF2- carbon, no H"),
    ("5-fluorouracil", "O=c1[nH]cc(F)c(=O)[nH]1", False, "one F on an sp2 carbon"),
    # --- chip-fab chemistry --------------------------------------------------------------
    (
        "triphenylsulfonium triflate",
        "[O-]S(=O)(=O)C(F)(F)F.c1ccc(cc1)[S+](c1ccccc1)c1ccccc1",
        True,
        "a PFAS photoacid generator: triflate's CF3",
    ),
    (
        "triphenylsulfonium nonaflate",
        "[O-]S(=O)(=O)C(F)(F)C(F)(F)C(F)(F)C(F)(F)F.c1ccc(cc1)[S+](c1ccccc1)c1ccccc1",
        True,
        "perfluorobutanesulfonate anion",
    ),
    (
        "triphenylsulfonium tosylate",
        "Cc1ccc(cc1)S(=O)(=O)[O-].c1ccc(cc1)[S+](c1ccccc1)c1ccccc1",
        False,
        "a PFAS-free photoacid generator: no fluorine",
    ),
    ("bis(triflyl)imide anion", "FC(F)(F)S(=O)(=O)[N-]S(=O)(=O)C(F)(F)F", True, "two CF3"),
    (
        "GenX (HFPO-DA)",
        "OC(=O)C(F)(OC(F)(F)C(F)(F)C(F)(F)F)C(F)(F)F",
        True,
        "CF3 and -CF2- carbons (the CF carbon alone would not count)",
    ),
    (
        "6:2 fluorotelomer alcohol",
        "OCCC(F)(F)C(F)(F)C(F)(F)C(F)(F)C(F)(F)C(F)(F)F",
        True,
        "C6F13 chain",
    ),
    (
        "2,2-difluoro-1,3-benzodioxole",
        "FC1(F)Oc2ccccc2O1",
        True,
        "O-CF2-O carbon: 2 F, no H (OECD 2021 has no exemption for ether neighbours)",
    ),
    ("trifluoromethoxybenzene", "FC(F)(F)Oc1ccccc1", True, "OCF3"),
    ("Ruppert-Prakash reagent", "C[Si](C)(C)C(F)(F)F", True, "CF3 bonded to Si"),
    ("hexafluorobenzene", "Fc1c(F)c(F)c(F)c(F)c1F", False, "six aromatic C-F, one F each"),
    ("fluoroethylene carbonate", "O=C1OCC(F)O1", False, "CHF ring carbon carries H"),
    ("lithium hexafluorophosphate", "[Li+].F[P-](F)(F)(F)(F)F", False, "no carbon"),
    ("silicon tetrafluoride", "F[Si](F)(F)F", False, "no carbon"),
    ("4-fluorotoluene", "Cc1ccc(F)cc1", False, "aromatic F; the CH3 is not fluorinated"),
    ("benzene", "c1ccccc1", False, "no fluorine"),
]


def test_at_least_forty_labelled_molecules_with_both_classes() -> None:
    assert len(LABELLED) >= 40
    labels = [label for _, _, label, _ in LABELLED]
    assert sum(labels) >= 15 and len(labels) - sum(labels) >= 15
    assert len({Molecule.from_smiles(s).smiles for _, s, _, _ in LABELLED}) == len(LABELLED)


@pytest.mark.parametrize(
    ("name", "smiles", "expected", "why"), LABELLED, ids=[x[0] for x in LABELLED]
)
def test_oecd_2021_label(name: str, smiles: str, expected: bool, why: str) -> None:
    assert is_pfas(smiles) is expected, f"{name}: {why}"
    # The same answer from a Molecule, and from an RDKit Mol with explicit hydrogens.
    molecule = Molecule.from_smiles(smiles)
    assert is_pfas(molecule) is expected
    assert is_pfas(Chem.AddHs(molecule.to_rdkit())) is expected
    assert bool(pfas_reason(smiles)) is expected


def test_all_labels_agree_100_percent() -> None:
    correct = sum(is_pfas(s) is label for _, s, label, _ in LABELLED)
    assert correct == len(LABELLED)


def test_carbons_and_groups_are_reported() -> None:
    carbons = pfas_carbons("OC(=O)C(F)(F)C(F)(F)F")
    assert [c.group for c in carbons] == ["CF2", "CF3"]
    assert "1 x CF2, 1 x CF3" in pfas_reason("OC(=O)C(F)(F)C(F)(F)F")
    assert Chem.MolFromSmarts(PFAS_SMARTS) is not None


def test_screen_removes_pfas_with_reason_and_keeps_order() -> None:
    pool = [
        Candidate(str(i), Molecule.from_smiles(s), "test")
        for i, s in enumerate(["c1ccccc1", "OC(=O)C(F)(F)F", "Fc1ccccc1", "FC(F)(F)F"])
    ]
    screen = PFASScreen()
    kept, removed = screen.split(pool)
    assert [c.id for c in kept] == ["0", "2"]
    assert set(removed) == {"1", "3"}
    assert "CF3" in removed["1"] and "CF4" in removed["3"]
    survivors, report = run_screens(pool, [screen])  # the candidate-screen protocol
    assert [c.id for c in survivors] == ["0", "2"]
    assert report.step("pfas").n_removed == 2
    assert report.removed["1"].code == "PFAS (OECD 2021)"
    assert report.scores["3"]["pfas_carbons"] == 1.0


def test_desirability_is_non_negative_exactly_for_pfas_free() -> None:
    d = pfas_desirability(["c1ccccc1", "FC(F)(F)C(F)(F)F", "FC(F)F"])
    np.testing.assert_array_equal(d, [0.0, -2.0, 0.0])
    assert ((d >= 0) == [not is_pfas(s) for s in ["c1ccccc1", "FC(F)(F)C(F)(F)F", "FC(F)F"]]).all()
