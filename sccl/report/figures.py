"""The paper's figures from result records (PNG, matplotlib without pyplot: no global backend).

* :func:`fig5a` total accuracy vs epoch, one line per memory size (Fig. 5a);
* :func:`fig5b` final total accuracy vs latent depth, one line per memory size (Fig. 5b);
* :func:`fig6` global accuracy after each German class (Fig. 6);
* :func:`memory_figure` final total accuracy vs replay memory for every strategy;
* :func:`compression_figure` OR-pooling compression and first-step replay of real latents.

Each returns the PNG path, or None when the records hold nothing to draw.
"""
from __future__ import annotations

import contextlib
from pathlib import Path

from matplotlib.ticker import MaxNLocator

from sccl.report.runs import Group, Section, dataset_label, fmt_int, pretrain_levels

DPI = 150
WIDTH = 8.0  # inches: 1200 px at DPI 150, readable when shown 600 px wide
EXPERIMENT_TITLE = {"sample": "Sample-incremental (new speaker)", "class": "Class-incremental (new class)"}
STRATEGY_COLOR = {"naive": "#7f7f7f", "rehearsal": "#d62728", "rehearsal_subsample": "#ff7f0e",
                  "latent_replay": "#1f77b4", "latent_replay_subsample": "#2ca02c"}
DEPTH_MARKER = {None: "o", 0: "s", 1: "^", 2: "D", 3: "v"}


@contextlib.contextmanager
def style():
    """seaborn's whitegrid look (if seaborn is installed) with fonts sized for a 600 px README."""
    import matplotlib

    rc = {}
    try:
        import seaborn as sns

        rc.update(sns.axes_style("whitegrid"))
    except ImportError:  # pragma: no cover - seaborn is a dependency
        rc["axes.grid"] = True
    rc.update({"font.size": 12, "axes.titlesize": 13, "axes.labelsize": 12, "xtick.labelsize": 11,
               "ytick.labelsize": 11, "legend.fontsize": 10, "figure.titlesize": 14, "lines.linewidth": 2.0})
    with matplotlib.rc_context(rc):
        yield


def new_figure(nrows: int = 1, ncols: int = 1, height: float = 4.6, **kw):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(WIDTH, height), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    return fig, axes


def save(fig, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI)
    return path


#: legend words of the paper for each script
PAPER_STRATEGY = {"naive": "naive fine-tuning (no memory)", "rehearsal": "rehearsal (raw input)",
                  "rehearsal_subsample": "rehearsal, compressed raw input", "latent_replay": "latent replay (LR)",
                  "latent_replay_subsample": "compressed LR (ratio next to the point)"}


def paper_label(g: Group) -> str:
    """'LR depth 1' / 'LR depth 2, compressed 1:10' / 'rehearsal' / 'naive' (the paper's words)."""
    if g.script == "naive":
        return "naive"
    if str(g.script).startswith("rehearsal"):
        return "rehearsal" + (f", compressed {g.ratio}" if g.compressed else "")
    return f"LR depth {g.depth}" + (f", compressed {g.ratio}" if g.compressed else "")


def readable_log_ticks(axis) -> None:
    """Log axis ticks at 1-2-5 steps written as plain numbers (5, 20, 100, 1000), not 10^x."""
    import numpy as np
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    lo, hi = axis.get_view_interval()
    decades = np.log10(max(hi, 1e-12) / max(lo, 1e-12))
    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0) if decades <= 2 else (1.0,)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}" if v >= 1 else f"{v:.2g}"))
    axis.set_minor_formatter(NullFormatter())


def _title(section: Section) -> str:
    return f"{dataset_label(section.dataset)}, {section.protocol} protocol"


def _palette(n: int):
    from matplotlib import colormaps

    cmap = colormaps["viridis"] if n > 10 else colormaps["tab10"]
    return [cmap(i / max(1, n - 1)) if n > 10 else cmap(i) for i in range(n)]


def _panels(section: Section, want) -> list[tuple[str, list[Group]]]:
    out = []
    for exp in ("sample", "class"):
        groups = [g for g in section.of(exp) if want(g)]
        if groups:
            out.append((exp, groups))
    return out


def _lines_per_memory(groups: list[Group]) -> list[Group]:
    """Fig. 5a's lines: uncompressed LR (compressed if there is none); per memory size the depth
    with the best final mean total accuracy."""
    lr = [g for g in groups if g.is_lr and not g.compressed] or [g for g in groups if g.is_lr]
    best: dict = {}
    for g in lr:
        k = (g.memory_samples(), g.ratio)
        f = g.final().mean
        if k not in best or (f is not None and (best[k].final().mean is None or f > best[k].final().mean)):
            best[k] = g
    return [best[k] for k in sorted(best, key=lambda k: (k[0] or 0, k[1]))]


def _legend(ax, **kw):
    h, _ = ax.get_legend_handles_labels()
    if h:
        ax.legend(**{"frameon": True, "framealpha": 0.9, **kw})


def _legend_below(ax):
    """Legend under the axes (never over the curves), two columns."""
    h, _ = ax.get_legend_handles_labels()
    if h:
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.17), ncols=1, frameon=False, fontsize=9)


def fig5a(section: Section, path: Path) -> Path | None:
    """Total accuracy (%) vs epoch, one line per memory size (mean over runs, shaded ± std);
    the pretrained level (mean epoch-0 total) dashed; one panel per experiment."""
    panels = [(e, _lines_per_memory(gs)) for e, gs in _panels(section, lambda g: g.is_lr)]
    panels = [(e, gs) for e, gs in panels if gs]
    if not panels:
        return None
    with style():
        fig, axes = new_figure(1, len(panels), height=5.4, sharey=True)
        for ax, (exp, groups) in zip(axes[0], panels):
            for g, color in zip(groups, _palette(len(groups))):
                curve = g.curve("total_acc")
                xs = [x for x in curve if curve[x].mean is not None]
                m = [curve[x].mean * 100 for x in xs]
                s = [(curve[x].std or 0) * 100 for x in xs]
                label = f"{fmt_int(g.memory_samples())} LRs, {paper_label(g)} (n={g.n})"
                ax.plot(xs, m, color=color, label=label)
                ax.fill_between(xs, [a - b for a, b in zip(m, s)], [a + b for a, b in zip(m, s)], color=color,
                                alpha=0.18, linewidth=0)
            pre = pretrain_levels(groups)
            if pre.mean is not None:
                ax.axhline(pre.mean * 100, color="k", linestyle="--", linewidth=1.5,
                           label=f"Pre-train (n={pre.n})")
            ax.set_title(EXPERIMENT_TITLE[exp])
            ax.set_xlabel("epoch")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            _legend_below(ax)
        axes[0][0].set_ylabel("total accuracy (%)")
        fig.suptitle(f"Total accuracy during continual learning ({_title(section)})")
        return save(fig, path)


def fig5b(section: Section, path: Path) -> Path | None:
    """Final total accuracy (%) vs latent depth (LR index 0..3), one line per memory size and
    ratio (compressed dashed), ± std error bars; one panel per experiment."""
    panels = _panels(section, lambda g: g.is_lr and g.depth is not None)
    if not panels:
        return None
    with style():
        fig, axes = new_figure(1, len(panels), height=5.6, sharey=True)
        for ax, (exp, groups) in zip(axes[0], panels):
            lines: dict = {}
            for g in groups:
                lines.setdefault((g.memory_samples() or 0, g.ratio, g.pooling), []).append(g)
            keys = sorted(lines, key=lambda k: (k[0], k[1], str(k[2])))
            dodge = 0.06 if len(keys) > 1 else 0.0  # keep overlapping points visible
            for j, (k, color) in enumerate(zip(keys, _palette(len(keys)))):
                gs = sorted(lines[k], key=lambda g: g.depth)
                pts = [(g.depth, g.final()) for g in gs if g.final().mean is not None]
                if not pts:
                    continue
                n_, ratio, _pool = k
                comp = ratio != "1:1"
                off = (j - (len(keys) - 1) / 2) * dodge
                ax.errorbar([d + off for d, _ in pts], [s.mean * 100 for _, s in pts],
                            yerr=[(s.std or 0) * 100 for _, s in pts], color=color, marker="o",
                            linestyle="--" if comp else "-", capsize=3,
                            label=f"{fmt_int(n_)} LRs" + (f", compressed {ratio}" if comp else "")
                            + f" (n={'/'.join(sorted({str(g.n) for g in gs}))})")
            pre = pretrain_levels(groups)
            if pre.mean is not None:
                ax.axhline(pre.mean * 100, color="k", linestyle=":", linewidth=1.5, label=f"Pre-train (n={pre.n})")
            ax.set_xticks([0, 1, 2, 3])
            ax.set_xlim(-0.3, 3.3)
            ax.set_xlabel("latent depth (LR index)")
            ax.set_title(EXPERIMENT_TITLE[exp])
            _legend_below(ax)
        axes[0][0].set_ylabel("final total accuracy (%)")
        fig.suptitle(f"Final accuracy vs latent-replay depth ({_title(section)})")
        return save(fig, path)


MAX_PROG_LINES = 8


def fig6(section: Section, path: Path) -> Path | None:
    """Global accuracy (%) after each German class (x: number of known classes, with the class
    word), one line per configuration (at most 8: the best final ones), ± std shaded; the
    pretrained level dashed."""
    groups = [g for g in section.of("progressive") if len(g.step_numbers) > 1]
    if not groups:
        return None
    shown = sorted(groups, key=lambda g: -(g.prog("global_final").mean or -1))[:MAX_PROG_LINES]
    shown = sorted(shown, key=Group.sort_key)
    with style():
        fig, axes = new_figure(1, 1, height=4.8)
        ax = axes[0][0]
        ticks: dict[int, str] = {}
        for g, color in zip(shown, _palette(len(shown))):
            steps = [s for s in g.step_numbers if s >= 1]
            xs, m, sd = [], [], []
            for s in steps:
                st = g.step_stat(s, "global_acc")
                if st.mean is None:
                    continue
                xs.append(10 + s)
                m.append(st.mean * 100)
                sd.append((st.std or 0) * 100)
                w = g.step_word(s)
                ticks[10 + s] = f"{10 + s}\n{w}" if w else str(10 + s)
            label = f"{paper_label(g)}, {g.get('memory_batches')} batch(es) per class (n={g.n})"
            ax.plot(xs, m, marker="o", color=color, label=label)
            ax.fill_between(xs, [a - b for a, b in zip(m, sd)], [a + b for a, b in zip(m, sd)], color=color,
                            alpha=0.15, linewidth=0)
        pre = [r.steps[0]["global_acc"] for g in shown for r in g.runs if 0 in r.steps
               and r.steps[0].get("global_acc") is not None]
        if pre:
            ax.axhline(100 * sum(pre) / len(pre), color="k", linestyle="--", linewidth=1.5,
                       label=f"Pre-train (n={len(pre)})")
        if ticks:
            ax.set_xticks(sorted(ticks), [ticks[k] for k in sorted(ticks)])
        ax.set_xlabel("known classes (the German class just learned)")
        ax.set_ylabel("global accuracy, 20 classes (%)")
        more = f"; the {len(shown)} best of {len(groups)} configurations" if len(groups) > len(shown) else ""
        ax.set_title(f"Progressive learning, English -> German\n({_title(section)}{more})")
        _legend(ax, loc="best", ncols=2 if len(shown) > 4 else 1)
        return save(fig, path)


# offsets (points) tried in turn for a point's label: right-above, right-below, left-above, ...
_LABEL_SPOTS = ((6, 4, "left"), (6, -12, "left"), (-6, 4, "right"), (-6, -12, "right"),
                (6, 14, "left"), (6, -22, "left"), (-6, 14, "right"), (-6, -22, "right"))


def place_labels(fig, notes) -> None:
    """Annotate each ``(ax, x, y, text)`` at the first offset where its text stays inside the axes
    and overlaps neither an earlier label, a marker nor a text already there (else at the first
    offset): labels of nearby points stay readable."""
    axes = list({id(n[0]): n[0] for n in notes}.values())
    for ax in axes:
        ax.set_ylim(ax.get_ylim())      # freeze the limits: the pixel boxes below stay valid
    renderer = fig.canvas.get_renderer()
    taken = [tuple(t.get_window_extent(renderer).extents) for ax in axes for t in ax.texts]  # the naive label
    for ax, x, y, _ in notes:           # every marker is an obstacle (about 9 x 9 px around it)
        px, py = ax.transData.transform((x, y))
        taken.append((px - 5, py - 5, px + 5, py + 5))

    def fits(ax, b):
        frame = ax.get_window_extent(renderer)
        inside = b.x0 >= frame.x0 and b.x1 <= frame.x1 and b.y0 >= frame.y0 and b.y1 <= frame.y1
        return inside and all(b.x1 <= t[0] or b.x0 >= t[2] or b.y1 <= t[1] or b.y0 >= t[3] for t in taken)

    for ax, x, y, text in notes:
        spots = (*_LABEL_SPOTS, _LABEL_SPOTS[0])             # nothing fits: the first spot after all
        for i, (dx, dy, ha) in enumerate(spots):
            ann = ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points", ha=ha,
                              fontsize=8, color="0.25")
            box = ann.get_window_extent(renderer)
            if i == len(spots) - 1 or fits(ax, box):
                break
            ann.remove()
        taken.append(tuple(box.extents))


def memory_figure(section: Section, path: Path) -> Path | None:
    """Final total accuracy (%) vs replay memory (KB, log axis) of every configuration: colour =
    strategy, marker = depth, ± std bars; naive (no memory) as a dotted horizontal line."""
    panels = _panels(section, lambda g: True)
    if not panels:
        return None
    from matplotlib.lines import Line2D

    with style():
        fig, axes = new_figure(1, len(panels), height=4.8, sharey=False)  # each panel its own range
        used_s, used_d = set(), set()
        notes = []   # (ax, x, y, text): placed once every limit is known (place_labels)
        for ax, (exp, groups) in zip(axes[0], panels):
            kbs = [g.memory_kb() for g in groups if g.memory_kb()]
            for g in groups:
                f = g.final()
                if f.mean is None:
                    continue
                color = STRATEGY_COLOR.get(g.script, "#9467bd")
                used_s.add(g.script)
                if not g.memory_kb():
                    ax.axhline(f.mean * 100, color=color, linestyle=":", linewidth=2)
                    ax.annotate(f"naive, n={g.n}", (0.01, f.mean * 100), xycoords=("axes fraction", "data"),
                                xytext=(0, 3), textcoords="offset points", fontsize=8, color="0.25")
                    continue
                used_d.add(g.depth)
                ax.errorbar([g.memory_kb()], [f.mean * 100], yerr=[(f.std or 0) * 100], color=color,
                            marker=DEPTH_MARKER.get(g.depth, "o"), markersize=8, capsize=3, linestyle="none",
                            markeredgecolor="k", markeredgewidth=0.6)
                notes.append((ax, g.memory_kb(), f.mean * 100, (f"{g.ratio}, " if g.compressed else "") + f"n={g.n}"))
            pre = pretrain_levels(groups)
            if pre.mean is not None:
                ax.axhline(pre.mean * 100, color="k", linestyle="--", linewidth=1.2)
            if kbs:
                ax.set_xscale("log")
                lo, hi = min(kbs), max(kbs)
                ax.set_xlim(lo / 2.5, hi * 2.5)
                readable_log_ticks(ax.xaxis)
            ax.set_xlabel("replay memory (KB, log scale)")
            ax.set_title(EXPERIMENT_TITLE[exp])
        axes[0][0].set_ylabel("final total accuracy (%)")
        place_labels(fig, notes)
        from sccl.registry import find
        from sccl.report.runs import SCRIPT_LABEL, SCRIPT_ORDER

        def no_memory(s):
            return find(s) is not None and not find(s).replays

        handles = [Line2D([], [], color=STRATEGY_COLOR.get(s, "#9467bd"), marker=None if no_memory(s) else "o",
                          linestyle=":" if no_memory(s) else "none", markersize=8,
                          label=PAPER_STRATEGY.get(s, SCRIPT_LABEL.get(s, s) + (" (no memory)" if no_memory(s) else "")))
                   for s in SCRIPT_ORDER if s in used_s]
        handles += [Line2D([], [], color="0.3", marker=DEPTH_MARKER.get(d, "o"), linestyle="none", markersize=8,
                           label="raw input" if d is None else f"LR depth {d}")
                    for d in sorted(used_d, key=lambda d: -1 if d is None else d)]
        handles.append(Line2D([], [], color="k", linestyle="--", label="Pre-train"))
        fig.legend(handles=handles, loc="outside lower center", ncols=min(3, len(handles)), frameon=False, fontsize=9)
        fig.suptitle(f"Accuracy vs replay memory ({_title(section)})")
        return save(fig, path)


# --------------------------------------------------------------------------- compression


def compression_figure(example: dict | None, path: Path) -> tuple[Path | None, str]:
    """Three rasters of one real sample (the record ``sccl compression`` writes, see
    :func:`sccl.experiments.analysis.compression_example`): the depth-d spikes of a pretrained
    model, the frames stored after OR pooling, and the replayed spike train (first-step
    decompression). Returns ``(path or None, note)``."""
    import numpy as np

    if not example or "original" not in example:
        return None, (example or {}).get("note") or "compression figure skipped: no compression example record"
    orig, stored, back = (np.asarray(example[k], dtype=float) for k in ("original", "stored", "replayed"))
    T, n_frames, depth = example["nb_steps"], example["n_frames"], example["depth"]
    neurons = example["neurons"]
    w = T // n_frames
    label = dataset_label(example.get("dataset")) if example.get("dataset") else "unknown dataset"
    with style():
        fig, axes = new_figure(3, 1, height=7.2, sharex=True)
        panels = [(orig, f"(a) original depth-{depth} spikes, {T} steps ({int(orig.sum())} spikes)"),
                  (stored, f"(b) stored frames: OR over windows of {w} steps, {n_frames} frames "
                           f"({int(stored.sum())} ones)"),
                  (back, f"(c) replayed spike train: one spike at each window start ({int(back.sum())} spikes)")]
        for ax, (img, title) in zip(axes[:, 0], panels):
            ax.imshow(img, aspect="auto", cmap="Greys", interpolation="nearest", vmin=0, vmax=1,
                      extent=(-0.5, T - 0.5, len(neurons) - 0.5, -0.5))
            for b in range(0, T + 1, w):
                ax.axvline(b - 0.5, color="#1f77b4", linewidth=0.5, alpha=0.35)
            ax.set_title(title, fontsize=11, loc="left")
            ax.set_ylabel("neuron")
            ax.grid(False)
        axes[-1][0].set_xlabel("time step")
        axes[-1][0].xaxis.set_major_locator(MaxNLocator(integer=True))
        fig.suptitle(f"Compression 1:{w} of real latents ({example['tag'].replace('_', ' ')}, depth {depth}, "
                     f"{len(neurons)} of {example['width']} neurons, {label})", fontsize=13)
        out = save(fig, path)
    return out, example["note"]


# --------------------------------------------------------------------------- all


FIGURES = (("fig5a_total_vs_epoch", fig5a), ("fig5b_total_vs_depth", fig5b), ("fig6_progressive_global", fig6),
           ("accuracy_vs_memory", memory_figure))


def write_all(sections: list[Section], out_dir: Path) -> list[Path]:
    """Every record figure of every section into ``out_dir``. The first section (SHD/faithful
    when present) gets the plain names, the others a ``_<dataset>_<protocol>`` suffix."""
    out = []
    for i, sec in enumerate(sections):
        suffix = "" if i == 0 else f"_{sec.slug}"
        for name, fn in FIGURES:
            p = fn(sec, Path(out_dir) / f"{name}{suffix}.png")
            if p is not None:
                out.append(p)
    return out
