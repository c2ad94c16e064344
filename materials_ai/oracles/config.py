"""Configs of the job oracles and of the fidelity chain (pydantic, unknown keys rejected).

A workflow's ``oracle:`` section can hold a :class:`FidelityChainConfig`::

    oracle:
      kind: chain
      job_dir: oracle_jobs          # inside the run directory
      launcher: executor            # through the campaign's Executor (or: processes)
      max_parallel: 2               # processes launcher only
      wait_timeout_s: 3600          # how long COLLECT may wait for pending validations
      poll_s: 2                     # seconds between checks while it waits
      stages:
        - oracle: {kind: chgnet, fmax_ev_per_a: 0.05, max_steps: 300}
          resources: {cores: 1, memory: 2GiB}
          batch_size: 25            # jobs per worker process (one model load)
        - oracle: {kind: gpaw, ecut_ev: 600, kpts: [4, 4, 4]}
          select_top: 5             # of the previous stage's candidates ...
          max_values: {e_above_hull: 0.1}   # ... that pass these filters,
          rank_by: null             # in submission (acquisition) order, or by a value
          resources: {cores: 1, memory: 4GiB, timeout_s: 3600}

A one-stage chain is a plain job oracle.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from materials_ai.oracles.slurm import SlurmJobsConfig

if TYPE_CHECKING:
    from materials_ai.compute import Executor
    from materials_ai.oracles.chain import OracleChain
    from materials_ai.oracles.tasks import Task


class ResourcesConfig(BaseModel):
    """What one worker process of a stage may use.

    Attributes:
        cores: Threads of the worker (OMP/BLAS/torch thread counts are set to it). On Dask
            with workers that declare a ``cores`` resource (``dask worker --resources
            cores=8``; for dask-jobqueue add ``["--resources", "cores=8"]`` to
            ``jobqueue.worker_extra_args``), a job holds that many.
        memory: Memory request (``"4GiB"``): used as a Dask ``memory`` resource when
            workers declare one; otherwise documentation for sizing ``jobqueue.memory``.
        timeout_s: Wall-clock limit of one job; a job that exceeds it fails with the
            reason. None: no limit.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    cores: int = Field(1, ge=1)
    memory: str = "2GiB"
    timeout_s: float | None = Field(None, gt=0)


class CHGNetOracleConfig(BaseModel):
    """CHGNet relaxation (see :class:`~materials_ai.oracles.mlp.CHGNetTask`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["chgnet"] = "chgnet"
    model: Literal["0.3.0", "0.2.0"] = "0.3.0"
    relax: bool = True
    optimizer: Literal["FIRE", "BFGS", "LBFGS", "BFGSLineSearch", "MDMin"] = "FIRE"
    fmax_ev_per_a: float = Field(0.1, gt=0)
    max_steps: int = Field(500, ge=1)
    relax_cell: bool = True
    hull: Literal["mp2018", "none"] = "mp2018"
    fail_unconverged: bool = False

    def task(self) -> Task:
        from materials_ai.oracles.mlp import CHGNetTask

        return CHGNetTask(
            model=self.model,
            relax=self.relax,
            optimizer=self.optimizer,
            fmax_ev_per_a=self.fmax_ev_per_a,
            max_steps=self.max_steps,
            relax_cell=self.relax_cell,
            hull=self.hull,
            fail_unconverged=self.fail_unconverged,
        )


class GPAWOracleConfig(BaseModel):
    """GPAW GLLB-SC gap + PBE energy (see :class:`~materials_ai.oracles.dft.GPAWTask`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["gpaw"] = "gpaw"
    ecut_ev: float = Field(600.0, gt=0)
    kpts: tuple[int, int, int] = (4, 4, 4)
    gamma: bool = True
    occupation_width_ev: float = Field(0.01, gt=0)
    maxiter: int = Field(333, ge=1)
    metal_gap_ev: float = Field(0.01, ge=0)
    pbe_energy: bool = True
    spinpol: bool = False
    generate_missing_setups: bool = True
    setup_cache: str | None = None

    def task(self) -> Task:
        from materials_ai.oracles.dft import GPAWTask

        return GPAWTask(
            ecut_ev=self.ecut_ev,
            kpts=self.kpts,
            gamma=self.gamma,
            occupation_width_ev=self.occupation_width_ev,
            maxiter=self.maxiter,
            metal_gap_ev=self.metal_gap_ev,
            pbe_energy=self.pbe_energy,
            spinpol=self.spinpol,
            generate_missing_setups=self.generate_missing_setups,
            setup_cache=self.setup_cache,
        )


class SleepOracleConfig(BaseModel):
    """A stand-in slow code for tests and benchmarks (``materials_ai.testing.sleep.SleepTask``).

    Attributes:
        seconds: Time each job takes (s).
        fail_ids: Reduced formulas whose jobs fail with a reason.
        crash_ids: Reduced formulas whose jobs kill their worker (SIGSEGV).
        fidelity: Fidelity label of its observations, so that a test chain of two sleep
            stages can stand for two fidelities.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["sleep"] = "sleep"
    seconds: float = Field(0.1, ge=0)
    fail_ids: tuple[str, ...] = ()
    crash_ids: tuple[str, ...] = ()
    fidelity: str = Field("test", pattern=r"^[A-Za-z0-9_.-]+$")

    def task(self) -> Task:
        from materials_ai.oracles.tasks import task_class

        sleep = task_class("sleep")  # by registry name: the task lives with the test harnesses
        return sleep(self.seconds, self.fail_ids, self.crash_ids)  # type: ignore[no-any-return]


class XTBOracleConfig(BaseModel):
    """GFN2-xTB frontier orbitals of a molecule (:class:`~materials_ai.molecules.oracles.XTBTask`).

    Values ``homo``, ``lumo``, ``gap`` in eV; fidelity ``xtb_gfn2``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["xtb"] = "xtb"
    method: Literal["GFN2-xTB", "GFN1-xTB"] = "GFN2-xTB"
    electronic_temperature_k: float = Field(300.0, gt=0)
    embed_seed: int = Field(0, ge=0)

    def task(self) -> Task:
        from materials_ai.oracles.tasks import task_class

        # By registry name: the molecular branch plugs into the oracles, which never import
        # it (``materials_ai.molecules.oracles.XTBTask``; checked by lint-imports).
        return task_class(self.kind)(  # type: ignore[no-any-return]
            method=self.method,
            electronic_temperature_k=self.electronic_temperature_k,
            embed_seed=self.embed_seed,
        )


class PySCFOracleConfig(BaseModel):
    """Kohn-Sham DFT frontier orbitals (:class:`~materials_ai.molecules.oracles.PySCFTask`).

    Default B3LYP/def2-SVP with density fitting; values ``homo``, ``lumo``, ``gap`` in eV;
    fidelity ``dft_b3lyp``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["pyscf"] = "pyscf"
    xc: str = "B3LYP"
    basis: str = "def2-SVP"
    density_fit: bool = True
    grid_level: int = Field(3, ge=0, le=9)
    max_cycle: int = Field(100, ge=1)
    conv_tol: float = Field(1e-8, gt=0)
    embed_seed: int = Field(0, ge=0)

    def task(self) -> Task:
        from materials_ai.oracles.tasks import task_class

        # By registry name, as for xtb (``materials_ai.molecules.oracles.PySCFTask``).
        return task_class(self.kind)(  # type: ignore[no-any-return]
            xc=self.xc,
            basis=self.basis,
            density_fit=self.density_fit,
            grid_level=self.grid_level,
            max_cycle=self.max_cycle,
            conv_tol=self.conv_tol,
            embed_seed=self.embed_seed,
        )


TaskConfig = Annotated[
    CHGNetOracleConfig | GPAWOracleConfig | SleepOracleConfig | XTBOracleConfig | PySCFOracleConfig,
    Field(discriminator="kind"),
]


class ChainStageConfig(BaseModel):
    """One fidelity of the chain.

    Attributes:
        oracle: What the stage computes.
        name: Oracle name (job-id prefix); default the oracle kind.
        select_top: Candidates passed on from the previous stage (None: all that pass the
            filters). Ignored for the first stage, which gets the campaign's batch.
        rank_by: Value of the previous stage to rank by before taking ``select_top``;
            None keeps the submission order (the acquisition ranking).
        descending: Rank by ``rank_by`` from high to low.
        max_values: Previous-stage values that must be at most these (e.g.
            ``{e_above_hull: 0.1}``); a candidate missing a value fails the filter.
        min_values: Values that must be at least these.
        use_output_structure: Run this stage on the previous stage's output structure
            (the relaxed cell) rather than the candidate's input.
        batch_size: Jobs per worker process.
        resources: Per-job cores, memory and time limit.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    oracle: TaskConfig
    name: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]+$")
    select_top: int | None = Field(None, ge=0)
    rank_by: str | None = None
    descending: bool = False
    max_values: dict[str, float] = Field(default_factory=dict)
    min_values: dict[str, float] = Field(default_factory=dict)
    use_output_structure: bool = True
    batch_size: int = Field(1, ge=1)
    resources: ResourcesConfig = ResourcesConfig()


class FidelityChainConfig(BaseModel):
    """A chain of oracles of rising fidelity (ML relax top N -> DFT on the top M of those).

    Attributes:
        kind: ``chain``.
        stages: The stages, cheapest first.
        job_dir: Job store folder, relative to the run directory (or absolute).
        launcher: ``executor``: jobs run through the campaign's Executor (Dask LocalCluster,
            SLURM/PBS via dask-jobqueue, or serial); ``processes``: up to ``max_parallel``
            worker processes started from this process.
            ``slurm``: each worker batch is a SLURM job (``sbatch``; see ``slurm``).
        max_parallel: Concurrent worker processes for the ``processes`` launcher.
        slurm: Partition, account, walltime... of the ``slurm`` launcher's jobs.
        detach: Workers survive the campaign process (finished results are collected on
            resume).
        max_attempts: Starts of a job whose workers keep dying before it is failed.
        stale_after_s: A worker on another host whose heartbeat is older is dead.
        wait_timeout_s: How long the campaign's COLLECT stage waits for pending
            validations before going on with what has finished (None: until all finish;
            0: never wait).
        poll_s: Seconds between checks of the job store while COLLECT waits.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["chain"] = "chain"
    stages: list[ChainStageConfig] = Field(min_length=1)
    job_dir: str = "oracle_jobs"
    launcher: Literal["executor", "processes", "slurm"] = "processes"
    max_parallel: int = Field(1, ge=1)
    slurm: SlurmJobsConfig = SlurmJobsConfig()
    detach: bool = True
    max_attempts: int = Field(3, ge=1)
    stale_after_s: float = Field(120.0, gt=0)
    wait_timeout_s: float | None = Field(None, ge=0)
    poll_s: float = Field(2.0, gt=0)

    @model_validator(mode="after")
    def _unique_names(self) -> FidelityChainConfig:
        names = [s.name or s.oracle.kind for s in self.stages]
        if len(set(names)) != len(names):
            raise ValueError(
                f"chain stage names must be unique (got {names}); set `name:` on repeated kinds"
            )
        return self

    def build(self, run_dir: str | Path = ".", *, executor: Executor | None = None) -> OracleChain:
        """Build the chain (see :func:`build_chain`)."""
        return build_chain(self, run_dir, executor=executor)


def build_chain(
    config: FidelityChainConfig,
    run_dir: str | Path = ".",
    *,
    executor: Executor | None = None,
) -> OracleChain:
    """Build an :class:`~materials_ai.oracles.chain.OracleChain` from its config.

    It lives here, not in :mod:`materials_ai.oracles.chain`, so that the chain never
    imports its config (the config imports the chain, lazily, to build it).

    Args:
        config: The chain config.
        run_dir: Base folder of a relative ``config.job_dir`` (the campaign run directory).
        executor: Needed for ``launcher: executor`` (the campaign's executor).

    Raises:
        OracleError: If ``launcher`` is ``executor`` and no executor is given.
    """
    from dask.utils import parse_bytes

    from materials_ai.errors import OracleError
    from materials_ai.oracles.chain import ChainStage, OracleChain
    from materials_ai.oracles.job_oracle import (
        ExecutorLauncher,
        JobOracle,
        Launcher,
        ProcessLauncher,
    )
    from materials_ai.oracles.jobs import JobStore

    root = Path(config.job_dir)
    if not root.is_absolute():
        root = Path(run_dir) / root
    launcher: Launcher
    if config.launcher == "executor":
        if executor is None:
            raise OracleError("oracle launcher 'executor' needs the campaign's executor")
        launcher = ExecutorLauncher(executor)
    elif config.launcher == "slurm":
        from materials_ai.oracles.slurm import SlurmLauncher

        launcher = SlurmLauncher(config.slurm, memory=config.stages[0].resources.memory)
    else:
        launcher = ProcessLauncher(config.max_parallel)
    stages = []
    for stage_config in config.stages:
        name = stage_config.name or stage_config.oracle.kind
        store = JobStore(
            root / name, stale_after_s=config.stale_after_s, max_attempts=config.max_attempts
        )
        oracle = JobOracle(
            stage_config.oracle.task(),
            store,
            name=name,
            launcher=launcher,
            fidelity=getattr(stage_config.oracle, "fidelity", None),
            batch_size=stage_config.batch_size,
            cores=stage_config.resources.cores,
            timeout_s=stage_config.resources.timeout_s,
            detach=config.detach,
            resources={
                "cores": float(stage_config.resources.cores),
                "memory": float(parse_bytes(stage_config.resources.memory)),
            },
        )
        stages.append(
            ChainStage(
                oracle=oracle,
                select_top=stage_config.select_top,
                rank_by=stage_config.rank_by,
                descending=stage_config.descending,
                max_values=dict(stage_config.max_values),
                min_values=dict(stage_config.min_values),
                use_output_structure=stage_config.use_output_structure,
            )
        )
    return OracleChain(stages, root)
