"""Paper tables and figures from the structured result records (docs/report.md).

* :mod:`sccl.report.metrics` - pure metric functions (accuracy matrix, two-task view,
  aggregation, memory);
* :mod:`sccl.report.runs` - records -> runs -> configurations -> (dataset, protocol) sections;
* :mod:`sccl.report.tables` - ``tables.md`` / ``tables.csv``;
* :mod:`sccl.report.figures` - the PNG figures;
* :func:`sccl.report.cli.main` / ``python -m sccl.report`` - all of it from a results folder.
"""
from sccl.report.cli import main, make_report

__all__ = ["main", "make_report"]
