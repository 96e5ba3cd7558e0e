"""Progress of long work, for commands that run more than a few seconds.

On a terminal, one line rewritten in place (a bar, the counts, the rate and the time
left), at most a few times a second so drawing never costs more than the work. Anywhere
else (a log file, cron's mail, a CI log) a plain line every so often, since a carriage
return there only makes a mess. The clock is injected, so tests drive it by hand.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TextIO

# Called with how much of the work is done so far (`Progress.update` is one).
OnProgress = Callable[[int], None]
# Told of a stage of the work and how many items it holds; gives its OnProgress
# (`Stages` is one).
OnStage = Callable[[str, int], OnProgress]

BAR_WIDTH = 24
TTY_EVERY = 0.25  # seconds between redraws on a terminal
LOG_EVERY = 10.0  # seconds between lines elsewhere


def duration(seconds: float) -> str:
    """1:05 or 1:02:05."""
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


class Progress:
    """Counts work done of `total` and shows it on `stream`.

    `update(done)` sets the count, `advance(n)` adds to it, `finish()` writes the last
    line; as a context manager it finishes on the way out, or, left by an error, says
    where the work stopped. `total` may be None when nobody knows it (no bar and no time
    left then)."""

    def __init__(
        self,
        label: str,
        total: int | None,
        *,
        stream: TextIO,
        unit: str = "",
        tty: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
        tty_every: float = TTY_EVERY,
        log_every: float = LOG_EVERY,
    ) -> None:
        self.label = label
        self.total = total
        self.unit = unit
        self.done = 0
        self._stream = stream
        self._tty = _is_tty(stream) if tty is None else tty
        self._clock = clock
        self._every = tty_every if self._tty else log_every
        self._started = clock()
        self._counting_since = self._started  # the rate, and so the time left, from here
        self._shown_at = self._started
        self._width = 0  # of the last line drawn, to blank what a shorter one leaves
        self._finished = False
        if self._tty:
            self._draw(self._line())

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, error_type: type[BaseException] | None, *exc_info: object) -> None:
        if error_type is None:
            self.finish()
        else:
            self.stop()

    def expecting(self, total: int | None) -> Callable[[int], None]:
        """Set the total once it is known; gives `update`, for work that reports its count.
        The rate is counted from now: what came before the counting (a sweep's set-up)
        would make the first estimates of the time left absurd."""
        self.total = total
        self._counting_since = self._clock()
        return self.update

    def advance(self, count: int = 1) -> None:
        self.update(self.done + count)

    def update(self, done: int) -> None:
        self.done = done
        now = self._clock()
        if now - self._shown_at >= self._every:
            self._shown_at = now
            self._show(self._line(now))

    def finish(self) -> None:
        now = self._clock()
        line = f"{self.label}: {self._count()} in {duration(now - self._started)}"
        if now > self._counting_since and self.done:
            line += f" ({self._rate(self.done / (now - self._counting_since))})"
        self._last(line)

    def stop(self) -> None:
        """The last line of work that failed: how far it got, not a summary that reads
        as done (the error itself is the caller's to tell)."""
        duration_so_far = duration(self._clock() - self._started)
        self._last(f"{self.label}: stopped at {self._count()} after {duration_so_far}")

    def _last(self, line: str) -> None:
        if self._finished:
            return
        self._finished = True
        if self._tty:
            self._draw(line)
            self._stream.write("\n")
        else:
            self._stream.write(line + "\n")
        self._stream.flush()

    def _show(self, line: str) -> None:
        if self._tty:
            self._draw(line)
        else:
            self._stream.write(line + "\n")
        self._stream.flush()

    def _draw(self, line: str) -> None:
        self._stream.write("\r" + line.ljust(self._width))
        self._width = len(line)

    def _line(self, now: float | None = None) -> str:
        counting = (self._clock() if now is None else now) - self._counting_since
        rate = self.done / counting if counting > 0 else 0.0
        parts = [f"{self.label}:"]
        if self._tty and self.total:
            filled = round(BAR_WIDTH * min(1.0, self.done / self.total))
            parts.append("[" + "#" * filled + "." * (BAR_WIDTH - filled) + "]")
        parts.append(self._count())
        if self.total:
            parts.append(f"({100 * min(1.0, self.done / self.total):.0f}%)")
        if rate:
            parts.append(self._rate(rate))
            if self.total:
                left = max(0, self.total - self.done) / rate
                parts.append(f"about {duration(left)} left")
        return " ".join(parts)

    def _count(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        if self.total is None:
            return f"{self.done:,}{unit}"
        return f"{self.done:,} of {self.total:,}{unit}"

    def _rate(self, per_second: float) -> str:
        return f"{per_second:,.0f}/s"


def _is_tty(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


class Stages:
    """A progress bar for each stage of a longer piece of work, each finished when the next
    begins (or on the way out): called with the stage's name and how many items it holds,
    it gives what to call with the count done (`Progress.update`). `unit` names the items,
    one word for every stage or one a stage."""

    def __init__(self, *, stream: TextIO, unit: str | Mapping[str, str] = "") -> None:
        self._stream = stream
        self._unit = unit
        self._current: Progress | None = None

    def __enter__(self) -> Stages:
        return self

    def __exit__(self, error_type: type[BaseException] | None, *exc_info: object) -> None:
        if error_type is not None and self._current is not None:
            self._current.stop()
        self._finish()

    def __call__(self, label: str, total: int | None) -> OnProgress:
        self._finish()
        unit = self._unit if isinstance(self._unit, str) else self._unit.get(label, "")
        self._current = Progress(label, total, stream=self._stream, unit=unit)
        return self._current.update

    def _finish(self) -> None:
        if self._current is not None:
            self._current.finish()
            self._current = None
