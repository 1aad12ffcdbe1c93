"""Closed-loop load generator: raw requests of the model's input kind, preprocessed on the configured cores,
batched and run through the model.

Each request arrives in the form a serving system receives it, and is turned into the model's input tensors
by the preprocessing that kind of input needs:

- image:   a JPEG file -> decode, resize to the model's size, scale and normalise (ImageNet statistics)
- text:    a sentence -> lower-case, split into words and punctuation, hash each to a token id, add [CLS] and
           [SEP], pad or cut to the sequence length (a hashing tokenizer: no vocabulary file is downloaded)
- audio:   16-bit PCM at 16 kHz -> float waveform -> log-mel spectrogram (or the waveform itself for 1-D input)
- tabular: a CSV line -> dense features parsed as floats, categorical features hashed to their id range
- noise:   a request seed -> a Gaussian latent vector (a GAN generator's input)

The loop is closed: a batch is sent only when the previous one has finished. Requests are preprocessed by a
pool of `cores` threads; on a GPU the next batch is preprocessed while the model runs on the current one, on
a CPU the two take turns on the same cores. A request's latency is the time from the start of its batch's
preprocessing to the end of the model's forward pass.
"""

from __future__ import annotations

import io
import re
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
SAMPLE_RATE = 16_000
N_REQUESTS = 32  # distinct raw requests, cycled
_TOKEN = re.compile(r"\w+|[^\w\s]")


@dataclass(frozen=True)
class Window:
    """One timed measurement window."""

    requests: int
    batches: int
    elapsed_s: float
    latencies_s: np.ndarray  # one per batch; every request of a batch sees its batch's latency

    @property
    def rps(self) -> float:
        return self.requests / self.elapsed_s

    def latency_ms(self, q: float) -> float:
        return float(np.percentile(self.latencies_s, q) * 1000.0)


# -- raw requests -----------------------------------------------------------------------------------------
def _jpeg(rng: np.random.Generator, height: int, width: int, channels: int) -> bytes:
    from PIL import Image

    # Smooth gradients plus noise: a JPEG of realistic size, unlike a flat or pure-noise image.
    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    base = np.stack([np.sin(6 * x + c) + np.cos(5 * y - c) for c in range(channels)], axis=-1)
    img = (base * 50 + 128 + rng.normal(0, 20, base.shape)).clip(0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(img.squeeze(-1) if channels == 1 else img).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def _sentence(rng: np.random.Generator, words: int) -> bytes:
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    out = []
    for _ in range(words):
        out.append("".join(rng.choice(letters, size=int(rng.integers(2, 9)))))
        if rng.random() < 0.1:
            out[-1] += rng.choice([",", ".", "?"])
    return " ".join(out).capitalize().encode()


def _pcm(rng: np.random.Generator, samples: int) -> bytes:
    t = np.arange(samples) / SAMPLE_RATE
    freqs = rng.uniform(100, 3000, size=4)
    wave = sum(np.sin(2 * np.pi * f * t) for f in freqs) / 4 + rng.normal(0, 0.05, samples)
    return (wave * 20000).clip(-32768, 32767).astype("<i2").tobytes()


def _csv(rng: np.random.Generator, fields: int) -> bytes:
    return ",".join(f"{v:.6g}" for v in rng.normal(0, 3, fields)).encode()


# -- preprocessing ----------------------------------------------------------------------------------------
class Preprocessor:
    """Raw payloads and their preprocessing for each input of a model (see the module docstring)."""

    def __init__(self, input_kind: str, inputs: Sequence, seed: int = 0):
        if input_kind not in ("image", "text", "audio", "tabular", "noise"):
            raise ValueError(f"unknown input kind {input_kind!r}")
        self.input_kind = input_kind
        self.inputs = tuple(inputs)
        rng = np.random.default_rng(seed)
        self.steps: list[Callable[[bytes], np.ndarray]] = []
        raws: list[list[bytes]] = []
        for inp in self.inputs:
            make, step = self._plan(inp)
            raws.append([make(rng) for _ in range(N_REQUESTS)])
            self.steps.append(step)
        self.requests = [tuple(r[i] for r in raws) for i in range(N_REQUESTS)]

    def _plan(self, inp) -> tuple[Callable[[np.random.Generator], bytes], Callable[[bytes], np.ndarray]]:
        shape, kind = tuple(inp.shape), self.input_kind
        if inp.dtype == "int64":
            high = int(inp.high)
            if kind == "text":
                return (lambda rng: _sentence(rng, max(1, int(np.prod(shape) * 0.8))),
                        lambda raw: _tokenize(raw, shape, high))
            return (lambda rng: _csv(rng, int(np.prod(shape))), lambda raw: _hash_ids(raw, shape, high))
        if kind == "image" and len(shape) == 3:
            c, h, w = shape
            # Camera-sized sources larger than the model's input, so the resize does real work.
            return (lambda rng: _jpeg(rng, h * 5 // 4, w * 5 // 4, c), lambda raw: _decode_image(raw, shape))
        if kind == "audio":
            samples = shape[-1] if len(shape) == 1 else shape[-1] * 160 + 240
            return (lambda rng: _pcm(rng, samples), lambda raw: _audio(raw, shape))
        if kind == "noise":
            return (lambda rng: int(rng.integers(2**31)).to_bytes(4, "little"),
                    lambda raw: _latent(raw, shape))
        return lambda rng: _csv(rng, int(np.prod(shape))), lambda raw: _parse_floats(raw, shape)

    def __call__(self, request: tuple[bytes, ...]) -> list[np.ndarray]:
        return [step(raw) for step, raw in zip(self.steps, request)]


def _decode_image(raw: bytes, shape: tuple) -> np.ndarray:
    from PIL import Image

    c, h, w = shape
    img = Image.open(io.BytesIO(raw)).convert("RGB" if c == 3 else "L").resize((w, h), Image.BILINEAR)
    a = np.asarray(img, dtype=np.float32) / 255.0
    if c == 3:
        a = (a - IMAGENET_MEAN) / IMAGENET_STD
        return np.ascontiguousarray(a.transpose(2, 0, 1))
    return a.reshape(shape)


def _tokenize(raw: bytes, shape: tuple, high: int) -> np.ndarray:
    ids = [101 % high] + [zlib.crc32(t.encode()) % high for t in _TOKEN.findall(raw.decode().lower())]
    n = int(np.prod(shape))
    ids = (ids[:n - 1] + [102 % high] + [0] * n)[:n]
    return np.asarray(ids, dtype=np.int64).reshape(shape)


def _hash_ids(raw: bytes, shape: tuple, high: int) -> np.ndarray:
    ids = [zlib.crc32(f.encode()) % high for f in raw.decode().split(",")]
    return np.asarray(ids, dtype=np.int64).reshape(shape)


def _parse_floats(raw: bytes, shape: tuple) -> np.ndarray:
    values = np.array([float(f) for f in raw.decode().split(",")], dtype=np.float32)
    return ((values - values.mean()) / (values.std() + 1e-6)).reshape(shape)


def _latent(raw: bytes, shape: tuple) -> np.ndarray:
    return np.random.default_rng(int.from_bytes(raw, "little")).standard_normal(shape, dtype=np.float32)


_MEL_CACHE: dict[int, np.ndarray] = {}


def _mel_filters(n_mels: int, n_fft: int = 400) -> np.ndarray:
    if n_mels not in _MEL_CACHE:
        mel = lambda f: 2595 * np.log10(1 + f / 700)  # noqa: E731
        hz = lambda m: 700 * (10 ** (m / 2595) - 1)  # noqa: E731
        points = hz(np.linspace(mel(0), mel(SAMPLE_RATE / 2), n_mels + 2))
        bins = np.fft.rfftfreq(n_fft, 1 / SAMPLE_RATE)
        lo, mid, hi = points[:-2, None], points[1:-1, None], points[2:, None]
        _MEL_CACHE[n_mels] = np.maximum(0, np.minimum((bins - lo) / (mid - lo), (hi - bins) / (hi - mid)))
    return _MEL_CACHE[n_mels]


def _audio(raw: bytes, shape: tuple) -> np.ndarray:
    wave = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    if len(shape) == 1:
        return np.resize(wave, shape)
    n_mels, frames = shape[-2], shape[-1]
    window = np.hanning(400).astype(np.float32)
    starts = np.arange(frames) * 160
    spec = np.abs(np.fft.rfft(np.stack([wave[s:s + 400] * window for s in starts]), axis=1)) ** 2
    logmel = np.log(spec @ _mel_filters(n_mels).T + 1e-6).T.astype(np.float32)
    return logmel.reshape(shape)


# -- the loop ---------------------------------------------------------------------------------------------
class LoadGenerator:
    """Sends batches of preprocessed requests to `infer` in a closed loop; `infer` must block until done.

    With `overlap` the next batch is preprocessed while the model runs (a GPU server: the model runs on the
    GPU). Without it preprocessing and inference take turns on the same cores (a CPU server: overlapping
    would only oversubscribe the cores, and OpenMP's spinning threads make that far worse than taking turns).
    """

    def __init__(self, preprocess: Preprocessor, infer: Callable[[list], None], batch_size: int, threads: int,
                 overlap: bool):
        self.preprocess, self.infer, self.batch_size, self.overlap = preprocess, infer, batch_size, overlap
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="preprocess")
        self._batcher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="batcher")
        self._next = 0

    def close(self) -> None:
        self._batcher.shutdown()
        self._pool.shutdown()

    def _prepare(self) -> tuple[float, list[np.ndarray]]:
        start = time.perf_counter()
        reqs = [self.preprocess.requests[(self._next + i) % N_REQUESTS] for i in range(self.batch_size)]
        self._next += self.batch_size
        per_request = list(self._pool.map(self.preprocess, reqs))
        return start, [np.stack(parts) for parts in zip(*per_request)]

    def run(self, seconds: float, min_batches: int) -> Window:
        """Run for at least `seconds` and at least `min_batches` batches."""
        latencies = []
        t0 = end = time.perf_counter()
        pending = self._batcher.submit(self._prepare) if self.overlap else None
        while end - t0 < seconds or len(latencies) < min_batches:
            if pending is None:
                start, batch = self._prepare()
            else:
                start, batch = pending.result()
                pending = self._batcher.submit(self._prepare)  # the next batch is preprocessed meanwhile
            self.infer(batch)
            end = time.perf_counter()
            latencies.append(end - start)
        if pending is not None:
            pending.result()
        return Window(len(latencies) * self.batch_size, len(latencies), end - t0, np.array(latencies))
