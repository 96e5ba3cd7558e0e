"""Benchmark a clinic's calibration (the Thresholds page's "Calibrate now", worked out by a
worker) on the scale demo, on PostgreSQL.

    .venv/bin/python bench/calibration.py [--database postgres://…/alliance_bench_huge]
                                          [--scale large|huge]

Uses the database `make bench` keeps for the scale (`alliance_bench` for large,
`alliance_bench_huge` for huge), seeding it first if it does not hold the scale's clinic
(the huge one takes 4–5 minutes). Times, in its own process, reading every client's history
and working out the result — the estimates, then the replay of the last 12 weeks under each
set of thresholds — and prints them with the peak memory. Nothing is written: the result
is not kept as a calibration.
"""

from __future__ import annotations

import os
import sys

# bench/signal.py would shadow the standard library's signal module (see bench/sweep.py).
BENCH = os.path.dirname(os.path.realpath(__file__))
sys.path[:] = [path for path in sys.path if os.path.realpath(path or os.curdir) != BENCH]
sys.path.insert(0, os.path.dirname(BENCH))

import argparse
import time

from bench.common import open_scale, peak_rss_mb, scale_arguments


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    scale_arguments(parser)
    args = parser.parse_args()
    open_scale(args.scale, args.database)

    from django.utils import timezone

    from clients.models import Clinic
    from demo.scale import SCALE_CLINIC_SLUG
    from measures.calibration import calibration_result, clinic_histories
    from measures.thresholds import clinic_thresholds

    clinic = Clinic.objects.get(slug=SCALE_CLINIC_SLUG)
    before = peak_rss_mb()
    started = time.perf_counter()
    clients = clinic_histories(clinic)
    read = time.perf_counter()
    result = calibration_result(clients, clinic_thresholds(clinic), timezone.now())
    done = time.perf_counter()
    estimates = result["estimates"]
    settings = 2 + sum(len(curve["points"]) for curve in result.get("curves", []))
    print(
        f"Calibration of {clinic} ({args.scale}): {estimates['clients']:,} clients, "
        f"{estimates['ratings']:,} client ratings, {settings} sets of thresholds replayed"
    )
    print(
        f"  reading the histories {read - started:.2f} s, working out the result "
        f"{done - read:.2f} s, in all {done - started:.2f} s "
        f"({estimates['ratings'] / (done - started):,.0f} client ratings a second); "
        f"peak {peak_rss_mb():.0f} MB ({before:.0f} MB before)"
    )


if __name__ == "__main__":
    main()
