"""A plain-text progress bar for management commands, on stderr."""

import time


class ProgressBar:
    """Redraws one line (with a carriage return) at most every ``interval``
    seconds and at the end; prints nothing when disabled."""

    def __init__(
        self, stream, *, label: str, enabled: bool = True, width: int = 30, interval: float = 0.2
    ):
        self.stream = stream
        self.label = label
        self.enabled = enabled
        self.width = width
        self.interval = interval
        self._last_draw = 0.0
        self._drawn = False

    def update(self, done: int, total: int) -> None:
        if not self.enabled or total <= 0:
            return
        now = time.monotonic()
        if done < total and now - self._last_draw < self.interval:
            return
        self._last_draw = now
        filled = self.width * done // total
        bar = "#" * filled + "." * (self.width - filled)
        self.stream.write(
            f"\r{self.label} [{bar}] {done}/{total} ({100 * done // total}%)", ending=""
        )
        self.stream.flush()
        self._drawn = True

    def finish(self) -> None:
        if self._drawn:
            self.stream.write("")
            self._drawn = False
