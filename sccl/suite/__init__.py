"""Sweeps: run specs with stable ids, grids with dependencies, resumable execution on a local
process pool or SLURM (submitit). See docs/sweeps.md.

    from sccl.suite import GridOptions, build_grid, run_grid, LocalPool
    grid = build_grid(GridOptions(speakers=[0, 1], synthetic=True, pretrain_epochs=2))
    summary = run_grid(grid, "results/grid", LocalPool(jobs=2))

Nothing here imports torch: a driver starts fast, its runs import what they need.
"""
from importlib import import_module

_EXPORTS = {
    "Grid": "spec", "RunSpec": "spec", "GridOptions": "grids", "build_grid": "grids",
    "LocalPool": "executors", "SubmititPool": "executors", "threads_per_job": "executors",
    "Summary": "runner", "run_grid": "runner", "GridLock": "state", "GridState": "state",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(import_module(f"sccl.suite.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'sccl.suite' has no attribute {name!r}")
