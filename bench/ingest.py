"""`parcours bench ingest`: how fast the webhook receiver acknowledges, and that it loses nothing.

The real app (`POST /webhooks/shopify`: verify → INSERT into the inbox → commit → enqueue → 200)
is served by gunicorn on loopback with one worker per core, and so is a bare Flask endpoint that
only answers 200, in the same server configuration. A separate process drives signed Shopify
deliveries (a realistic ~4 KB orders/create body, a fresh X-Shopify-Webhook-Id each) at each
concurrency for a bounded time (closed loop: each connection sends its next request when the
previous one is answered), then at a fixed 200 requests/s (open loop) for the latency aim.

The machine is shared and noisy, so the two servers are measured side by side: both run at
once, and each phase is cut into `ROUNDS` slices that alternate between them (real first, then
bare first, ...). `throughput_ratio` is the median of the slices' ratios; throughput and
percentiles are over all slices of a kind.

No job worker runs during the load: the ack path is what is measured. Afterwards every webhook
id that got a 200 is looked up in the inbox; `lost` counts the 200s without a row (must be 0).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import select

from parcours import tables as t
from parcours.accounts import create_store
from parcours.bench.engine import DEFAULT_PG_URL, machine, postgres_backend
from parcours.db import Database, chunks

SECRET = "bench-app-secret"  # a throwaway app secret for the benchmark's own server
SHOP = "bench-shop.myshopify.com"
AIM = {"throughput_ratio": 0.5, "p99_ms_at_200_rps": 25.0, "lost": 0}
BACKENDS = ("sqlite", "postgres")
ROUNDS = 4  # slices per phase, alternating between the real and the bare server


def shopify_order(number: int, *, financial_status: str = "paid",
                  created_at: str = "2026-11-20T12:00:00-05:00",
                  updated_at: str = "2026-11-20T12:00:05-05:00", token: str | None = None,
                  checkout_token: str | None = None, fulfillment_status: str | None = None,
                  fulfillments: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """An order shaped like Shopify's (ids, email and customer vary by `number`; tokens are
    random unless given). `parcours bench scaleout` moves it through its lifecycle."""
    items = [{"id": 866550311766439000 + i, "product_id": 632910392 + i, "variant_id": 808950810,
              "title": f"IPod Nano - {i}GB", "quantity": 1 + i % 2, "price": "199.00",
              "sku": f"IPOD2008{i}", "vendor": "Apple", "taxable": True,
              "tax_lines": [{"price": "13.40", "rate": 0.06, "title": "State Tax"}]}
             for i in range(3)]
    address = {"first_name": "Bob", "last_name": "Norman", "address1": "Chestnut Street 92",
               "city": "Louisville", "zip": "40202", "province": "Kentucky",
               "country": "United States", "phone": "+1(502)-459-2181"}
    return {"id": 820982911946154500 + number, "email": f"shopper{number}@example.com",
            "created_at": created_at, "updated_at": updated_at, "processed_at": created_at,
            "currency": "USD", "total_price": "598.94", "subtotal_price": "597.00",
            "total_tax": "11.94", "financial_status": financial_status,
            "fulfillment_status": fulfillment_status, "fulfillments": list(fulfillments),
            "name": f"#{1000 + number}", "order_number": 1000 + number,
            "token": token or uuid.uuid4().hex, "cart_token": None,
            "checkout_token": checkout_token or uuid.uuid4().hex,
            "payment_gateway_names": ["bogus"], "line_items": items,
            "billing_address": address, "shipping_address": address,
            "customer": {"id": 115310627314723950 + number, "first_name": "Bob",
                         "email": f"shopper{number}@example.com", "last_name": "Norman"},
            "shipping_lines": [{"id": 1, "title": "Generic Shipping", "price": "10.00"}],
            "discount_codes": [], "note": None, "tags": "", "test": False}


def order_body(number: int) -> bytes:
    """An orders/create payload shaped like Shopify's (ids and totals vary by `number`)."""
    return json.dumps(shopify_order(number)).encode()


def shopify_headers(topic: str, body: bytes, secret: str, shop: str, webhook_id: str,
                    triggered_at: str = "2026-11-20T17:00:05Z") -> dict[str, str]:
    """The headers Shopify sends with a delivery of `body`, signed with the app's `secret`."""
    digest = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    return {"Content-Type": "application/json", "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-Sha256": digest, "X-Shopify-Shop-Domain": shop,
            "X-Shopify-Webhook-Id": webhook_id, "X-Shopify-Event-Id": str(uuid.uuid4()),
            "X-Shopify-API-Version": "2026-07", "X-Shopify-Triggered-At": triggered_at}


def _signed_request(number: int) -> tuple[bytes, str]:
    body = order_body(number)
    webhook_id = str(uuid.uuid4())
    headers = shopify_headers("orders/create", body, SECRET, SHOP, webhook_id)
    lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    head = (f"POST /webhooks/shopify HTTP/1.1\r\nHost: 127.0.0.1\r\n{lines}"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")
    return head.encode() + body, webhook_id


async def _send(port: int, payload: bytes) -> tuple[int, float]:
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(payload)
    await writer.drain()
    status_line = await reader.readline()
    await reader.read()  # the server closes the connection (gunicorn sync workers do)
    writer.close()
    status = int(status_line.split()[1]) if status_line else 0
    return status, time.perf_counter() - started


class _Tally:
    """What one load phase saw: latencies, the webhook ids acknowledged, and errors."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.acked: list[str] = []
        self.errors = 0
        self.started = time.perf_counter()

    async def send(self, port: int, payload: bytes, webhook_id: str) -> None:
        try:
            status, latency = await _send(port, payload)
        except OSError:
            self.errors += 1
            return
        self.latencies.append(latency)
        if status == 200:
            self.acked.append(webhook_id)
        else:
            self.errors += 1

    def result(self) -> dict[str, Any]:
        return {"latencies": self.latencies, "elapsed": time.perf_counter() - self.started,
                "errors": self.errors, "acked": self.acked}


async def _closed_loop(port: int, concurrency: int, seconds: float) -> dict[str, Any]:
    deadline = time.perf_counter() + seconds
    counter = iter(range(10**9))
    tally = _Tally()

    async def connection() -> None:
        while time.perf_counter() < deadline:
            await tally.send(port, *_signed_request(next(counter)))

    await asyncio.gather(*(connection() for _ in range(concurrency)))
    return tally.result()


async def _open_loop(port: int, rate: float, seconds: float) -> dict[str, Any]:
    prepared = [_signed_request(n) for n in range(int(rate * seconds))]
    tally = _Tally()
    tasks = []
    for index, (payload, webhook_id) in enumerate(prepared):
        delay = tally.started + index / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(tally.send(port, payload, webhook_id)))
    await asyncio.gather(*tasks)
    return tally.result()


def _summary(slices: list[dict[str, Any]]) -> dict[str, Any]:
    ordered: list[float] = sorted(latency for one in slices for latency in one["latencies"])

    def percentile(share: float) -> float | None:
        if not ordered:
            return None
        return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000, 2)

    ok = sum(len(one["acked"]) for one in slices)
    return {"requests": len(ordered), "ok": ok, "errors": sum(one["errors"] for one in slices),
            "throughput_rps": round(ok / sum(one["elapsed"] for one in slices), 1),
            "p50_ms": percentile(0.5), "p99_ms": percentile(0.99)}


def _drive(port: int, mode: str, value: float, seconds: float, out: Any) -> None:
    """In the load process: run one phase and send its summary back."""
    phase = _closed_loop(port, int(value), seconds) if mode == "closed" \
        else _open_loop(port, value, seconds)
    out.send(asyncio.run(phase))


def drive(port: int, mode: str, value: float, seconds: float) -> dict[str, Any]:
    """One load phase from a separate process (so the client does not share our GIL)."""
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_drive, args=(port, mode, value, seconds, sender))
    process.start()
    result: dict[str, Any] = receiver.recv()
    process.join()
    return result


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(kind: str, port: int, env: dict[str, str], workers: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-m", "parcours.bench.ingest_server", kind, str(port), str(workers)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the {kind} server exited: {process.stderr.read().decode()[-2000:]}"
                               if process.stderr else f"the {kind} server exited")
        try:
            requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
            return process
        except requests.RequestException:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"the {kind} server did not start")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a server gracefully (gunicorn finishes its requests), killing it past 20 s."""
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


def _database(backend: str, folder: Path) -> str:
    if backend == "sqlite":
        db = Database(f"sqlite:///{folder / 'parcours.db'}")
        db.upgrade()
    else:
        db = postgres_backend(os.environ.get("PARCOURS_BENCH_DATABASE_URL", DEFAULT_PG_URL)
                              ).fresh()
    url = db.engine.url.render_as_string(hide_password=False)
    with db.write() as conn:
        create_store(conn, "bench-shop", account="bench", platform="shopify", domain=SHOP)
    db.engine.dispose()
    return url


def _lost(url: str, acked: Sequence[str]) -> int:
    db = Database(url)
    keys = [f"shopify:{webhook_id}" for webhook_id in acked]
    found = 0
    with db.read() as conn:
        for part in chunks(keys):
            found += len(list(conn.execute(select(t.inbox.c.id)
                                           .where(t.inbox.c.delivery_key.in_(part)))))
    db.engine.dispose()
    return len(keys) - found


def _phases(ports: dict[str, int], concurrencies: Sequence[int], seconds: float,
            rate: float) -> tuple[dict[str, Any], list[str]]:
    """Every phase, in slices alternating between the servers; (report, webhook ids acked by
    the real one)."""
    report: dict[str, Any] = {"real": {}, "bare": {}, "throughput_ratio": {}}
    acked: list[str] = []
    for port in ports.values():
        drive(port, "closed", 2, 1.0)  # warm-up: imports, connections, page cache
    phases = [(f"c{c}", "closed", float(c)) for c in concurrencies]
    phases.append((f"at_{rate:g}_rps", "open", rate))
    for name, mode, value in phases:
        slices: dict[str, list[dict[str, Any]]] = {"real": [], "bare": []}
        for index in range(ROUNDS):
            order = ("real", "bare") if index % 2 == 0 else ("bare", "real")
            for kind in order:
                slices[kind].append(drive(ports[kind], mode, value, seconds / ROUNDS))
        acked += [webhook_id for one in slices["real"] for webhook_id in one["acked"]]
        for kind in ("real", "bare"):
            report[kind][name] = _summary(slices[kind])
        report["throughput_ratio"][name] = round(statistics.median(
            len(real["acked"]) / real["elapsed"] / max(len(bare["acked"]) / bare["elapsed"], 1e-9)
            for real, bare in zip(slices["real"], slices["bare"], strict=True)), 3)
    return report, acked


def run(seconds: float = 5.0, concurrencies: Sequence[int] = (1, 4, 16), rate: float = 200.0,
        backends: Sequence[str] = BACKENDS, workers: int | None = None) -> dict[str, Any]:
    workers = workers or os.cpu_count() or 2
    report: dict[str, Any] = {
        "benchmark": "ingest", "machine": machine(), "gunicorn_workers": workers,
        "seconds_per_phase": seconds, "aim": AIM, "backends": {}}
    for backend in backends:
        with tempfile.TemporaryDirectory(prefix="parcours-bench-") as folder:
            url = _database(backend, Path(folder))
            env = {**os.environ, "PARCOURS_DATABASE_URL": url,
                   "PARCOURS_INSTANCE_PATH": str(Path(folder, "instance")),
                   "PARCOURS_SHOPIFY_API_SECRET": SECRET}
            env.pop("PARCOURS_REDIS_URL", None)
            ports = {"real": free_port(), "bare": free_port()}
            servers = [_serve(kind, port, env, workers) for kind, port in ports.items()]
            try:
                measured, acked = _phases(ports, concurrencies, seconds, rate)
            finally:
                for server in servers:
                    stop(server)
            measured["lost"] = _lost(url, acked)
            report["backends"][backend] = measured
    return report
