"""`parcours bench widgets`: what the storefront widgets cost a shop's pages.

Two parts:

- sizes: bytes of every storefront script (widgets/js/) as written (raw), as served (minified)
  and over the wire (gzip -9 of the minified body), against the budgets of DESIGN.md (the
  loader 2 KB, the kit and each widget 3 KB, all together 10 KB, gzipped). The Shopify app
  embed's boot script (adapters/shopify/.../parcours-boot.js) is reported beside them, raw and
  gzipped: Shopify serves it as written, and it is not one of the budgeted files.
- lighthouse: the Lighthouse performance score (0-100) of the demo storefront's product page
  with Parcours and without it (`?parcours=off`, the same page with no Parcours tag at all),
  `runs` times each, alternating with / without so that the machine's noise hits both sides
  alike; the medians per side, the medians of the main metrics, and the delta (with - without).
  Shopify's bar for apps ("Built for Shopify") is at most 10 points lost; our aim is 2. The
  Dawn-like page (Shopify app embed) is the headline figure, the Storefront-like page
  (WordPress plugin) the second.

Lighthouse keeps its defaults: mobile emulation (a Moto G Power) with simulated throttling
(Lantern: 150 ms RTT, 1.6 Mbps, 4x CPU slowdown), which is what Shopify's bar refers to. Its
only non-default flags are the performance category alone and no full-page screenshot (taken
after the trace: no metric depends on it). Chromium runs headless with its background
networking off, because the machine may have no outbound network and a blocked update check
must not land in the trace.

The demo shop runs in this process (a fresh SQLite database in a temporary folder, werkzeug on
127.0.0.1), so the figures include neither a CDN nor compression: the scripts travel
uncompressed, which is pessimistic for Parcours. Lighthouse is installed on demand into
build/lighthouse (npm, pinned: Lighthouse 13 needs Node 22); PARCOURS_LIGHTHOUSE names another
binary, CHROME_PATH another Chromium.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from werkzeug.serving import WSGIRequestHandler, make_server

from parcours.accounts import create_store, get_store
from parcours.app import create_app
from parcours.bench.engine import machine
from parcours.credentials import generate_key
from parcours.db import Database
from parcours.widgets.assets import BUDGETS, KIT, LOADER, asset, asset_names
from parcours.widgets.demo_shop import seed_demo_shop

LIGHTHOUSE_VERSION = "12.2.3"  # the last Lighthouse that runs on Node 20
LIGHTHOUSE_DIR = Path("build/lighthouse")  # relative to where the command runs: the checkout
DEFAULT_CHROME = "/usr/bin/chromium"
CHROME_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu",
                "--disable-background-networking", "--disable-component-update",
                "--no-first-run")
LIGHTHOUSE_TIMEOUT = 180.0  # seconds for one Lighthouse run (about 15 s on a quiet machine)
INSTALL_TIMEOUT = 600.0
HTTP_TIMEOUT = 10.0
PAGES = {"dawn": "/demo/shop/dawn/products/p-101",
         "storefront": "/demo/shop/storefront/products/p-101"}
HEADLINE = "dawn"
SIDES = ("with", "without")
AIM = {"points_lost": 2, "shopify_bar_points_lost": 10}
# Lighthouse audit id -> our name; the five metrics the performance score is made of.
METRICS = {"first-contentful-paint": "fcp_ms", "largest-contentful-paint": "lcp_ms",
           "total-blocking-time": "tbt_ms", "cumulative-layout-shift": "cls",
           "speed-index": "si_ms"}
STORE = "demo"

Progress = Callable[[str], None]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- sizes -------------------------------------------------------------------------------------

def _boot_script() -> bytes:
    return (resources.files("parcours.adapters.shopify") / "extensions" / "theme" / "assets"
            / "parcours-boot.js").read_bytes()


def file_sizes(name: str, raw: int, minified: int, gzipped: int) -> dict[str, Any]:
    """One script's sizes, its budget (gzip) and whether it keeps to it."""
    kind = "loader" if name == LOADER else "kit" if name == KIT else "widget"
    # The kit is shared code every widget needs: it gets a widget's budget.
    budget = BUDGETS["loader"] if kind == "loader" else BUDGETS["widget"]
    return {"name": name, "kind": kind, "raw": raw, "min": minified, "gzip": gzipped,
            "budget_gzip": budget, "within_budget": gzipped <= budget}


def sizes() -> dict[str, Any]:
    """Raw, minified and gzip bytes of every storefront script, checked against the budgets."""
    files = [file_sizes(name, asset(name).raw, len(asset(name).body), asset(name).gzip)
             for name in asset_names()]
    total = {name: sum(one[name] for one in files) for name in ("raw", "min", "gzip")}
    boot = _boot_script()
    return {
        "unit": "bytes", "gzip": "gzip -9 of the minified body", "files": files,
        "total": {**total, "budget_gzip": BUDGETS["total"],
                  "within_budget": total["gzip"] <= BUDGETS["total"]},
        "within_budgets": all(one["within_budget"] for one in files)
        and total["gzip"] <= BUDGETS["total"],
        "shopify_boot": {"file": "adapters/shopify/extensions/theme/assets/parcours-boot.js",
                         "raw": len(boot), "gzip": len(gzip.compress(boot, compresslevel=9)),
                         "note": "served by Shopify as written; not in the budgets"},
    }


# -- one Lighthouse result ----------------------------------------------------------------------

class LighthouseError(RuntimeError):
    """Lighthouse failed, or its result has no performance score."""


@dataclass(frozen=True)
class Run:
    """What one Lighthouse result says about one page load."""

    score: int  # 0-100, rounded as Lighthouse's report shows it
    metrics: dict[str, float]
    parcours: dict[str, int]  # transfer bytes of Parcours' requests, by kind, and their count
    requests: int
    transfer_bytes: int
    # Lighthouse's measure of the host's speed just before the load: simulated throttling
    # multiplies the observed CPU time, so a busy host shows here, and in TBT.
    benchmark_index: float | None = None


def parcours_kind(url: str) -> str | None:
    """Which of Parcours' requests `url` is (None: the page's own)."""
    path = urlsplit(url).path
    if path.startswith("/widgets/"):
        return "scripts"
    if path.startswith("/w/"):
        return "api"
    if path == "/collect":
        return "collect"
    if path.endswith("/parcours-boot.js"):  # the Shopify app embed's, from Shopify's CDN there
        return "boot"
    return None


def parse_result(result: Mapping[str, Any]) -> Run:
    """The score, metrics and Parcours' transfer of one Lighthouse JSON result (LighthouseError
    when the run failed: a runtime error, or no score)."""
    error = result.get("runtimeError")
    score = result.get("categories", {}).get("performance", {}).get("score")
    if error or score is None:
        detail = error.get("message") if isinstance(error, dict) else error
        raise LighthouseError(f"no performance score: {detail or 'unknown error'}")
    audits = result["audits"]
    metrics = {ours: float(audits[audit]["numericValue"]) for audit, ours in METRICS.items()}
    # Long tasks (over 50 ms, as simulated): how many, and the longest.
    tasks = [float(item["duration"])
             for item in audits.get("long-tasks", {}).get("details", {}).get("items", [])]
    metrics["long_tasks"] = len(tasks)
    metrics["max_task_ms"] = max(tasks, default=0.0)
    parcours = {"scripts": 0, "api": 0, "collect": 0, "boot": 0, "requests": 0}
    items = audits.get("network-requests", {}).get("details", {}).get("items", [])
    for item in items:
        kind = parcours_kind(str(item.get("url", "")))
        if kind:
            parcours[kind] += int(item.get("transferSize") or 0)
            parcours["requests"] += 1
    parcours["total"] = sum(parcours[kind] for kind in ("scripts", "api", "collect", "boot"))
    return Run(score=round(float(score) * 100), metrics=metrics, parcours=parcours,
               requests=len(items),
               transfer_bytes=sum(int(item.get("transferSize") or 0) for item in items),
               benchmark_index=result.get("environment", {}).get("benchmarkIndex"))


# -- medians and the delta ----------------------------------------------------------------------

def _median(values: Sequence[float]) -> float:
    value = float(statistics.median(values))
    return int(value) if value.is_integer() else round(value, 3)


def side_summary(runs: Sequence[Run]) -> dict[str, Any]:
    """One side of a page (with or without Parcours): its scores and the medians."""
    if not runs:
        raise ValueError("no runs")
    return {
        "scores": [run.score for run in runs],
        "score": _median([run.score for run in runs]),
        "metrics": {name: _median([run.metrics[name] for run in runs])
                    for name in runs[0].metrics},
        "requests": _median([run.requests for run in runs]),
        "transfer_bytes": _median([run.transfer_bytes for run in runs]),
        "parcours_transfer_bytes": {name: _median([run.parcours[name] for run in runs])
                                    for name in runs[0].parcours},
        "benchmark_indexes": [run.benchmark_index for run in runs],
    }


def compare(with_parcours: Sequence[Run], without: Sequence[Run]) -> dict[str, Any]:
    """Both sides of a page and the delta of their medians (with - without: a negative score
    delta is points lost)."""
    sides = {"with": side_summary(with_parcours), "without": side_summary(without)}
    delta = {"score": sides["with"]["score"] - sides["without"]["score"],
             **{name: round(value - sides["without"]["metrics"][name], 3)
                for name, value in sides["with"]["metrics"].items()}}
    lost = max(0, -delta["score"])
    return {**sides, "delta": delta, "points_lost": lost,
            "within_shopify_bar": lost <= AIM["shopify_bar_points_lost"],
            "within_aim": lost <= AIM["points_lost"]}


# -- Lighthouse and Chromium --------------------------------------------------------------------

def chrome_path() -> str:
    return os.environ.get("CHROME_PATH") or DEFAULT_CHROME


def lighthouse_binary(progress: Progress = _stderr) -> str:
    """PARCOURS_LIGHTHOUSE, else build/lighthouse's, installed with npm when missing."""
    override = os.environ.get("PARCOURS_LIGHTHOUSE")
    if override:
        return override
    binary = LIGHTHOUSE_DIR / "node_modules" / ".bin" / "lighthouse"
    if not binary.exists():
        npm = shutil.which("npm")
        if not npm:
            raise LighthouseError("npm not found: install Node.js 20+, or set PARCOURS_LIGHTHOUSE")
        progress(f"installing lighthouse@{LIGHTHOUSE_VERSION} into {LIGHTHOUSE_DIR} (npm) ...")
        LIGHTHOUSE_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run([npm, "install", "--prefix", str(LIGHTHOUSE_DIR), "-E",
                        f"lighthouse@{LIGHTHOUSE_VERSION}", "--no-audit", "--no-fund"],
                       check=True, timeout=INSTALL_TIMEOUT, stdout=sys.stderr)
    return str(binary.resolve())


def chrome_version(path: str) -> str | None:
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30,
                             check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return out.strip() or None


def lighthouse(binary: str, url: str, cpu_slowdown: float | None = None) -> dict[str, Any]:
    """One Lighthouse run of `url`: its JSON result. `cpu_slowdown` replaces Lighthouse's 4x,
    as its docs advise on a host slower than a high-end desktop (docs/throttling.md)."""
    command = [binary, url, "--only-categories=performance", "--output=json",
               "--output-path=stdout", "--quiet", "--disable-full-page-screenshot",
               f"--chrome-flags={' '.join(CHROME_FLAGS)}"]
    if cpu_slowdown is not None:
        command.append(f"--throttling.cpuSlowdownMultiplier={cpu_slowdown:g}")
    try:
        done = subprocess.run(command, capture_output=True, text=True,
                              timeout=LIGHTHOUSE_TIMEOUT, check=False,
                              env={**os.environ, "CHROME_PATH": chrome_path()})
    except subprocess.TimeoutExpired as error:
        raise LighthouseError(f"lighthouse took over {LIGHTHOUSE_TIMEOUT:g} s on {url}") from error
    if done.returncode != 0 or not done.stdout.strip():
        tail = "\n".join(done.stderr.strip().splitlines()[-5:])
        raise LighthouseError(f"lighthouse exited {done.returncode} on {url}: {tail}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


# -- the demo shop --------------------------------------------------------------------------------

class _QuietHandler(WSGIRequestHandler):
    """werkzeug's handler without its access log (a line per request would bury the progress)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


@contextmanager
def demo_shop() -> Iterator[str]:
    """The demo storefront, freshly seeded and served on loopback: its base URL."""
    with tempfile.TemporaryDirectory(prefix="parcours-bench-widgets-") as folder:
        url = f"sqlite:///{Path(folder, 'parcours.db')}"
        Database(url).upgrade()
        app = create_app({"DATABASE_URL": url, "SECRET_KEYS": generate_key(),
                          "DEMO_SHOP": STORE}, instance_path=folder)
        with app.extensions["parcours.db"].write() as conn:
            create_store(conn, STORE, account=STORE)
            seed_demo_shop(conn, get_store(conn, STORE).id)
        server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_port}"
        finally:
            server.shutdown()
            app.extensions["parcours.db"].engine.dispose()


def _warm_up(base: str, paths: Sequence[str]) -> None:
    """Fetch every page and script once, so that no run pays for template compilation or
    minification (both once per process) and the first side measured is not handicapped."""
    urls = [base + path + suffix for path in paths for suffix in ("", "?parcours=off")]
    urls += [f"{base}/widgets/{name}.js" for name in asset_names()]
    for url in urls:
        with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT) as response:
            response.read()


# -- the benchmark ------------------------------------------------------------------------------

def _measure(binary: str, url: str, progress: Progress, label: str,
             cpu_slowdown: float | None) -> tuple[Run, dict[str, Any]]:
    """One run and its raw result. A failed run is retried once (a Chromium hiccup should not
    cost the whole bench); a second failure stops the bench, as dropping runs would bias the
    medians."""
    try:
        result = lighthouse(binary, url, cpu_slowdown)
        return parse_result(result), result
    except LighthouseError as error:
        progress(f"{label}: {error}; retrying once")
    result = lighthouse(binary, url, cpu_slowdown)
    return parse_result(result), result


def measure_pages(pages: Sequence[str], runs: int, progress: Progress = _stderr,
                  keep: Path | None = None, cpu_slowdown: float | None = None
                  ) -> dict[str, Any]:
    """The Lighthouse part of the report; with `keep`, every raw result is saved there too
    (to see which audit moved when a delta surprises)."""
    binary = lighthouse_binary(progress)
    chrome = chrome_path()
    measured: dict[str, dict[str, list[Run]]] = {page: {side: [] for side in SIDES}
                                                 for page in pages}
    versions: set[str] = set()
    settings: dict[str, Any] = {}
    if keep:
        keep.mkdir(parents=True, exist_ok=True)
    with demo_shop() as base:
        _warm_up(base, [PAGES[page] for page in pages])
        for page in pages:
            for index in range(runs):
                # With, without, with, without...: drift in the machine's load hits both sides.
                for side in SIDES:
                    url = base + PAGES[page] + ("" if side == "with" else "?parcours=off")
                    label = f"{page} {side} parcours ({index + 1}/{runs})"
                    started = time.perf_counter()
                    one, result = _measure(binary, url, progress, label, cpu_slowdown)
                    measured[page][side].append(one)
                    versions.add(str(result.get("lighthouseVersion")))
                    settings = result.get("configSettings", settings)
                    if keep:
                        (keep / f"{page}-{side}-{index + 1}.json").write_text(
                            json.dumps(result), encoding="utf-8")
                    progress(f"{label}: score {one.score} "
                             f"({time.perf_counter() - started:.0f} s)")
    return {
        "lighthouse_version": ", ".join(sorted(versions)),
        "chrome": chrome, "chrome_version": chrome_version(chrome),
        "chrome_flags": list(CHROME_FLAGS),
        "settings": {
            "form_factor": settings.get("formFactor"),
            "throttling_method": settings.get("throttlingMethod"),
            "throttling": settings.get("throttling"),
            "note": ("Lighthouse's defaults (mobile emulation, simulated throttling), as "
                     "Shopify's bar is measured; only --only-categories=performance and "
                     "--disable-full-page-screenshot added" if cpu_slowdown is None else
                     f"CPU slowdown {cpu_slowdown:g}x instead of 4x (calibrated to this host's"
                     " BenchmarkIndex, as Lighthouse's docs/throttling.md advises); otherwise"
                     " Lighthouse's defaults"),
        },
        "server": "werkzeug on 127.0.0.1, this process; no compression, no CDN",
        "runs": runs, "order": "alternating: with, without, with, without, ...",
        "headline": HEADLINE if HEADLINE in pages else pages[0],
        "pages": {page: {"path": PAGES[page], "baseline": "?parcours=off",
                         **compare(measured[page]["with"], measured[page]["without"])}
                  for page in pages},
    }


def run(runs: int = 5, pages: Sequence[str] = tuple(PAGES), progress: Progress = _stderr,
        keep: Path | None = None, cpu_slowdown: float | None = None) -> dict[str, Any]:
    """The whole benchmark: a JSON-able report (`runs=0`: sizes only)."""
    unknown = set(pages) - set(PAGES)
    if unknown:
        raise ValueError(f"unknown page(s): {', '.join(sorted(unknown))}")
    if runs < 0:
        raise ValueError("runs must be 0 or more")
    started = time.perf_counter()
    report: dict[str, Any] = {"benchmark": "widgets", "machine": machine(), "aim": AIM,
                              "sizes": sizes()}
    if runs and pages:
        # Other work on the host inflates the simulated TBT (see Run.benchmark_index): the
        # load average says how quiet the machine was.
        before = os.getloadavg()
        if before[0] >= (os.cpu_count() or 1) / 2:
            progress(f"warning: load average {before[0]:.1f} on {os.cpu_count()} CPUs: the "
                     "scores will be noisy (TBT above all)")
        report["lighthouse"] = measure_pages(pages, runs, progress, keep, cpu_slowdown)
        report["lighthouse"]["load_average_1min"] = {"before": round(before[0], 2),
                                                     "after": round(os.getloadavg()[0], 2)}
    report["seconds"] = round(time.perf_counter() - started, 1)
    return report


# -- the human table ----------------------------------------------------------------------------

def table(report: Mapping[str, Any]) -> str:
    """A short plain-text summary of `report`."""
    sizes_ = report["sizes"]
    lines = [f"{'script':18} {'raw':>7} {'min':>7} {'gzip':>7} {'budget':>7}"]
    for one in sizes_["files"]:
        flag = "" if one["within_budget"] else "  OVER"
        lines.append(f"{one['name']:18} {one['raw']:>7} {one['min']:>7} {one['gzip']:>7} "
                     f"{one['budget_gzip']:>7}{flag}")
    total = sizes_["total"]
    lines.append(f"{'total':18} {total['raw']:>7} {total['min']:>7} {total['gzip']:>7} "
                 f"{total['budget_gzip']:>7}{'' if total['within_budget'] else '  OVER'}")
    boot = sizes_["shopify_boot"]
    lines.append(f"{'shopify boot':18} {boot['raw']:>7} {'':>7} {boot['gzip']:>7}  (no budget)")
    light = report.get("lighthouse")
    if light:
        lines.append("")
        lines.append(f"Lighthouse {light['lighthouse_version']}, {light['settings']['form_factor']}"
                     f", {light['settings']['throttling_method']} throttling, median of "
                     f"{light['runs']}; load average {light['load_average_1min']['before']} -> "
                 f"{light['load_average_1min']['after']}")
        lines.append(f"{'page':20} {'score':>5} {'FCP':>6} {'LCP':>6} {'TBT':>5} {'CLS':>6} "
                     f"{'SI':>6} {'long':>4} {'parcours B':>10}")
        for page, data in light["pages"].items():
            for side in SIDES:
                one = data[side]
                m = one["metrics"]
                lines.append(
                    f"{page + ' ' + side:20} {one['score']:>5} {m['fcp_ms']:>6.0f} "
                    f"{m['lcp_ms']:>6.0f} {m['tbt_ms']:>5.0f} {m['cls']:>6.3f} "
                    f"{m['si_ms']:>6.0f} {m['long_tasks']:>4} "
                    f"{one['parcours_transfer_bytes']['total']:>10}")
            verdict = ("within the 2-point aim" if data["within_aim"] else
                       "within Shopify's 10-point bar" if data["within_shopify_bar"] else
                       "OVER Shopify's 10-point bar")
            lines.append(f"{page + ' delta':20} {data['delta']['score']:>5}  ({verdict})")
    return "\n".join(lines)
