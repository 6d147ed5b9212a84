"""Time compression of latent replays, bit-packed replay buffers and memory accounting.

Reference: Dequino et al. 2024, "Compressed Latent Replays for Lightweight Continual Learning on
Spiking Neural Networks"; reference-spec s2.7, s3.5-3.8, s3.10, s3.12, s3.14 and s5.

Layout: every tensor is batch-major ``[B, T, H]`` (``T`` time steps, ``H`` neurons or input
channels). A compressed latent keeps ``T'`` frames (``--latent_subsample``); the window is
``w = T // T'`` and ``T'`` must divide ``T`` (checked by :func:`sccl.config.check_subsample`).

Compression (:func:`compress`), frame ``k`` covers steps ``[k*w, k*w + w)``::

    "or"  : frame[b, k, h] = 1 if the window sum is nonzero (any spike) else 0   (depth >= 1, "new")
    "sum" : frame[b, k, h] = sum of x[b, t, h] over the window               (depth 0, "sums", raw)

Decompression (:func:`decompress`) back to ``T`` steps, ``k = t // w``, ``r = t % w``::

    "first": y[b, t, h] = frame[b, k, h] if r == 0 else 0          (the paper's run-time un-compression)
    "burst": y[b, t, h] = 1.0 if frame[b, k, h] > r else 0.0       ("sums" at depth >= 1: a count c
                                                                     replays as c spikes at the window start)

With ``T' == T`` (window 1) both round trips are the identity. The original scripts do the same
with per-element Python loops (``tests/literal_loops.py`` restates them); here both directions
are reshapes plus one reduction or comparison, with identical values (depth-0 float sums may
differ from the loop in the last ulp because the summation order may differ).

Storage (:class:`LatentBuffer`): unsigned-integer payloads (binary spikes, sum-pooled spike
counts, raw input counts) are bit-packed at ``k`` bits per element into one contiguous little-endian
bit stream for the whole buffer (padding only the final byte); depth-0 currents are kept as
float32. ``LatentBuffer.nbytes`` is therefore exactly ``ceil(N * T' * H * k / 8)``, the
reference-spec s5 arithmetic (:func:`memory_bytes`) rounded up to whole bytes once per buffer.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Literal, Sequence

import torch
from torch import Tensor

from sccl.config import check_depth, check_subsample
from sccl.errors import ConfigError

Pooling = Literal["or", "sum"]
Mode = Literal["first", "burst"]
Kind = Literal["latent", "raw"]
Variant = Literal["new", "sums", "raw"]

POOLINGS = ("or", "sum")
MODES = ("first", "burst")
KINDS = ("latent", "raw")
VARIANTS = ("new", "sums", "raw")

# Elements packed per call when building a buffer: a multiple of 8, so that every chunk ends on
# a byte boundary for any bit width and the chunks concatenate into one contiguous stream.
_PACK_CHUNK = 1 << 20


# --------------------------------------------------------------------------- helpers

def _check_choice(name: str, value: str, choices: Sequence[str]) -> str:
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def _as_float(x: Tensor) -> Tensor:
    """Floating inputs keep their dtype; bool/integer inputs are promoted to float32."""
    return x if x.is_floating_point() else x.to(torch.float32)


def _dense(x: Tensor) -> Tensor:
    """Sparse inputs (e.g. the COO input batches of sccl.data) are densified."""
    return x.to_dense() if isinstance(x, Tensor) and x.layout != torch.strided else x


def _check_3d(name: str, x: Tensor) -> tuple[int, int, int]:
    if not isinstance(x, Tensor) or x.dim() != 3:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"{name} must be a [B, T, H] tensor, got shape {shape}")
    B, T, H = x.shape
    return B, T, H


def ratio_string(n_frames: int, nb_steps: int) -> str:
    """Compression ratio as the paper writes it, e.g. ``"1:10"`` for 10 of 100 steps."""
    check_subsample(n_frames, nb_steps)
    return f"1:{nb_steps // n_frames}"


def replay_scheme(variant: Variant, depth: int | None) -> tuple[Pooling, Mode]:
    """(pooling, decompression mode) the original scripts use.

    ``"new"`` (s3.7, s3.12, s3.14): OR + first-step at depth >= 1, sum + first-step at depth 0.
    ``"sums"`` (s3.8): sum + burst at depth >= 1, sum + first-step at depth 0.
    ``"raw"`` (s3.5, s3.10, compressed raw-input rehearsal): sum + first-step (depth ignored).
    """
    _check_choice("replay variant", variant, VARIANTS)
    if variant == "raw":
        return "sum", "first"
    if check_depth(depth) == 0:
        return "sum", "first"
    return ("or", "first") if variant == "new" else ("sum", "burst")


# --------------------------------------------------------------------------- compression

def _pool(x: Tensor, n_frames: int, pooling: Pooling) -> Tensor:
    """Pool ``x`` [B, T, H] into ``n_frames`` windows of ``w = T // n_frames`` steps.

    Steps beyond ``n_frames * w`` are dropped, as in the original loop. :func:`compress` only
    calls this after checking that ``n_frames`` divides ``T``; the truncating form is kept for
    the equivalence tests against the literal loop.
    """
    B, T, H = x.shape
    w = T // n_frames
    x = _as_float(x)
    windows = x[:, : n_frames * w].reshape(B, n_frames, w, H)  # [B, T', w, H]
    sums = windows.sum(dim=2)  # [B, T', H]
    if pooling == "or":
        # The original's test, "window sum is nonzero": for 0/1 spikes exactly "any spike"
        # (and ~10x faster than .ne(0).any(dim=2) on CPU).
        return sums.ne(0).to(x.dtype)
    return sums


def compress(x: Tensor, n_frames: int, pooling: Pooling) -> Tensor:
    """Compress ``x`` [B, T, H] to ``n_frames`` frames [B, T', H] by OR or SUM pooling.

    ``"or"``: 1 where the window sum is nonzero, i.e. any spike for 0/1 input (depth >= 1, "new");
    ``"sum"``: the window sum (depth-0 currents, "sums" scripts, raw input counts).
    Same device as ``x``; floating dtypes are kept, bool/integer inputs come back as float32.
    Raises :class:`ConfigError` unless ``n_frames`` divides ``T``.
    """
    x = _dense(x)
    _B, T, _H = _check_3d("compress input", x)
    _check_choice("pooling", pooling, POOLINGS)
    check_subsample(n_frames, T)
    return _pool(x, n_frames, pooling)


def decompress(frames: Tensor, nb_steps: int, mode: Mode) -> Tensor:
    """Expand ``frames`` [B, T', H] back to ``nb_steps`` steps [B, T, H].

    ``"first"``: step ``t`` gets ``frames[:, t // w]`` when ``t % w == 0`` and zeros otherwise
    (for depth 0 / raw input this is the drive injected at the window start).
    ``"burst"``: step ``t`` spikes (1.0) where ``frames[:, t // w] > t % w`` (a count ``c`` is
    replayed as ``c`` consecutive spikes from the window start).
    Same device as ``frames``; floating dtypes kept, others promoted to float32.
    """
    B, n_frames, H = _check_3d("decompress input", frames)
    _check_choice("decompression mode", mode, MODES)
    check_subsample(n_frames, nb_steps)
    w = nb_steps // n_frames
    frames = _as_float(frames)
    if mode == "first":
        out = frames.new_zeros(B, n_frames, w, H)  # [B, T', w, H]
        out[:, :, 0] = frames
        return out.reshape(B, nb_steps, H)
    offsets = torch.arange(w, device=frames.device, dtype=frames.dtype).view(1, 1, w, 1)
    spikes = frames.unsqueeze(2) > offsets  # [B, T', w, H]
    return spikes.to(frames.dtype).reshape(B, nb_steps, H)


# --------------------------------------------------------------------------- bit packing

def _pack_uint(values: Tensor, bits: int) -> Tensor:
    """Pack non-negative integers (< 2**bits) into a little-endian bit stream, uint8.

    Element ``i`` occupies stream bits ``[i*bits, (i+1)*bits)``, least significant bit first;
    stream bit ``j`` is bit ``j % 8`` of byte ``j // 8``. The last byte is zero-padded.
    """
    flat = values.reshape(-1)
    n = flat.numel()
    if n == 0:
        return torch.zeros(0, dtype=torch.uint8, device=values.device)
    flat = flat.to(torch.int32) if bits > 1 else flat.ne(0)
    if bits == 1:
        stream = flat.to(torch.uint8)  # [n]
    else:
        shifts = torch.arange(bits, device=flat.device, dtype=torch.int32)
        stream = ((flat.unsqueeze(1) >> shifts) & 1).to(torch.uint8).reshape(-1)  # [n * bits]
    pad = (-stream.numel()) % 8
    if pad:
        stream = torch.cat([stream, stream.new_zeros(pad)])
    weights = (1 << torch.arange(8, device=stream.device, dtype=torch.int32)).to(torch.uint8)
    return (stream.view(-1, 8) * weights).sum(dim=1, dtype=torch.uint8)  # [ceil(n*bits/8)]


def _unpack_uint(packed: Tensor, n: int, bits: int, bit_offset: int = 0) -> Tensor:
    """Inverse of :func:`_pack_uint`: ``n`` elements starting at stream bit ``bit_offset``.

    Returns int32 values (bool for ``bits == 1``) on ``packed``'s device.
    """
    lo_bit, hi_bit = bit_offset, bit_offset + n * bits
    lo_byte, hi_byte = lo_bit // 8, -(-hi_bit // 8)
    chunk = packed[lo_byte:hi_byte]
    shifts = torch.arange(8, device=packed.device, dtype=torch.uint8)
    stream = ((chunk.unsqueeze(1) >> shifts) & 1).reshape(-1)  # [8 * bytes]
    stream = stream[lo_bit - 8 * lo_byte: hi_bit - 8 * lo_byte]  # [n * bits]
    if bits == 1:
        return stream.bool()
    weights = 1 << torch.arange(bits, device=packed.device, dtype=torch.int32)
    return (stream.view(n, bits).to(torch.int32) * weights).sum(dim=1, dtype=torch.int32)


def pack_bits(binary: Tensor) -> tuple[Tensor, torch.Size]:
    """Pack a 0/1 (or bool) tensor to 1 bit per element: ``(uint8 [ceil(numel/8)], shape)``.

    Bit order is little-endian within each byte (element ``i`` is bit ``i % 8`` of byte
    ``i // 8``, as ``numpy.packbits(..., bitorder="little")``); only the last byte is padded.
    Pure torch, so it runs on the tensor's own device (CPU or CUDA) and returns there.
    Raises ``ValueError`` if any element is not 0 or 1.
    """
    if binary.dtype != torch.bool:
        bad = (binary != 0) & (binary != 1)
        if bool(bad.any()):
            vals = binary[bad]
            raise ValueError(
                f"pack_bits needs a 0/1 tensor, found values in [{vals.min().item()}, {vals.max().item()}]")
    return _pack_uint(binary, 1), binary.shape


def unpack_bits(packed: Tensor, shape: Sequence[int]) -> Tensor:
    """Inverse of :func:`pack_bits`: a float32 0/1 tensor of ``shape`` on ``packed``'s device."""
    shape = torch.Size(shape)
    n = shape.numel()
    if packed.numel() * 8 < n:
        raise ValueError(f"{packed.numel()} packed bytes cannot hold {n} bits of shape {tuple(shape)}")
    return _unpack_uint(packed, n, 1).to(torch.float32).reshape(shape)


# --------------------------------------------------------------------------- memory accounting

def memory_bytes(n_samples: int, n_frames: int, width: int, bits_per_element: float) -> float:
    """Replay memory in bytes: ``N * T' * H * bits / 8`` (reference-spec s5; KB = 1000 bytes).

    Example: 2560 samples x T'=10 x 50 neurons (depth 3) x 1 bit = 160,000 bytes = 160 KB.
    """
    return n_samples * n_frames * width * bits_per_element / 8


def bits_for_count(max_count: int) -> int:
    """Bits of an unsigned field holding 0..max_count, i.e. ceil(log2(max_count + 1)), at least 1."""
    if max_count < 0:
        raise ValueError(f"counts must be non-negative, got maximum {max_count}")
    return max(1, int(max_count).bit_length())


def bits_per_element(kind: Kind, depth: int | None, pooling: Pooling, window: int,
                     max_count: int | None = None) -> int:
    """Bits needed per stored element.

    * latent, depth 0 (layer-1 currents): 32 (float32; "sum" pooling only);
    * latent, depth >= 1: 1 with OR pooling, ``ceil(log2(w + 1))`` with SUM pooling (count 0..w);
    * raw input: the bits of the data's maximum count ``max_count`` (required with SUM pooling;
      without it OR-pooled input counts as 1 bit). The paper counts raw input as binary, 1 bit per element
      (``max_count=1``); real SHD bins can hold duplicate events, so that is a lower bound.
    """
    _check_choice("kind", kind, KINDS)
    _check_choice("pooling", pooling, POOLINGS)
    if window < 1:
        raise ConfigError(f"window must be >= 1, got {window}")
    if kind == "raw":
        if max_count is not None:
            return bits_for_count(max_count)
        if pooling == "or":
            return 1
        raise ConfigError("bits_per_element for raw sum-pooled input needs max_count (the data's largest count)")
    if check_depth(depth) == 0:
        if pooling != "sum":
            raise ConfigError("depth-0 latents are float currents: only 'sum' pooling applies to them")
        return 32
    return 1 if pooling == "or" else bits_for_count(window)


def raw_equivalent_ratio(nbytes: float, n_samples: int, nb_steps: int = 100, nb_inputs: int = 700) -> float:
    """Bytes of the same samples kept as raw binary input (``N * T * inputs / 8``) over ``nbytes``.

    Example: 2560 samples at depth 3, T'=10 take 160,000 bytes; raw they take 22,400,000: 140x.
    """
    if nbytes <= 0:
        raise ValueError(f"nbytes must be > 0, got {nbytes}")
    return memory_bytes(n_samples, nb_steps, nb_inputs, 1) / nbytes


# --------------------------------------------------------------------------- replay buffer

@dataclass(frozen=True)
class _Record:
    """One stored batch: its labels and where its frames live in the payload, kept together."""

    labels: Tensor      # int64 [B], CPU
    start: int          # first element of this batch in the payload stream
    shape: torch.Size   # (B, T', H)

    @property
    def numel(self) -> int:
        return self.shape.numel()


class LatentBuffer:
    """The replay memory: compressed latents (or raw inputs) and their labels, in capture order.

    Built from ``(frames [B, T', H], labels [B])`` pairs that are already compressed (use
    :meth:`from_uncompressed` to compress [B, T, H] latents on the way in). Each batch becomes a
    record holding its labels and the location of its frames, so labels never get re-joined by
    index. Payload formats:

    * depth-0 currents (``kind="latent", depth=0``): float32, stored exactly;
    * everything else (0/1 spikes, sum-pooled counts, raw counts): unsigned integers bit-packed
      at :attr:`payload_bits_per_element` bits into one contiguous stream for the whole buffer
      (1 bit for binary data, ``ceil(log2(w+1))`` for sum-pooled spikes, the bits of the largest
      count for raw input), so :attr:`nbytes` equals :func:`memory_bytes` rounded up once.

    The payload lives on the CPU; :meth:`batches` moves each record's packed bytes to the
    requested device and unpacks/decompresses there.
    """

    def __init__(self, batches: Sequence[tuple[Tensor, Tensor]], *, depth: int | None, n_frames: int,
                 nb_steps: int, pooling: Pooling, mode: Mode, kind: Kind = "latent"):
        self.kind = _check_choice("kind", kind, KINDS)
        self.depth = None if kind == "raw" else check_depth(depth)
        self.n_frames = check_subsample(n_frames, nb_steps)
        self.nb_steps = nb_steps
        self.window = nb_steps // n_frames
        self.pooling = _check_choice("pooling", pooling, POOLINGS)
        self.mode = _check_choice("decompression mode", mode, MODES)
        # depth-0 currents are floats: OR frames or a burst replay would not be currents any more
        # (at window 1 nothing is pooled, so the pooling name does not matter there)
        if self.depth == 0 and (mode != "first" or (pooling != "sum" and self.window > 1)):
            raise ConfigError("depth-0 latents (float currents) use 'sum' pooling and 'first' decompression, "
                              f"got pooling={pooling!r}, mode={mode!r}")

        latents, records, width = [], [], None
        start = 0
        for i, (frames, labels) in enumerate(batches):
            frames = _dense(frames)
            B, Tp, H = _check_3d(f"replay batch {i}", frames)
            frames = frames.detach()
            if Tp != n_frames:
                raise ValueError(f"replay batch {i} has {Tp} frames, the buffer stores n_frames={n_frames}")
            if width is None:
                width = H
            elif H != width:
                raise ValueError(f"replay batch {i} is {H} wide, earlier batches are {width} wide")
            labels = torch.as_tensor(labels).detach().to("cpu")
            if labels.shape != (B,) or labels.is_floating_point() or labels.dtype == torch.bool:
                raise ValueError(f"replay batch {i}: labels must be an integer tensor of shape ({B},), "
                                 f"got {labels.dtype} {tuple(labels.shape)}")
            latents.append(frames)  # a reference to the caller's tensor, not a copy
            records.append(_Record(labels.to(torch.int64).clone(), start, frames.shape))
            start += frames.numel()
        self.width = width
        self._records = tuple(records)

        if self.depth == 0:
            self._bits = 32
            self._payload = (torch.cat([x.reshape(-1).to("cpu", torch.float32) for x in latents])
                             if latents else torch.zeros(0, dtype=torch.float32))
            return
        max_count = self._check_counts(latents)
        if self.kind == "raw":
            # input counts: as many bits as the data's largest count needs (1 for binary input)
            self._bits = bits_for_count(max_count)
        else:
            self._bits = bits_per_element(self.kind, self.depth, self.pooling, self.window)
            if max_count >= 1 << self._bits:
                raise ValueError(f"replay buffer holds counts up to {max_count}, more than {self._bits}-bit "
                                 f"'{pooling}' frames of a {self.window}-step window allow (inputs not 0/1 spikes?)")
        self._payload = self._pack(latents, self._bits)

    # ----------------------------------------------------------------- construction helpers
    @classmethod
    def from_uncompressed(cls, batches: Sequence[tuple[Tensor, Tensor]], *, depth: int | None, n_frames: int,
                          pooling: Pooling, mode: Mode, kind: Kind = "latent") -> "LatentBuffer":
        """Compress each ``[B, T, H]`` latent with :func:`compress` and store the result."""
        batches = list(batches)
        if not batches:
            raise ValueError("from_uncompressed needs at least one batch (nb_steps is read from it)")
        nb_steps = _check_3d("replay batch 0", batches[0][0])[1]
        check_subsample(n_frames, nb_steps)
        stored = []
        for i, (x, y) in enumerate(batches):
            if _check_3d(f"replay batch {i}", x)[1] != nb_steps:
                raise ValueError(f"replay batch {i} has {x.shape[1]} steps, batch 0 has {nb_steps}")
            stored.append((compress(x, n_frames, pooling), y))
        return cls(stored, depth=depth, n_frames=n_frames, nb_steps=nb_steps, pooling=pooling,
                   mode=mode, kind=kind)

    @staticmethod
    def _check_counts(latents: list[Tensor]) -> int:
        """Largest value; raise unless every value is a finite non-negative integer."""
        max_count = 0
        for i, x in enumerate(latents):
            if x.numel() == 0:
                continue
            xf = _as_float(x)
            bad = ~torch.isfinite(xf) | (xf < 0) | (xf != xf.round())
            if bool(bad.any()):
                v = xf[bad]
                raise ValueError(f"replay batch {i}: packed frames must be non-negative integers "
                                 f"(spikes or counts), found values in [{v.min().item()}, {v.max().item()}]")
            max_count = max(max_count, int(xf.max().item()))
        return max_count

    @staticmethod
    def _pack(latents: list[Tensor], bits: int) -> Tensor:
        """Pack all batches into one contiguous stream, batch by batch.

        Each step packs a multiple of 8 elements (whole bytes for any ``bits``) on the batch's own
        device and carries the remaining < 8 elements into the next batch, so the pieces
        concatenate into the same stream as packing everything at once, without ever holding a
        copy of the whole buffer unpacked.
        """
        stage_dtype = torch.uint8 if bits <= 8 else torch.int32  # values were checked to fit
        pieces, carry = [], torch.zeros(0, dtype=stage_dtype)
        for x in latents:
            flat = torch.cat([carry.to(x.device), x.reshape(-1).to(stage_dtype)])
            whole = flat.numel() - flat.numel() % 8
            for i in range(0, whole, _PACK_CHUNK):
                pieces.append(_pack_uint(flat[i:min(i + _PACK_CHUNK, whole)], bits).cpu())
            carry = flat[whole:]
        pieces.append(_pack_uint(carry, bits).cpu())
        return torch.cat(pieces)

    # ----------------------------------------------------------------- access
    def __len__(self) -> int:
        """Number of stored batches."""
        return len(self._records)

    @property
    def n_samples(self) -> int:
        return sum(r.shape[0] for r in self._records)

    def frames(self, i: int, device: torch.device | str | None = None) -> Tensor:
        """The stored compressed frames of batch ``i`` as float32 ``[B, T', H]``."""
        r = self._records[i]
        if self.depth == 0:
            flat = self._payload[r.start:r.start + r.numel].to(device)
        else:
            lo_bit = r.start * self._bits
            lo, hi = lo_bit // 8, -(-(lo_bit + r.numel * self._bits) // 8)
            chunk = self._payload[lo:hi].to(device)  # only this record's packed bytes travel
            flat = _unpack_uint(chunk, r.numel, self._bits, bit_offset=lo_bit - 8 * lo)
        return flat.to(torch.float32).reshape(r.shape)

    def labels(self, i: int, device: torch.device | str | None = None) -> Tensor:
        """Labels (int64 ``[B]``) of batch ``i``."""
        return self._records[i].labels.to(device)

    def batches(self, device: torch.device | str | None = None) -> Iterator[tuple[Tensor, Tensor]]:
        """Yield ``(decompressed float32 [B, T, H], labels int64 [B])`` in stored order."""
        for i, r in enumerate(self._records):
            yield decompress(self.frames(i, device), self.nb_steps, self.mode), r.labels.to(device)

    # ----------------------------------------------------------------- accounting
    @property
    def payload_bits_per_element(self) -> int:
        return self._bits

    @property
    def nbytes(self) -> int:
        """Bytes actually held by the stored latent payload (labels excluded)."""
        return self._payload.numel() * self._payload.element_size()

    @property
    def label_nbytes(self) -> int:
        return sum(r.labels.numel() * r.labels.element_size() for r in self._records)

    @property
    def ratio(self) -> str:
        return ratio_string(self.n_frames, self.nb_steps)

    def describe(self) -> dict:
        """Summary for result records (reference-spec s5 quantities)."""
        nbytes = self.nbytes
        return {
            "kind": self.kind,
            "depth": self.depth,
            "pooling": self.pooling,
            "mode": self.mode,
            "nb_steps": self.nb_steps,
            "n_frames": self.n_frames,
            "window": self.window,
            "ratio": self.ratio,
            "n_batches": len(self),
            "n_samples": self.n_samples,
            "width": self.width,
            "bits_per_element": self._bits,
            "storage": "float32" if self.depth == 0 else f"packed uint{self._bits}",
            "nbytes": nbytes,
            "kb": nbytes / 1000,
            "label_nbytes": self.label_nbytes,
            "raw_equivalent_ratio": (raw_equivalent_ratio(nbytes, self.n_samples, self.nb_steps)
                                     if nbytes else None),
        }

    def __repr__(self) -> str:
        d = self.describe()
        return (f"LatentBuffer(kind={d['kind']}, depth={d['depth']}, ratio={d['ratio']}, pooling={d['pooling']}, "
                f"mode={d['mode']}, batches={d['n_batches']}, samples={d['n_samples']}, nbytes={d['nbytes']})")
