"""Ctrl-C during a fit: the first one asks the trainer to stop after the current epoch."""

import signal
import threading


class StopOnInterrupt:
    """In the main thread, turn the first Ctrl-C into a request to stop after the current epoch.

    A second Ctrl-C raises KeyboardInterrupt as usual. Elsewhere (other threads, a custom SIGINT handler)
    nothing changes, and a KeyboardInterrupt mid-epoch rolls the epoch back.
    """

    def __enter__(self):
        self.requested = False
        self._previous = None
        if threading.current_thread() is threading.main_thread() \
                and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc_info):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False
