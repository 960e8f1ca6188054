"""`parcours demo` as `make run` starts it: server + worker + simulated shoppers, on SQLite."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.processes import free_port


def test_demo_serves_a_funnel_with_every_stage_within_a_minute(tmp_path: Path) -> None:
    env = {**os.environ, "PARCOURS_INSTANCE_PATH": str(tmp_path / "instance"),
           "PYTHONUNBUFFERED": "1"}
    for key in ("PARCOURS_DATABASE_URL", "PARCOURS_REDIS_URL"):
        env.pop(key, None)
    port = free_port()
    started = time.monotonic()
    demo = subprocess.Popen(
        [sys.executable, "-m", "parcours.cli", "demo", "--port", str(port), "--seed", "3"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert demo.stdout is not None
        api_key = password = None
        for line in demo.stdout:
            login = re.search(r"email demo@parcours\.example, password (\S+)\)", line)
            password = login.group(1) if login else password
            found = re.search(r"API key for 'demo': (prc_\S+)", line)
            if found:
                api_key = found.group(1)
                break
        assert api_key, "the demo printed no API key"
        assert password, "the demo printed no dashboard login"
        funnel: dict[str, int] = {}
        while time.monotonic() - started < 60:
            answer = requests.get(f"http://127.0.0.1:{port}/api/v1/stores/demo/funnel",
                                  headers={"Authorization": f"Bearer {api_key}"}, timeout=5)
            assert answer.status_code == 200
            funnel = {s["stage"]: s["journeys"] for s in answer.json()["steps"]}
            if all(funnel.values()):
                break
            time.sleep(1)
        assert all(funnel.values()), f"a stage is empty after 60 s: {funnel}"
        assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json() == {
            "status": "ok"}

        # The printed login opens the dashboard on the demo store's figures.
        browser = requests.Session()
        form = browser.get(f"http://127.0.0.1:{port}/dashboard/login", timeout=5).text
        csrf = re.search(r'name="csrf" value="([^"]+)"', form)
        assert csrf is not None
        home = browser.post(f"http://127.0.0.1:{port}/dashboard/login", timeout=10, data={
            "csrf": csrf.group(1), "email": "demo@parcours.example", "password": password})
        assert home.status_code == 200 and "Demo shop" in home.text, home.text[:300]

        beside = subprocess.run([sys.executable, "-m", "parcours.cli", "kpis", "demo", "--json"],
                                env=env, capture_output=True, text=True, timeout=60,
                                check=True)
        data = json.loads(beside.stdout)
        # Same instance folder, same figures (the worker may have recorded more since).
        assert data["funnel"]["steps"][0]["journeys"] >= funnel["awareness"] > 0
        assert 0.5 <= data["kpis"]["cart_abandonment"] <= 0.9
    finally:
        demo.send_signal(signal.SIGINT)
        demo.wait(timeout=30)
