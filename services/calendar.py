"""The working-day calendar as the bureau has it: the packaged years plus those an administrator added.

``policy.workdays`` holds the rules and the years Custody ships with; the years an administrator
installs (``custody calendar add-year FILE``, from the State Council's notice) live in the data
directory, and reading and writing them is here.
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from foundation.durable import replace_durably
from policy.cases import GOVERNANCE_CASE
from policy.errors import CalendarError
from policy.workdays import WorkCalendar, YearCalendar
from services import retention
from services.locker import Locker
from services.permissions import authorize
from storage.log import Draft
from storage.principals import Principal

logger = logging.getLogger(__name__)


def load_calendar(extra_dir: Path | None = None) -> WorkCalendar:
    """The packaged years with ``extra_dir/<year>.toml`` (if the directory exists) added or replacing them."""
    return WorkCalendar.load(_extra_files(extra_dir) if extra_dir is not None else ())


def _extra_files(extra_dir: Path) -> Iterator[tuple[str, str]]:
    if not extra_dir.exists():
        return
    if not extra_dir.is_dir():
        raise CalendarError(f"{extra_dir}: the calendar directory is not a directory")
    for path in sorted(extra_dir.glob("*.toml")):
        yield str(path), path.read_text(encoding="utf-8")


class LiveCalendar:
    """The calendar a running server uses: reloaded as soon as a year is added, without a restart.

    ``custody calendar add-year`` (another process) and the API's form both rename a file into the
    calendar directory, which changes the directory's modification time; ``current()`` costs one
    ``stat`` of that directory per call and reloads only when it moved.  A directory that no longer
    loads (a hand-edited file with an error) keeps the last good calendar and logs the error, so one
    typo never stops every deadline computation.
    """

    def __init__(self, extra_dir: Path | None) -> None:
        self._dir = extra_dir
        self._lock = threading.Lock()
        self._stamp = self._signature()
        self._calendar = load_calendar(extra_dir)

    def _signature(self) -> tuple[int, int] | None:
        if self._dir is None:
            return None
        try:
            st = self._dir.stat()
        except FileNotFoundError:
            return None
        return st.st_mtime_ns, st.st_ino

    def current(self) -> WorkCalendar:
        """The calendar as the directory holds it now."""
        stamp = self._signature()
        if stamp == self._stamp:
            return self._calendar
        with self._lock:
            if stamp != self._stamp:
                try:
                    self._calendar = load_calendar(self._dir)
                    logger.info("working-day calendar reloaded from %s (%d years)", self._dir,
                                len(self._calendar.calendars))
                except CalendarError:
                    logger.exception("the calendar directory %s no longer loads; keeping the last good calendar",
                                     self._dir)
                self._stamp = stamp
        return self._calendar


_LIVE: dict[Path | None, LiveCalendar] = {}
_LIVE_LOCK = threading.Lock()


def live(extra_dir: Path | None) -> LiveCalendar:
    """The one ``LiveCalendar`` of this process for a calendar directory (the server's and the services')."""
    with _LIVE_LOCK:
        found = _LIVE.get(extra_dir)
        if found is None:
            found = _LIVE[extra_dir] = LiveCalendar(extra_dir)
        return found


def of(locker: Locker) -> WorkCalendar:
    """The working-day calendar as it is now for this locker's data directory."""
    return live(locker.calendar_dir).current()


def install_year(path_in: Path, extra_dir: Path) -> YearCalendar:
    """Validate a year file and install it durably as ``extra_dir/<year>.toml`` (replacing any previous one)."""
    try:
        text = path_in.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise CalendarError(f"{path_in}: cannot read the calendar file: {e}") from None
    try:
        return install_year_text(text, extra_dir)
    except CalendarError as e:
        raise CalendarError(f"{path_in}: {e}") from None


def install_year_text(text: str, extra_dir: Path) -> YearCalendar:
    """Validate a year file's text and install it durably as ``extra_dir/<year>.toml``.

    The file's own text is kept, comments and all, since they usually cite the notice; it is written to
    a temporary name (not ``*.toml``, so a concurrent ``load`` never sees it half-written), fsynced and
    renamed into place.
    """
    cal = YearCalendar.from_toml(text)
    extra_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{cal.year}.", suffix=".tmp", dir=extra_dir)
    tmp = Path(tmp_name)
    try:
        # mkstemp makes the file 0600; the server may run as another user than the administrator.
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        replace_durably(tmp, extra_dir / f"{cal.year}.toml", sync_file=False)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return cal


async def add_year(locker: Locker, path_in: Path, extra_dir: Path, *, who: Principal) -> YearCalendar:
    """Install a year (``install_year``) and record who installed which year from which notice in the
    governance log (``calendar.year_added``): a deadline computed from it can be traced to its source."""
    authorize(who, "calendar.add_year")
    year = await asyncio.to_thread(install_year, path_in, extra_dir)
    await _log_year(locker, year, who)
    return year


async def add_year_text(locker: Locker, text: str, extra_dir: Path, *, who: Principal,
                        live: LiveCalendar | None = None) -> YearCalendar:
    """``add_year`` from the file's text (the API and web form); ``live``, if given, uses it at once."""
    authorize(who, "calendar.add_year")
    year = await asyncio.to_thread(install_year_text, text, extra_dir)
    await _log_year(locker, year, who)
    if live is not None:
        live.current()
    return year


async def _log_year(locker: Locker, year: YearCalendar, who: Principal) -> None:
    await retention.ensure_governance_log(locker)
    await locker.log.append(GOVERNANCE_CASE, Draft("calendar.year_added", who.actor, {
        "year": year.year, "source": year.source, "holidays": len(year.holidays), "workdays": len(year.workdays)}))
