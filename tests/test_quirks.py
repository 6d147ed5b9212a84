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
