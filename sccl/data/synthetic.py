"""Synthetic SHD: a procedural generator of spoken digits in the Spiking Heidelberg Digits layout.

The real SHD files cannot always be downloaded, so sccl embeds a stand-in: ``make_synthetic_shd``
writes ``shd_train.h5`` and ``shd_test.h5`` in exactly the SHD HDF5 layout (reference-spec
s1.1), read by the same loader, merge, filters and binning as the real files. It is for running
the pipeline end to end, for tests and for demos. **Accuracies on it say nothing about SHD**;
every file carries the root attribute ``generator = "sccl.synthetic"`` so results made from it
are labelled ``dataset: synthetic`` (:func:`dataset_label`).

Model of one utterance (a cartoon of what the lauscher cochlea model that made SHD outputs):

* a word is a string of phones (``three = T r i``, ``drei = d R aI``); English and German words
  share one phone inventory, so counterparts are related but distinct;
* each phone becomes a few *components*, each a band of spikes with a start and end time, a
  channel track (linear glide between two channels), a channel spread and a Poisson rate:
  vowels, glides and nasals get three formant tracks (plus a weak F4), resolved harmonics of f0
  around F1, a voicing band at f0 and a broad low-frequency band; fricatives get noise bands;
  plosives are closure (silent, or a voice bar) -> burst -> aspiration coloured by the next
  vowel; 70 % of voiced spikes are phase-locked to the glottal pulses;
* frequencies become channels through the lauscher channel map (:func:`freq_to_unit`, unit 0 is
  the highest frequency, speech lies mostly in units ~150-699);
* speakers (12, seeded) differ in vocal-tract scale (a channel shift), f0, speaking rate, gain,
  spectral tilt, excitation spread, background rate and an *accent*: per-phone formant offsets
  (sd ``accent`` in log frequency) and per-phone duration and amplitude (sd ``3 * accent`` in
  log);
* each utterance adds jitter, all scaled by ``var``: global and per-phone duration, formant
  positions (per phone and for the whole word), f0, gain (global and per phone), a recording
  channel shift (sd ``5 * var`` channels), spike-time jitter, background rate; plus a random
  onset (10-200 ms) and 15 % spike dropout (folded into the Poisson rates, which is the same
  distribution);
* like lauscher's RMS normalisation, the expected spike total of an utterance is pulled half
  way (in log) towards 6,000, which bounds the spread of spikes per sample.

Events are drawn directly (Poisson counts per component, then uniform times along the component
and Gaussian channels around its track), so a sample costs O(#spikes) and no dense raster is
built. Every sample has its own generator ``np.random.default_rng([seed, speaker, label, rep])``:
it does not depend on the generation order, and a small ``n_rep`` gives exactly the first
repetitions of a large set. Only the train/test draw depends on ``n_rep``.

Train/test split like SHD: speakers 4 and 5 are test-only; of every other (speaker, word),
``round(0.05 * n_rep)`` repetitions go to the test file (none when ``n_rep < 10``).

Everything is deterministic: the same arguments give byte-identical files (no timestamps in the
HDF5 objects). Files are written to a temporary name in the target folder and renamed into
place, so an interrupted run leaves no half-written file.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Sequence

import h5py
import numpy as np

from sccl.errors import ConfigError, DataError, SCCLError

GENERATOR = "sccl.synthetic"
#: Bump when the same arguments would produce different events.
GENERATOR_VERSION = "1.0"

#: Named parameter sets (``--preset``). ``default`` is the generator's original setting: files made
#: with it carry no ``preset`` attribute, so their bytes are those of every earlier version.
#: ``demo`` is a more learnable variant for ``make demo``: less per-utterance jitter and a milder
#: accent, so the paper's network learns it to >= 80 % in the demo's few epochs (docs/synthetic.md).
#: Its files carry the root attribute ``preset = "demo"``, which every result then records.
PRESETS = MappingProxyType({
    "default": MappingProxyType({"var": 1.5, "accent": 0.12}),
    "demo": MappingProxyType({"var": 0.5, "accent": 0.06}),
})
DEFAULT_PRESET = "default"

TRAIN_NAME = "shd_train.h5"
TEST_NAME = "shd_test.h5"

NB_UNITS = 700
MAX_TIME = 1.4               # s; the reference binning breaks for a spike at >= 1.4 s (spec s1.4)
_T_LIMIT = 1.399             # s; events at or after this are dropped (keeps float32 times < 1.4)
_SPEECH_END = 1.33           # s; utterances are shifted / compressed to end before this
TEST_ONLY_SPEAKERS = (4, 5)
TEST_FRACTION = 0.05         # of every (speaker, word) of the other speakers

#: SHD's order: 0-9 English, 10-19 German (ASCII spelling "fuenf").
KEYS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
        "null", "eins", "zwei", "drei", "vier", "fuenf", "sechs", "sieben", "acht", "neun")

# ------------------------------------------------------------------------- channel map
# Centre frequency of lauscher's channels (peak of the membrane transfer function), unit 0 the
# highest frequency. Between these points log-frequency is interpolated linearly; beyond them
# the end slopes are extended.
_MAP_UNITS = np.array([665, 630, 560, 490, 420, 350, 280, 210, 140, 70, 0], dtype=np.float64)
_MAP_HZ = np.array([133, 175, 300, 510, 860, 1460, 2500, 4200, 7000, 12000, 22500], dtype=np.float64)
_MAP_LOG = np.log(_MAP_HZ)
_SLOPE_LO = (_MAP_UNITS[0] - _MAP_UNITS[1]) / (_MAP_LOG[1] - _MAP_LOG[0])    # units per e-fold
_SLOPE_HI = (_MAP_UNITS[-2] - _MAP_UNITS[-1]) / (_MAP_LOG[-1] - _MAP_LOG[-2])


def freq_to_unit(log_hz: np.ndarray) -> np.ndarray:
    """Channel (float, may lie outside 0..699) of natural-log frequencies ``log_hz`` (log Hz)."""
    log_hz = np.asarray(log_hz, dtype=np.float64)
    u = np.interp(log_hz, _MAP_LOG, _MAP_UNITS)
    u = u + _SLOPE_LO * np.maximum(_MAP_LOG[0] - log_hz, 0.0)
    return u - _SLOPE_HI * np.maximum(log_hz - _MAP_LOG[-1], 0.0)


# ------------------------------------------------------------------------- phone inventory
# Formant targets (Hz, adult-male reference) as (start, end); a monophthong has start == end.
_V = "vowel"
_A = "approximant"
_N = "nasal"
_F = "fricative"
_P = "plosive"

_FORMANTS = {
    # monophthongs
    "i": (280, 2250, 2900), "I": (400, 1900, 2550), "E": (550, 1770, 2490),
    "a": (750, 1300, 2500), "V": (640, 1190, 2390), "O": (570, 840, 2410),
    "U": (450, 1030, 2380), "u": (310, 870, 2250), "@": (500, 1500, 2500),
    "Y": (400, 1500, 2150), "6": (600, 1300, 2300),
    # approximants and nasals (their own formants, also the locus of a following vowel)
    "w": (300, 700, 2200), "r": (350, 1100, 1600), "l": (350, 1000, 2600),
    "R": (500, 1200, 2400), "n": (250, 1450, 2500),
}
_DIPHTHONGS = {
    "aI": ((750, 1300, 2500), (350, 2050, 2700)),
    "eI": ((500, 1850, 2500), (330, 2150, 2700)),
    "oU": ((520, 950, 2400), (350, 800, 2300)),
    "OY": ((550, 900, 2400), (350, 1900, 2550)),
}
# Noise bands of fricatives: (centre Hz, spread in channels, rate spikes/s).
_NOISE = {
    "s": ((6000, 14, 3500), (4300, 10, 1200)),
    "z": ((5600, 14, 3000), (4000, 10, 800)),
    "f": ((4000, 45, 2000),),
    "v": ((3000, 40, 1200),),
    "T": ((5000, 40, 1800),),
    "x": ((1700, 18, 3200), (2700, 16, 1500)),
    "R": ((1400, 20, 700),),       # the uvular approximant has a little friction too
}
_VOICED_FRICATIVES = {"z", "v"}
# Plosives: (voiced, burst centre Hz, burst spread in channels).
_PLOSIVES = {"t": (False, 4500, 30), "k": (False, 2200, 20), "d": (True, 4000, 30),
             "b": (True, 1000, 40)}
# F1-F3 locus (Hz) a vowel's formants start from after a consonant of this place.
_LOCUS = {
    "t": (250, 1800, 2700), "d": (250, 1800, 2700), "s": (250, 1800, 2700),
    "z": (250, 1800, 2700), "k": (250, 2000, 2400), "x": (250, 2000, 2400),
    "b": (250, 900, 2300), "f": (250, 900, 2300), "v": (250, 900, 2300),
    "T": (250, 1600, 2700),
}
# Base durations (s) before speaker rate and jitter.
_DUR = {
    "i": 0.15, "u": 0.15, "I": 0.11, "E": 0.11, "a": 0.12, "V": 0.11, "O": 0.14, "U": 0.11,
    "@": 0.07, "Y": 0.11, "6": 0.10, "aI": 0.21, "eI": 0.20, "oU": 0.19, "OY": 0.21,
    "w": 0.07, "r": 0.07, "l": 0.08, "R": 0.07, "n": 0.08,
    "s": 0.13, "z": 0.10, "f": 0.11, "v": 0.07, "T": 0.11, "x": 0.11,
}
_CLOSURE, _BURST, _ASPIRATION, _FINAL_ASPIRATION = 0.05, 0.012, 0.05, 0.03
_FINAL_VOWEL = 1.3           # word-final lengthening of a vowel
_FINAL_NASAL = 1.5

WORDS = (
    "z I r oU", "w V n", "t u", "T r i", "f O r", "f aI v", "s I k s", "s E v @ n", "eI t",
    "n aI n",
    "n U l", "aI n s", "t s v aI", "d R aI", "f i 6", "f Y n f", "z E k s", "z i b @ n",
    "a x t", "n OY n",
)

# Segments are phones, with each plosive split into closure / burst / aspiration. Every segment
# symbol gets an inventory id so speakers' accents (per phone) are shared across languages.
_SEGMENT_SYMBOLS: list[str] = []


def _symbol_id(sym: str) -> int:
    if sym not in _SEGMENT_SYMBOLS:
        _SEGMENT_SYMBOLS.append(sym)
    return _SEGMENT_SYMBOLS.index(sym)


# Rates (spikes/s at gain 1) of the parts of a voiced segment.
_RATE_FORMANT = (3500.0, 1800.0, 900.0)
_RATE_F4, _HZ_F4 = 300.0, 3400.0
_RATE_VOICING = 3500.0
_RATE_HARMONICS = 5000.0     # shared among the harmonics by their closeness to F1
_RATE_BROAD_LOW = 2500.0
_SD_FORMANT = (6.0, 8.0, 8.0)
_SD_F4, _SD_VOICING, _SD_HARMONIC, _SD_BROAD_LOW = 10.0, 3.0, 2.0, 25.0
_N_HARMONICS = 12
_HARMONIC_WIDTH = 0.35       # sd (log Hz) of the harmonic weighting around F1
_PHASE_LOCKED = 0.7          # fraction of voiced spikes snapped to glottal pulses
_DROPOUT = 0.15
_N_SLOTS = 4                 # accent / jitter slots per segment: F1, F2, F3 (or noise), F4
_ACCENT_DUR = 3.0            # sd of a speaker's log duration per phone, in units of ``accent``
_ACCENT_AMP = 3.0            # sd of a speaker's log rate per phone, in units of ``accent``
_NORM_SPIKES = 6000.0        # expected spikes of speech that the loudness normalisation aims at
_NORM_POWER = 0.5            # 0: no normalisation, 1: every sample has _NORM_SPIKES expected

# Per-utterance jitter at ``var = 1`` (every value is multiplied by ``var``; log factors are
# drawn from normals clipped at +-2 sd). Read-only: changing it changes every sample.
_JITTER = MappingProxyType({
    "dur_global": 0.10,      # sd of log duration factor of the whole word
    "dur_segment": 0.18,     # sd of log duration factor of each segment
    "formant": 0.03,         # sd (log Hz) of each formant / noise band of each segment
    "formant_global": 0.03,  # sd (log Hz) of a whole-utterance formant scale
    "f0": 0.04,              # sd of log f0
    "gain": 0.12,            # sd of log gain of the utterance
    "seg_gain": 0.25,        # sd of log gain of each segment
    "shift": 5.0,            # sd (channels) of the recording channel shift
    "spike_time": 2e-4,      # sd (s) of spike-time jitter of phase-locked spikes
    "background": 0.3,       # sd of log background rate
})

# Component kinds
_K_STATIC, _K_VOICING, _K_HARMONIC, _K_BROAD = 0, 1, 2, 3


@dataclass(frozen=True)
class _Word:
    """Static template of a word: its segments and the components they emit.

    Segment arrays are ``[S]``; component arrays are ``[C]``. Frequencies are natural-log Hz
    for the adult-male reference speaker; ``slot`` columns index ``sym * 4 + slot`` (accent)
    and ``seg * 4 + slot`` (utterance jitter), with -1 meaning "no offset".
    """

    seg_sym: np.ndarray       # [S] inventory id of each segment
    seg_dur: np.ndarray       # [S] base duration (s)
    seg: np.ndarray           # [C] segment of each component
    kind: np.ndarray          # [C] _K_*
    rel0: np.ndarray          # [C] start, as a fraction of the segment's duration
    rel1: np.ndarray          # [C] end
    logf_a: np.ndarray        # [C] log Hz at the start (static components)
    logf_b: np.ndarray        # [C] log Hz at the end
    sd: np.ndarray            # [C] channel spread (channels)
    rate: np.ndarray          # [C] spikes/s
    voiced: np.ndarray        # [C] bool: phase-locked to the glottal pulses
    slot: np.ndarray          # [C] accent/jitter slot 0..3, or -1
    log_k: np.ndarray         # [C] log harmonic number (harmonic components)
    f1_log: np.ndarray        # [C] log F1 of the segment (harmonic / broad components)


def _vowel_targets(ph: str) -> tuple[tuple, tuple] | None:
    if ph in _DIPHTHONGS:
        return _DIPHTHONGS[ph]
    if ph in _FORMANTS:
        return _FORMANTS[ph], _FORMANTS[ph]
    return None


def _kind_of(ph: str) -> str:
    if ph in _PLOSIVES:
        return _P
    if ph in _NOISE and ph != "R":
        return _F
    if ph == "n":
        return _N
    if ph in ("w", "r", "l", "R"):
        return _A
    if ph in _FORMANTS or ph in _DIPHTHONGS:
        return _V
    raise ValueError(f"unknown phone {ph!r}")


def _build_word(phones: Sequence[str]) -> _Word:
    rows: list[tuple] = []
    seg_sym: list[int] = []
    seg_dur: list[float] = []
    n_ph = len(phones)

    def add(kind, rel0, rel1, fa, fb, sd, rate, voiced, slot, k=1, f1=500.0):
        rows.append((len(seg_sym) - 1, kind, rel0, rel1, np.log(fa), np.log(fb), sd, rate,
                     voiced, slot, np.log(k), np.log(f1)))

    def add_voice_source(scale: float, f1: float, harmonics: bool = True) -> None:
        add(_K_VOICING, 0.0, 1.0, 1.0, 1.0, _SD_VOICING, _RATE_VOICING * scale, True, -1, f1=f1)
        add(_K_BROAD, 0.0, 1.0, 1.0, 1.0, _SD_BROAD_LOW, _RATE_BROAD_LOW * scale, True, -1, f1=f1)
        if harmonics:
            for k in range(1, _N_HARMONICS + 1):
                add(_K_HARMONIC, 0.0, 1.0, 1.0, 1.0, _SD_HARMONIC,
                    _RATE_HARMONICS * scale, True, -1, k=k, f1=f1)

    for i, ph in enumerate(phones):
        kind = _kind_of(ph)
        prev = phones[i - 1] if i > 0 else None
        nxt = phones[i + 1] if i + 1 < n_ph else None
        final = nxt is None
        if kind in (_V, _A, _N):
            seg_sym.append(_symbol_id(ph))
            dur = _DUR[ph]
            if final and kind == _V:
                dur *= _FINAL_VOWEL
            if final and kind == _N:
                dur *= _FINAL_NASAL
            seg_dur.append(dur)
            start, end = _vowel_targets(ph)
            # formants glide in from the previous phone (its end targets, or a consonant locus)
            if prev is not None and _vowel_targets(prev) is not None:
                locus = _vowel_targets(prev)[1]
            elif prev in _LOCUS:
                locus = _LOCUS[prev]
            else:
                locus = start
            strength = {_V: 1.0, _A: 0.7, _N: 1.0}[kind]
            for j in range(3):
                rate = _RATE_FORMANT[j] * strength
                if kind == _N and j > 0:
                    rate *= 0.3
                from_hz = np.sqrt(locus[j] * start[j])
                add(_K_STATIC, -0.05, 0.3, from_hz, start[j], _SD_FORMANT[j], rate, True, j)
                add(_K_STATIC, 0.3, 1.05, start[j], end[j], _SD_FORMANT[j], rate, True, j)
            add(_K_STATIC, 0.0, 1.0, _HZ_F4, _HZ_F4, _SD_F4, _RATE_F4 * strength, True, 3)
            add_voice_source(strength, start[0])
            if ph in _NOISE:                      # R: a little friction on top
                for centre, sd, rate in _NOISE[ph]:
                    add(_K_STATIC, 0.0, 1.0, centre, centre, sd, rate, False, 2)
        elif kind == _F:
            seg_sym.append(_symbol_id(ph))
            seg_dur.append(_DUR[ph])
            for centre, sd, rate in _NOISE[ph]:
                add(_K_STATIC, 0.0, 1.0, centre, centre, sd, rate, False, 2)
            if ph in _VOICED_FRICATIVES:
                add_voice_source(0.5, 300.0)
        else:                                     # plosive: closure, burst, aspiration
            voiced, burst_hz, burst_sd = _PLOSIVES[ph]
            seg_sym.append(_symbol_id(ph + "_closure"))
            seg_dur.append(_CLOSURE)
            if voiced:
                add_voice_source(0.4, 250.0, harmonics=False)
            seg_sym.append(_symbol_id(ph + "_burst"))
            seg_dur.append(_BURST)
            add(_K_STATIC, 0.0, 1.0, burst_hz, burst_hz, burst_sd, 25000.0, False, 2)
            if not voiced:
                seg_sym.append(_symbol_id(ph + "_aspiration"))
                nxt_targets = _vowel_targets(nxt) if nxt is not None else None
                seg_dur.append(_ASPIRATION if nxt_targets is not None else _FINAL_ASPIRATION)
                f = nxt_targets[0] if nxt_targets is not None else (500, 1800, 2600)
                add(_K_STATIC, 0.0, 1.0, f[1], f[1], 10.0, 1300.0, False, 1)
                add(_K_STATIC, 0.0, 1.0, f[2], f[2], 10.0, 1300.0, False, 2)
                add(_K_STATIC, 0.0, 1.0, 3000.0, 3000.0, 35.0, 1200.0, False, 3)

    cols = list(zip(*rows))
    return _Word(
        seg_sym=np.array(seg_sym, dtype=np.int64),
        seg_dur=np.array(seg_dur, dtype=np.float64),
        seg=np.array(cols[0], dtype=np.int64),
        kind=np.array(cols[1], dtype=np.int64),
        rel0=np.array(cols[2], dtype=np.float64),
        rel1=np.array(cols[3], dtype=np.float64),
        logf_a=np.array(cols[4], dtype=np.float64),
        logf_b=np.array(cols[5], dtype=np.float64),
        sd=np.array(cols[6], dtype=np.float64),
        rate=np.array(cols[7], dtype=np.float64),
        voiced=np.array(cols[8], dtype=bool),
        slot=np.array(cols[9], dtype=np.int64),
        log_k=np.array(cols[10], dtype=np.float64),
        f1_log=np.array(cols[11], dtype=np.float64),
    )


_WORDS = tuple(_build_word(w.split()) for w in WORDS)
_N_SYMBOLS = len(_SEGMENT_SYMBOLS)


# ------------------------------------------------------------------------- speakers
@dataclass(frozen=True)
class Speaker:
    """Seeded properties of one synthetic speaker (drawn from ``[seed, speaker, 1000, 0]``)."""

    gender: str               # "female" | "male"
    age: int                  # years
    body_height: int          # cm
    vtl: float                # log formant scale (female ~ +0.16, +-5 % per speaker)
    f0: float                 # Hz
    rate: float               # duration factor (> 1: slower)
    gain: float               # spike-rate factor
    tilt: float               # rate factor exponent per e-fold of frequency above 1 kHz
    spread: float             # channel-spread factor
    background: float         # background spikes/s
    accent_f: np.ndarray      # [n_symbols * 4] formant offsets (log Hz)
    accent_dur: np.ndarray    # [n_symbols] duration factors
    accent_amp: np.ndarray    # [n_symbols] rate factors


def _clipped_normal(rng: np.random.Generator, sd: float, size=None):
    """Normal(0, sd) draws clipped at +-2 sd (log factors multiply up; this bounds the tails)."""
    return np.clip(rng.normal(0.0, sd, size), -2.0 * sd, 2.0 * sd)


@lru_cache(maxsize=256)
def speaker_params(seed: int, speaker: int, accent: float = 0.12) -> Speaker:
    """The properties of ``speaker`` under ``seed`` (independent of every other speaker)."""
    rng = np.random.default_rng([seed, speaker, 1000, 0])
    female = (speaker + seed) % 2 == 0
    height = rng.normal(167.0, 6.0) if female else rng.normal(180.0, 7.0)
    # taller speakers have slightly longer vocal tracts (lower formants)
    vtl = (0.16 if female else 0.0) + rng.uniform(-0.04, 0.04) - 0.002 * (height - (167.0 if female else 180.0))
    f0 = rng.uniform(175.0, 240.0) if female else rng.uniform(95.0, 140.0)
    return Speaker(
        gender="female" if female else "male",
        age=int(rng.integers(19, 61)),
        body_height=int(round(height)),
        vtl=float(vtl),
        f0=float(f0),
        rate=float(rng.uniform(0.8, 1.25)),
        gain=float(np.exp(rng.normal(0.0, 0.2))),
        tilt=float(rng.uniform(-0.45, 0.05)),
        spread=float(rng.uniform(0.8, 1.3)),
        background=float(rng.uniform(50.0, 300.0)),
        accent_f=np.append(rng.normal(0.0, accent, _N_SYMBOLS * _N_SLOTS), 0.0),
        accent_dur=np.exp(_clipped_normal(rng, _ACCENT_DUR * accent, _N_SYMBOLS)),
        accent_amp=np.exp(_clipped_normal(rng, _ACCENT_AMP * accent, _N_SYMBOLS)),
    )


# ------------------------------------------------------------------------- one sample
def generate_sample(seed: int, speaker: int, label: int, rep: int, *, var: float = 1.5,
                    accent: float = 0.12) -> tuple[np.ndarray, np.ndarray]:
    """Spike events of repetition ``rep`` of word ``label`` by ``speaker``.

    Returns ``(times, units)``: float32 seconds in ``[0, 1.4)`` sorted ascending, and uint16
    channels in ``[0, 700)``, equally long. Depends only on the arguments (its own generator
    ``default_rng([seed, speaker, label, rep])``).
    """
    spk = speaker_params(seed, speaker, accent)
    rng = np.random.default_rng([seed, speaker, label, rep])
    plan = _plan(rng, _WORDS[label], spk, var)
    return _draw_events(rng, plan, spk, var)


@dataclass(frozen=True)
class _Plan:
    """The components of one utterance, ready to draw: arrays ``[C]``."""

    t0: np.ndarray            # start (s)
    t1: np.ndarray            # end (s)
    ua: np.ndarray            # channel at the start (float)
    ub: np.ndarray            # channel at the end
    sd: np.ndarray            # channel spread
    expected: np.ndarray      # expected number of spikes (Poisson mean)
    voiced: np.ndarray        # bool: phase-locked
    f0: float                 # Hz of this utterance
    end: float                # end of speech (s)


def _plan(rng: np.random.Generator, w: _Word, spk: Speaker, var: float) -> _Plan:
    """Timing, frequencies and rates of every component of word ``w`` spoken by ``spk``."""
    n_seg = len(w.seg_dur)

    # --- timing: durations with speaker rate / accent and utterance jitter
    J = _JITTER
    dur = (w.seg_dur * spk.rate * spk.accent_dur[w.seg_sym]
           * np.exp(_clipped_normal(rng, J["dur_segment"] * var, n_seg)
                    + _clipped_normal(rng, J["dur_global"] * var)))
    total = dur.sum()
    if total > _SPEECH_END - 0.02:                    # very slow utterance: compress it
        dur *= (_SPEECH_END - 0.02) / total
        total = dur.sum()
    onset = min(rng.uniform(0.01, 0.2), _SPEECH_END - total)
    ends = onset + np.cumsum(dur)
    starts = ends - dur

    # --- frequencies: speaker scale + accent + utterance jitter, per (segment, slot)
    jit = np.append(rng.normal(0.0, J["formant"] * var, n_seg * _N_SLOTS), 0.0)
    vtl = spk.vtl + rng.normal(0.0, J["formant_global"] * var)
    acc_idx = np.where(w.slot >= 0, w.seg_sym[w.seg] * _N_SLOTS + w.slot, -1)
    jit_idx = np.where(w.slot >= 0, w.seg * _N_SLOTS + w.slot, -1)
    off = vtl + spk.accent_f[acc_idx] + jit[jit_idx]
    la = w.logf_a + off
    lb = w.logf_b + off
    log_f0 = np.log(spk.f0) + rng.normal(0.0, J["f0"] * var)
    # F1 of the segment (slot 0) for the voice-source components
    f1 = (w.f1_log + vtl + spk.accent_f[w.seg_sym[w.seg] * _N_SLOTS]
          + jit[w.seg * _N_SLOTS])
    src = w.kind != _K_STATIC
    src_log = np.where(w.kind == _K_HARMONIC, log_f0 + w.log_k,
                       np.where(w.kind == _K_BROAD, 0.5 * (log_f0 + f1), log_f0))
    la = np.where(src, src_log, la)
    lb = np.where(src, src_log, lb)

    # --- rates
    gain = spk.gain * np.exp(rng.normal(0.0, J["gain"] * var)) * (1.0 - _DROPOUT)
    seg_gain = spk.accent_amp[w.seg_sym] * np.exp(_clipped_normal(rng, J["seg_gain"] * var, n_seg))
    rate = w.rate * gain * seg_gain[w.seg]
    rate = rate * np.exp(spk.tilt * np.clip(la - np.log(1000.0), 0.0, None))
    harm = w.kind == _K_HARMONIC
    hw = np.where(harm, np.exp(-0.5 * ((src_log - f1) / _HARMONIC_WIDTH) ** 2), 0.0)
    hsum = np.bincount(w.seg, weights=hw, minlength=n_seg)
    rate = np.where(harm, rate * hw / np.maximum(hsum[w.seg], 1e-12), rate)

    t0 = starts[w.seg] + w.rel0 * dur[w.seg]
    t1 = starts[w.seg] + w.rel1 * dur[w.seg]
    shift = rng.normal(0.0, J["shift"] * var)               # recording channel shift
    expected = rate * (t1 - t0)
    # lauscher RMS-normalises every recording; a partial normalisation of the total keeps the
    # relative loudness of the segments but bounds the spread of spikes per sample
    total = expected.sum()
    expected = expected * (_NORM_SPIKES / total) ** _NORM_POWER
    return _Plan(t0=t0, t1=t1, ua=freq_to_unit(la) + shift, ub=freq_to_unit(lb) + shift,
                 sd=w.sd * spk.spread, expected=expected, voiced=w.voiced,
                 f0=float(np.exp(log_f0)), end=float(ends[-1]))


def _draw_events(rng: np.random.Generator, p: _Plan, spk: Speaker, var: float
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Poisson counts per component, then uniform times along it and Gaussian channels."""
    J = _JITTER
    counts = rng.poisson(p.expected)
    comp = np.repeat(np.arange(len(counts)), counts)
    n = comp.size
    u = rng.random(n)
    t = p.t0[comp] + u * (p.t1 - p.t0)[comp]
    ch = p.ua[comp] + u * (p.ub - p.ua)[comp] + rng.standard_normal(n) * p.sd[comp]

    # phase locking: snap a fraction of voiced spikes to the glottal pulses (k + phase) / f0
    locked = p.voiced[comp] & (rng.random(n) < _PHASE_LOCKED)
    phase = rng.random()
    tl = t[locked]
    t[locked] = ((np.round(tl * p.f0 - phase) + phase) / p.f0
                 + rng.normal(0.0, J["spike_time"] * var, tl.size))

    # background spikes over the recording (speech + a short tail)
    rec_end = p.end + 0.05
    bg_rate = spk.background * np.exp(rng.normal(0.0, J["background"] * var))
    n_bg = rng.poisson(bg_rate * rec_end)
    t = np.concatenate([t, rng.uniform(0.0, rec_end, n_bg)])
    ch = np.concatenate([ch, rng.uniform(0.0, NB_UNITS, n_bg)])

    units = np.floor(ch + 0.5)
    keep = (t >= 0.0) & (t < _T_LIMIT) & (units >= 0) & (units < NB_UNITS)
    t = t[keep]
    units = units[keep]
    order = np.argsort(t, kind="stable")
    return t[order].astype(np.float32), units[order].astype(np.uint16)


# ------------------------------------------------------------------------- the files
def _validate(n_rep, seed, var, accent, n_speakers) -> None:
    def is_int(x):
        return isinstance(x, (int, np.integer)) and not isinstance(x, bool)

    if not is_int(n_rep) or not 1 <= n_rep <= 65535:
        raise ConfigError(f"--n_rep must be an integer in 1..65535, got {n_rep!r}")
    if not is_int(seed) or not 0 <= seed < 2**63:
        raise ConfigError(f"--seed must be a non-negative integer, got {seed!r}")
    if not is_int(n_speakers) or not max(TEST_ONLY_SPEAKERS) + 1 <= n_speakers <= 65535:
        raise ConfigError(f"--n_speakers must be an integer >= {max(TEST_ONLY_SPEAKERS) + 1} "
                          f"(speakers {TEST_ONLY_SPEAKERS} are test-only), got {n_speakers!r}")
    for name, v, hi in (("var", var, 10.0), ("accent", accent, 2.0)):
        if not isinstance(v, (int, float, np.floating)) or isinstance(v, bool) or not 0.0 <= v <= hi:
            raise ConfigError(f"--{name} must be a number in [0, {hi}], got {v!r}")


def split_plan(n_rep: int, seed: int = 0, n_speakers: int = 12
               ) -> tuple[list[tuple[int, int, int]], list[tuple[int, int, int]]]:
    """``(train, test)`` lists of ``(speaker, label, rep)`` in file order.

    Speakers 4 and 5 are test-only; of every other (speaker, label), ``round(0.05 * n_rep)``
    repetitions (drawn with ``default_rng([seed, speaker, label, 2000])``) go to test. Each
    list is shuffled with ``default_rng([seed, 3000 + part, n_rep, n_speakers])`` so that any
    prefix of a file mixes speakers and words.
    """
    k_test = int(np.floor(TEST_FRACTION * n_rep + 0.5))
    train: list[tuple[int, int, int]] = []
    test: list[tuple[int, int, int]] = []
    for speaker in range(n_speakers):
        for label in range(len(KEYS)):
            if speaker in TEST_ONLY_SPEAKERS:
                test.extend((speaker, label, r) for r in range(n_rep))
                continue
            to_test = set()
            if k_test:
                pick = np.random.default_rng([seed, speaker, label, 2000])
                to_test = set(pick.choice(n_rep, size=k_test, replace=False).tolist())
            for r in range(n_rep):
                (test if r in to_test else train).append((speaker, label, r))
    out = []
    for part, items in enumerate((train, test)):
        perm = np.random.default_rng([seed, 3000 + part, n_rep, n_speakers]).permutation(len(items))
        out.append([items[i] for i in perm])
    return out[0], out[1]


def _write_file(tmp: Path, items: list[tuple[int, int, int]], attrs: dict, *, seed: int,
                var: float, accent: float, n_speakers: int, progress) -> dict:
    """Generate ``items`` and write them to ``tmp``; return spike statistics.

    No member carries a timestamp (``track_times=False``), so the bytes depend only on the
    arguments.
    """
    n = len(items)
    lengths = np.zeros(n, dtype=np.int64)
    last = np.zeros(n, dtype=np.float64)
    with h5py.File(tmp, "w", libver="earliest", track_order=False) as f:
        for k, v in attrs.items():
            f.attrs[k] = v
        chunk = max(1, min(n, 1024))
        kw = dict(chunks=(chunk,), maxshape=(None,), track_times=False)
        d_times = f.create_dataset("spikes/times", shape=(n,), dtype=h5py.vlen_dtype(np.float32), **kw)
        d_units = f.create_dataset("spikes/units", shape=(n,), dtype=h5py.vlen_dtype(np.uint16), **kw)
        labels = np.array([it[1] for it in items], dtype=np.uint16)
        speakers = np.array([it[0] for it in items], dtype=np.uint16)
        f.create_dataset("labels", data=labels, **kw)
        f.create_dataset("extra/speaker", data=speakers, **kw)
        f.create_dataset("extra/keys", data=np.array([k.encode("ascii") for k in KEYS]),
                         track_times=False)
        sp = [speaker_params(seed, s, accent) for s in range(n_speakers)]
        f.create_dataset("extra/meta_info/gender",
                         data=np.array([p.gender.encode("ascii") for p in sp]), track_times=False)
        f.create_dataset("extra/meta_info/age", data=np.array([p.age for p in sp], dtype=np.uint16),
                         track_times=False)
        f.create_dataset("extra/meta_info/body_height",
                         data=np.array([p.body_height for p in sp], dtype=np.uint16),
                         track_times=False)
        block = 512
        for b0 in range(0, n, block):
            b1 = min(n, b0 + block)
            bt = np.empty(b1 - b0, dtype=object)
            bu = np.empty(b1 - b0, dtype=object)
            for j, (s, lab, r) in enumerate(items[b0:b1]):
                t, u = generate_sample(seed, s, lab, r, var=var, accent=accent)
                bt[j] = t
                bu[j] = u
                lengths[b0 + j] = t.size
                last[b0 + j] = t[-1] if t.size else 0.0
            d_times[b0:b1] = bt
            d_units[b0:b1] = bu
            if progress is not None:
                progress.update(b1 - b0)
    return {"lengths": lengths, "last": last}


def resolve_preset(preset: str = DEFAULT_PRESET, var: float | None = None,
                   accent: float | None = None) -> tuple[float, float]:
    """``(var, accent)`` of ``preset``, each replaced by the explicit value when one is given."""
    if preset not in PRESETS:
        raise ConfigError(f"--preset must be one of {', '.join(PRESETS)}, got {preset!r}")
    p = PRESETS[preset]
    return (p["var"] if var is None else var), (p["accent"] if accent is None else accent)


def make_synthetic_shd(out_dir: str | os.PathLike, n_rep: int = 40, seed: int = 0, var: float | None = None,
                       accent: float | None = None, n_speakers: int = 12, *, preset: str = DEFAULT_PRESET,
                       progress: bool = False) -> tuple[Path, Path]:
    """Write ``shd_train.h5`` and ``shd_test.h5`` (the SHD layout) into ``out_dir``.

    ``n_rep`` repetitions of each of the 20 words by each of ``n_speakers`` speakers
    (``20 * n_rep * n_speakers`` samples in all), split like SHD (module docstring). ``var``
    scales all per-utterance jitter; ``accent`` is the sd (log frequency) of the per-speaker,
    per-phone formant offsets; both default to those of ``preset`` (:data:`PRESETS`; ``default``:
    var 1.5, accent 0.12). A preset other than ``default`` is written as the root attribute
    ``preset``. ``progress`` shows a tqdm bar on stderr.

    Returns ``(train_path, test_path)``. Same arguments -> byte-identical files. Raises
    :class:`ConfigError` for an argument out of range and :class:`DataError` when the folder
    cannot be written.
    """
    paths, _ = _generate(out_dir, n_rep, seed, var, accent, n_speakers, progress, preset=preset)
    return paths


def _generate(out_dir, n_rep, seed, var, accent, n_speakers, progress, *, preset: str = DEFAULT_PRESET
              ) -> tuple[tuple[Path, Path], dict]:
    """:func:`make_synthetic_shd`, also returning per-file spike statistics."""
    var, accent = resolve_preset(preset, var, accent)
    _validate(n_rep, seed, var, accent, n_speakers)
    out = Path(out_dir).expanduser()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(f"cannot create the output folder {out} ({e.strerror}); pick another --out_dir") from e
    train, test = split_plan(n_rep, seed, n_speakers)
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(train) + len(test), desc="synthetic SHD", unit="sample", file=sys.stderr)
    base = {"generator": GENERATOR, "generator_version": GENERATOR_VERSION, "seed": int(seed),
            "n_rep": int(n_rep), "var": float(var), "accent": float(accent),
            "n_speakers": int(n_speakers),
            "note": "procedurally generated stand-in for SHD (sccl); not real speech"}
    if preset != DEFAULT_PRESET:  # the default's files keep the bytes of every earlier version
        base["preset"] = preset
    paths = (out / TRAIN_NAME, out / TEST_NAME)
    # both files are written under temporary names in the same folder and renamed only when
    # both are complete, so an interrupted run leaves neither a half file nor a mixed pair
    tmps = tuple(p.with_name(f".{p.name}.tmp-{os.getpid()}") for p in paths)
    stats = {}
    try:
        for tmp, items, part in ((tmps[0], train, "train"), (tmps[1], test, "test")):
            stats[part] = _write_file(tmp, items, {**base, "split": part}, seed=seed, var=var,
                                      accent=accent, n_speakers=n_speakers, progress=bar)
        for tmp, path in zip(tmps, paths):
            os.replace(tmp, path)
    except OSError as e:
        raise DataError(f"cannot write the synthetic SHD files in {out} ({e}); "
                        "check free space and permissions or pick another --out_dir") from e
    finally:
        for tmp in tmps:
            tmp.unlink(missing_ok=True)
        if bar is not None:
            bar.close()
    return paths, stats


# ------------------------------------------------------------------------- labelling
def synthetic_info(path: str | os.PathLike) -> dict | None:
    """The generator attributes of an SHD-layout file written by this module, else ``None``.

    Raises :class:`DataError` when the file is missing or not HDF5.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"{path} does not exist; pass the path of an SHD-layout .h5 file")
    try:
        with h5py.File(path, "r") as f:
            attrs = {k: f.attrs[k] for k in f.attrs.keys()}
    except OSError as e:
        raise DataError(f"{path} is not a readable HDF5 file ({e}); re-create or re-download it") from e
    gen = attrs.get("generator")
    if isinstance(gen, bytes):
        gen = gen.decode("utf-8", "replace")
    if gen != GENERATOR:
        return None
    return {k: (v.decode() if isinstance(v, bytes) else v.item() if isinstance(v, np.generic) else v)
            for k, v in attrs.items()}


def is_synthetic(path: str | os.PathLike) -> bool:
    """True when ``path`` was written by :func:`make_synthetic_shd` (root attribute ``generator``)."""
    return synthetic_info(path) is not None


def dataset_label(path: str | os.PathLike) -> str:
    """``"synthetic"`` for a file written by this module, else ``"shd"`` (the label of results)."""
    return "synthetic" if is_synthetic(path) else "shd"


# ------------------------------------------------------------------------- command line
def build_parser(prog: str = "python -m sccl.data.synthetic") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog,
        description="Write a synthetic SHD-format dataset (shd_train.h5, shd_test.h5). "
                    "For plumbing, tests and demos: accuracies on it say nothing about SHD.")
    p.add_argument("--out_dir", "--out-dir", required=True, help="folder to write the two files into")
    p.add_argument("--n_rep", "--n-rep", type=int, default=40, help="repetitions per speaker and word (default 40)")
    p.add_argument("--seed", type=int, default=0, help="generator seed (default 0)")
    presets = "; ".join(f"{k}: var {v['var']:g}, accent {v['accent']:g}" for k, v in PRESETS.items())
    p.add_argument("--preset", choices=tuple(PRESETS), default=DEFAULT_PRESET,
                   help=f"named setting of --var and --accent ({presets}); 'demo' is the more learnable "
                        f"variant make demo uses (default {DEFAULT_PRESET})")
    p.add_argument("--var", type=float, default=None,
                   help="per-utterance jitter scale (default: the preset's, 1.5 for 'default')")
    p.add_argument("--accent", type=float, default=None,
                   help="sd of per-speaker, per-phone formant offsets in log frequency "
                        "(default: the preset's, 0.12 for 'default')")
    p.add_argument("--n_speakers", "--n-speakers", type=int, default=12, help="number of speakers (default 12, >= 6)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def _describe(part: str, path: Path, st: dict) -> str:
    n = st["lengths"]
    if n.size == 0:
        return f"{part}: {path} (0 samples)"
    q = np.percentile(n, [5, 50, 95])
    return (f"{part}: {path}  {n.size} samples, spikes/sample mean {n.mean():.0f} median {q[1]:.0f} "
            f"p5-p95 {q[0]:.0f}-{q[2]:.0f} max {n.max()}, last spike mean {st['last'].mean():.2f} s "
            f"max {st['last'].max():.3f} s")


def main(argv: Sequence[str] | None = None, *, prog: str = "python -m sccl.data.synthetic") -> int:
    args = build_parser(prog).parse_args(argv)
    n_samples = 20 * args.n_rep * args.n_speakers
    t0 = time.perf_counter()
    try:
        paths, stats = _generate(args.out_dir, args.n_rep, args.seed, args.var, args.accent,
                                 args.n_speakers, not args.no_progress and n_samples >= 2000,
                                 preset=args.preset)
        var, accent = resolve_preset(args.preset, args.var, args.accent)
    except SCCLError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    wall = time.perf_counter() - t0
    print(f"synthetic SHD-format dataset (generator {GENERATOR} {GENERATOR_VERSION}, seed {args.seed}, "
          f"preset {args.preset}, n_rep {args.n_rep}, var {var:g}, accent {accent:g}, {args.n_speakers} speakers)")
    for part, path in zip(("train", "test"), paths):
        print(_describe(part, path, stats[part]))
    print(f"wall time {wall:.1f} s; results made from it are labelled 'dataset: synthetic'")
    return 0


if __name__ == "__main__":
    sys.exit(main())
