"""sccl: compressed latent replays for continual learning with spiking networks on SHD.

Layers (imports only point downwards): config -> data -> model -> replay -> strategies ->
experiments -> report / suite -> scripts and the ``sccl`` command.
"""
__version__ = "0.1.0"
