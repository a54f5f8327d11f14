"""The one place that runs "many single requests" for a provider without a batch API.

A worker process (Celery prefork: one task at a time) keeps up to the account's
`max_in_flight` requests in flight on a thread pool of its own, created lazily and again
after a fork so no thread or connection crosses a process boundary. Threads, not an async
loop: the adapters and their clients (http_request, which waits on the process's libcurl
loop; smtplib, Apprise) are synchronous, the work is waiting (the GIL is released), and a
pool inside the task works with the prefork pool the docs' topology uses. Results come back
in small groups as they complete (every FLUSH_EVERY results or FLUSH_SECONDS, at once after
a transient failure), so the caller records each group before more are due: a worker
killed mid-batch leaves at most its in-flight window "in doubt", and those messages are
resent with the same message id.

The abort rule lives here too: when a result says the rest would fail the same way
(`adapter.stops_batch`) or the circuit breaker refuses (asked between groups, and before
every request while it is half-open), no more requests are issued; the ones already in flight finish and are recorded, the
others are returned unsent (`Runner.unsent`) to be handed back without an attempt spent.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from django.conf import settings

from channels_app.providers.base import DeliveryError, OutboundMessage, ProviderAdapter, SendResult

logger = logging.getLogger(__name__)

FLUSH_EVERY = 50
FLUSH_SECONDS = 0.1
# The in-flight window of an account in this process starts small
# (TIDINGS_DISPATCH_INITIAL_WINDOW) and grows by one per answered call up to the account's
# max_in_flight. It halves after a transient failure only while the account's recent
# calls fail more often than not (FAILING_SHARE over an exponential average of about the
# last 1 / FAILING_WEIGHT calls): a provider that is down costs a few calls, not a full
# window, before the breaker opens, while one in a brownout that still answers half its
# calls keeps being called at the rate it sustains (its failures are retried). The window
# is kept across batches, so a healthy provider runs at max_in_flight after a few round
# trips.
FAILING_SHARE = 0.5
FAILING_WEIGHT = 0.1


@dataclass
class _Window:
    size: float
    failing: float = 0.0  # recent share of calls that failed transiently


_windows: dict[object, _Window] = {}

_executor: ThreadPoolExecutor | None = None
_executor_pid = 0
_executor_lock = threading.Lock()


def executor() -> ThreadPoolExecutor:
    """This process's request threads (a forked child starts its own)."""
    global _executor, _executor_pid
    with _executor_lock:
        if _executor is None or _executor_pid != os.getpid():
            _executor = ThreadPoolExecutor(
                max_workers=settings.TIDINGS_DISPATCH_THREADS, thread_name_prefix="dispatch"
            )
            _executor_pid = os.getpid()
        return _executor


@dataclass(frozen=True)
class Done:
    """One finished request: the message's index in the batch, its result, how long."""

    index: int
    result: SendResult
    seconds: float


def _call(adapter: ProviderAdapter, index: int, message: OutboundMessage) -> Done:
    started = time.monotonic()
    try:
        result = adapter.call_one(message)
    except Exception as exc:  # a bug in an adapter must not strand the batch in SENDING
        # The frames, not the exception's text: it may quote a header or a URL with a token.
        logger.error(
            "provider adapter %s crashed: %s\n%s",
            adapter.provider,
            type(exc).__name__,
            "".join(traceback.format_tb(exc.__traceback__)),
        )
        result = SendResult(
            error=DeliveryError(
                f"internal error in {adapter.provider} adapter: {type(exc).__name__}"
            )
        )
    return Done(index, result, time.monotonic() - started)


class Runner:
    """Issue one request per message, at most `max_in_flight` at once; iterate to get the
    finished ones in groups.

    The circuit breaker is asked through `permit()` (0 refused, 1 allowed on a half-open
    ramp, 2 allowed: channels_app.breaker), starting from `first_permit`, the answer the
    caller already got for the first request. While the breaker is closed it is asked again
    between groups (one Redis round trip per group, not per request). On a half-open ramp
    every request needs a permit of its own and goes alone, its result recorded before the
    next is asked for: the ramp doubles with recorded successes, as it does for one worker
    calling sequentially. Refused: no more requests, the rest is `unsent`, stopped by
    `refused()`'s error."""

    def __init__(
        self,
        adapter: ProviderAdapter,
        messages: list[OutboundMessage],
        max_in_flight: int,
        permit: Callable[[], int] = lambda: 2,
        first_permit: int = 2,
        refused: Callable[[], DeliveryError] | None = None,
    ) -> None:
        self.adapter = adapter
        self.max_in_flight = max(1, max_in_flight)
        self._permit, self._refused = permit, refused
        self._ramping = first_permit == 1
        self._key = (adapter.provider, adapter.account_id)
        self._window = _windows.setdefault(
            self._key, _Window(float(settings.TIDINGS_DISPATCH_INITIAL_WINDOW))
        )
        self._window.size = min(self.max_in_flight, self._window.size)
        self._issued = 0
        self._pending = deque(enumerate(messages))
        self._in_flight: set[Future[Done]] = set()
        self._finished: queue.SimpleQueue[Future[Done]] = queue.SimpleQueue()
        self.unsent: list[int] = []
        self.stopped_by: DeliveryError | None = None

    def _stop(self, error: DeliveryError) -> None:
        if self.stopped_by is None:
            self.stopped_by = error
            self.unsent = [index for index, _ in self._pending]
            self._pending.clear()

    def _ask(self) -> None:
        """Ask the breaker; stop when it refuses."""
        answer = self._permit()
        self._ramping = answer == 1
        if answer == 0:
            self._stop(
                self._refused()
                if self._refused
                else DeliveryError("circuit open", code="circuit_open")
            )

    def _fill(self) -> None:
        pool = executor()
        while self._pending:
            if self._ramping:
                if self._in_flight:
                    return  # on the ramp one request at a time
                if self._issued:
                    self._ask()  # the first one went on the caller's permit
                    if not self._pending:
                        return
            elif len(self._in_flight) >= max(1, int(self._window.size)):
                return
            index, message = self._pending.popleft()
            future = pool.submit(_call, self.adapter, index, message)
            self._in_flight.add(future)
            future.add_done_callback(self._finished.put)  # O(1) per call, unlike wait()
            self._issued += 1

    def _adapt(self, group: list[Done]) -> None:
        """Grow the window by the answered calls; halve it after a transient failure while
        the account's recent calls mostly fail (see FAILING_SHARE)."""
        window, failed = self._window, 0
        for done in group:
            error = done.result.error
            transient = error is not None and not error.permanent
            failed += transient
            window.failing += FAILING_WEIGHT * (transient - window.failing)
        window.size = min(self.max_in_flight, window.size + len(group) - failed)
        if failed and window.failing > FAILING_SHARE:
            window.size = max(1.0, window.size / 2)

    def _collect(self, timeout: float) -> list[Future[Done]]:
        """The calls finished by now: at least one unless `timeout` passes first."""
        try:
            finished = [self._finished.get(timeout=timeout)]
        except queue.Empty:
            return []
        while True:
            try:
                finished.append(self._finished.get_nowait())
            except queue.Empty:
                return finished

    def __iter__(self) -> Iterator[list[Done]]:
        group: list[Done] = []
        flushed = time.monotonic()
        while True:
            self._fill()
            if not self._in_flight:
                break
            finished = self._collect(max(0.0, flushed + FLUSH_SECONDS - time.monotonic()))
            failed = False
            for future in finished:
                self._in_flight.discard(future)
                done = future.result()
                group.append(done)
                error = done.result.error
                if error is not None and not error.permanent:
                    failed = True  # news for the breaker: recorded and asked at once
                if error is not None and self.adapter.stops_batch(error):
                    self._stop(error)
            now = time.monotonic()
            if (
                failed
                or len(group) >= FLUSH_EVERY
                or now - flushed >= FLUSH_SECONDS
                or not self._in_flight
            ):
                if group:
                    self._adapt(group)
                    yield group
                    group = []
                flushed = time.monotonic()
                if self._pending and not self._ramping:
                    self._ask()
        if group:
            self._adapt(group)
            yield group
