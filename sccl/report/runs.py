"""From flat epoch records to runs and configurations.

A *run* is every record with one ``run_id`` (one speaker / class / seed of one configuration);
a *configuration* (:class:`Group`) is every run that differs only in the held-out speaker /
class and the seed, within one dataset and protocol. Results are averaged over the runs of a
configuration. Records only need the fields of the schema in docs/report.md; nothing here
cares which script wrote them.
"""
from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property

from sccl import registry
from sccl.report import metrics as M

EXPERIMENTS = tuple(registry.EXPERIMENTS)
# report order and labels of the strategies, by the script label records carry (sccl.registry)
SCRIPT_ORDER = tuple(dict.fromkeys(s.script for s in registry.STRATEGIES.values()))
SCRIPT_LABEL = {s.script: s.label for s in reversed(registry.STRATEGIES.values())}
HELD_OUT = {"sample": "speaker", "class": "class"}
# header fields that identify a configuration (besides the config dict, when present)
KEY_FIELDS = ("experiment", "script", "depth", "memory_batches", "n_frames", "ratio", "pooling",
              "protocol", "dataset", "nb_epochs", "lr")
DATASET_LABEL = {"shd": "SHD", "synthetic": "synthetic SHD"}


def dataset_label(dataset: str | None) -> str:
    return DATASET_LABEL.get(dataset or "", f"dataset '{dataset}'")


def ratio_value(ratio: str | None) -> float:
    """'1:10' -> 10.0 (1.0 for None / '1:1')."""
    try:
        return float(str(ratio).split(":")[1])
    except (IndexError, ValueError):
        return 1.0


def _num(x) -> float | None:
    if x is None:
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


@dataclass
class Run:
    """One run: its records sorted by (step, epoch)."""

    run_id: str
    records: list[dict]

    @property
    def head(self) -> dict:
        return self.records[0]

    @property
    def experiment(self) -> str:
        return self.head.get("experiment", "?")

    @property
    def held_out(self):
        key = HELD_OUT.get(self.experiment)
        if key and key in self.head:
            return self.head[key]
        return (self.head.get("config") or {}).get("held_out")

    def curve(self, fld: str) -> dict[int, float]:
        """``{epoch: value}`` (sample / class runs)."""
        return {int(r["epoch"]): float(r[fld]) for r in self.records if _num(r.get(fld)) is not None}

    @property
    def first(self) -> dict:
        return min(self.records, key=lambda r: r.get("epoch", 0))

    @property
    def last(self) -> dict:
        return max(self.records, key=lambda r: r.get("epoch", 0))

    # progressive ------------------------------------------------------------------
    @cached_property
    def steps(self) -> dict[int, dict]:
        """``{step: last record of that step}`` (progressive runs)."""
        out: dict[int, dict] = {}
        for r in self.records:
            s = int(r.get("step", 0) or 0)
            if s not in out or r.get("epoch", 0) >= out[s].get("epoch", 0):
                out[s] = r
        return out

    @cached_property
    def progressive(self) -> dict:
        return M.progressive_summary(self.steps)

    def memory_bytes(self, final: bool = False) -> float | None:
        r = self.records[-1] if final else self.head
        return _num(r.get("memory_bytes"))

    def memory_samples(self, final: bool = False) -> float | None:
        r = self.records[-1] if final else self.head
        return _num(r.get("memory_samples"))


def _sort_records(recs: list[dict]) -> list[dict]:
    return sorted(recs, key=lambda r: (int(r.get("step", 0) or 0), int(r.get("epoch", 0) or 0)))


def group_runs(records: list[dict]) -> tuple[list[Run], list[str]]:
    """Records -> runs (by ``run_id``). A (step, epoch) seen twice for one run id (the same run
    found in two folders) keeps its first record; the notes say so."""
    by_id: dict[str, list[dict]] = defaultdict(list)
    seen: dict[str, set] = defaultdict(set)
    dup: dict[str, int] = defaultdict(int)
    for r in records:
        rid = str(r.get("run_id", "?"))
        k = (r.get("step"), r.get("epoch"))
        if k in seen[rid]:
            dup[rid] += 1
            continue
        seen[rid].add(k)
        by_id[rid].append(r)
    notes = [f"run {rid}: {n} duplicate records ignored (the same run found twice?)" for rid, n in sorted(dup.items())]
    return [Run(rid, _sort_records(rs)) for rid, rs in sorted(by_id.items())], notes


def config_key(head: dict) -> str:
    """Everything that defines the configuration: the header fields plus the run's config dict
    without the held-out speaker / class, the seed and the pretraining's hash (one per held-out
    speaker / class; the dataset fingerprint stays)."""
    d = {k: head.get(k) for k in KEY_FIELDS}
    cfg = dict(head.get("config") or {})
    for k in ("held_out", "seed", "pretraining"):
        cfg.pop(k, None)
    d["config"] = cfg
    return json.dumps(d, sort_keys=True, default=str)


@dataclass
class Group:
    """One configuration and its runs (speakers / classes / seeds)."""

    key: str
    runs: list[Run] = field(default_factory=list)

    @property
    def head(self) -> dict:
        return self.runs[0].head

    def get(self, name: str, default=None):
        return self.head.get(name, default)

    @property
    def experiment(self) -> str:
        return self.get("experiment", "?")

    @property
    def script(self) -> str:
        return self.get("script", "?")

    @property
    def depth(self):
        return self.get("depth")

    @property
    def ratio(self) -> str:
        return self.get("ratio") or "1:1"

    @property
    def compressed(self) -> bool:
        return ratio_value(self.ratio) > 1

    @property
    def strategy_record(self):
        """The run's :class:`sccl.registry.Strategy` (None: a label this version does not know)."""
        return registry.find(self.script, self.get("pooling"))

    @property
    def replays(self) -> bool:
        st = self.strategy_record
        return st.replays if st is not None else self.script != "naive"

    @property
    def is_lr(self) -> bool:
        st = self.strategy_record
        return st is not None and st.stores == "latent"

    @property
    def pooling(self) -> str | None:
        """The pooling actually used by the memory (the memory record knows; '-' when irrelevant)."""
        mem = self.get("memory") or {}
        if mem.get("pooling"):
            return mem["pooling"] if (self.compressed or mem.get("kind") == "raw") else "-"
        return self.get("pooling") if self.compressed else "-"

    @property
    def n(self) -> int:
        return len(self.runs)

    @property
    def net(self) -> dict:
        return (self.get("config") or {}).get("net") or {}

    @property
    def nb_steps(self) -> int:
        return int(self.net.get("nb_steps") or (self.get("memory") or {}).get("nb_steps") or 100)

    @property
    def nb_inputs(self) -> int:
        return int(self.net.get("nb_inputs") or 700)

    def memory_bytes(self, final: bool = False) -> float | None:
        return M.mean_std(r.memory_bytes(final) for r in self.runs).mean

    def memory_samples(self, final: bool = False) -> float | None:
        return M.mean_std(r.memory_samples(final) for r in self.runs).mean

    def memory_kb(self, final: bool = False) -> float | None:
        return M.kb(self.memory_bytes(final))

    def raw_ratio(self, final: bool = False) -> float | None:
        return M.raw_ratio(self.memory_bytes(final), self.memory_samples(final), self.nb_steps, self.nb_inputs)

    # sample / class ---------------------------------------------------------------
    def curve(self, fld: str = "total_acc") -> dict[int, M.Stat]:
        return M.mean_curve([r.curve(fld) for r in self.runs])

    def final(self, fld: str = "total_acc") -> M.Stat:
        return M.mean_std(_num(r.last.get(fld)) for r in self.runs)

    def initial(self, fld: str = "total_acc") -> M.Stat:
        return M.mean_std(_num(r.first.get(fld)) for r in self.runs)

    def best(self, fld: str = "total_acc") -> tuple[float | None, int | None]:
        return M.best_and_final(self.curve(fld), [])[1]

    def two_task(self, name: str) -> M.Stat:
        """Stat over runs of a :func:`metrics.two_task_summary` entry (old_drop, new_gain, ...)."""
        vals = []
        for r in self.runs:
            try:
                vals.append(M.two_task_summary(r.first, r.last)[name])
            except (KeyError, TypeError, ValueError):
                continue
        return M.mean_std(vals)

    # progressive ------------------------------------------------------------------
    def prog(self, name: str) -> M.Stat:
        return M.mean_std(r.progressive.get(name) for r in self.runs)

    def step_stat(self, step: int, fld: str) -> M.Stat:
        return M.mean_std(_num(r.steps[step].get(fld)) for r in self.runs if step in r.steps)

    @property
    def step_numbers(self) -> list[int]:
        return sorted({s for r in self.runs for s in r.steps})

    def step_word(self, step: int) -> str | None:
        for r in self.runs:
            rec = r.steps.get(step)
            if rec and rec.get("class_word"):
                return str(rec["class_word"])
        return None

    def step_class(self, step: int):
        for r in self.runs:
            rec = r.steps.get(step)
            if rec and rec.get("step_class") is not None:
                return rec["step_class"]
        return None

    def matrix_metrics(self) -> dict[str, M.Stat]:
        """Average accuracy, forgetting and BWT of the full per-task matrix (runs whose records
        carry per-class counts only; empty Stats otherwise)."""
        acc_v, fgt_v, bwt_v = [], [], []
        for r in self.runs:
            m = M.progressive_matrix(r.steps)
            if m is None:
                continue
            acc, _w = m
            acc_v.append(M.average_accuracy(acc))
            fgt_v.append(M.forgetting(acc))
            bwt_v.append(M.backward_transfer(acc))
        return {"acc": M.mean_std(acc_v), "forgetting": M.mean_std(fgt_v), "bwt": M.mean_std(bwt_v)}

    # labels -----------------------------------------------------------------------
    def sort_key(self):
        s = self.script
        return (SCRIPT_ORDER.index(s) if s in SCRIPT_ORDER else 99, s,
                -1 if self.depth is None else self.depth, self.memory_samples() or 0,
                ratio_value(self.ratio), str(self.pooling), self.get("nb_epochs") or 0, self.get("lr") or 0,
                self.key)

    @property
    def strategy(self) -> str:
        st = self.strategy_record
        if st is not None and st.uncompressed_label and not self.compressed:
            return st.uncompressed_label  # a compressing strategy run without compression
        return SCRIPT_LABEL.get(self.script, self.script)

    def describe(self, *, with_epochs: bool = True) -> str:
        """e.g. 'Compressed LR, depth 1, 10 batches = 640 samples, 1:10 (or), 50 epochs, lr 0.001'."""
        parts = [self.strategy]
        if self.depth is not None:
            parts.append(f"depth {self.depth}")
        mb = self.get("memory_batches") or 0
        replays = self.replays
        if replays:
            parts.append(self.memory_label(mb))
        if replays:
            pool = self.pooling
            parts.append(self.ratio + (f" ({pool})" if pool not in (None, "-") else ""))
        if with_epochs:
            ne = self.get("nb_epochs")
            parts.append(f"{ne} epoch{'' if ne == 1 else 's'}" + (" per class" if self.experiment == "progressive" else ""))
        if self.get("lr") is not None:
            parts.append(f"lr {self.get('lr'):g}")
        return ", ".join(parts)

    def memory_label(self, mb: int) -> str:
        """What the memory holds. Progressive (records of step 0: the English memory): faithful is
        ten identical copies of L mixed-class batches (Q31), clean L single-class batches per
        English class; both say how many samples are stored and how many are distinct."""
        ns = self.memory_samples()
        es = "es" if mb != 1 else ""
        if self.experiment == "progressive":
            if self.get("protocol", "faithful") == "faithful":
                distinct = fmt_int(ns / 10) if ns is not None else "?"  # the copies hold the same samples
                return f"10 copies of {mb} mixed-class batch{es} = {fmt_int(ns)} samples stored, {distinct} distinct"
            return f"{mb} single-class batch{es} per old class = {fmt_int(ns)} samples stored, {fmt_int(ns)} distinct"
        per = " per old class" if self.experiment == "class" else ""
        return f"{mb} batch{es}{per} = {fmt_int(ns)} samples"

    def short_label(self) -> str:
        """Legend label: e.g. 'LR d1, 640 samples' / 'CLR d2, 1:10, 1216 samples'."""
        st = self.strategy_record
        bits = st.short if st is not None else self.script
        if self.depth is not None:
            bits += f" d{self.depth}"
        if self.compressed:
            bits += f" {self.ratio}"
        if self.replays:
            bits += f", {fmt_int(self.memory_samples())} samples"
        return bits


def fmt_int(x) -> str:
    if x is None:
        return "?"
    return str(int(round(x))) if abs(x - round(x)) < 1e-9 else f"{x:.1f}"


def group_configs(runs: list[Run]) -> list[Group]:
    groups: dict[str, Group] = {}
    for r in runs:
        k = config_key(r.head)
        groups.setdefault(k, Group(k)).runs.append(r)
    return sorted(groups.values(), key=Group.sort_key)


@dataclass
class Section:
    """The configurations of one dataset and protocol."""

    dataset: str
    protocol: str
    groups: list[Group]

    def of(self, experiment: str) -> list[Group]:
        return [g for g in self.groups if g.experiment == experiment]

    @property
    def title(self) -> str:
        return f"{dataset_label(self.dataset)}, protocol {self.protocol}"

    @property
    def slug(self) -> str:
        return f"{self.dataset}_{self.protocol}"


def sections(records: list[dict]) -> tuple[list[Section], list[str]]:
    """Records -> one :class:`Section` per (dataset, protocol); SHD / faithful first."""
    runs, notes = group_runs(records)
    by: dict[tuple[str, str], list[Run]] = defaultdict(list)
    for r in runs:
        by[(str(r.head.get("dataset") or "unknown"), str(r.head.get("protocol") or "faithful"))].append(r)
    def order(k):
        return {"shd": 0, "synthetic": 1}.get(k[0], 2), {"faithful": 0, "clean": 1}.get(k[1], 2), k

    out = [Section(d, p, group_configs(by[(d, p)])) for d, p in sorted(by, key=order)]
    return out, notes


def pretrain_levels(groups: list[Group], fld: str = "total_acc") -> M.Stat:
    """Epoch-0 (before continual training) accuracy: averaged per held-out speaker / class
    across its runs, then mean ± std over the held-out ones (each pretrained model counts once)."""
    per: dict = defaultdict(list)
    for g in groups:
        for r in g.runs:
            v = _num(r.first.get(fld))
            if v is not None and r.first.get("epoch", 0) == 0:
                per[(r.held_out, r.head.get("seed"))].append(v)
    return M.mean_std(sum(v) / len(v) for v in per.values())
