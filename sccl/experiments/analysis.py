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
