"""tools/compare_cpu.py, the side-by-side CPU comparison: its smoke set runs and reports what it claims."""
import json
import os
import subprocess
import sys

import pytest

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "..", "..", "tools", "compare_cpu.py")


@pytest.mark.skipif(not os.path.exists(SCRIPT), reason="runs from a checkout (the tool is not in the wheel)")
def test_smoke_set_reports_every_problem_with_its_peer_ratios(tmp_path):
    report = tmp_path / "compare.json"
    completed = subprocess.run([sys.executable, SCRIPT, "--set=smoke", "--reps=3", "--no-torch", f"--json={report}"],
                               capture_output=True, text=True, timeout=300, check=False)
    assert completed.returncode == 0, completed.stderr
    assert "numpy fp32 GEMM" in completed.stdout
    data = json.loads(report.read_text())
    assert data["numpy_gemm_gflops"] > 0
    rows = data["rows"]
    assert [r["problem"] for r in rows] == ["dense causal fp32", "dense causal bf16", "sliding window 64 causal bf16"]
    for row in rows:
        assert row["ms"] > 0 and row["gflops"] > 0
        assert row["of_numpy_gemm"] == pytest.approx(row["gflops"] / data["numpy_gemm_gflops"])
        assert row["torch_ms"] is None  # --no-torch
        assert row["kernel"].count(":") == 1
    dense, window = rows[1], rows[2]
    assert dense["density"] == pytest.approx(0.5, abs=0.01)  # causal: about half the pairs
    # The window's speedup is over the dense causal run of the same shape and precision, ideal = 0.5 / density.
    assert window["ideal_speedup"] == pytest.approx(0.5 / window["density"])
    assert window["speedup_over_dense_causal"] == pytest.approx(dense["ms"] / window["ms"])


@pytest.mark.skipif(not os.path.exists(SCRIPT), reason="runs from a checkout (the tool is not in the wheel)")
def test_decode_smoke_set_reports_bytes_read_against_numpy(tmp_path):
    report = tmp_path / "decode.json"
    completed = subprocess.run([sys.executable, SCRIPT, "--set=decode-smoke", "--reps=3", "--no-torch",
                                f"--json={report}"], capture_output=True, text=True, timeout=300, check=False)
    assert completed.returncode == 0, completed.stderr
    (row,) = json.loads(report.read_text())["rows"]
    assert row["shape"] == dict(B=1, Hq=8, Hk=2, Lq=1, Lk=2048, D=64)
    kv_bytes = 2 * 1 * 2 * 2048 * 64 * 2  # K and V in bf16
    assert row["kv_gbps"] == pytest.approx(kv_bytes / (row["ms"] * 1e-3) / 1e9)
    assert row["numpy_read_gbps"] > 0
    assert row["of_numpy_read"] == pytest.approx(row["kv_gbps"] / row["numpy_read_gbps"])
    assert row["torch_ms"] is None  # --no-torch
