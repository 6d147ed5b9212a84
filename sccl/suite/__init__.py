"""Sweeps: run specs with stable ids, grids with dependencies, resumable execution on a local
process pool or SLURM (submitit). See docs/sweeps.md.

    from sccl.suite import GridOptions, build_grid, run_grid, LocalPool
    grid = build_grid(GridOptions(speakers=[0, 1], synthetic=True, pretrain_epochs=2))
    summary = run_grid(grid, "results/grid", LocalPool(jobs=2))
"""
from sccl.suite.executors import LocalPool, SubmititPool, threads_per_job
from sccl.suite.grids import GridOptions, build_grid
from sccl.suite.runner import Summary, run_grid
from sccl.suite.spec import Grid, RunSpec
from sccl.suite.state import GridLock, GridState

__all__ = ["Grid", "GridLock", "GridOptions", "GridState", "LocalPool", "RunSpec", "SubmititPool", "Summary",
           "build_grid", "run_grid", "threads_per_job"]
