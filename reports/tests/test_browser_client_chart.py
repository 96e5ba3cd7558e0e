"""The client page's chart as drawn in real Chromium: the cut-off line with one session,
smoothed lines that stay within the scores, and gaps where the therapist did not rate."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from clients.models import Client, User
from conftest import watch_for_problems
from measures.scoring import DIMENSIONS
from measures.tests.factories import RatingFactory
from sessions.tests.factories import SessionFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHART = "Chart.getChart(document.getElementById('alliance-chart'))"


def rated_sessions(
    client: Client, client_scores: list[int], therapist_scores: list[int | None]
) -> None:
    start = timezone.now() - dt.timedelta(weeks=len(client_scores) + 1)
    for number, (mine, theirs) in enumerate(zip(client_scores, therapist_scores, strict=True)):
        session = SessionFactory(client=client, starts_at=start + dt.timedelta(weeks=number))
        RatingFactory(session=session, **dict.fromkeys(DIMENSIONS, mine))
        if theirs is not None:
            RatingFactory(session=session, rater="therapist", **dict.fromkeys(DIMENSIONS, theirs))


def open_chart(page: Any, live_server: Any, client: Client) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("tara")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}{client.get_absolute_url()}", wait_until="load")


def cutoff_coverage(page: Any) -> float:
    """The share of the chart's width along the cut-off's height (three pixel rows, for an
    anti-aliased line between two) that is drawn in the cut-off's grey."""
    return page.evaluate(
        f"""() => {{
        const chart = {CHART};
        const ratio = chart.currentDevicePixelRatio;
        const cutoff = chart.data.datasets[2].data[0];
        const y = Math.round(chart.scales.y.getPixelForValue(cutoff) * ratio);
        const left = Math.ceil(chart.chartArea.left * ratio);
        const width = Math.floor(chart.chartArea.right * ratio) - left;
        const rows = chart.ctx.getImageData(left, y - 1, width, 3).data;
        let grey = 0;
        for (let x = 0; x < width; x++) {{
          for (let row = 0; row < 3; row++) {{
            const i = (row * width + x) * 4;
            const [r, g, b, a] = [rows[i], rows[i + 1], rows[i + 2], rows[i + 3]];
            const close = Math.abs(r - 108) < 50 && Math.abs(g - 117) < 50
              && Math.abs(b - 125) < 50;
            if (a > 60 && close) {{ grey++; break; }}
          }}
        }}
        return grey / width;
      }}"""
    )


def test_with_one_session_the_cut_off_line_is_drawn_across(
    live_server: Any, page: Any, therapist: User, client_record: Client
) -> None:
    problems = watch_for_problems(page)
    rated_sessions(client_record, [9], [None])
    open_chart(page, live_server, client_record)
    # Dashed (6 on, 4 off): well over a third of the width, where nothing was drawn before.
    assert cutoff_coverage(page) > 0.4
    assert problems == []


def test_smoothed_lines_stay_within_the_scores_and_the_therapists_line_has_gaps(
    live_server: Any, page: Any, therapist: User, client_record: Client
) -> None:
    rated_sessions(client_record, [10, 6, 6, 10, 10], [9, 9, None, 8, 8])
    open_chart(page, live_server, client_record)
    # Every control point of the client's curve lies between the heights of 10 and 6.
    top, bottom, controls = page.evaluate(
        f"""() => {{
        const chart = {CHART};
        const points = chart.getDatasetMeta(0).data;
        return [chart.scales.y.getPixelForValue(10), chart.scales.y.getPixelForValue(6),
                points.flatMap((p) => [p.cp1y, p.cp2y]).filter((y) => y !== undefined)];
      }}"""
    )
    assert controls and all(top - 0.5 <= y <= bottom + 0.5 for y in controls), (
        top,
        bottom,
        controls,
    )
    # Session 3 has no therapist rating: their line is two pieces, not one joined across.
    segments = page.evaluate(f"{CHART}.getDatasetMeta(1).dataset.segments.length")
    assert segments == 2
    assert cutoff_coverage(page) > 0.4
