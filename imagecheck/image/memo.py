"""Once per image, first failure kept: the one memo behind everything an image's checks share.

The shared probe container, the facts probe and its companions, the services container,
a torchrun run: each is made by the first check that needs it and handed to every later
one. When making it fails with an ImagecheckError (or an error `translate` turns into
one), the failure is kept: every later check reports the same cause at once, saying that
it is the first attempt's, instead of waiting out the same limit again. What cannot run
here at all (`passthrough`: no bridge network, no ports promised) is said again as it is
and never kept. clear() forgets everything (the image's containers are gone).

A value can be made in the calling thread (get) or in the background (start; the result
is waited for with get or result), so the facts probe and its companions run at once.
"""
from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, Hashable, TypeVar

from ..errors import ImagecheckError, explain

T = TypeVar("T")
Translate = Callable[[Exception], "ImagecheckError | None"]
REPEATED = "(the first attempt failed; later checks report the same)"


class OncePerImage:
    """Values made once per key; a failure is kept and repeated (see the module docstring)."""

    def __init__(self, owner: str, background_workers: int = 8) -> None:
        self.owner = owner
        self._workers = background_workers
        self._entries: dict[Hashable, Future] = {}
        self._reported: set[Hashable] = set()  # keys whose failure some check already reported
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None

    def get(self, key: Hashable, make: Callable[[], T], *,
            passthrough: tuple[type[BaseException], ...] = (), translate: Translate | None = None) -> T:
        """make()'s value, made now in this thread unless it was made (or started) before.
        translate(error) may turn another exception (the Docker engine's own) into an
        ImagecheckError to keep; what it leaves None is raised and not kept."""
        future, mine = self._claim(key)
        if mine:
            self._fill(key, future, make, passthrough, translate)
        return self._result(key, future)

    def start(self, key: Hashable, make: Callable[[], T]) -> None:
        """Begin making the value in the background, unless it was made (or started) before."""
        future, mine = self._claim(key)
        if mine:
            with self._lock:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(max_workers=self._workers,
                                                    thread_name_prefix=f"imagecheck-{self.owner}")
                pool = self._pool
            pool.submit(self._fill, key, future, make, (), self._background_cause)

    def result(self, key: Hashable) -> Any:
        """The value of a key that was started; its kept failure when making it failed."""
        with self._lock:
            future = self._entries.get(key)
        if future is None:
            raise KeyError(f"{key!r} was never started for {self.owner}")  # a defect in the suite
        return self._result(key, future)

    def started(self, key: Hashable) -> bool:
        """Whether making the value of key began (in this thread or the background)."""
        with self._lock:
            return key in self._entries

    def finished(self, key: Hashable) -> bool:
        """Whether making the value of key ended, well or not."""
        with self._lock:
            future = self._entries.get(key)
        return future is not None and future.done()

    def done(self, key: Hashable) -> bool:
        """Whether the value of key is made and did not fail."""
        with self._lock:
            future = self._entries.get(key)
        return future is not None and future.done() and future.exception() is None

    def wait(self, key: Hashable) -> None:
        """Wait for the value of key to be made, if it was started; never raises its failure."""
        with self._lock:
            future = self._entries.get(key)
        if future is not None:
            future.exception()

    def forget(self, key: Hashable) -> None:
        """Forget one value (it is made again when asked for)."""
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        """Forget everything; values still being made in the background are abandoned."""
        with self._lock:
            pool, self._pool = self._pool, None
            self._entries = {}
            self._reported = set()
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    # ---- internals ------------------------------------------------------------------------
    def _background_cause(self, error: Exception) -> ImagecheckError:
        """Work in the background has no caller to raise to: any failure is kept, as a cause
        the checks waiting for it report (an engine error, a lost connection...)."""
        return ImagecheckError(explain(f"work started in the background for {self.owner} failed",
                                       observed=f"{type(error).__name__}: {str(error)[:500]}",
                                       hint="the Docker engine may have stopped answering; run again, and "
                                            "report it if it repeats"))

    def _claim(self, key: Hashable) -> tuple[Future, bool]:
        with self._lock:
            future = self._entries.get(key)
            if future is not None:
                return future, False
            future = Future()
            future.set_running_or_notify_cancel()
            self._entries[key] = future
            return future, True

    def _fill(self, key: Hashable, future: Future, make: Callable[[], Any],
              passthrough: tuple[type[BaseException], ...], translate: Translate | None) -> None:
        try:
            value = make()
        except passthrough as error:
            self.forget(key)
            future.set_exception(error)
        except ImagecheckError as error:
            future.set_exception(error)
        except BaseException as error:  # noqa: BLE001 - kept only when translated into a cause a user can act on
            translated = translate(error) if translate is not None and isinstance(error, Exception) else None
            if translated is None:
                self.forget(key)
                future.set_exception(error)
            else:
                future.set_exception(translated)
        else:
            future.set_result(value)

    def _result(self, key: Hashable, future: Future) -> Any:
        error = future.exception()
        if error is None:
            return future.result()
        with self._lock:
            first = key not in self._reported
            self._reported.add(key)
        if first or not isinstance(error, ImagecheckError):
            raise error
        raise type(error)(f"{error}\n  {REPEATED}") from None
