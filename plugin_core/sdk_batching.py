"""The SDK's delivery machinery: a bounded buffer, one background sender, signed batches, retries.

Kept apart from `parcours.sdk` (the public `Client`) so that the part a developer reads stays
short. Nothing here is public API; the policies it implements are documented in docs/sdk.md.

Why it is shaped this way:

- The caller's thread checks and serialises its event (parcours.sdk), then appends it to a
  deque under a lock: no network, no waiting (`track()` must be safe to call inside a request
  handler). Cutting batches and sending happen in one daemon thread per client and process,
  which has nothing left to check: a batch holds only events the server accepts.
- A batch gets its `webhook-id` once, when it is cut. Every retry of that batch re-signs the
  same id (with a fresh timestamp, as the receiver refuses stamps older than five minutes), so
  the receiver's dedupe on `webhook-id` makes retries exactly-once.
- Only what may succeed later is retried: network errors, 429 (after its Retry-After) and 5xx.
  Any other answer means the batch itself is refused (bad signature, unknown store, a body the
  server will never take), so it is dropped and reported through `on_error`.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from parcours.errors import ParcoursError
from parcours.standard_webhooks import sign

if TYPE_CHECKING:
    import requests

log = logging.getLogger("parcours.sdk")

Record = dict[str, Any]
Queued = tuple[Record, bytes]  # the event, for on_error, and its JSON, for the batch
ErrorHook = Callable[[Exception, list[Record]], None]
Timeout = float | tuple[float, float]

RETRY_AFTER_CAP = 300.0  # seconds: never sleep longer on one Retry-After (the signature window)


class DeliveryError(ParcoursError):
    """A batch was not delivered: refused by the server (`status` is its HTTP status), or given
    up on after the retries (`status` is None for network errors), or left unsent at exit."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class _Retryable(Exception):
    """Internal: this attempt failed in a way that may succeed later."""

    def __init__(self, reason: str, wait: float | None = None,
                 status: int | None = None) -> None:
        super().__init__(reason)
        self.wait = wait
        self.status = status


def json_default(value: Any) -> Any:
    """JSON for the values developers commonly put in properties; anything else is refused
    (rather than sent as an opaque `str()` the server could not use)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def retry_after(header: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not header:
        return None
    header = header.strip()
    if header.isdigit():
        return float(header)
    try:
        moment = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


class Transport:
    """Signs and posts one batch body, with retries. Used by the sender thread, and by the
    caller's thread in sync mode (each thread gets its own `requests.Session`)."""

    def __init__(self, endpoint: str, secret: str, *, timeout: Timeout, max_retries: int,
                 backoff: float, backoff_cap: float, user_agent: str) -> None:
        self.endpoint = endpoint
        self._secret = secret
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.backoff_cap = backoff_cap
        self.user_agent = user_agent
        self._local = threading.local()

    def __repr__(self) -> str:  # never the secret
        return f"<Transport {self.endpoint}>"

    def reset(self) -> None:
        """After fork: never share the parent's pooled connections."""
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            import requests  # imported on first send: `import parcours` stays light

            session = requests.Session()
            session.headers["User-Agent"] = self.user_agent
            # The environment's proxy and CA settings (HTTPS_PROXY, REQUESTS_CA_BUNDLE, ...),
            # read once: requests reads all of os.environ again on every request otherwise,
            # which holds the GIL away from the app's threads for a while per batch.
            settings = session.merge_environment_settings(self.endpoint, {}, None, None, None)
            session.proxies, session.verify = settings["proxies"], settings["verify"]
            session.cert = settings["cert"]
            session.trust_env = False
            self._local.session = session
        return session

    def post_once(self, msg_id: str, body: bytes) -> None:
        """One attempt; returns on 2xx, raises _Retryable or DeliveryError."""
        import requests

        stamp = int(time.time())
        headers = {"Content-Type": "application/json", "webhook-id": msg_id,
                   "webhook-timestamp": str(stamp),
                   "webhook-signature": sign(self._secret, msg_id, stamp, body)}
        try:
            response = self._session().post(self.endpoint, data=body, headers=headers,
                                            timeout=self.timeout, allow_redirects=False)
        except requests.RequestException as exc:  # connection refused, reset, timeout
            raise _Retryable(f"{type(exc).__name__}: {exc}") from None
        status = response.status_code
        if 200 <= status < 300:
            return
        reason = _reason(response)
        if status == 429 or status >= 500:
            wait = retry_after(response.headers.get("Retry-After")) if status == 429 else None
            raise _Retryable(f"HTTP {status}: {reason}", wait=wait, status=status)
        raise DeliveryError(f"the server refused the batch (HTTP {status}): {reason}", status)

    def send(self, msg_id: str, body: bytes, stop: threading.Event | None = None) -> None:
        """Deliver with retries: exponential backoff with jitter (or the server's
        Retry-After). Raises DeliveryError when refused or out of retries (or stopping)."""
        attempt = 0
        while True:
            try:
                self.post_once(msg_id, body)
                return
            except _Retryable as exc:
                if attempt >= self.max_retries:
                    raise DeliveryError(f"gave up after {attempt + 1} attempts: {exc}",
                                        exc.status) from None
                if exc.wait is not None:
                    delay = min(exc.wait, RETRY_AFTER_CAP)
                else:
                    ceiling = min(self.backoff_cap, self.backoff * 2 ** attempt)
                    delay = random.uniform(ceiling / 2, ceiling)
                attempt += 1
                log.info("batch %s: %s; retry %d in %.2fs", msg_id, exc, attempt, delay)
                if stop is not None:
                    if stop.wait(delay):
                        raise DeliveryError(f"not delivered before shutdown: {exc}",
                                            exc.status) from None
                else:
                    time.sleep(delay)


def _reason(response: requests.Response) -> str:
    """The server's error message (Parcours answers `{"error": {"message": ...}}`), short."""
    try:
        message = response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        message = response.text
    return str(message)[:300]


def new_batch_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


def batch_body(parts: list[bytes]) -> bytes:
    return b'{"events":[' + b",".join(parts) + b"]}"


class Sender:
    """The bounded buffer and the thread that empties it in batches.

    `pending` counts events accepted and not yet finished (sent, or dropped with on_error);
    `flush()` waits for it to reach zero.
    """

    def __init__(self, transport: Transport, *, flush_at: int, flush_interval: float,
                 max_batch_bytes: int, max_queue_size: int, report: ErrorHook) -> None:
        self.transport = transport
        self.flush_at = flush_at
        self.flush_interval = flush_interval
        self.max_batch_bytes = max_batch_bytes
        self.max_queue_size = max_queue_size
        self._report = report
        self._fresh()

    def _fresh(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._buffer: deque[Queued] = deque()
        self._pending = 0
        self._flushing = 0  # flush() calls waiting: send what there is without waiting
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def after_fork(self) -> None:
        """In a forked child: the parent's buffer stays the parent's to send (sending it here
        too would deliver it twice); the child starts empty, with its own lock and thread."""
        self._fresh()
        self.transport.reset()

    # -- the caller's side ---------------------------------------------------------------------
    def put(self, record: Record, part: bytes) -> bool:
        """Append without blocking; False when the buffer is full (the caller reports it)."""
        with self._cond:
            if self._stop.is_set() or len(self._buffer) >= self.max_queue_size:
                return False
            self._buffer.append((record, part))
            self._pending += 1
            if self._thread is None:
                self._start()
            if len(self._buffer) == self.flush_at:
                self._cond.notify_all()
        return True

    def _start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="parcours-sdk-sender",
                                        daemon=True)
        self._thread.start()

    def flush(self, timeout: float | None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            self._flushing += 1
            self._cond.notify_all()
            try:
                while self._pending:
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        return False
                    self._cond.wait(remaining)
                return True
            finally:
                self._flushing -= 1

    def shutdown(self, timeout: float | None) -> bool:
        """Flush, then stop the thread; what could not be sent is reported through on_error."""
        done = self.flush(timeout)
        with self._cond:
            self._stop.set()
            left = [record for record, _ in self._buffer]
            self._buffer.clear()
            self._pending -= len(left)
            self._cond.notify_all()
        if left:
            self._report(DeliveryError(f"{len(left)} event(s) not sent before shutdown"), left)
        return done

    # -- the sender thread ---------------------------------------------------------------------
    def _next_batch(self) -> list[Queued] | None:
        """Wait for a full batch, the interval, a flush() or shutdown; then cut one."""
        with self._cond:
            while not self._buffer:
                if self._stop.is_set():
                    return None
                self._cond.wait()
            deadline = time.monotonic() + self.flush_interval
            while (len(self._buffer) < self.flush_at and not self._flushing
                   and not self._stop.is_set()):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            take = min(self.flush_at, len(self._buffer))
            return [self._buffer.popleft() for _ in range(take)]

    def _done(self, count: int) -> None:
        with self._cond:
            self._pending -= count
            if not self._pending:
                self._cond.notify_all()

    def _run(self) -> None:
        while (batch := self._next_batch()) is not None:
            try:
                self._deliver(batch)
            except Exception as exc:  # the thread must survive anything, a hook included
                log.exception("parcours SDK sender: unexpected error")
                self._done(len(batch))
                self._safe_report(exc, [record for record, _ in batch])

    def _safe_report(self, exc: Exception, records: list[Record]) -> None:
        try:
            self._report(exc, records)
        except Exception:
            log.exception("parcours SDK: the on_error hook raised")

    def _deliver(self, batch: list[Queued]) -> None:
        parts: list[bytes] = []
        kept: list[Record] = []
        size = len(batch_body([]))
        for index, (record, part) in enumerate(batch):
            if parts and size + len(part) + 1 > self.max_batch_bytes:
                # Over the byte budget: the rest goes back to the front, in order.
                with self._cond:
                    self._buffer.extendleft(reversed(batch[index:]))
                    self._cond.notify_all()
                break
            parts.append(part)
            kept.append(record)
            size += len(part) + 1
        try:
            self.transport.send(new_batch_id(), batch_body(parts), self._stop)
        except DeliveryError as exc:
            self._done(len(kept))
            self._safe_report(exc, kept)
            return
        self._done(len(kept))


# One encoder for every call: json.dumps with options builds a new one each time.
_ENCODER = json.JSONEncoder(separators=(",", ":"), default=json_default, ensure_ascii=False)


def encode(record: Record) -> bytes:
    """One record as compact JSON bytes (TypeError for values JSON cannot carry)."""
    return _ENCODER.encode(record).encode()
