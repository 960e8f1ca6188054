"""`parcours bench sdk`: what `Client.track()` costs the caller, and how fast events leave.

Beside Segment's `segment-analytics-python` (the reference Python analytics SDK, same design:
a queue and a background thread sending batches of 100 every 0.5 s), doing the same calls.

- `track_us`: the time of one `track()` call in the caller's thread (median, p99), over
  `calls` calls. No network is on that path for either SDK; their sender threads run meanwhile
  (they compete for the GIL, as they would in an app).
- `events_per_s`: `calls` events from the first `track()` to `flush()` returning, all sent to
  a local endpoint that reads and discards each batch (200). The endpoint runs in its own
  process and is the same for both SDKs, so the server is not what is measured.

Each SDK runs in a fresh process (spawned), with its defaults except a queue large enough to
hold every call (neither may drop). Segment is optional (`pip install 'parcours[bench]'`); when
it is missing the JSON says so and gives Parcours' figures alone.
"""

from __future__ import annotations

import base64
import multiprocessing
import socket
import statistics
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from typing import Any

SECRET = "whsec_" + base64.b64encode(b"bench-sdk-secret-0123456789abcde").decode()
SEGMENT_MISSING = ("segment-analytics-python is not installed: "
                   "pip install 'parcours[bench]' to compare with it")


def _serve(out: Connection) -> None:
    """In the endpoint process: accept and discard batches, keep-alive, forever."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            # Answer in one segment, without Nagle: otherwise every keep-alive request waits
            # on the peer's delayed ACK (~40 ms), and the endpoint, not the SDK, is measured.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", 0)))
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: 2\r\n\r\n{}")

        def log_message(self, format: str, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    out.send(server.server_address[1])
    server.serve_forever()


def _percentiles(samples_ns: list[int]) -> dict[str, float]:
    ordered = sorted(samples_ns)
    return {"median": round(statistics.median(ordered) / 1000, 2),
            "p99": round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] / 1000, 2)}


def _measure(sdk: str, url: str, calls: int, out: Connection) -> None:
    """In a fresh process: `calls` track() calls timed one by one, then flush."""
    errors: list[str] = []
    if sdk == "parcours":
        from parcours.sdk import Client

        client = Client("bench", SECRET, url=url, max_queue_size=calls + 1,
                        on_error=lambda exc, events: errors.append(str(exc)))

        def track(n: int) -> None:
            client.track("product_viewed", anonymous_id=f"visitor-{n % 1000}",
                         properties={"product_id": f"sku-{n % 500}", "price": "19.90"})

        def flush() -> None:
            if not client.flush(timeout=300):
                errors.append("flush timed out")
    else:
        from segment.analytics.client import Client as SegmentClient

        segment = SegmentClient(write_key="bench", host=url, max_queue_size=calls + 1,
                                on_error=lambda exc, batch: errors.append(str(exc)))

        def track(n: int) -> None:
            segment.track(anonymous_id=f"visitor-{n % 1000}", event="product_viewed",
                          properties={"product_id": f"sku-{n % 500}", "price": "19.90"})

        def flush() -> None:
            segment.flush()

    for n in range(min(1000, calls)):  # warm up: imports, the thread, the connection
        track(n)
    flush()
    samples: list[int] = []
    clock = time.perf_counter_ns
    started = time.perf_counter()
    for n in range(calls):
        before = clock()
        track(n)
        samples.append(clock() - before)
    flush()
    elapsed = time.perf_counter() - started
    out.send({"track_us": _percentiles(samples), "events_per_s": round(calls / elapsed),
              "seconds": round(elapsed, 2), "errors": errors[:5], "error_count": len(errors)})


def _segment_available() -> bool:
    try:
        import segment.analytics  # noqa: F401
    except ImportError:
        return False
    return True


def _in_process(target: Any, *args: Any) -> Any:
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=target, args=(*args, sender))
    process.start()
    result = receiver.recv()
    process.join()
    return result


def run(calls: int = 100_000) -> dict[str, Any]:
    from parcours.bench.engine import machine

    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    endpoint = context.Process(target=_serve, args=(sender,), daemon=True)
    endpoint.start()
    try:
        url = f"http://127.0.0.1:{receiver.recv()}"
        report: dict[str, Any] = {"calls": calls, "machine": machine(),
                                  "parcours": _in_process(_measure, "parcours", url, calls)}
        if _segment_available():
            import segment.analytics

            theirs = _in_process(_measure, "segment", url, calls)
            theirs["version"] = str(getattr(segment.analytics, "VERSION", "unknown"))
            report["segment"] = theirs
            ours = report["parcours"]
            report["ratios"] = {  # Parcours / Segment: under 1 is cheaper for the caller
                "track_median": _ratio(ours["track_us"]["median"], theirs["track_us"]["median"]),
                "track_p99": _ratio(ours["track_us"]["p99"], theirs["track_us"]["p99"]),
                # over 1: Parcours delivers faster
                "events_per_s": _ratio(ours["events_per_s"], theirs["events_per_s"]),
            }
        else:
            report["segment"] = {"missing": SEGMENT_MISSING}
        return report
    finally:
        endpoint.terminate()
        endpoint.join(timeout=10)


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 2) if b else None
