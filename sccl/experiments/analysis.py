"""The two analysis scripts of the statedict folders (reference-spec s3.2)."""
from __future__ import annotations

from pathlib import Path

import torch

from sccl import artifacts
from sccl.config import NetConfig


def _model(net: NetConfig, folder: Path, tag: str, mode: str, n: int | None, device):
    from sccl.model import SpikingNet

    names = artifacts.artifact_names(tag, class_style=mode == "class")
    sd = artifacts.load_state_dict(Path(folder) / names["state_dict"], made_by=artifacts.made_by(mode, n))
    return SpikingNet.from_state_dict(net, sd, device), names


def spike_activity(net: NetConfig, folder: Path, speaker: int, device, log=print) -> dict:
    """Per pretrain-test batch: input density and the spike density of each hidden layer.

    The original calls these "sparsity" although they are densities (mean count per cell);
    the labels are kept for compatibility (Q45).
    """
    model, names = _model(net, folder, artifacts.speaker_tag(speaker), "speaker", speaker, device)
    test = artifacts.load_pair(folder, names, "pretrain_test", hint=artifacts.made_by("speaker", speaker))
    input_density, layers = [], [[], [], []]
    with torch.no_grad():
        for x, _ in test:
            dense = x.to(device).to_dense()
            input_density.append(float(dense.sum()) / dense.numel())
            for k in (1, 2, 3):
                s = model.encode(dense, k)
                layers[k - 1].append(float(s.sum()) / s.numel())
                log(f"Layer {k} spike sparsity: {layers[k - 1][-1]:.3f}")
    mean = sum(input_density) / len(input_density)
    log(f"Input sparsity: {mean:.3f}")
    return {"input": mean, "layers": [sum(v) / len(v) for v in layers]}


def statedict_accuracy(net: NetConfig, folder: Path, removed_class: int, device, log=print) -> tuple[float, float]:
    """Accuracy on the pretrain test split and on all batches of the held-out class (which the
    model never saw, so about 0 by construction, Q53); appended to pretrain_classes_accuracy.txt."""
    from sccl.training import score

    hint = artifacts.made_by("class", removed_class)
    model, names = _model(net, folder, artifacts.class_tag(removed_class), "class", removed_class, device)
    test = artifacts.load_pair(folder, names, "pretrain_test", hint=hint)
    removed = artifacts.load_pair(folder, names, "removed", hint=hint)
    items = lambda bs: [(None, x.to(device), y.to(device)) for x, y in bs]  # noqa: E731
    acc_old = score(model, items(test)).value
    acc_rem = score(model, items(removed)).value
    log(f"Pre-Training accuracy on the 19 classes for statedict class {removed_class}: {acc_old:.3f}")
    with open(Path(folder) / "pretrain_classes_accuracy.txt", "a") as f:
        f.write("%d %.3f %.3f\n" % (removed_class, acc_old, acc_rem))
    return acc_old, acc_rem


def _find_statedict(folder: Path, speaker: int | None) -> Path | None:
    folder = Path(folder)
    if speaker is not None:
        p = folder / f"state_dict_speaker_{speaker}.pt"
        return p if p.exists() else None
    cands = sorted(folder.glob("state_dict_*.pt"), key=lambda p: (not p.name.startswith("state_dict_speaker"),
                                                                  len(p.name), p.name))
    return cands[0] if cands else None


def compression_example(statedict_dir: Path, *, speaker: int | None = None, depth: int = 1,
                        n_frames: int | None = None, max_neurons: int = 30) -> dict:
    """The data of the report's compression figure, from one real sample: the depth-``depth``
    spikes of a pretrained model (``SpikingNet.encode``), the frames stored after OR pooling
    (``sccl.replay.compress``) and the replayed spike train (``decompress(..., "first")``), each
    ``[neurons, steps]`` as lists. ``{"note": why}`` alone when there is nothing to show."""
    from sccl.model import SpikingNet
    from sccl.replay import compress, decompress

    folder = Path(statedict_dir)
    sd_path = _find_statedict(folder, speaker) if folder.is_dir() else None
    if sd_path is None:
        who = f"state_dict_speaker_{speaker}.pt" if speaker is not None else "state_dict_*.pt"
        return {"note": f"compression figure skipped: no {who} in {folder}"}
    tag = sd_path.stem[len("state_dict_"):]
    names = artifacts.artifact_names(tag)
    x_path = folder / names["pretrain_x"]
    if not x_path.exists():
        return {"note": f"compression figure skipped: {x_path.name} (the inputs to encode) is missing in {folder}"}
    if depth not in (1, 2, 3):
        return {"note": f"compression figure skipped: depth {depth} is not a spiking layer (choose 1..3)"}
    sd = artifacts.load(sd_path)
    xs = artifacts.load(x_path)
    meta_path = folder / names["meta"]
    meta = artifacts.load_json(meta_path) if meta_path.exists() else {}
    x = xs[0].to_dense() if xs[0].is_sparse else xs[0]
    net_d = dict((meta.get("config") or {}).get("net") or {})
    net_d.update(nb_inputs=int(sd["w1"].shape[0]), nb_hidden=int(sd["w1"].shape[1]),
                 nb_outputs=int(sd["w_out"].shape[1]), nb_steps=int(x.shape[1]))
    net = NetConfig(**{k: v for k, v in net_d.items() if k in NetConfig.__dataclass_fields__})
    lat = SpikingNet.from_state_dict(net, sd, "cpu").encode(x.float(), depth)  # [B, T, H] 0/1
    per_sample = lat.sum(dim=(1, 2))
    order = torch.argsort(per_sample, stable=True)
    active = order[per_sample[order] > 0]
    i = int(active[len(active) // 2]) if len(active) else 0  # the median-activity sample that spiked
    T = net.nb_steps
    if n_frames is None:
        n_frames = T // 4 if T % 4 == 0 else next((T // w for w in range(2, T + 1) if T % w == 0), T)
    sample = lat[i:i + 1]
    frames = compress(sample, n_frames, "or")
    replay = decompress(frames, T, "first")
    counts = sample[0].sum(0)
    spiking = [j for j in range(sample.shape[2]) if counts[j] > 0] or list(range(sample.shape[2]))
    if len(spiking) > max_neurons:  # evenly spread over the neurons that spiked (not just the busiest)
        step = len(spiking) / max_neurons
        spiking = [spiking[int(j * step)] for j in range(max_neurons)]
    rasters = {k: a[0][:, spiking].T.int().tolist() for k, a in (("original", sample), ("stored", frames),
                                                                 ("replayed", replay))}
    spikes = int(sample[0][:, spiking].sum())
    note = (f"compression figure from {sd_path.name}, sample {i} of the first pretrain batch, depth {depth}, "
            f"ratio 1:{T // n_frames}" + ("" if spikes else " (the layer did not spike for any sample: an untrained model?)"))
    return {"tag": tag, "depth": depth, "nb_steps": T, "n_frames": n_frames, "sample": i, "neurons": spiking,
            "width": int(sample.shape[2]), "dataset": meta.get("dataset"), "note": note, **rasters}


def compression_main(argv=None) -> int:
    """``sccl compression``: write the compression figure's data (a JSON record) for the report."""
    import argparse

    p = argparse.ArgumentParser(prog="sccl compression", description=compression_example.__doc__.split("\n\n")[0])
    p.add_argument("--statedict_dir", type=Path, required=True, help="a pretraining folder (weights + pretrain_x)")
    p.add_argument("--out", type=Path, required=True, help="the JSON file to write (the report reads "
                   "compression_example.json anywhere under its --results)")
    p.add_argument("--speaker", type=int, default=None, help="use state_dict_speaker_<S>.pt (default: the first found)")
    p.add_argument("--depth", type=int, default=1, choices=(1, 2, 3), help="latent depth")
    p.add_argument("--n_frames", type=int, default=None, help="stored frames T' (default nb_steps/4, the paper's 1:4)")
    a = p.parse_args(argv)
    example = compression_example(a.statedict_dir, speaker=a.speaker, depth=a.depth, n_frames=a.n_frames)
    artifacts.save_json(example, a.out)
    print(example["note"] if "original" not in example else f"compression example: {a.out}")
    return 0
