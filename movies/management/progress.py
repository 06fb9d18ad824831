"""Progress bars for management commands: rich's, on stderr, and by default
only when stderr is a terminal, so logs, pipes and CI output never get one."""

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


class ProgressBar:
    """``update(done, total)`` draws (rich limits the redraws), ``finish()``
    ends the line. ``enabled``: True or False, or None for "when ``stream``
    is a terminal"."""

    def __init__(self, stream: Any, *, label: str, enabled: bool | None = None):
        # A command's self.stderr styles what it writes as an error: draw on
        # the file underneath it.
        self.file = getattr(stream, "_out", stream)
        is_terminal = bool(getattr(self.file, "isatty", lambda: False)())
        self.enabled = is_terminal if enabled is None else enabled
        self.label = label
        self._progress: Progress | None = None
        self._task: Any = None

    def update(self, done: int, total: int) -> None:
        if not self.enabled or total <= 0:
            return
        if self._progress is None:
            self._progress = Progress(
                TextColumn(self.label),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.percentage:>3.0f}%"),
                TimeRemainingColumn(),
                console=Console(file=self.file),
            )
            self._progress.start()
            self._task = self._progress.add_task(self.label, total=total)
        self._progress.update(self._task, completed=done, total=total)

    def finish(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
