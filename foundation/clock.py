"""The bureau's calendar date.

Publication, takedown and update deadlines are dates in the bureau's own time zone (China Standard
Time, no daylight saving), whatever the server's clock zone is.  Code that decides by date takes
``today`` as a parameter; only the edges (API handlers, the CLI) call :func:`today`.
"""

from __future__ import annotations

import datetime as dt

#: UTC+8, fixed: China has had no daylight saving since 1991, and tzdata may be absent on slim images.
BUREAU_TZ = dt.timezone(dt.timedelta(hours=8), "CST")


def today() -> dt.date:
    return dt.datetime.now(BUREAU_TZ).date()
