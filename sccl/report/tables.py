"""The paper's tables from result records: ``tables.md`` (human) and ``tables.csv`` (one tidy
row per table row, with a ``table`` column). What each table shows: docs/report.md.
"""
from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from sccl.report import metrics as M
from sccl.report.runs import Group, Section, dataset_label, fmt_int, pretrain_levels

# --------------------------------------------------------------------------- headline claims


@dataclass(frozen=True)
class Claim:
    key: str
    text: str
    paper: str                 # as the paper / README states it
    paper_value: float | None  # fraction, for the CSV
    experiment: str
    kind: str                  # best | compressed | pretrain | prog_global | prog_new | prog_old
    command: str               # what produces a matching run
    target_kb: float | None = None


SAMPLE_CMD = ("cd statedicts_64_elements && python testsuite.py; cd ../sample_incremental && "
              "python testsuite.py --speakers 0..11 --strategies {what} --nb_epochs 50")
CLASS_CMD = ("cd statedicts_class_incremental && python testsuite.py; cd ../class_incremental && "
             "python testsuite.py --classes 0..19 --strategies subsample {what} --nb_epochs 50")
PROG_CMD = ("cd statedicts_class_incremental && python heidelberg_statedict_generator_10classes.py; "
            "cd ../class_incremental_multiclasses && python testsuite.py --variants subsample "
            "--latent_subsample 50 --nb_epochs 20")

CLAIMS = (
    Claim("sample_best", "Sample-incremental, best total accuracy", "92.46 %", 0.9246, "sample", "best",
          SAMPLE_CMD.format(what="lr --depths 1 --latent_batches 80")),
    Claim("sample_compressed", "Sample-incremental, compressed LR at 160 KB", "88.79 % @ 160 KB", 0.8879,
          "sample", "compressed",
          SAMPLE_CMD.format(what="subsample --subsample_depths 1 --latent_batches 10 --latent_subsample 10"),
          target_kb=160.0),
    Claim("sample_pretrain", "Sample-incremental, pretrained level (epoch 0 total)", "≈89.5 % (Fig. 5a)", 0.895,
          "sample", "pretrain", SAMPLE_CMD.format(what="naive")),
    Claim("class_best", "Class-incremental, best total accuracy", "92.05 %", 0.9205, "class", "best",
          CLASS_CMD.format(what="--depths 2 --latent_batches 2 --latent_subsample 100")),
    Claim("class_compressed", "Class-incremental, compressed LR at 160 KB", "85.53 % @ 160 KB", 0.8553,
          "class", "compressed", CLASS_CMD.format(what="--depths 2 --latent_batches 1 --latent_subsample 10"),
          target_kb=160.0),
    Claim("class_pretrain", "Class-incremental, pretrained level (epoch 0 total)", "≈88.2 % (Fig. 5a)", 0.882,
          "class", "pretrain", CLASS_CMD.format(what="--depths 2 --latent_batches 1 --latent_subsample 10")),
    Claim("progressive_global", "Progressive, final global accuracy (1:2)", "78.4 %", 0.784, "progressive",
          "prog_global", PROG_CMD),
    Claim("progressive_new", "Progressive, accuracy on each new class (mean)", "+88.2 %", 0.882, "progressive",
          "prog_new", PROG_CMD),
    Claim("progressive_old", "Progressive, accuracy loss on the older classes (mean per class)", "2.2 %", 0.022,
          "progressive", "prog_old", PROG_CMD),
    Claim("progressive_pretrain", "Progressive, global accuracy before the German classes", "≈48.5 % (Fig. 6)",
          0.485, "progressive", "pretrain", PROG_CMD),
)


def _most_runs(groups: list[Group]) -> list[Group]:
    """The configurations run on the most speakers / classes / seeds (one lucky speaker cannot win)."""
    if not groups:
        return []
    n = max(g.n for g in groups)
    return [g for g in groups if g.n == n]


def _by_accuracy(groups: list[Group], score: Callable[[Group], float | None]) -> Group | None:
    scored = [(score(g), g) for g in groups]
    scored = [(s, g) for s, g in scored if s is not None]
    if not scored:
        return None
    return max(scored, key=lambda t: t[0])[1]  # first in table order among ties


def _final(g: Group) -> float | None:
    return g.final("total_acc").mean


def select(claim: Claim, section: Section) -> tuple[Group | None, str]:
    """The configuration of ``section`` that matches ``claim`` (None if none) and the rule used.

    * best: uncompressed latent replay (ratio 1:1) runs; among the configurations with the most
      runs, the highest final-epoch mean total accuracy;
    * compressed: compressed latent replay (ratio > 1:1) runs; the memory closest to
      ``target_kb`` (reference-spec s5.3), then the most runs, then the highest final mean;
    * progressive: compressed runs at ratio 1:2; the most runs, then the highest final global;
    * pretrain (progressive): the configuration chosen for the progressive claims.
    """
    groups = section.of(claim.experiment)
    if claim.kind == "best":
        cand = [g for g in groups if g.is_lr and not g.compressed]
        return _by_accuracy(_most_runs(cand), _final), "uncompressed LR; most runs, then highest final total"
    if claim.kind == "compressed":
        cand = [g for g in groups if g.is_lr and g.compressed and g.memory_kb() is not None]
        idx = M.closest([g.memory_kb() for g in cand], claim.target_kb)
        near = [cand[i] for i in idx]
        return (_by_accuracy(_most_runs(near), _final),
                f"compressed LR; memory closest to {claim.target_kb:g} KB, then most runs, then highest final total")
    if claim.experiment == "progressive":
        cand = [g for g in groups if g.ratio == "1:2"]
        best = _by_accuracy(_most_runs(cand), lambda g: g.prog("global_final").mean)
        return best, "progressive at 1:2; most runs, then highest final global accuracy"
    return None, ""


@dataclass
class Row:
    """One headline row (strings for the markdown, numbers for the CSV)."""

    claim: Claim
    group: Group | None
    ours: M.Stat
    best: tuple[float | None, int | None]
    rule: str
    protocol: str
    missing: str = ""

    def csv(self, section: Section) -> dict:
        g = self.group
        return {"table": "headline", "dataset": section.dataset, "protocol": section.protocol,
                "claim": self.claim.key, "paper": self.claim.paper, "paper_value": self.claim.paper_value,
                "mean": self.ours.mean, "std": self.ours.std, "n": self.ours.n,
                "best": self.best[0], "best_epoch": self.best[1],
                **(_config_csv(g) if g else {"configuration": self.missing}), "rule": self.rule}


def headline(section: Section) -> list[Row]:
    rows = []
    chosen_prog = select(next(c for c in CLAIMS if c.key == "progressive_global"), section)
    for c in CLAIMS:
        groups = section.of(c.experiment)
        if c.kind == "pretrain" and c.experiment != "progressive":
            st = pretrain_levels(groups)
            rule = "epoch-0 total accuracy, one value per held-out pretrained model, over all runs"
            rows.append(Row(c, None, st, (None, None), rule, section.protocol,
                            missing="" if st.n else _not_run(c, groups)))
            continue
        g, rule = chosen_prog if c.experiment == "progressive" else select(c, section)
        if g is None:
            rows.append(Row(c, None, M.Stat(None, None, 0), (None, None), rule, section.protocol,
                            missing=_not_run(c, groups)))
            continue
        if c.kind in ("best", "compressed"):
            ours, best = g.final("total_acc"), g.best("total_acc")
        else:
            name = {"prog_global": "global_final", "prog_new": "new_mean", "prog_old": "old_loss_mean",
                    "pretrain": "global0"}[c.kind]
            ours, best = g.prog(name), (None, None)
        rows.append(Row(c, g, ours, best, rule, section.protocol))
    return rows


def _rules_md(rows: list[Row]) -> list[str]:
    rules: dict[str, list[str]] = {}
    for r in rows:
        if r.rule:
            rules.setdefault(r.rule, []).append(r.claim.key)
    return [f"* {', '.join(keys)}: {rule}" for rule, keys in rules.items()]


def _not_run(c: Claim, groups: list[Group]) -> str:
    extra = ""
    if c.experiment == "progressive" and groups:
        extra = " (progressive runs at other ratios are in the progressive table)"
    elif c.kind == "compressed" and groups:
        extra = " (no compressed latent-replay run)"
    elif c.kind == "best" and groups:
        extra = " (no uncompressed latent-replay run)"
    return f"not run{extra}; produce it with: `{c.command}`"


def _config_csv(g: Group) -> dict:
    return {"configuration": g.describe(), "strategy": g.script, "depth": g.depth,
            "memory_batches": g.get("memory_batches"), "memory_samples": g.memory_samples(),
            "ratio": g.ratio, "pooling": g.pooling, "nb_epochs": g.get("nb_epochs"), "lr": g.get("lr"),
            "memory_kb": g.memory_kb(final=g.experiment == "progressive"),
            "raw_equivalent_ratio": g.raw_ratio(final=g.experiment == "progressive")}


# --------------------------------------------------------------------------- formatting


def pct(x: float | None, digits: int = 2) -> str:
    return "-" if x is None else f"{x * 100:.{digits}f}"


def fmt_kb(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.1f}" if x >= 10 else f"{x:.3g}"


def fmt_ratio(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.0f}x" if x >= 10 else f"{x:.2g}x"


def memory_cell(g: Group, final: bool = False) -> str:
    k = g.memory_kb(final)
    if not k:
        return "0 (none)"
    return f"{fmt_kb(k)} KB ({fmt_ratio(g.raw_ratio(final))} smaller than raw)"


def md_table(header: list[str], rows: list[list[str]]) -> str:
    esc = lambda s: str(s).replace("|", "\\|").replace("\n", " ")  # noqa: E731
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(esc(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def headline_md(rows: list[Row]) -> str:
    header = ["Claim", "Paper", "Ours: final epoch (mean ± std, n runs)", "Ours: best epoch of the mean curve",
              "Configuration of ours", "Replay memory", "Protocol"]
    out, commands = [], set()
    for r in rows:
        if r.group is None and r.missing and r.claim.command in commands:
            out.append([r.claim.text, r.claim.paper, "not run", "-", "not run; the command above produces it too",
                        "-", r.protocol])
            continue
        if r.group is None and r.missing:
            commands.add(r.claim.command)
        if r.group is None and r.claim.kind == "pretrain" and r.ours.n:
            out.append([r.claim.text, r.claim.paper, r.ours.fmt(), "-",
                        f"all {r.claim.experiment}-incremental runs", "-", r.protocol])
        elif r.group is None:
            out.append([r.claim.text, r.claim.paper, "not run", "-", r.missing, "-", r.protocol])
        else:
            g = r.group
            best = "-" if r.best[0] is None else f"{pct(r.best[0])} (epoch {r.best[1]})"
            final_mem = g.experiment == "progressive"
            out.append([r.claim.text, r.claim.paper, r.ours.fmt(), best, g.describe(),
                        memory_cell(g, final=final_mem) + (" at the end" if final_mem else ""), r.protocol])
    return md_table(header, out)


# --------------------------------------------------------------------------- full tables

CL_HEADER = ["Strategy", "Depth", "Memory batches", "Samples", "Ratio", "Pooling", "Epochs", "lr", "Memory KB",
             "Raw-eq.", "Old (final)", "New (final)", "Total (final)", "Total best (epoch)", "Old drop",
             "New gain", "n"]


def cl_rows(groups: list[Group]) -> tuple[list[list[str]], list[dict]]:
    md, rows = [], []
    for g in groups:
        old, new, tot = g.final("old_acc"), g.final("new_acc"), g.final("total_acc")
        best = g.best("total_acc")
        drop, gain = g.two_task("old_drop"), g.two_task("new_gain")
        md.append([g.strategy, "-" if g.depth is None else str(g.depth), str(g.get("memory_batches")),
                   fmt_int(g.memory_samples()), g.ratio, str(g.pooling), str(g.get("nb_epochs")),
                   f"{g.get('lr'):g}" if g.get("lr") is not None else "-", fmt_kb(g.memory_kb()),
                   fmt_ratio(g.raw_ratio()), old.fmt(with_n=False), new.fmt(with_n=False), tot.fmt(with_n=False),
                   "-" if best[0] is None else f"{pct(best[0])} ({best[1]})", drop.fmt(with_n=False),
                   gain.fmt(with_n=False), str(g.n)])
        row = {"table": g.experiment, **_config_csv(g), "n": g.n, "best": best[0], "best_epoch": best[1]}
        for name, st in (("old", old), ("new", new), ("total", tot), ("old_drop", drop), ("new_gain", gain),
                         ("total0", g.initial("total_acc"))):
            row[f"{name}_mean"], row[f"{name}_std"] = st.mean, st.std
        rows.append(row)
    return md, rows


PROG_HEADER = ["Strategy", "Depth", "L", "Ratio", "Epochs/class", "lr", "Memory KB start → end", "Raw-eq. (end)",
               "Global before", "Global final", "Previous final", "New (mean of classes)", "Old loss (mean per class)",
               "ACC_w (learned classes)", "BWT_w", "Matrix ACC / F / BWT", "n"]


def prog_rows(groups: list[Group]) -> tuple[list[list[str]], list[dict]]:
    md, rows = [], []
    for g in groups:
        st = {k: g.prog(k) for k in ("global0", "global_final", "new_mean", "old_loss_mean", "seen_final", "bwt_w")}
        last = g.step_numbers[-1] if g.step_numbers else 0
        prev = g.step_stat(last, "previous_acc")
        mm = g.matrix_metrics()
        matrix = ("needs per-class records" if mm["acc"].n == 0 else
                  " / ".join(mm[k].fmt(with_n=False) for k in ("acc", "forgetting", "bwt")))
        md.append([g.strategy, str(g.depth), str(g.get("memory_batches")), g.ratio, str(g.get("nb_epochs")),
                   f"{g.get('lr'):g}" if g.get("lr") is not None else "-",
                   f"{fmt_kb(g.memory_kb())} → {fmt_kb(g.memory_kb(final=True))}", fmt_ratio(g.raw_ratio(final=True)),
                   st["global0"].fmt(with_n=False), st["global_final"].fmt(with_n=False), prev.fmt(with_n=False),
                   st["new_mean"].fmt(with_n=False), st["old_loss_mean"].fmt(with_n=False),
                   st["seen_final"].fmt(with_n=False), st["bwt_w"].fmt(with_n=False), matrix, str(g.n)])
        row = {"table": "progressive", **_config_csv(g), "n": g.n,
               "memory_kb_start": g.memory_kb(), "memory_kb_end": g.memory_kb(final=True)}
        names = {"global0": "global_before", "global_final": "global_final", "new_mean": "new_class_acc",
                 "old_loss_mean": "old_loss", "seen_final": "acc_w", "bwt_w": "bwt_w"}
        for k, s in {**{names[k]: v for k, v in st.items()}, "previous_final": prev, "matrix_acc": mm["acc"],
                     "matrix_forgetting": mm["forgetting"], "matrix_bwt": mm["bwt"]}.items():
            row[f"{k}_mean"], row[f"{k}_std"] = s.mean, s.std
        rows.append(row)
    return md, rows


def prog_step_table(g: Group) -> tuple[str, list[dict]]:
    header = ["Step", "Class learned", "Known classes", "Global", "Previous", "New", "Memory KB"]
    md, rows = [], []
    for s in g.step_numbers:
        c, w = g.step_class(s), g.step_word(s)
        name = "- (pretrained)" if s == 0 else (f"{c} ({w})" if w else str(c))
        mem = M.mean_std(r.steps[s].get("memory_bytes") for r in g.runs if s in r.steps).mean
        cells = {k: g.step_stat(s, f"{k}_acc") for k in ("global", "previous", "new")}
        md.append([str(s), name, str(10 + s), *(cells[k].fmt(with_n=False) for k in ("global", "previous", "new")),
                   fmt_kb(M.kb(mem))])
        rows.append({"table": "progressive_steps", "configuration": g.describe(), "step": s, "step_class": c,
                     "class_word": w, "known_classes": 10 + s, "memory_kb": M.kb(mem), "n": g.n,
                     **{f"{k}_mean": v.mean for k, v in cells.items()},
                     **{f"{k}_std": v.std for k, v in cells.items()}})
    return md_table(header, md), rows


# --------------------------------------------------------------------------- pretraining


def find_meta(roots: list[Path]) -> list[tuple[Path, dict]]:
    """Every pretraining ``meta_*.json`` (``kind: pretrain``) under ``roots`` (recursively)."""
    seen, out = set(), []
    for root in roots:
        root = Path(root)
        if not root.exists():
            continue
        files = [root] if root.is_file() else sorted(root.rglob("meta_*.json"))
        for p in files:
            rp = p.resolve()
            if rp in seen:
                continue
            seen.add(rp)
            try:
                d = json.loads(p.read_text())
            except (OSError, ValueError):
                continue
            if isinstance(d, dict) and d.get("kind") == "pretrain":
                out.append((p, d))
    return out


def pretrain_table(metas: list[tuple[Path, dict]]) -> tuple[str, list[dict]]:
    if not metas:
        return ("No pretraining meta files (`meta_<tag>.json`) found: pass `--statedict_dir` or keep the "
                "statedict folders under `--results`.", [])
    # `--removed_only` runs write batch lists, not a model: one line under the table, not a row each
    lists = [(p, d) for p, d in metas if (d.get("config") or {}).get("removed_only")]
    metas = [(p, d) for p, d in metas if not (d.get("config") or {}).get("removed_only")]
    list_note = ""
    if lists:
        held = sorted({d.get("held_out") for _, d in lists if d.get("held_out") is not None})
        folders = sorted({p.parent.name for p, _ in lists})
        list_note = (f"\n\nAlso {len(lists)} batch-list runs (`--removed_only`: the held-out data's batch lists, no "
                     f"model) for held-out {', '.join(map(str, held))} in {', '.join(folders)}.")
    if not metas:
        return "No trained model among the pretraining meta files." + list_note, []
    order = {"speaker": 0, "class": 1, "10classes": 2}
    metas = sorted(metas, key=lambda t: (order.get(t[1].get("mode"), 9), str(t[1].get("dataset")),
                                          t[1].get("held_out") if t[1].get("held_out") is not None else -1,
                                          str(t[0])))
    header = ["Mode", "Held out", "Dataset", "Test accuracy", "Train / test batches", "Epochs", "Hidden", "Steps",
              "Seed", "Folder"]
    md, rows = [], []
    for p, d in metas:
        cfg = d.get("config") or {}
        net = cfg.get("net") or {}
        md.append([str(d.get("mode")), "-" if d.get("held_out") is None else str(d.get("held_out")),
                   dataset_label(d.get("dataset")), pct(d.get("test_accuracy")),
                   f"{d.get('n_train_batches', '?')} / {d.get('n_test_batches', '?')}", str(cfg.get("nb_epochs", "?")),
                   str(net.get("nb_hidden", "?")), str(net.get("nb_steps", "?")), str(cfg.get("seed", "?")),
                   p.parent.name])
        rows.append({"table": "pretrain", "dataset": d.get("dataset"), "mode": d.get("mode"),
                     "held_out": d.get("held_out"), "test_accuracy": d.get("test_accuracy"),
                     "n_train_batches": d.get("n_train_batches"), "n_test_batches": d.get("n_test_batches"),
                     "nb_epochs": cfg.get("nb_epochs"), "path": str(p)})
    summary = []
    keys = sorted({(d.get("mode"), d.get("dataset")) for _, d in metas}, key=lambda k: (order.get(k[0], 9), str(k[1])))
    for mode, ds in keys:
        st = M.mean_std(d.get("test_accuracy") for _, d in metas if (d.get("mode"), d.get("dataset")) == (mode, ds))
        summary.append(f"* {mode}, {dataset_label(ds)}: test accuracy {st.fmt()}")
    return md_table(header, md) + "\n\n" + "\n".join(summary) + list_note, rows


# --------------------------------------------------------------------------- the whole file

INTRO = """Accuracies in %: mean ± sample standard deviation (ddof 1) over the runs of a configuration
(speakers, classes or seeds; n = runs). *Final* = after the last epoch (the main number); *best* = the
maximum over epochs of the mean curve (the paper's "up to"; optimistic, it picks an epoch on test data).
*Total* = accuracy over the old test set and the new test set concatenated (reference-spec s7.1).
Memory: bytes of the replay buffer as stored (1 KB = 1000 bytes, the paper's unit); *raw-eq.* = how many
times smaller it is than the same samples kept as raw binary input (T x inputs bits each).
Definitions: docs/metrics.md; what each table shows: docs/report.md."""

SYNTHETIC_WARNING = ("> **Synthetic data.** These numbers come from sccl's synthetic stand-in for SHD "
                     "(`sccl.data.synthetic`). They exercise the pipeline and are **not comparable with the "
                     "paper's numbers**.")


def build(sections: list[Section], metas: list[tuple[Path, dict]], *, source: str = "", notes: list[str] = ()
          ) -> tuple[str, list[dict]]:
    """(markdown text, CSV rows) for ``sections`` and the pretraining ``metas``."""
    metas = list(metas)
    n_runs = sum(g.n for s in sections for g in s.groups)
    datasets = sorted({s.dataset for s in sections})
    protocols = sorted({s.protocol for s in sections})
    md = ["# Results", ""]
    if source:
        md += [f"Generated by `python -m sccl.report` from {n_runs} runs under `{source}`.", ""]
    md += [f"Dataset(s): {', '.join(dataset_label(d) for d in datasets) or 'none'}. "
           f"Protocol(s): {', '.join(protocols) or 'none'}"
           + (" (separate tables per protocol)." if len(protocols) > 1 else "."), ""]
    if any(d != "shd" for d in datasets):
        md += [SYNTHETIC_WARNING if "synthetic" in datasets else
               "> **Not SHD.** Some records do not come from SHD: their numbers are not comparable with the paper's.",
               ""]
    md += [INTRO, ""]
    rows: list[dict] = []
    claim_rows: list[dict] = []
    for sec in sections:
        md += [f"## {sec.title}", ""]
        if sec.dataset != "shd":
            md += [f"*{dataset_label(sec.dataset)}: not comparable with the paper.*", ""]
        from sccl.report.claims import claims_md  # the qualitative claims, checked

        cm, cr = claims_md(sec, list(metas))
        md += cm
        claim_rows += cr  # appended last: the CSV's columns keep their order
        hl = headline(sec)
        md += ["### Headline: the paper's numbers", "", headline_md(hl), ""]
        md += ["How our configuration is chosen for each claim:", ""] + _rules_md(hl) + [""]
        rows += [r.csv(sec) for r in hl]
        for exp, title in (("sample", "Sample-incremental (new speaker)"), ("class", "Class-incremental (new class)")):
            groups = sec.of(exp)
            md += [f"### {title}", ""]
            if not groups:
                md += ["No runs.", ""]
                continue
            t, r = cl_rows(groups)
            md += [md_table(CL_HEADER, t), ""]
            for x in r:
                x.update(dataset=sec.dataset, protocol=sec.protocol)
            rows += r
        groups = sec.of("progressive")
        md += ["### Progressive class learning (English -> German)", ""]
        if not groups:
            md += ["No runs.", ""]
        else:
            t, r = prog_rows(groups)
            md += [md_table(PROG_HEADER, t), ""]
            md += ["*Old loss* = accuracy on the classes known before a step, measured before minus after it, "
                   "mean over the steps. *ACC_w* / *BWT_w*: sample-weighted average accuracy over every learned "
                   "class and backward transfer (docs/metrics.md); the task-weighted matrix metrics need per-class "
                   "counts in the records.", ""]
            for x in r:
                x.update(dataset=sec.dataset, protocol=sec.protocol)
            rows += r
            for g in groups:
                t, r = prog_step_table(g)
                md += [f"#### {g.describe()} (n={g.n})", "", t, ""]
                for x in r:
                    x.update(dataset=sec.dataset, protocol=sec.protocol)
                rows += r
    md += ["## Pretraining", ""]
    t, r = pretrain_table(list(metas))
    md += [t, ""]
    rows += r
    if notes:
        md += ["## Notes", ""] + [f"* {n}" for n in notes] + [""]
    return "\n".join(md), rows + claim_rows


def csv_text(rows: list[dict]) -> str:
    cols: list[str] = []
    for r in rows:
        for k in r:
            if k not in cols:
                cols.append(k)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, restval="", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if v is None else v) for k, v in r.items()})
    return buf.getvalue()


def _write_text(path: Path, text: str) -> Path:
    """Replace ``path`` atomically (temp file + rename); normal permissions (umask), unlike mkstemp."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def write(sections: list[Section], metas, out_dir: Path, *, source: str = "", notes=()) -> tuple[Path, Path]:
    """Write ``tables.md`` and ``tables.csv`` into ``out_dir``; returns their paths."""
    text, rows = build(sections, metas, source=source, notes=list(notes))
    out_dir = Path(out_dir)
    return _write_text(out_dir / "tables.md", text), _write_text(out_dir / "tables.csv", csv_text(rows))
