"""`parcours bench load` for 20 s on SQLite at a small rate: the JSON holds every figure, no
request failed and every delivery acknowledged was processed, so the command cannot rot.
Latency and memory are printed, never asserted: they depend on the machine."""

from __future__ import annotations

import json
import os

from tests.processes import parcours

KINDS = {"webhook shopify", "webhook woocommerce", "webhook custom", "collect",
         "dashboard overview", "dashboard funnel", "dashboard journeys", "api funnel",
         "api stages", "api kpis"}


def test_bench_load_runs_every_kind_of_client_without_errors_and_drains() -> None:
    result = parcours(dict(os.environ), "bench", "load", "--minutes", "0.34", "--rate", "8",
                      "--users", "4", "--backend", "sqlite", "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert set(report["requests"]) == KINDS
    for figures in report["requests"].values():
        assert figures["requests"] > 0 and figures["errors"] == 0
        assert figures["throughput_rps"] > 0 and 0 < figures["p50_ms"] <= figures["p99_ms"]
    assert report["total"]["error_rate"] == 0 and report["failures"] == {}
    drain = report["drain"]
    assert drain["all_processed"], drain
    assert drain["acked"] == drain["deliveries"]["done"] > 0
    assert {"max", "end", "series"} <= set(report["inbox_backlog"])
    processes = report["memory_mb"]
    assert {"app master", "job worker"} <= set(processes)
    assert sum(label.startswith("app worker ") for label in processes) == 2  # --server-workers
    for series in processes.values():
        assert series["after_warmup"] > 0 and {"growth", "growth_pct", "max"} <= set(series)
    assert all(report["processes_alive_at_end"].values())
    assert report["log_errors"]["server"]["count"] == report["log_errors"]["worker"]["count"] == 0
    assert report["verdict"]["errors"] and report["verdict"]["drained"]
