"""sccl.replay: compression / decompression against the literal loops, packing, buffer, memory."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from literal_loops import literal_compress, literal_decompress
from sccl import replay
from sccl.errors import ConfigError
from sccl.replay import (LatentBuffer, bits_per_element, compress, decompress, memory_bytes, pack_bits,
                         raw_equivalent_ratio, unpack_bits)

T12_FRAMES = (1, 2, 3, 4, 6, 12)


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _spikes(shape, p=0.3, seed=0):
    return (torch.rand(shape, generator=_gen(seed)) < p).float()


def _counts(shape, high, seed=0):
    return torch.randint(0, high + 1, shape, generator=_gen(seed)).float()


def _currents(shape, seed=0):
    x = torch.randn(shape, generator=_gen(seed))
    x[x.abs() < 0.3] = 0.0  # exact zeros, as in sparse-input currents
    return x


# --------------------------------------------------------------------------- vs literal loops

@pytest.mark.parametrize("n_frames", T12_FRAMES)
@pytest.mark.parametrize("shape", [(1, 12, 3), (4, 12, 7)])
def test_or_pooling_and_first_step_match_literal_loops(shape, n_frames):
    x = _spikes(shape, seed=n_frames)
    frames = compress(x, n_frames, "or")
    assert torch.equal(frames, literal_compress(x, n_frames, "or"))
    assert torch.equal(decompress(frames, shape[1], "first"), literal_decompress(frames, shape[1], "first"))


@pytest.mark.parametrize("n_frames", T12_FRAMES)
@pytest.mark.parametrize("shape", [(1, 12, 3), (4, 12, 7)])
def test_sum_pooling_and_burst_match_literal_loops(shape, n_frames):
    x = _spikes(shape, p=0.5, seed=10 + n_frames)
    frames = compress(x, n_frames, "sum")
    assert torch.equal(frames, literal_compress(x, n_frames, "sum"))
    assert torch.equal(decompress(frames, shape[1], "burst"), literal_decompress(frames, shape[1], "burst"))
    # counts are preserved by the burst: each window replays exactly its count of spikes
    w = shape[1] // n_frames
    assert torch.equal(compress(decompress(frames, shape[1], "burst"), n_frames, "sum"), frames)
    assert int(frames.max()) <= w


@pytest.mark.parametrize("n_frames", T12_FRAMES)
def test_sum_pooling_of_integer_counts_is_exact(n_frames):
    x = _counts((3, 12, 5), high=4, seed=n_frames)  # raw input counts (duplicates summed)
    frames = compress(x, n_frames, "sum")
    assert torch.equal(frames, literal_compress(x, n_frames, "sum"))
    assert torch.equal(decompress(frames, 12, "first"), literal_decompress(frames, 12, "first"))


@pytest.mark.parametrize("n_frames", T12_FRAMES)
def test_burst_of_random_counts_matches_literal_loop(n_frames):
    w = 12 // n_frames
    counts = _counts((2, n_frames, 4), high=w, seed=n_frames)
    assert torch.equal(decompress(counts, 12, "burst"), literal_decompress(counts, 12, "burst"))


@pytest.mark.parametrize("n_frames", T12_FRAMES)
def test_depth0_currents_sum_within_tolerance(n_frames):
    x = _currents((3, 12, 6), seed=n_frames)
    frames = compress(x, n_frames, "sum")
    torch.testing.assert_close(frames, literal_compress(x, n_frames, "sum"), rtol=1e-6, atol=1e-6)
    assert torch.equal(decompress(frames, 12, "first"), literal_decompress(frames, 12, "first"))


def test_paper_sizes_match_literal_loop():
    """One sample of the paper's sizes (T=100, H=50, 1:10 and 1:5)."""
    x = _spikes((1, 100, 50), p=0.1, seed=3)
    for n_frames in (10, 20):
        for pooling, mode in (("or", "first"), ("sum", "burst")):
            frames = compress(x, n_frames, pooling)
            assert torch.equal(frames, literal_compress(x, n_frames, pooling))
            assert torch.equal(decompress(frames, 100, mode), literal_decompress(frames, 100, mode))


@pytest.mark.parametrize("steps,n_frames", [(12, 5), (12, 7), (10, 3), (100, 30)])
@pytest.mark.parametrize("pooling", ["or", "sum"])
def test_truncating_pool_matches_literal_loop_when_window_does_not_divide(steps, n_frames, pooling):
    """The original drops steps past T' * w; the library refuses such T' (below) but the pooling
    kernel keeps the original's truncation and is pinned here."""
    x = _spikes((2, steps, 3), p=0.4, seed=steps + n_frames)
    assert torch.equal(replay._pool(x, n_frames, pooling), literal_compress(x, n_frames, pooling))


@pytest.mark.parametrize("mode", ["first", "burst"])
@pytest.mark.parametrize("pooling", ["or", "sum"])
def test_ratio_one_is_identity(pooling, mode):
    x = _spikes((2, 12, 5), seed=1)
    assert torch.equal(compress(x, 12, pooling), x)
    assert torch.equal(decompress(x, 12, mode), x)
    currents = _currents((2, 12, 5))
    assert torch.equal(decompress(compress(currents, 12, "sum"), 12, "first"), currents)


def test_one_window():
    x = _spikes((2, 12, 5), p=0.2, seed=2)
    frames = compress(x, 1, "sum")
    assert frames.shape == (2, 1, 5)
    assert torch.equal(frames[:, 0], x.sum(dim=1))
    burst = decompress(frames, 12, "burst")
    for c in range(13):  # count c -> spikes at steps 0..c-1 of the single window
        sel = frames[:, 0] == c
        if sel.any():
            assert torch.equal(burst.permute(0, 2, 1)[sel].sum(dim=1), torch.full((int(sel.sum()),), float(c)))
            assert bool((burst.permute(0, 2, 1)[sel][:, :c] == 1).all())


def test_worked_example_from_docs():
    """The 1:4 example in docs/replay.md."""
    x = torch.tensor([0, 0, 1, 0, 0, 0, 0, 0, 1, 1, 0, 1.]).view(1, 12, 1)
    assert compress(x, 3, "or").flatten().tolist() == [1, 0, 1]
    assert decompress(compress(x, 3, "or"), 12, "first").flatten().tolist() == [1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]
    assert compress(x, 3, "sum").flatten().tolist() == [1, 0, 3]
    assert decompress(compress(x, 3, "sum"), 12, "burst").flatten().tolist() == [1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16])
def test_dtype_and_device_preserved(dtype):
    x = _spikes((2, 12, 3)).to(dtype)
    for pooling, mode in (("or", "first"), ("sum", "burst")):
        f = compress(x, 4, pooling)
        y = decompress(f, 12, mode)
        assert f.dtype == dtype and y.dtype == dtype and f.device == x.device and y.device == x.device
    assert compress(x.bool(), 4, "or").dtype == torch.float32  # non-float inputs promoted


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_round_trip():
    x = _spikes((4, 100, 50), p=0.1).cuda()
    f = compress(x, 10, "or")
    assert f.is_cuda and torch.equal(f.cpu(), compress(x.cpu(), 10, "or"))
    assert decompress(f, 100, "first").is_cuda
    packed, shape = pack_bits(f)
    assert packed.is_cuda and torch.equal(unpack_bits(packed, shape), f)
    buf = LatentBuffer([(f, torch.arange(4))], depth=3, n_frames=10, nb_steps=100, pooling="or", mode="first")
    (y, labels), = buf.batches("cuda")
    assert y.is_cuda and labels.is_cuda and torch.equal(y, decompress(f, 100, "first"))


# --------------------------------------------------------------------------- validation

@pytest.mark.parametrize("n_frames", [0, 5, 7, 8, 13, -1])
def test_invalid_subsample_raises_config_error_with_divisors(n_frames):
    x = _spikes((1, 12, 3))
    with pytest.raises(ConfigError, match=r"frames T'=.*\[1, 2, 3, 4, 6, 12\]") as e:  # library terms;
        compress(x, n_frames, "or")
    assert e.value.setting == "n_frames"  # the CLI names the flag (--latent_subsample)
    if n_frames > 0:
        with pytest.raises(ConfigError, match="frames T'="):
            decompress(torch.zeros(1, n_frames, 3), 12, "first")


def test_bad_pooling_mode_and_shape():
    x = _spikes((1, 12, 3))
    with pytest.raises(ConfigError, match="pooling"):
        compress(x, 4, "max")
    with pytest.raises(ConfigError, match="mode"):
        decompress(compress(x, 4, "or"), 12, "last")
    with pytest.raises(ValueError, match=r"\[B, T, H\]"):
        compress(x[0], 4, "or")


# --------------------------------------------------------------------------- bit packing

@pytest.mark.parametrize("shape", [(1,), (7,), (8,), (9,), (3, 5, 7), (2, 10, 50), (0,)])
def test_pack_unpack_round_trip(shape):
    x = (torch.rand(shape, generator=_gen(sum(shape))) < 0.4).float()
    packed, s = pack_bits(x)
    assert packed.dtype == torch.uint8 and packed.numel() == math.ceil(x.numel() / 8)
    assert s == x.shape
    out = unpack_bits(packed, s)
    assert out.dtype == torch.float32 and torch.equal(out, x)
    # little-endian bit order, same as numpy's packbits(bitorder="little")
    ref = np.packbits(x.numpy().astype(np.uint8).reshape(-1), bitorder="little")
    assert np.array_equal(packed.numpy(), ref)
    assert torch.equal(pack_bits(x.bool())[0], packed)


def test_pack_rejects_non_binary():
    with pytest.raises(ValueError, match="0/1"):
        pack_bits(torch.tensor([0.0, 1.0, 2.0]))


@pytest.mark.parametrize("bits", [2, 3, 4, 7, 11])
def test_multibit_packing_round_trip_at_any_offset(bits):
    v = torch.randint(0, 1 << bits, (203,), generator=_gen(bits))
    packed = replay._pack_uint(v, bits)
    assert packed.numel() == math.ceil(203 * bits / 8)
    for start in (0, 1, 5, 8, 101):
        got = replay._unpack_uint(packed, 203 - start, bits, bit_offset=start * bits)
        assert torch.equal(got.long(), v[start:])


# --------------------------------------------------------------------------- memory accounting

# reference-spec s5.2: N -> {(depth, T'): KB}; width 200/100/50 for depth 1/2/3, raw 700 at 1 bit
S52 = {
    640: {(1, 100): 1600, (1, 10): 160, (2, 100): 800, (2, 20): 160, (2, 10): 80, (3, 100): 400,
          (3, 20): 80, (3, 10): 40, ("raw", 100): 5600, ("raw", 10): 560},
    1280: {(1, 100): 3200, (1, 10): 320, (2, 100): 1600, (2, 20): 320, (2, 10): 160, (3, 100): 800,
           (3, 20): 160, (3, 10): 80, ("raw", 100): 11200, ("raw", 10): 1120},
    2560: {(1, 100): 6400, (1, 10): 640, (2, 100): 3200, (2, 20): 640, (2, 10): 320, (3, 100): 1600,
           (3, 20): 320, (3, 10): 160, ("raw", 100): 22400, ("raw", 10): 2240},
    5120: {(1, 100): 12800, (1, 10): 1280, (2, 100): 6400, (2, 20): 1280, (2, 10): 640, (3, 100): 3200,
           (3, 20): 640, (3, 10): 320, ("raw", 100): 44800, ("raw", 10): 4480},
    1216: {(1, 100): 3040, (1, 10): 304, (2, 100): 1520, (2, 20): 304, (2, 10): 152, (3, 100): 760,
           (3, 20): 152, (3, 10): 76, ("raw", 100): 10640, ("raw", 10): 1064},
    2432: {(1, 100): 6080, (1, 10): 608, (2, 100): 3040, (2, 20): 608, (2, 10): 304, (3, 100): 1520,
           (3, 20): 304, (3, 10): 152, ("raw", 100): 21280, ("raw", 10): 2128},
}
WIDTH = {1: 200, 2: 100, 3: 50, "raw": 700}


def test_memory_formula_reproduces_spec_table_5_2():
    for n, row in S52.items():
        for (what, n_frames), kb in row.items():
            if what == "raw":
                bits = bits_per_element("raw", None, "sum", 100 // n_frames, max_count=1)
            else:
                bits = bits_per_element("latent", what, "or", 100 // n_frames)
            assert bits == 1
            assert memory_bytes(n, n_frames, WIDTH[what], bits) == kb * 1000, (n, what, n_frames)


def test_memory_formula_reproduces_spec_table_5_1_per_sample():
    assert memory_bytes(1, 100, 700, 1) == 8750
    assert memory_bytes(1, 10, 200, bits_per_element("latent", 0, "sum", 10)) == 8000
    assert [memory_bytes(1, tp, 50, 1) for tp in (100, 50, 20, 10)] == [625, 312.5, 125, 62.5]
    assert memory_bytes(2560, 10, 50, 1) == 160_000
    assert memory_bytes(640, 10, 200, 1) == 160_000


def test_bits_per_element():
    assert bits_per_element("latent", 0, "sum", 5) == 32
    assert all(bits_per_element("latent", d, "or", w) == 1 for d in (1, 2, 3) for w in (1, 2, 5, 10, 100))
    for w in (1, 2, 3, 4, 5, 7, 8, 10, 15, 16, 100):
        assert bits_per_element("latent", 2, "sum", w) == math.ceil(math.log2(w + 1))
    assert bits_per_element("raw", None, "sum", 10, max_count=1) == 1
    assert bits_per_element("raw", None, "sum", 10, max_count=12) == 4
    with pytest.raises(ConfigError, match="max_count"):
        bits_per_element("raw", None, "sum", 10)
    with pytest.raises(ConfigError, match="depth"):
        bits_per_element("latent", 4, "or", 10)
    with pytest.raises(ConfigError):
        bits_per_element("latent", 0, "or", 10)


def test_raw_equivalent_ratio_of_the_160kb_depth3_buffer_is_140():
    assert raw_equivalent_ratio(160_000, 2560) == 140
    assert raw_equivalent_ratio(memory_bytes(2560, 100, 50, 1), 2560) == 14


# --------------------------------------------------------------------------- LatentBuffer

def _latent_batches(n_batches, batch, steps, width, p=0.1, seed=0, kind="spikes"):
    out = []
    for i in range(n_batches):
        shape = (batch, steps, width)
        x = {"spikes": lambda: _spikes(shape, p=p, seed=seed + i),
             "currents": lambda: _currents(shape, seed=seed + i),
             "counts": lambda: _counts(shape, high=2, seed=seed + i)}[kind]()
        out.append((x, torch.arange(i * batch, (i + 1) * batch) % 20))
    return out


@pytest.mark.parametrize("depth,width,n_frames", [(1, 200, 10), (2, 100, 20), (3, 50, 10), (3, 50, 100), (3, 7, 4)])
def test_binary_buffer_nbytes_equals_memory_formula(depth, width, n_frames):
    data = _latent_batches(3, 8, 100, width, seed=depth)
    buf = LatentBuffer.from_uncompressed(data, depth=depth, n_frames=n_frames, pooling="or", mode="first")
    assert buf.payload_bits_per_element == 1
    assert buf.n_samples == 24 and len(buf) == 3
    assert buf.nbytes == math.ceil(memory_bytes(24, n_frames, width, 1))
    assert buf.label_nbytes == 24 * 8
    d = buf.describe()
    assert d["ratio"] == f"1:{100 // n_frames}" and d["nbytes"] == buf.nbytes and d["bits_per_element"] == 1
    assert d["depth"] == depth and d["kind"] == "latent" and d["pooling"] == "or" and d["n_samples"] == 24


def test_buffer_nbytes_pads_only_the_last_byte():
    # 3 batches of 1 x 1 x 3 = 9 bits in total: 2 bytes, although each batch alone would need 1
    data = [(_spikes((1, 1, 3), p=0.5, seed=i), torch.tensor([i])) for i in range(3)]
    buf = LatentBuffer(data, depth=1, n_frames=1, nb_steps=1, pooling="or", mode="first")
    assert buf.nbytes == 2
    for i, (x, y) in enumerate(data):
        assert torch.equal(buf.frames(i), x) and torch.equal(buf.labels(i), y)


@pytest.mark.parametrize("pooling,mode", [("or", "first"), ("sum", "burst"), ("sum", "first")])
def test_buffer_batches_equal_round_trip_and_keep_labels(pooling, mode):
    data = _latent_batches(4, 5, 12, 7, p=0.3)
    buf = LatentBuffer.from_uncompressed(data, depth=2, n_frames=3, pooling=pooling, mode=mode)
    got = list(buf.batches())
    assert len(got) == 4
    for (x, y), (xd, yd) in zip(data, got):
        assert xd.dtype == torch.float32 and yd.dtype == torch.int64
        assert torch.equal(xd, decompress(compress(x, 3, pooling), 12, mode))
        assert torch.equal(yd, y)
    if pooling == "sum":
        assert buf.payload_bits_per_element == 3  # counts 0..4 in a 4-step window
        assert buf.nbytes == math.ceil(memory_bytes(20, 3, 7, 3))


def test_labels_travel_with_their_latents():
    # each sample's latent encodes its label, so any mis-join would show
    data = []
    for i in range(5):
        y = torch.randint(0, 20, (4,), generator=_gen(i))
        x = torch.zeros(4, 10, 20)
        x[torch.arange(4), 0, y] = 1.0
        data.append((x, y))
    buf = LatentBuffer.from_uncompressed(data, depth=1, n_frames=5, pooling="or", mode="first")
    for x, y in buf.batches():
        assert torch.equal(x[:, 0].argmax(dim=1), y)
    # mutating the caller's label tensor afterwards does not change the buffer
    data[0][1].fill_(99)
    assert not bool((buf.labels(0) == 99).any())


def test_depth0_currents_stored_exactly_as_float32():
    data = _latent_batches(2, 3, 12, 6, kind="currents")
    buf = LatentBuffer.from_uncompressed(data, depth=0, n_frames=4, pooling="sum", mode="first")
    assert buf.payload_bits_per_element == 32
    assert buf.nbytes == memory_bytes(6, 4, 6, 32)
    for i, ((x, _), (xd, _)) in enumerate(zip(data, buf.batches())):
        frames = compress(x, 4, "sum")
        assert torch.equal(buf.frames(i), frames)  # bit-exact
        assert torch.equal(xd, decompress(frames, 12, "first"))
    assert buf.describe()["storage"] == "float32"


def test_raw_count_buffer():
    data = _latent_batches(2, 4, 20, 700, kind="counts")
    buf = LatentBuffer.from_uncompressed(data, depth=None, n_frames=2, pooling="sum", mode="first", kind="raw")
    max_count = max(int(compress(x, 2, "sum").max()) for x, _ in data)
    assert buf.payload_bits_per_element == max_count.bit_length()
    assert buf.nbytes == math.ceil(memory_bytes(8, 2, 700, max_count.bit_length()))
    for (x, _), (xd, _) in zip(data, buf.batches()):
        assert torch.equal(xd, decompress(compress(x, 2, "sum"), 20, "first"))
    assert buf.describe()["kind"] == "raw" and buf.describe()["depth"] is None


def test_uncompressed_raw_counts_with_duplicates_and_sparse_input():
    """Uncompressed raw rehearsal: counts > 1 (duplicate events) fit whatever pooling is named."""
    data = _latent_batches(2, 4, 20, 30, kind="counts")
    sparse = [(x.to_sparse(), y) for x, y in data]
    for pooling in ("or", "sum"):
        buf = LatentBuffer(sparse, depth=None, n_frames=20, nb_steps=20, pooling=pooling, mode="first", kind="raw")
        assert buf.payload_bits_per_element == 2  # counts 0..2
        assert buf.nbytes == memory_bytes(8, 20, 30, 2)
        assert all(torch.equal(x, xd) for (x, _), (xd, _) in zip(data, buf.batches()))
    assert torch.equal(compress(sparse[0][0], 5, "sum"), compress(data[0][0], 5, "sum"))


@pytest.mark.parametrize("bits_window", [(1, 1), (3, 4), (4, 10)])
def test_streamed_packing_of_odd_batches(bits_window, monkeypatch):
    """Batches whose element counts are not multiples of 8, packed in small pieces, read back exactly."""
    bits, w = bits_window
    monkeypatch.setattr(replay, "_PACK_CHUNK", 16)
    n_frames = 40 // w
    data = [(_counts((b, n_frames, 3), high=w, seed=b), torch.arange(b)) for b in (1, 3, 2, 5)]
    buf = LatentBuffer(data, depth=2, n_frames=n_frames, nb_steps=40, pooling="sum" if w > 1 else "or", mode="first")
    assert buf.payload_bits_per_element == bits
    assert buf.nbytes == math.ceil(11 * n_frames * 3 * bits / 8)
    flat = torch.cat([x.reshape(-1) for x, _ in data])
    assert torch.equal(buf._payload, replay._pack_uint(flat.long(), bits))
    for i, (x, y) in enumerate(data):
        assert torch.equal(buf.frames(i), x) and torch.equal(buf.labels(i), y)


def test_uncompressed_spike_buffer_is_one_bit_and_lossless():
    data = _latent_batches(2, 4, 100, 50, p=0.1)
    buf = LatentBuffer.from_uncompressed(data, depth=3, n_frames=100, pooling="or", mode="first")
    assert buf.nbytes == memory_bytes(8, 100, 50, 1) == 5000
    assert all(torch.equal(x, xd) for (x, _), (xd, _) in zip(data, buf.batches()))
    assert buf.describe()["ratio"] == "1:1"


def test_buffer_validation():
    x = _spikes((2, 4, 3))
    y = torch.tensor([0, 1])
    with pytest.raises(ConfigError, match="frames T'="):
        LatentBuffer([(x, y)], depth=1, n_frames=3, nb_steps=10, pooling="or", mode="first")
    with pytest.raises(ConfigError, match="latent depth"):
        LatentBuffer([(x, y)], depth=4, n_frames=4, nb_steps=8, pooling="or", mode="first")
    with pytest.raises(ConfigError):
        LatentBuffer([(x, y)], depth=0, n_frames=4, nb_steps=8, pooling="sum", mode="burst")
    with pytest.raises(ConfigError):
        LatentBuffer([(x, y)], depth=0, n_frames=4, nb_steps=8, pooling="or", mode="first")
    # uncompressed (window 1): the pooling name is irrelevant
    assert LatentBuffer([(x, y)], depth=0, n_frames=4, nb_steps=4, pooling="or", mode="first").nbytes == 96
    with pytest.raises(ValueError, match=r"\[B, T, H\]"):
        LatentBuffer([(x[0], y)], depth=1, n_frames=4, nb_steps=4, pooling="or", mode="first")
    with pytest.raises(ValueError, match="frames"):
        LatentBuffer([(x, y)], depth=1, n_frames=2, nb_steps=8, pooling="or", mode="first")
    with pytest.raises(ValueError, match="labels"):
        LatentBuffer([(x, y.float())], depth=1, n_frames=4, nb_steps=8, pooling="or", mode="first")
    with pytest.raises(ValueError, match="counts up to 2"):  # OR frames must be 0/1
        LatentBuffer([(x * 2, y)], depth=1, n_frames=4, nb_steps=8, pooling="or", mode="first")
    with pytest.raises(ValueError, match="non-negative integers"):
        LatentBuffer([(x * 0.5, y)], depth=1, n_frames=4, nb_steps=8, pooling="sum", mode="burst")


def test_replay_scheme():
    assert replay.replay_scheme("new", 0) == ("sum", "first")
    assert replay.replay_scheme("new", 2) == ("or", "first")
    assert replay.replay_scheme("sums", 0) == ("sum", "first")
    assert replay.replay_scheme("sums", 3) == ("sum", "burst")
    assert replay.replay_scheme("raw", None) == ("sum", "first")
