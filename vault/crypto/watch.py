"""Reloading the keyring in a running service: on SIGHUP, and when the keyring file changes.

watcher = KeyringWatcher(settings, on_change=store.use_keyring, current=store.keyring)
watcher.install_sighup()          # or loop.add_signal_handler(SIGHUP, watcher.request_reload)
...
watcher.check()                   # before each request: a stat() at most every `interval`
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING

from vault.crypto.keyring import KEYRING_FILE, Keyring
from vault.errors import MailvaultError

if TYPE_CHECKING:
    from vault.config import Settings

logger = logging.getLogger(__name__)

_FileState = tuple[int, int, int, int] | None  # (device, inode, size, mtime ns), None if missing


def _open_from_settings(settings: Settings) -> Keyring:
    from vault.store import open_keyring_from_settings  # the store imports vault.crypto

    return open_keyring_from_settings(settings)


class KeyringWatcher:
    """Notices a changed keyring and hands the newly opened one to ``on_change``.

    The keyring is written by rename, so a change shows as a new inode, size or mtime.
    ``check()`` is cheap enough to call before every request: it returns at once unless
    ``interval`` seconds have passed since the last look or a SIGHUP arrived. A reload that
    fails (a half-copied file, a rekeyed keyring this process has no KEK for) keeps the keys in
    use, logs the reason and is tried again only when the file changes again or on SIGHUP.
    ``on_change`` is called only when the set of keys really changed (their fingerprint).
    """

    def __init__(
        self,
        settings: Settings,
        on_change: Callable[[Keyring], object],
        *,
        current: Keyring | None = None,
        interval: float = 1.0,
        opener: Callable[[Settings], Keyring] = _open_from_settings,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.path = settings.keys_dir / KEYRING_FILE
        self.interval = interval
        self.keyring = current
        self.reloads = 0  # how many times on_change was called
        self.last_error: str | None = None
        self._on_change = on_change
        self._opener = opener
        self._clock = clock
        self._fingerprint = current.fingerprint if current is not None else None
        self._seen = self._file_state()
        self._next_look = clock() + interval
        self._wanted = False  # set by SIGHUP (from a signal handler: a plain flag, nothing more)
        self._lock = threading.Lock()

    def _file_state(self) -> _FileState:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)

    def request_reload(self) -> None:
        """Reload at the next ``check()`` (what SIGHUP does; safe from a signal handler)."""
        self._wanted = True

    def check(self) -> bool:
        """Reload if asked to or if the file changed; True when ``on_change`` was called."""
        if not self._wanted:
            now = self._clock()
            if now < self._next_look:
                return False
            self._next_look = now + self.interval
            if self._file_state() == self._seen:
                return False
        return self.reload()

    def reload(self) -> bool:
        """Open the keyring now; call ``on_change`` if its keys differ from those in use."""
        with self._lock:
            self._wanted = False
            state = self._file_state()
            try:
                ring = self._opener(self.settings)
            except MailvaultError as exc:
                self._seen = state  # do not retry the same file on every request
                self.last_error = str(exc)
                logger.warning("keyring reload failed; keeping the keys in use: %s", exc)
                return False
            self._seen = state
            self.last_error = None
            if ring.fingerprint == self._fingerprint:
                return False
            try:
                self._on_change(ring)
            except MailvaultError as exc:
                self.last_error = str(exc)
                logger.warning("new keyring refused; keeping the keys in use: %s", exc)
                return False
            self.keyring = ring
            self._fingerprint = ring.fingerprint
            self.reloads += 1
            logger.info("keyring reloaded (fingerprint %s)", ring.fingerprint)
            return True

    def install_sighup(self) -> None:
        """Make SIGHUP request a reload (main thread only, as Python requires). A handler that
        was installed before keeps being called."""
        previous = signal.getsignal(signal.SIGHUP)

        def handler(signum: int, frame: FrameType | None) -> None:
            self.request_reload()
            if callable(previous):
                previous(signum, frame)

        signal.signal(signal.SIGHUP, handler)
