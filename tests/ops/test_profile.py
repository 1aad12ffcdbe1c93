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


@pytest.mark.parametrize("key, message", [("model=nope", "profile: model=nope: unknown model 'nope'"),
                                          ("batch_size=0", "profile: batch_size=0: must be a whole number >= 1"),
                                          ("threshold=2", "profile: threshold=2.0: must be a share in (0, 1]")])
def test_bad_keys_are_one_line_before_anything_is_built(tmp_path, key, message):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "harness.ops.profile", key], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 1 and done.stderr.startswith(message) and done.stderr.count("\n") == 1, done.stderr
