"""Strings and numbers of the documents people read (HTML report, lab README), in English
and Spanish.

Every user-facing phrase of :mod:`materials_ai.report.html` and of the lab README
(:mod:`materials_ai.lab.readme`, whose body is a template per language in
``templates/``) lives here, keyed by a short name, so that a language is one dictionary and
a missing translation is caught by a test (both dictionaries must have the same keys).
Numbers in the documents are formatted per language with Babel (:func:`format_number`:
``1,234.5`` in English, ``1.234,5`` in Spanish); the CSV and JSON files keep the decimal
point, as software expects.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from materials_ai.errors import ConfigError

#: Languages the documents are written in.
LANGUAGES = ("en", "es")

EN: dict[str, str] = {
    # report: page and sections
    "report_title": "Discovery campaign report: {name}",
    "generated": "Generated {when} by materials-ai {version} from {run_dir}.",
    "toc": "Contents",
    "sec_summary": "Campaign summary",
    "sec_candidates": "Ranked candidates",
    "sec_structures": "Structures of the top candidates",
    "sec_parity": "Surrogate accuracy: predicted vs observed",
    "sec_calibration": "Surrogate calibration",
    "sec_discovery": "Discovery curve",
    "sec_acquisition": "Acquisition history",
    "sec_pareto": "Pareto front",
    "sec_lab": "Laboratory results",
    # summary
    "campaign": "Campaign",
    "description": "Description",
    "dataset": "Dataset (candidate pool)",
    "pool_size": "Candidates in the pool",
    "objective": "Objective (every criterion must hold)",
    "targets": "Targets learned by the surrogate",
    "surrogate": "Surrogate model",
    "budget": "Budget",
    "budget_text": "{initial} random seed labels, then {iterations} rounds of {batch}",
    "budget_cap": "at most {cap} oracle calls",
    "strategy": "Acquisition",
    "status": "Status",
    "status_done": "finished",
    "status_running": "in progress (iteration {iteration})",
    "oracle_calls": "Oracle calls (validations requested)",
    "targets_found": "Materials found that meet every criterion",
    "targets_found_of": "{found} of {total} in the pool",
    "random_expectation": "random search would expect {value}",
    "ranked_from": "Ranked list",
    "observations_by_fidelity": "Observations by fidelity",
    "none": "none",
    # criteria
    "criterion_window": "{lo} ≤ {target} ≤ {hi} {unit}",
    "criterion_min": "{target} ≥ {lo} {unit}",
    "criterion_max": "{target} ≤ {hi} {unit}",
    # candidates
    "candidates_intro": (
        "The {n} best candidates of the latest ranked list. Validated candidates are ranked "
        "by their validated (computed or measured) values, the others by the surrogate's "
        "predicted desirability (≥ 0 when every criterion is met). Predictions are the "
        "{mean} ± the {spread}; P(all criteria) is the share of the {samples} that meet "
        "every criterion."
    ),
    "cells_legend": (
        "Property columns: predicted mean ± std (grey) and, below in bold, the validated value."
    ),
    "col_rank": "Rank",
    "col_id": "Id",
    "col_formula": "Formula",
    "col_status": "Status",
    "col_score": "Score",
    "col_p_all": "P(all criteria)",
    "col_fidelity": "Fidelity",
    "col_hull": "Hull distance ({unit})",
    "col_sustainability": "Sustainability score",
    "status_validated": "validated",
    "status_selected": "selected",
    "status_candidate": "candidate",
    "meets_all": "meets all criteria",
    # structures
    "structures_intro": (
        "Symmetry detected with spglib (symprec 0.1 Å). The prototype is a guess from the "
        "stoichiometry and the space group."
    ),
    "col_prototype": "Prototype (guess)",
    "col_spacegroup": "Space group",
    "col_system": "Crystal system",
    "col_lattice": "a, b, c (Å)",
    "col_angles": "α, β, γ (°)",
    "col_volume": "Volume per atom (Å³)",
    "col_sites": "Sites",
    "structures_missing": "No structures are available for these candidates.",
    # parity / calibration
    "parity_intro": (
        "Each point is a candidate chosen by the acquisition function: its prediction was made "
        "before its value was known, so these are honest out-of-sample errors. Bars are ±1 "
        "{spread}."
    ),
    "calibration_intro": (
        "Left: share of observations inside the central interval of the predicted normal "
        "distribution against the interval's nominal probability (the diagonal is perfect "
        "calibration; below it the surrogate is over-confident). Right: histogram of the "
        "standardised errors z = (observed − predicted) / std with the standard normal density."
    ),
    "no_parity": (
        "No out-of-sample predictions yet: they are recorded for the picks of each selection "
        "round once their validation has returned."
    ),
    "col_target": "Target",
    "col_n": "n",
    "col_mae": "MAE",
    "col_rmse": "RMSE",
    "col_r2": "R²",
    "col_cov68": "Coverage of the 68 % interval",
    "col_cov95": "Coverage of the 95 % interval",
    "col_zstd": "std of z",
    "axis_predicted": "predicted {target} ({unit})",
    "axis_observed": "observed {target} ({unit})",
    "axis_nominal": "nominal probability of the central interval",
    "axis_coverage": "observed share inside the interval",
    "axis_z": "z = (observed − predicted) / std",
    "axis_density": "density",
    "legend_normal": "standard normal",
    "legend_ideal": "ideal",
    # discovery
    "discovery_intro": (
        "Materials that meet every criterion, found as validations are spent. The dashed line "
        "is what random search would find on average: K · calls / N, with K = {k} such "
        "materials among N = {n} candidates."
    ),
    "discovery_intro_nok": "Materials that meet every criterion, found as validations are spent.",
    "axis_calls": "oracle calls",
    "axis_found": "materials meeting every criterion",
    "legend_campaign": "this campaign",
    "legend_random": "random search (expected)",
    "no_metrics": "No iteration has been recorded yet.",
    # acquisition
    "acquisition_intro": (
        "Acquisition value of each pick, per selection round (strategy {strategy}); the line "
        "is the round's median. Falling values mean the surrogate sees fewer promising, "
        "uncertain candidates left."
    ),
    "axis_iteration": "selection round",
    "axis_acquisition": "acquisition value",
    "legend_median": "median",
    "no_acquisition": "No selection round with acquisition values yet.",
    # pareto
    "pareto_intro": (
        "Validated candidates in the plane of two criteria; the shaded band is each "
        "criterion's window. Highlighted: the non-dominated set over all {c} criteria (no "
        "other validated candidate is at least as good on every criterion's margin and "
        "better on one)."
    ),
    "legend_validated": "validated",
    "legend_pareto": "non-dominated (Pareto front)",
    "legend_meets_all": "meets every criterion",
    "no_pareto": "No validated candidate has values for both targets yet.",
    "col_pareto_margins": "Margins per criterion",
    # lab results
    "lab_intro": "Observations of fidelity “experiment” ingested from laboratory result files.",
    "col_file": "File",
    "col_row": "Row",
    "col_values": "Measured values",
    "col_phase_pure": "Phase pure",
    "col_synthesized": "Synthesized",
    "col_notes": "Notes",
    "col_ok": "Used for training",
    "yes": "yes",
    "no": "no",
    "unknown": "—",
    "footer": (
        "Self-contained file: plots are embedded, nothing is fetched from the network. "
        "Values are in the units given in each column header."
    ),
    # lab README (bundle)
    "readme_title": "Candidate materials from the discovery campaign “{name}”",
    "readme_measured_column": "    {column}{description}\n",
    "readme_criteria_line": "    - {text}\n",
    "status_validated_readme": "validated",
}

ES: dict[str, str] = {
    # report: page and sections
    "report_title": "Informe de la campaña de descubrimiento: {name}",
    "generated": "Generado el {when} por materials-ai {version} a partir de {run_dir}.",
    "toc": "Índice",
    "sec_summary": "Resumen de la campaña",
    "sec_candidates": "Candidatos ordenados",
    "sec_structures": "Estructuras de los mejores candidatos",
    "sec_parity": "Precisión del modelo sustituto: predicho frente a observado",
    "sec_calibration": "Calibración del modelo sustituto",
    "sec_discovery": "Curva de descubrimiento",
    "sec_acquisition": "Historial de adquisición",
    "sec_pareto": "Frente de Pareto",
    "sec_lab": "Resultados de laboratorio",
    # summary
    "campaign": "Campaña",
    "description": "Descripción",
    "dataset": "Conjunto de datos (banco de candidatos)",
    "pool_size": "Candidatos en el banco",
    "objective": "Objetivo (deben cumplirse todos los criterios)",
    "targets": "Propiedades que aprende el modelo sustituto",
    "surrogate": "Modelo sustituto",
    "budget": "Presupuesto",
    "budget_text": (
        "{initial} etiquetas iniciales aleatorias y después {iterations} rondas de {batch}"
    ),
    "budget_cap": "como máximo {cap} llamadas al oráculo",
    "strategy": "Adquisición",
    "status": "Estado",
    "status_done": "terminada",
    "status_running": "en curso (iteración {iteration})",
    "oracle_calls": "Llamadas al oráculo (validaciones solicitadas)",
    "targets_found": "Materiales encontrados que cumplen todos los criterios",
    "targets_found_of": "{found} de {total} en el banco",
    "random_expectation": "una búsqueda aleatoria encontraría {value} en promedio",
    "ranked_from": "Lista ordenada",
    "observations_by_fidelity": "Observaciones por fidelidad",
    "none": "ninguna",
    # criteria
    "criterion_window": "{lo} ≤ {target} ≤ {hi} {unit}",
    "criterion_min": "{target} ≥ {lo} {unit}",
    "criterion_max": "{target} ≤ {hi} {unit}",
    # candidates
    "candidates_intro": (
        "Los {n} mejores candidatos de la última lista ordenada. Los candidatos validados se "
        "ordenan por sus valores medidos o calculados; los demás, por la deseabilidad que "
        "predice el modelo sustituto (≥ 0 cuando se cumplen todos los criterios). Las "
        "predicciones son la {mean} ± la {spread}; P(todos los criterios) es la fracción de "
        "{samples} que cumplen todos los criterios."
    ),
    "cells_legend": (
        "Columnas de propiedades: media predicha ± desviación estándar (en gris) y, debajo "
        "en negrita, el valor validado."
    ),
    "col_rank": "Puesto",
    "col_id": "Id",
    "col_formula": "Fórmula",
    "col_status": "Estado",
    "col_score": "Puntuación",
    "col_p_all": "P(todos los criterios)",
    "col_fidelity": "Fidelidad",
    "col_hull": "Distancia a la envolvente convexa ({unit})",
    "col_sustainability": "Índice de sostenibilidad",
    "status_validated": "validado",
    "status_selected": "seleccionado",
    "status_candidate": "candidato",
    "meets_all": "cumple todos los criterios",
    # structures
    "structures_intro": (
        "Simetría determinada con spglib (symprec 0.1 Å). El prototipo es una estimación a "
        "partir de la estequiometría y del grupo espacial."
    ),
    "col_prototype": "Prototipo (estimado)",
    "col_spacegroup": "Grupo espacial",
    "col_system": "Sistema cristalino",
    "col_lattice": "a, b, c (Å)",
    "col_angles": "α, β, γ (°)",
    "col_volume": "Volumen por átomo (Å³)",
    "col_sites": "Posiciones",
    "structures_missing": "No hay estructuras disponibles para estos candidatos.",
    # parity / calibration
    "parity_intro": (
        "Cada punto es un candidato elegido por la función de adquisición: su predicción se "
        "hizo antes de conocer su valor, por lo que estos errores son honestos (fuera de "
        "muestra). Las barras indican ±1 {spread}."
    ),
    "calibration_intro": (
        "Izquierda: fracción de observaciones dentro del intervalo central de la distribución "
        "normal predicha frente a la probabilidad nominal del intervalo (la diagonal es una "
        "calibración perfecta; por debajo de ella el modelo es demasiado confiado). Derecha: "
        "histograma de los errores tipificados z = (observado − predicho) / desviación "
        "estándar, con la densidad normal estándar."
    ),
    "no_parity": (
        "Aún no hay predicciones fuera de muestra: se registran para los candidatos de cada "
        "ronda de selección cuando vuelve su validación."
    ),
    "col_target": "Propiedad",
    "col_n": "n",
    "col_mae": "MAE",
    "col_rmse": "RMSE",
    "col_r2": "R²",
    "col_cov68": "Cobertura del intervalo del 68 %",
    "col_cov95": "Cobertura del intervalo del 95 %",
    "col_zstd": "desv. est. de z",
    "axis_predicted": "{target}, valor predicho ({unit})",
    "axis_observed": "{target}, valor observado ({unit})",
    "axis_nominal": "probabilidad nominal del intervalo central",
    "axis_coverage": "fracción observada dentro del intervalo",
    "axis_z": "z = (observado − predicho) / desv. est.",
    "axis_density": "densidad",
    "legend_normal": "normal estándar",
    "legend_ideal": "ideal",
    # discovery
    "discovery_intro": (
        "Materiales que cumplen todos los criterios, encontrados a medida que se gastan "
        "validaciones. La línea discontinua es lo que encontraría en promedio una búsqueda "
        "aleatoria: K · llamadas / N, con K = {k} de esos materiales entre N = {n} candidatos."
    ),
    "discovery_intro_nok": (
        "Materiales que cumplen todos los criterios, encontrados a medida que se gastan "
        "validaciones."
    ),
    "axis_calls": "llamadas al oráculo",
    "axis_found": "materiales que cumplen todos los criterios",
    "legend_campaign": "esta campaña",
    "legend_random": "búsqueda aleatoria (esperado)",
    "no_metrics": "Aún no se ha registrado ninguna iteración.",
    # acquisition
    "acquisition_intro": (
        "Valor de adquisición de cada candidato elegido, por ronda de selección (estrategia "
        "{strategy}); la línea es la mediana de la ronda. Si los valores bajan, el modelo ve "
        "cada vez menos candidatos prometedores e inciertos."
    ),
    "axis_iteration": "ronda de selección",
    "axis_acquisition": "valor de adquisición",
    "legend_median": "mediana",
    "no_acquisition": "Aún no hay rondas de selección con valores de adquisición.",
    # pareto
    "pareto_intro": (
        "Candidatos validados en el plano de dos criterios; la banda sombreada es la ventana "
        "de cada criterio. Resaltado: el conjunto no dominado respecto a los {c} criterios "
        "(ningún otro candidato validado es igual o mejor en el margen de todos los criterios "
        "y mejor en alguno)."
    ),
    "legend_validated": "validados",
    "legend_pareto": "no dominados (frente de Pareto)",
    "legend_meets_all": "cumple todos los criterios",
    "no_pareto": "Aún no hay candidatos validados con valores de ambas propiedades.",
    "col_pareto_margins": "Márgenes por criterio",
    # lab results
    "lab_intro": (
        "Observaciones de fidelidad «experiment» (experimental) incorporadas a partir de "
        "ficheros de resultados de laboratorio."
    ),
    "col_file": "Fichero",
    "col_row": "Fila",
    "col_values": "Valores medidos",
    "col_phase_pure": "Fase pura",
    "col_synthesized": "Sintetizado",
    "col_notes": "Notas",
    "col_ok": "Usado en el entrenamiento",
    "yes": "sí",
    "no": "no",
    "unknown": "—",
    "footer": (
        "Fichero autónomo: los gráficos van incrustados y no se descarga nada de la red. "
        "Los valores están en las unidades indicadas en la cabecera de cada columna."
    ),
    # lab README (bundle)
    "readme_title": "Materiales candidatos de la campaña de descubrimiento «{name}»",
    "readme_measured_column": "    {column}{description}\n",
    "readme_criteria_line": "    - {text}\n",
    "status_validated_readme": "validado",
}

#: Descriptions of the measured quantities that results files may carry, per language.
MEASURED_DESCRIPTIONS: dict[str, dict[str, str]] = {
    "en": {
        "band_gap": "optical band gap, eV (e.g. Tauc plot of UV-vis absorption)",
        "heat_of_formation": "heat of formation, eV/atom (calorimetry)",
        "formation_energy": "formation energy, eV/atom (calorimetry)",
        "vbm": "valence-band maximum below vacuum, eV (e.g. UPS)",
        "cbm": "conduction-band minimum below vacuum, eV",
    },
    "es": {
        "band_gap": "banda prohibida óptica, eV (p. ej., gráfica de Tauc de la absorción UV-vis)",
        "heat_of_formation": "entalpía de formación, eV/átomo (calorimetría)",
        "formation_energy": "energía de formación, eV/átomo (calorimetría)",
        "vbm": "máximo de la banda de valencia bajo el vacío, eV (p. ej., UPS)",
        "cbm": "mínimo de la banda de conducción bajo el vacío, eV",
    },
}

#: Human names of the common targets, per language (others are shown by their key).
TARGET_NAMES: dict[str, dict[str, str]] = {
    "en": {
        "band_gap": "band gap",
        "heat_of_formation": "heat of formation",
        "formation_energy": "formation energy",
        "vbm": "VBM depth",
        "cbm": "CBM depth",
    },
    "es": {
        "band_gap": "banda prohibida",
        "heat_of_formation": "entalpía de formación",
        "formation_energy": "energía de formación",
        "vbm": "profundidad del MBV",
        "cbm": "profundidad del MBC",
    },
}

#: Crystal systems as spglib/pymatgen name them, in Spanish.
CRYSTAL_SYSTEMS_ES = {
    "triclinic": "triclínico",
    "monoclinic": "monoclínico",
    "orthorhombic": "ortorrómbico",
    "tetragonal": "tetragonal",
    "trigonal": "trigonal",
    "hexagonal": "hexagonal",
    "cubic": "cúbico",
}

_TABLES = {"en": EN, "es": ES}


def check_language(lang: str) -> str:
    """Return ``lang`` if supported.

    Raises:
        ConfigError: Naming the supported languages.
    """
    if lang not in _TABLES:
        raise ConfigError(f"unsupported language {lang!r}; choose one of {list(LANGUAGES)}")
    return lang


def translator(lang: str) -> Callable[..., str]:
    """Return ``t(key, **fields)`` that formats the string ``key`` in ``lang``.

    Raises:
        ConfigError: If ``lang`` is not supported.
    """
    table = _TABLES[check_language(lang)]

    def t(key: str, **fields: Any) -> str:
        text = table[key]
        return text.format(**fields) if fields else text

    return t


def target_label(target: str, lang: str) -> str:
    """Human name of a target in ``lang`` (the key itself when unknown)."""
    return TARGET_NAMES[check_language(lang)].get(target, target)


def crystal_system_label(system: str, lang: str) -> str:
    """A crystal system's name in ``lang``."""
    if check_language(lang) == "es":
        return CRYSTAL_SYSTEMS_ES.get(system, system)
    return system


#: Separator between numbers of a list (a comma would be ambiguous next to a decimal comma).
LIST_SEPARATORS = {"en": ", ", "es": "; "}


def format_number(value: Any, lang: str, digits: int = 3, *, min_digits: int | None = None) -> str:
    """``value`` as ``lang`` writes numbers (grouping and decimal marks, CLDR via Babel).

    Args:
        value: A number (or something ``float`` accepts); other values and non-finite
            numbers give ``—``.
        lang: ``en`` or ``es``.
        digits: Decimal places shown.
        min_digits: Fewer decimal places allowed down to this (trailing zeros dropped);
            None: exactly ``digits``.

    Example: ``format_number(1234.5, "en", 1)`` is ``1,234.5``; ``"es"`` gives ``1.234,5``.
    """
    from babel.numbers import format_decimal

    try:
        x = float(value)
    except (TypeError, ValueError):
        return "—"
    if not math.isfinite(x):
        return "—"
    keep = digits if min_digits is None else min_digits
    pattern = "#,##0" + ("." + "0" * keep + "#" * (digits - keep) if digits else "")
    return str(format_decimal(x, format=pattern, locale=check_language(lang)))


def format_integer(value: Any, lang: str) -> str:
    """An integer count as ``lang`` writes it (``18,928`` / ``18.928``); ``—`` for None."""
    return "—" if value is None else format_number(int(value), lang, 0)


def format_numbers(values: Any, lang: str, digits: int = 3) -> str:
    """Several numbers, joined with ``lang``'s list separator."""
    return LIST_SEPARATORS[check_language(lang)].join(
        format_number(v, lang, digits) for v in values
    )
