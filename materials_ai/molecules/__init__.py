"""The molecular branch on the crystal branch's contracts (records, graphs, surrogates, oracles).

It plugs into the core by registry names (graph featurizer ``molecule``, surrogate model
``mol_gnn``, oracle tasks ``xtb`` and ``pyscf``, pool screen ``pfas_free``), so the core
does not import it; ``lint-imports`` checks that (see ``[tool.importlinter]`` in
``pyproject.toml``). Importing this package imports none of its modules.
"""
