"""`parcours bench sdk` prints both SDKs' figures as JSON (shape only, at a tiny count)."""

from __future__ import annotations

import json
import os

from tests.processes import parcours


def test_bench_sdk_json_shape() -> None:
    result = parcours(dict(os.environ), "bench", "sdk", "--calls", "300", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["calls"] == 300
    for key in ("median", "p99"):
        assert report["parcours"]["track_us"][key] > 0
    assert report["parcours"]["events_per_s"] > 0 and report["parcours"]["error_count"] == 0
    if "missing" in report["segment"]:  # Segment's SDK is optional (the `bench` extra)
        assert "pip install" in report["segment"]["missing"]
    else:
        assert report["segment"]["track_us"]["median"] > 0
        assert set(report["ratios"]) == {"track_median", "track_p99", "events_per_s"}
