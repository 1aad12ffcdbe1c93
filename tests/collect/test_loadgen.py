"""Input-kind preprocessing gives the model's tensors; the closed loop counts requests and time."""

from __future__ import annotations

import time

import numpy as np
import pytest

from harness.collect.loadgen import LoadGenerator, Preprocessor
from tiny_models import Input


@pytest.mark.parametrize("kind, inputs, expect", [
    ("image", (Input((3, 32, 48)),), [((3, 32, 48), np.float32)]),
    ("image", (Input((1, 28, 28)),), [((1, 28, 28), np.float32)]),
    ("text", (Input((12,), "int64", 500), Input((12,), "int64", 500)), [((12,), np.int64)] * 2),
    ("audio", (Input((40, 20)),), [((40, 20), np.float32)]),
    ("audio", (Input((1600,)),), [((1600,), np.float32)]),
    ("tabular", (Input((13,)), Input((26,), "int64", 1000)), [((13,), np.float32), ((26,), np.int64)]),
    ("noise", (Input((100,)),), [((100,), np.float32)]),
])
def test_preprocessing_gives_the_model_inputs(kind, inputs, expect):
    pre = Preprocessor(kind, inputs, seed=1)
    outs = pre(pre.requests[0])
    assert [(o.shape, o.dtype) for o in outs] == expect
    for o, inp in zip(outs, inputs):
        assert np.isfinite(o).all()
        if inp.dtype == "int64":
            assert o.min() >= 0 and o.max() < inp.high
    # the same request always gives the same tensors; different requests differ
    again = pre(pre.requests[0])
    assert all(np.array_equal(a, b) for a, b in zip(outs, again))
    assert not all(np.array_equal(a, b) for a, b in zip(outs, pre(pre.requests[1])))


def test_image_requests_are_jpeg_files_and_get_normalised():
    pre = Preprocessor("image", (Input((3, 64, 64)),))
    raw = pre.requests[0][0]
    assert raw[:2] == b"\xff\xd8"  # a JPEG file, decoded per request
    img = pre(pre.requests[0])[0]
    assert -3 < img.mean() < 3 and img.std() > 0.1


def test_text_is_tokenised_with_cls_sep_and_padding():
    ids = Preprocessor("text", (Input((64,), "int64", 30522),))(( b"Hello world, hello.",))[0]
    assert ids[0] == 101 and ids[1] == ids[4] != ids[2] and 102 in ids and ids[-1] == 0


@pytest.mark.parametrize("overlap", [False, True])
def test_closed_loop_window(overlap):
    pre = Preprocessor("noise", (Input((8,)),))
    seen = []

    def infer(batch):
        seen.append(batch[0].shape)
        time.sleep(0.01)

    gen = LoadGenerator(pre, infer, batch_size=4, threads=2, overlap=overlap)
    try:
        w = gen.run(seconds=0.05, min_batches=3)
    finally:
        gen.close()
    assert w.batches >= 3 and w.requests == 4 * w.batches == 4 * len(seen)
    assert all(s == (4, 8) for s in seen)
    assert w.rps == pytest.approx(w.requests / w.elapsed_s)
    assert w.elapsed_s >= 0.05 and 10 <= w.latency_ms(50) <= w.latency_ms(99)
