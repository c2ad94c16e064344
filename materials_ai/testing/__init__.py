"""Test doubles and fixtures shipped with the package, so that every test uses the same fakes.

Import the submodules directly (e.g. :mod:`materials_ai.testing.datasets`); this package
imports nothing on its own.
"""
