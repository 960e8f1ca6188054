"""`parcours bench widgets`: the sizes part for real, the Lighthouse part's pure pieces.

Lighthouse itself never runs here (about 15 s a run). Its results are parsed from
tests/fixtures/lighthouse/: real Lighthouse 12.2.3 results of the demo shop's Dawn-like product
page with and without Parcours, saved by `parcours bench widgets --keep-results` and trimmed to
what the bench reads (the metadata, configSettings, the performance category's score, and the
audits of the five metrics, long-tasks, diagnostics and network-requests, whole); nothing in
what was kept was edited. Variants (a failed run) are derived here, in the tests.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from parcours.bench.widgets import (
    AIM,
    LighthouseError,
    Run,
    compare,
    file_sizes,
    parcours_kind,
    parse_result,
    run,
    side_summary,
    sizes,
    table,
)
from parcours.cli import main
from parcours.widgets.assets import BUDGETS, asset_names

FIXTURES = Path(__file__).parent / "fixtures" / "lighthouse"


def _fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def _run(score: int, tbt: float = 0.0, parcours: int = 0) -> Run:
    return Run(score=score,
               metrics={"fcp_ms": 800.0, "lcp_ms": 1800.0, "tbt_ms": tbt, "cls": 0.0,
                        "si_ms": 800.0, "long_tasks": 1, "max_task_ms": 60.0},
               parcours={"scripts": parcours, "api": 0, "collect": 0, "boot": 0,
                         "requests": 1 if parcours else 0, "total": parcours},
               requests=3, transfer_bytes=10_000 + parcours)


# -- sizes ---------------------------------------------------------------------------------------

def test_sizes_lists_every_script_smallest_over_the_wire() -> None:
    report = sizes()
    files = {one["name"]: one for one in report["files"]}
    assert list(files) == asset_names()
    for one in files.values():
        assert 0 < one["gzip"] <= one["min"] <= one["raw"], one
        assert one["within_budget"] == (one["gzip"] <= one["budget_gzip"])
    assert files["loader"]["budget_gzip"] == BUDGETS["loader"]
    assert files["kit"]["kind"] == "kit"
    assert files["kit"]["budget_gzip"] == BUDGETS["widget"]
    assert report["total"]["gzip"] == sum(one["gzip"] for one in files.values())
    assert report["total"]["budget_gzip"] == BUDGETS["total"]
    boot = report["shopify_boot"]
    assert 0 < boot["gzip"] < boot["raw"]


def test_a_script_over_its_budget_is_flagged() -> None:
    assert file_sizes("loader", 9000, 5000, BUDGETS["loader"])["within_budget"]
    assert not file_sizes("loader", 9000, 5000, BUDGETS["loader"] + 1)["within_budget"]
    widget = file_sizes("review_list", 9000, 5000, BUDGETS["widget"] + 1)
    assert widget["kind"] == "widget"
    assert not widget["within_budget"]


def test_no_runs_reports_sizes_only_as_json_and_as_a_table() -> None:
    report = run(runs=0)
    assert "lighthouse" not in report
    assert report["sizes"]["within_budgets"] in (True, False)
    lines = table(report).splitlines()
    for name in [*asset_names(), "total", "shopify boot"]:
        assert any(line.startswith(name) for line in lines), name

    result = CliRunner().invoke(main, ["bench", "widgets", "--runs", "0", "--json"])
    assert result.exit_code == 0, result.output
    assert [one["name"] for one in json.loads(result.output)["sizes"]["files"]] == asset_names()


def test_unknown_page_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown page"):
        run(runs=1, pages=["home"])


# -- one Lighthouse result -----------------------------------------------------------------------

def test_parse_a_real_result_with_parcours() -> None:
    result = _fixture("dawn-product-with-parcours")
    parsed = parse_result(result)
    assert parsed.score == round(result["categories"]["performance"]["score"] * 100)
    assert parsed.metrics["lcp_ms"] == result["audits"]["largest-contentful-paint"]["numericValue"]
    assert parsed.metrics["long_tasks"] == len(result["audits"]["long-tasks"]["details"]["items"])
    assert parsed.parcours["scripts"] > 0
    assert parsed.parcours["boot"] > 0  # the app embed's boot script on the Dawn page
    assert parsed.parcours["total"] <= parsed.transfer_bytes
    assert parsed.parcours["requests"] >= len(asset_names())
    assert parsed.benchmark_index == result["environment"]["benchmarkIndex"]


def test_parse_a_real_result_without_parcours() -> None:
    parsed = parse_result(_fixture("dawn-product-without-parcours"))
    assert 0 <= parsed.score <= 100
    assert parsed.parcours["total"] == parsed.parcours["requests"] == 0
    assert parsed.transfer_bytes > 0
    assert set(parsed.metrics) >= {"fcp_ms", "lcp_ms", "tbt_ms", "cls", "si_ms"}


def test_a_failed_run_is_an_error_not_a_zero() -> None:
    failed = copy.deepcopy(_fixture("dawn-product-without-parcours"))
    failed["categories"]["performance"]["score"] = None
    failed["runtimeError"] = {"code": "NO_FCP", "message": "The page did not paint any content."}
    with pytest.raises(LighthouseError, match="did not paint"):
        parse_result(failed)


def test_parcours_requests_are_told_from_the_page_s_own() -> None:
    base = "http://127.0.0.1:5000"
    assert parcours_kind(f"{base}/widgets/loader.js?v=1") == "scripts"
    assert parcours_kind(f"{base}/w/demo/reviews/p-101.json?page=1") == "api"
    assert parcours_kind(f"{base}/collect") == "collect"
    assert parcours_kind(f"{base}/demo/shop/assets/parcours-boot.js") == "boot"
    assert parcours_kind(f"{base}/demo/shop/dawn/products/p-101") is None
    assert parcours_kind(f"{base}/demo/shop/widgets.css") is None


# -- medians and the delta -----------------------------------------------------------------------

def test_medians_per_side() -> None:
    summary = side_summary([_run(90, 100), _run(97, 300), _run(80, 200), _run(95, 50),
                            _run(85, 400)])
    assert summary["scores"] == [90, 97, 80, 95, 85]
    assert summary["score"] == 90
    assert summary["metrics"]["tbt_ms"] == 200
    assert side_summary([_run(90), _run(95)])["score"] == 92.5
    with pytest.raises(ValueError):
        side_summary([])


def test_delta_is_with_minus_without_and_judged_against_the_bar_and_the_aim() -> None:
    without = [_run(100, 0), _run(98, 10), _run(99, 0)]
    near = compare([_run(97, 150, 20_000), _run(98, 120, 20_000), _run(94, 300, 20_000)],
                   without)
    assert near["with"]["score"] == 97 and near["without"]["score"] == 99
    assert near["delta"]["score"] == -2
    assert near["delta"]["tbt_ms"] == 150
    assert near["points_lost"] == 2
    assert near["within_aim"] and near["within_shopify_bar"]
    assert near["with"]["parcours_transfer_bytes"]["total"] == 20_000
    assert near["without"]["parcours_transfer_bytes"]["total"] == 0

    far = compare([_run(89), _run(88), _run(90)], without)
    assert far["points_lost"] == AIM["shopify_bar_points_lost"]
    assert far["within_shopify_bar"] and not far["within_aim"]
    assert not compare([_run(88)], without)["within_shopify_bar"]
    better = compare([_run(100)], without)  # noise can favour Parcours: nothing lost
    assert better["delta"]["score"] == 1 and better["points_lost"] == 0


def test_real_results_compared_and_tabled() -> None:
    with_parcours = parse_result(_fixture("dawn-product-with-parcours"))
    without = parse_result(_fixture("dawn-product-without-parcours"))
    page = compare([with_parcours], [without])
    assert page["delta"]["score"] == with_parcours.score - without.score
    report = {"sizes": sizes(), "lighthouse": {
        "lighthouse_version": "12.2.3", "runs": 1, "load_average_1min": {"before": 0.5, "after": 1},
        "settings": {"form_factor": "mobile", "throttling_method": "simulate"},
        "pages": {"dawn": page}}}
    text = table(report)
    assert "dawn with" in text and "dawn without" in text and "dawn delta" in text
