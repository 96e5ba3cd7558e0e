"""The progress reporter of long commands: what it writes on a terminal and elsewhere."""

from __future__ import annotations

from io import StringIO

import pytest

from alliance.progress import Progress, Stages, duration


class Clock:
    """Time moved by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Terminal(StringIO):
    def isatty(self) -> bool:
        return True


def test_durations_read_as_minutes_and_seconds_or_hours() -> None:
    assert [duration(s) for s in (0, 5.4, 65, 3725, -3)] == [
        "0:00",
        "0:05",
        "1:05",
        "1:02:05",
        "0:00",
    ]


def test_on_a_terminal_it_redraws_one_line_a_few_times_a_second_with_the_time_left() -> None:
    clock, stream = Clock(), Terminal()
    progress = Progress("Seeding", 1000, stream=stream, unit="sessions", clock=clock)
    for done in range(100, 1001, 100):
        clock.now += 0.1
        progress.update(done)
    progress.finish()

    drawn = stream.getvalue()
    assert "\n" not in drawn[:-1] and drawn.endswith("\n")
    lines = [line.rstrip() for line in drawn.rstrip("\n").split("\r")[1:]]
    assert lines[0] == "Seeding: [........................] 0 of 1,000 sessions (0%)"
    # Every quarter second, not at each of the ten updates.
    assert lines[1:-1] == [
        "Seeding: [#######.................] 300 of 1,000 sessions (30%) 1,000/s about 0:01 left",
        "Seeding: [##############..........] 600 of 1,000 sessions (60%) 1,000/s about 0:00 left",
        "Seeding: [######################..] 900 of 1,000 sessions (90%) 1,000/s about 0:00 left",
    ]
    assert lines[-1] == "Seeding: 1,000 of 1,000 sessions in 0:01 (1,000/s)"
    # The last line blanks what was left of the longer one before it.
    assert len(drawn.split("\r")[-1].rstrip("\n")) == len(lines[-2])


def test_elsewhere_it_writes_a_plain_line_every_ten_seconds_and_a_last_one() -> None:
    clock, stream = Clock(), StringIO()
    with Progress("Sweep", None, stream=stream, unit="clients", clock=clock) as progress:
        report = progress.expecting(200)
        for done in range(1, 201):
            clock.now += 0.25
            report(done)

    assert "\r" not in stream.getvalue()
    assert stream.getvalue().splitlines() == [
        "Sweep: 40 of 200 clients (20%) 4/s about 0:40 left",
        "Sweep: 80 of 200 clients (40%) 4/s about 0:30 left",
        "Sweep: 120 of 200 clients (60%) 4/s about 0:20 left",
        "Sweep: 160 of 200 clients (80%) 4/s about 0:10 left",
        "Sweep: 200 of 200 clients (100%) 4/s about 0:00 left",
        "Sweep: 200 of 200 clients in 0:50 (4/s)",
    ]


def test_the_rate_and_time_left_count_from_when_the_total_became_known() -> None:
    clock, stream = Clock(), StringIO()
    progress = Progress("Sweep", None, stream=stream, clock=clock)
    clock.now += 60  # the sweep's set-up, before it counts its clients
    report = progress.expecting(100)
    clock.now += 10
    report(50)
    progress.finish()
    assert stream.getvalue().splitlines() == [
        "Sweep: 50 of 100 (50%) 5/s about 0:10 left",
        "Sweep: 50 of 100 in 1:10 (5/s)",
    ]


def test_without_a_total_it_counts_and_gives_the_rate_but_no_time_left() -> None:
    clock, stream = Clock(), StringIO()
    progress = Progress("Export", None, stream=stream, clock=clock)
    clock.now += 10
    progress.advance(2500)
    progress.finish()
    progress.finish()  # once only
    assert stream.getvalue().splitlines() == [
        "Export: 2,500 250/s",
        "Export: 2,500 in 0:10 (250/s)",
    ]


def test_each_stage_has_its_bar_finished_when_the_next_begins() -> None:
    stream = StringIO()
    with Stages(stream=stream, unit={"Reading": "clients"}) as stages:
        reading = stages("Reading", 3)
        reading(3)
        assert stream.getvalue() == ""  # a stage's last line comes when it is over
        stages("Replaying", 4)(4)
        assert stream.getvalue().startswith("Reading: 3 of 3 clients in 0:00")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2 and lines[1].startswith("Replaying: 4 of 4 in 0:00")


def test_work_that_fails_says_where_it_stopped_rather_than_a_summary_of_it_done() -> None:
    for stream in (Terminal(), StringIO()):
        clock = Clock()
        with (
            pytest.raises(RuntimeError),
            Progress("Seeding", 1000, stream=stream, unit="sessions", clock=clock) as bar,
        ):
            clock.now += 12
            bar.update(300)
            raise RuntimeError("the database went away")
        last = stream.getvalue().split("\r")[-1].rstrip().splitlines()[-1]
        assert last == "Seeding: stopped at 300 of 1,000 sessions after 0:12"
        assert stream.getvalue().endswith("\n")  # the error starts a line of its own


def test_a_stage_that_fails_says_where_it_stopped() -> None:
    stream = StringIO()
    with pytest.raises(RuntimeError), Stages(stream=stream, unit="clients") as stages:
        stages("Reading", 10)(4)
        raise RuntimeError("the database went away")
    assert stream.getvalue().splitlines()[-1].startswith("Reading: stopped at 4 of 10 clients")
