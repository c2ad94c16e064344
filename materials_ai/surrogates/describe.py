"""Words for a surrogate configuration: what readers of reports, lab bundles and model
cards are told about the model behind the numbers.

A prediction's "± std" and a "share of samples" mean different things for a deep ensemble
(the spread of independently trained networks) and for a Gaussian process (the posterior's
standard deviation, sampled as moment-matched draws), and the features a model read decide
what it can know (pretrained CHGNet features vs. ABX3 site descriptors).
:func:`describe_surrogate` turns the ``surrogate:`` section that actually ran into those
words, in English or Spanish::

    d = describe_surrogate(GPConfig(kind="gp", features=["chgnet"]), "en")
    d.text     # "one Gaussian process per target (BoTorch SingleTaskGP, RBF kernel) on ..."
    d.samples  # "64 GP posterior draws"
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from materials_ai.errors import ConfigError

#: Languages the descriptions are written in (those of the report and lab README).
LANGUAGES = ("en", "es")

#: Featurizer blocks by registry name, per language.
FEATURE_LABELS: dict[str, dict[str, str]] = {
    "en": {
        "chgnet": "pretrained CHGNet 0.3.0 features (crystal and atom features and energy of "
        "the structure as given, pretrained on MPtrj)",
        "composition": "composition descriptors (element-property statistics)",
        "element_fractions": "element fractions",
        "perovskite": "ABX3 site descriptors (A/B element properties, anion set, oxidation "
        "states, tolerance factor)",
        "mp2018_embedding": "the pooled embedding of the shipped MP-2018 CGCNN ensemble",
        "mp2018_predictions": "the predictions of the shipped MP-2018 CGCNN ensemble",
    },
    "es": {
        "chgnet": "descriptores preentrenados de CHGNet 0.3.0 (descriptores del cristal y de "
        "los átomos y energía de la estructura tal cual, preentrenado con MPtrj)",
        "composition": "descriptores de composición (estadísticas de propiedades de los elementos)",
        "element_fractions": "fracciones de cada elemento",
        "perovskite": "descriptores de las posiciones ABX3 (propiedades de los elementos A/B, "
        "aniones, estados de oxidación, factor de tolerancia)",
        "mp2018_embedding": "la representación interna del conjunto CGCNN MP-2018 incluido",
        "mp2018_predictions": "las predicciones del conjunto CGCNN MP-2018 incluido",
    },
}

_TEXT: dict[str, dict[str, str]] = {
    "en": {
        "pca": "{label}, compressed to {pca} principal components",
        "and": " and ",
        "arch_cgcnn": "CGCNN-class crystal graph networks",
        "arch_mace": "MACE equivariant graph networks",
        "arch_mol_gnn": "molecular graph networks (RDKit graphs)",
        "graph_inputs": "crystal graphs (cutoff {cutoff:g} Å, at most {neighbors} neighbours)",
        "mol_inputs": "2D molecular graphs (atoms and bonds)",
        "graph_text": "a deep ensemble of {n} {arch} trained from scratch on {inputs}",
        "graph_samples": "{n} ensemble members",
        "graph_mean": "ensemble mean",
        "graph_spread": "standard deviation of the {n} ensemble members (recalibrated)",
        "gp_text": "one Gaussian process per target (BoTorch SingleTaskGP, {kernel} kernel) "
        "on {features}",
        "gp_samples": "{n} GP posterior draws",
        "gp_mean": "GP posterior mean",
        "gp_spread": "GP posterior standard deviation",
        "gp_spread_cal": "GP predictive standard deviation, recalibrated on leave-one-out "
        "residuals",
        "fe_text": "a deep ensemble of {n} MLP heads (feature-ensemble members) on {features}",
        "fe_samples": "{n} feature-ensemble members",
        "fe_mean": "feature-ensemble mean",
        "fe_spread": "standard deviation of the {n} feature-ensemble members (recalibrated)",
    },
    "es": {
        "pca": "{label}, comprimidos en {pca} componentes principales",
        "and": " y ",
        "arch_cgcnn": "redes de grafos cristalinos de tipo CGCNN",
        "arch_mace": "redes de grafos equivariantes MACE",
        "arch_mol_gnn": "redes de grafos moleculares (grafos de RDKit)",
        "graph_inputs": "grafos cristalinos (radio de corte {cutoff:g} Å, como máximo "
        "{neighbors} vecinos)",
        "mol_inputs": "grafos moleculares 2D (átomos y enlaces)",
        "graph_text": "un conjunto de {n} {arch} entrenadas desde cero con {inputs}",
        "graph_samples": "{n} miembros del conjunto",
        "graph_mean": "media del conjunto",
        "graph_spread": "desviación estándar de los {n} miembros del conjunto (recalibrada)",
        "gp_text": "un proceso gaussiano por propiedad (SingleTaskGP de BoTorch, núcleo "
        "{kernel}) sobre {features}",
        "gp_samples": "{n} muestras de la distribución a posteriori del GP",
        "gp_mean": "media a posteriori del GP",
        "gp_spread": "desviación estándar a posteriori del GP",
        "gp_spread_cal": "desviación estándar predictiva del GP, recalibrada con los residuos "
        "de validación cruzada dejando uno fuera",
        "fe_text": "un conjunto de {n} redes MLP (miembros del conjunto de descriptores) sobre "
        "{features}",
        "fe_samples": "{n} miembros del conjunto de descriptores",
        "fe_mean": "media del conjunto de descriptores",
        "fe_spread": "desviación estándar de los {n} miembros del conjunto de descriptores "
        "(recalibrada)",
    },
}


@dataclass(frozen=True)
class SurrogateDescription:
    """What to tell a reader about a surrogate.

    Attributes:
        kind: ``graph_ensemble``, ``gp`` or ``feature_ensemble``.
        text: Noun phrase naming the model and its inputs ("one Gaussian process per
            target ... on pretrained CHGNet 0.3.0 features ...").
        features: The inputs it read, one phrase per featurizer block or graph kind.
        samples: What the per-candidate samples are, counted ("5 ensemble members",
            "64 GP posterior draws"); shares such as ``p_all_criteria`` are over these.
        mean: What the predicted mean is ("ensemble mean", "GP posterior mean").
        spread: What the predicted std is.
    """

    kind: str
    text: str
    features: tuple[str, ...]
    samples: str
    mean: str
    spread: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (for ``schema.json`` and ``candidates.json``)."""
        return {
            "kind": self.kind,
            "description": self.text,
            "features": list(self.features),
            "samples": self.samples,
            "mean": self.mean,
            "std": self.spread,
        }


def _table(lang: str) -> dict[str, str]:
    if lang not in _TEXT:
        raise ConfigError(f"unsupported language {lang!r}; choose one of {list(LANGUAGES)}")
    return _TEXT[lang]


def feature_label(block: Any, lang: str = "en") -> str:
    """One featurizer block (a name or a ``FeatureBlockConfig``) in words."""
    t = _table(lang)
    name = block if isinstance(block, str) else block.featurizer
    label = FEATURE_LABELS[lang].get(name, f"{name} features")
    pca = None if isinstance(block, str) else block.pca
    return t["pca"].format(label=label, pca=pca) if pca else label


def _join(parts: tuple[str, ...], lang: str) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return "; ".join(parts[:-1]) + _table(lang)["and"] + parts[-1]


def describe_surrogate(config: Any, lang: str = "en") -> SurrogateDescription:
    """Describe the surrogate a ``surrogate:`` section builds.

    Args:
        config: An ``EnsembleConfig``, ``GPConfig`` or ``FeatureEnsembleConfig`` (or its
            ``model_dump`` dict).
        lang: ``en`` or ``es``.

    Raises:
        ConfigError: Unsupported language or surrogate kind.
    """
    from pydantic import TypeAdapter

    from materials_ai.surrogates.config import SurrogateConfig

    t = _table(lang)
    if isinstance(config, dict):
        config = TypeAdapter(SurrogateConfig).validate_python(config)
    kind = getattr(config, "kind", "graph_ensemble")
    if kind == "gp":
        features = tuple(feature_label(b, lang) for b in config.feature_blocks())
        n = config.n_samples
        return SurrogateDescription(
            kind=kind,
            text=t["gp_text"].format(
                kernel="RBF" if config.kernel == "rbf" else "Matérn 5/2",
                features=_join(features, lang),
            ),
            features=features,
            samples=t["gp_samples"].format(n=n),
            mean=t["gp_mean"],
            spread=t["gp_spread_cal"] if config.calibrate_std else t["gp_spread"],
        )
    if kind == "feature_ensemble":
        features = tuple(feature_label(b, lang) for b in config.features)
        n = config.members
        return SurrogateDescription(
            kind=kind,
            text=t["fe_text"].format(n=n, features=_join(features, lang)),
            features=features,
            samples=t["fe_samples"].format(n=n),
            mean=t["fe_mean"],
            spread=t["fe_spread"].format(n=n),
        )
    if kind == "graph_ensemble":
        arch = config.model.kind
        inputs = (
            t["mol_inputs"]
            if arch == "mol_gnn"
            else t["graph_inputs"].format(
                cutoff=config.graph.cutoff_angstrom, neighbors=config.graph.max_neighbors
            )
        )
        n = config.n_members
        return SurrogateDescription(
            kind=kind,
            text=t["graph_text"].format(n=n, arch=t[f"arch_{arch}"], inputs=inputs),
            features=(inputs,),
            samples=t["graph_samples"].format(n=n),
            mean=t["graph_mean"],
            spread=t["graph_spread"].format(n=n),
        )
    raise ConfigError(f"surrogate kind {kind!r} has no description; add one in {__name__}")
