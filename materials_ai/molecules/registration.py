"""The molecular branch's plugin: registers its parts in the core's registries.

Imported by :func:`materials_ai.registry.load_plugins` (named there as a string, so the
core never imports this package). Every entry is lazy: registering costs no RDKit,
tblite or PySCF import.

==================  ===============  ====================================================
registry            name             entry
==================  ===============  ====================================================
screens             ``pfas_free``    :class:`materials_ai.molecules.pfas.PFASScreen`
network models      ``mol_gnn``      :class:`materials_ai.molecules.gnn.MolGNN`
graph featurizers   ``molecule``     :func:`materials_ai.molecules.featurize.build_molecule_chunk`
oracle tasks        ``xtb``          :class:`materials_ai.molecules.oracles.XTBTask`
oracle tasks        ``pyscf``        :class:`materials_ai.molecules.oracles.PySCFTask`
==================  ===============  ====================================================
"""

from __future__ import annotations

from materials_ai.candidates.screening import SCREENS
from materials_ai.graphs.builder import register_featurizer
from materials_ai.oracles.tasks import TASKS
from materials_ai.surrogates.networks import NETWORKS

SCREENS.register_lazy("pfas_free", "materials_ai.molecules.pfas:PFASScreen", replace=True)
NETWORKS.register_lazy("mol_gnn", "materials_ai.molecules.gnn:build_mol_gnn", replace=True)
TASKS.register_lazy("xtb", "materials_ai.molecules.oracles:XTBTask", replace=True)
TASKS.register_lazy("pyscf", "materials_ai.molecules.oracles:PySCFTask", replace=True)
register_featurizer("molecule", "materials_ai.molecules.featurize:build_molecule_chunk")
