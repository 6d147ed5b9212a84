#!/usr/bin/env python
"""Sample-incremental rehearsal: replay the first --reharsal_size raw pretrain batches.

Reproduces heidelberg_reharsal.py (lr 2e-4, 50 epochs hard-coded; --nb_epochs ignored; each
epoch trains the new speaker's batches, then the rehearsal batches).
Writes reharsal_speaker_<S>_batches_<K>.txt, rehearsal_64_csv.csv (two rows per epoch),
records/<run>.jsonl.
"""
from pathlib import Path

from sccl.cli_util import run_main
from sccl.config import add_flag
from sccl.scripting import add_continual_extras, continual_main, continual_parser

HERE = Path(__file__).resolve().parent


def main(argv=None):
    p = continual_parser(__doc__, held_out_flag="speaker", nb_epochs=200, lr=2e-4, lr_flag_original=False,
                         hard_epochs=50, statedict_dir=HERE.parent / "statedicts_64_elements", script_dir=HERE)
    add_flag(p, "reharsal_size", type=int, default=1, help="raw pretrain batches kept for rehearsal")
    add_continual_extras(p)
    args = p.parse_args(argv)
    return continual_main(args, experiment="sample", strategy="rehearsal", held_out=args.speaker,
                          memory_batches=args.reharsal_size)


if __name__ == "__main__":
    run_main(main)
