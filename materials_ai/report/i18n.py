"""Strings of the documents people read (HTML report, lab README), in English and Spanish.

Every user-facing phrase of :mod:`materials_ai.report.html` and of the lab README
(:mod:`materials_ai.lab.export`) lives here, keyed by a short name, so that a language is
one dictionary and a missing translation is caught by a test (both dictionaries must have
the same keys). Numbers keep the decimal point in both languages, as the CSV and JSON files
do, so that a value reads the same in the report and in the spreadsheet.
"""

from __future__ import annotations

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
    "random_expectation": "random search would expect {value:.1f}",
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
        "predicted desirability (≥ 0 when every criterion is met). Predictions are ensemble "
        "mean ± standard deviation."
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
        "standard deviation of the ensemble."
    ),
    "calibration_intro": (
        "Left: share of observations inside the central interval of the predicted normal "
        "distribution against the interval's nominal probability (the diagonal is perfect "
        "calibration; below it the ensemble is over-confident). Right: histogram of the "
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
    "readme_body": """\
Bundle schema version {schema_version}, written {when} by materials-ai {version}.
Campaign iteration {iteration} ({status}); {oracle_calls} validations requested so far.

WHAT THIS FOLDER HOLDS
  candidates.csv        The {n} candidates proposed to the laboratory, best first
                        (one row each; open it with any spreadsheet program).
  candidates.json       The same table with its metadata (schema_version, campaign, units).
  schema.json           The meaning, type and unit of every column of candidates.csv and
                        of results_template.csv (machine readable).
  cifs/                 One crystal structure per candidate (CIF, symmetrised; the space
                        group is written in the file). File name: rank_id_formula.cif.
  report.html           The campaign report (opens offline in any web browser).
  results_template.csv  The file to fill in and send back with your measurements.
  README.txt            This file.

HOW THE CANDIDATES WERE CHOSEN
  A surrogate model (an ensemble of crystal graph neural networks trained on DFT data)
  predicts each property with an uncertainty (mean ± standard deviation). A candidate is
  "validated" when its value was computed (fidelity "replay" or "dft") or measured
  (fidelity "experiment"); otherwise the values are predictions. The objective is:
{criteria}

HOW TO SEND RESULTS BACK
  Fill in results_template.csv (keep the header line; one row per sample measured) and
  return it. Columns:
    id                      candidate id, exactly as in candidates.csv (required)
{measured_columns}    phase_pure              yes/no: the sample is a single phase (XRD)
    synthesized             yes/no: the synthesis produced the intended compound
    notes                   free text (method, instrument, conditions)
  Leave a cell empty when you did not measure that quantity. The unit is part of each
  column name; do not convert values to other units, and do not rename columns. Rows with
  synthesized = no are recorded as failed syntheses; values of samples that are not phase
  pure are recorded but not used to train the model. Each row is checked (unknown id,
  text in a numeric column, value out of range, repeated id): the rows with problems are
  listed with their row number and reason, and the other rows are kept.
""",
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
    "random_expectation": "una búsqueda aleatoria encontraría {value:.1f} en promedio",
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
        "predicciones son la media del conjunto de modelos ± su desviación estándar."
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
        "muestra). Las barras indican ±1 desviación estándar del conjunto de modelos."
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
    "readme_body": """\
Versión del esquema del paquete: {schema_version}; generado el {when} por materials-ai {version}.
Iteración {iteration} de la campaña ({status}); {oracle_calls} validaciones solicitadas hasta ahora.

CONTENIDO DE ESTA CARPETA
  candidates.csv        Los {n} candidatos propuestos al laboratorio, del mejor al peor
                        (una fila por candidato; se abre con cualquier hoja de cálculo).
  candidates.json       La misma tabla con sus metadatos (schema_version, campaña, unidades).
  schema.json           Significado, tipo y unidad de cada columna de candidates.csv y de
                        results_template.csv (legible por máquina).
  cifs/                 Una estructura cristalina por candidato (CIF simetrizado; el grupo
                        espacial figura en el fichero). Nombre: puesto_id_fórmula.cif.
  report.html           El informe de la campaña (se abre sin conexión en cualquier navegador).
  results_template.csv  La plantilla que deben rellenar y devolver con sus medidas.
  README.txt            Este fichero.

CÓMO SE ELIGIERON LOS CANDIDATOS
  Un modelo sustituto (un conjunto de redes neuronales de grafos cristalinos entrenadas con
  datos DFT) predice cada propiedad con su incertidumbre (media ± desviación estándar). Un
  candidato está «validado» cuando su valor se ha calculado (fidelidad «replay» o «dft») o
  medido (fidelidad «experiment»); en los demás casos los valores son predicciones. El
  objetivo es:
{criteria}

CÓMO DEVOLVER LOS RESULTADOS
  Rellenen results_template.csv (conserven la línea de cabecera; una fila por muestra
  medida) y devuélvanlo. Columnas:
    id                      id del candidato, exactamente como en candidates.csv (obligatorio)
{measured_columns}    phase_pure              yes/no (sí/no): la muestra es monofásica (DRX)
    synthesized             yes/no (sí/no): la síntesis produjo el compuesto buscado
    notes                   texto libre (método, instrumento, condiciones)
  Dejen la celda vacía si no midieron esa magnitud. La unidad forma parte del nombre de
  cada columna: no conviertan los valores a otras unidades ni cambien el nombre de las
  columnas. Las filas con synthesized = no se registran como síntesis fallidas; los valores
  de muestras que no son monofásicas se registran, pero no se usan para entrenar el modelo.
  Se comprueba cada fila (id desconocido, texto en una columna numérica, valor fuera de
  rango, id repetido): las filas con problemas se listan con su número de fila y el motivo,
  y el resto de filas se conserva.
""",
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
