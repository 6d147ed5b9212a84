"""Model-level details that move numbers but that random-weight oracle comparisons cannot see
(issue 10's mutation check found them unguarded)."""
from __future__ import annotations

import torch

from sccl.model import LIFParams, lif_layer


def test_membrane_exactly_at_threshold_does_not_spike():
    """Theta(U - 1) is strict: a drive of exactly 1.0 at step 0 puts U_2 at exactly 1.0 (U_2 =
    beta U_1 + I_1 = 0 + 1), which must NOT fire; U_3 = beta + alpha > 1 then does."""
    p = LIFParams(alpha=0.8187307530779818, beta=0.9048374180359595)
    drive = torch.zeros(4, 1, 1)
    drive[0] = 1.0
    spk = lif_layer(drive, torch.zeros(1, 1), p)
    assert spk.flatten().tolist() == [0.0, 0.0, 0.0, 1.0]


def test_trace_names_a_strategy_entry_point(tmp_path, monkeypatch):
    """SCCL_TRACE records an item whose level is a strategy's own entry point by its class name."""
    import json

    from sccl.config import NetConfig
    from sccl.model import SpikingNet, init_weights
    from sccl.training import train_epochs

    net = NetConfig(nb_inputs=6, nb_hidden=4, nb_outputs=3, nb_steps=5)
    model = SpikingNet(net, init_weights(net, torch.Generator().manual_seed(0)))

    class Entry:
        def run(self, model, x):
            return model.run_from(x, 3)

    monkeypatch.setenv("SCCL_TRACE", str(tmp_path / "t.jsonl"))
    train_epochs(model, ("w_out",), lambda: [(Entry(), torch.ones(2, 5, 1), torch.tensor([0, 1]))], lr=1e-3,
                 nb_epochs=1)
    event = json.loads((tmp_path / "t.jsonl").read_text().splitlines()[-1])
    assert event["event"] == "train" and event["epochs"][0][0][0] == "Entry" and event["params"] == ["w_out"]
