import json

import numpy as np
import pytest

from harness.sim import SimError, predict_op
from harness.sim.hardware import gpu, load_gpus
from harness.sim.opcost import PARAMS_FILE, op_class, op_work, parse_shapes

CONV = "((-1, 3, 128, 128), (32, 3, 3, 3))"


def test_authors_notation_is_read():
    assert parse_shapes(CONV, 8) == [(8, 3, 128, 128), (32, 3, 3, 3)]
    flops, nbytes, out = op_work("nn.conv2d", CONV, 8)
    assert out == 8 * 32 * 128 * 128 and flops == 2 * out * 27
    assert op_class("nn.dense") == "gemm" and op_class("nn.concat") == "movement" and op_class("reshape") == "view"


def test_predict_op_grows_with_batch_on_every_gpu():
    for g in load_gpus():
        times = [predict_op("nn.conv2d", CONV, b, g) for b in (4, 16, 64, 128)]
        assert np.all(np.diff(times) > 0)
        assert times[-1] / times[0] > 5  # large batches are work-bound, not launch-bound


def test_faster_gpu_is_faster_in_proportion_to_what_limits_the_operator():
    big_conv = "((-1, 256, 56, 56), (256, 256, 3, 3))"  # compute-bound
    big_add = "((-1, 256, 56, 56), (-1, 256, 56, 56))"   # memory-bound
    v100, t4 = gpu("V100"), gpu("T4")
    conv_ratio = predict_op("nn.conv2d", big_conv, 64, "T4") / predict_op("nn.conv2d", big_conv, 64, "V100")
    add_ratio = predict_op("add", big_add, 64, "T4") / predict_op("add", big_add, 64, "V100")
    assert conv_ratio == pytest.approx(v100.fp32_tflops / t4.fp32_tflops, rel=0.1)
    assert add_ratio == pytest.approx(v100.mem_bw_gbps / t4.mem_bw_gbps, rel=0.1)


def test_calibration_report_is_shipped_with_leave_one_gpu_out_errors():
    report = json.loads(PARAMS_FILE.read_text())
    assert set(report["leave_one_gpu_out"]) == {"K80", "M60", "T4"}
    for errors in report["leave_one_gpu_out"].values():
        assert 0 < errors["median_pct"] < 50


def test_bad_input_is_named():
    with pytest.raises(SimError, match="unknown GPU type 'A100'"):
        predict_op("nn.conv2d", CONV, 4, "A100")
    with pytest.raises(SimError, match="cannot read input shapes"):
        predict_op("nn.conv2d", "((-1, 3", 4, "T4")


@pytest.mark.slow
def test_calibration_reproduces_the_shipped_parameters(tmp_path, release_dir):
    from harness.sim.calibrate import calibrate

    fresh = calibrate(release_dir / "operator_times.csv.gz", tmp_path / "op_cost.json")
    shipped = json.loads(PARAMS_FILE.read_text())
    assert fresh["data_sha256"] == shipped["data_sha256"]
    assert fresh["params"] == shipped["params"]
    assert fresh["leave_one_gpu_out"] == shipped["leave_one_gpu_out"]
