"""The tables' dates, formatted by hand for speed, read exactly as Django's date formats
would write them, in every language the app speaks."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import dateformat, translation

from reports.templatetags.table_rows import day_month_year, weekday_date_time

# Every month and weekday, single and double-digit days and hours, a year far back.
MOMENTS = [
    dt.datetime(2026, 1, 1, 0, 0) + dt.timedelta(days=days, hours=days % 24, minutes=days % 60)
    for days in range(0, 400, 3)
] + [dt.datetime(999, 12, 31, 23, 59)]


@pytest.mark.parametrize("language", ["en", "es"])
def test_the_tables_dates_read_as_djangos_formats_write_them(language: str) -> None:
    with translation.override(language):
        for moment in MOMENTS:
            assert day_month_year(moment) == dateformat.format(moment, "j M Y")
            assert weekday_date_time(moment) == dateformat.format(moment, "D j M Y, H:i")


def test_a_spanish_page_gets_spanish_month_and_day_names() -> None:
    moment = dt.datetime(2026, 1, 5, 9, 7)  # a Monday in January
    with translation.override("es"):
        assert weekday_date_time(moment) == "lun 5 Ene 2026, 09:07"
    with translation.override("en"):
        assert weekday_date_time(moment) == "Mon 5 Jan 2026, 09:07"
