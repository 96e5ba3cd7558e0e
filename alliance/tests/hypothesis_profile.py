"""The Hypothesis profile every property-based test here runs under.

Derandomized, so a run in CI draws the same examples as on a laptop: a failure is a
bug to fix, never a flake to re-run. No example database (nothing written into the
checkout), no deadline (a request's first example warms caches and templates), and
a modest number of examples so the whole set stays well under a minute.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "alliance",
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=20,
    print_blob=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# A longer hunt, by hand: HYPOTHESIS_PROFILE=alliance-long pytest …
settings.register_profile("alliance-long", settings.get_profile("alliance"), max_examples=500)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "alliance"))
