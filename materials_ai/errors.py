"""One exception hierarchy for the whole platform.

Every error the platform raises on purpose derives from :class:`MaterialsAIError`, so a
caller (the CLI, a notebook, a workflow engine) can catch the platform's errors with one
``except`` clause and let programming errors propagate.
"""

from __future__ import annotations


class MaterialsAIError(Exception):
    """Base class of every error raised on purpose by materials-ai."""


class ConfigError(MaterialsAIError):
    """A configuration file or object is invalid (unknown key, wrong type, bad value)."""


class DataError(MaterialsAIError):
    """A dataset or data file cannot be used as asked."""


class DatasetNotFoundError(DataError):
    """A dataset's data file is missing from the data directory, or no card names it."""


class ChecksumMismatchError(DataError):
    """A data file's sha256 differs from the one recorded on its dataset card."""


class GraphConstructionError(MaterialsAIError):
    """A structure cannot be turned into a crystal graph (e.g. an isolated atom)."""


class SurrogateError(MaterialsAIError):
    """A surrogate cannot be trained, loaded or used as asked."""


class AcquisitionError(MaterialsAIError):
    """A batch cannot be selected (e.g. an empty pool, an unknown strategy)."""


class OracleError(MaterialsAIError):
    """An oracle cannot accept or answer a request."""


class CampaignError(MaterialsAIError):
    """A campaign run directory or its state cannot be used as asked."""


class CandidateError(MaterialsAIError):
    """Candidates cannot be generated, screened or placed on a hull as asked."""


class RunDirectoryLockedError(CampaignError):
    """Another process owns the run directory (a running ``campaign run``/``resume``).

    Attributes:
        owner: What the lock file says of the owner (``pid``, ``host``, ``started``,
            ``command``); empty when it could not be read.
    """

    def __init__(self, message: str, owner: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.owner = dict(owner or {})


class CorruptStateError(CampaignError):
    """A run directory's ``state.json`` cannot be read; the message says how to restore it."""


class StaleOutputsError(CampaignError):
    """A run directory holds outputs (ranked lists, models) of another campaign."""
