"""torch.profiler shares per Relay operator type, and the KOPs they give."""
import pytest

pytestmark = pytest.mark.torch
pytest.importorskip("torch")  # the torch extra is installed in CI (scripts/test)

from harness.ops.profile import key_operators, operator_shares  # noqa: E402


def test_dcgan_shares_and_kops():
    shares = operator_shares("dcgan", 2, repeats=1)
    assert shares["time_share"].sum() == pytest.approx(1.0)
    assert shares["memory_share"].sum() == pytest.approx(1.0)
    assert key_operators(shares, 0.05)[0] == "conv2d_transpose"
