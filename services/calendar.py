"""The working-day calendar as the bureau has it: the packaged years plus those an administrator added.

``policy.workdays`` holds the rules and the years Custody ships with; the years an administrator
installs (``custody calendar add-year FILE``, from the State Council's notice) live in the data
directory, and reading and writing them is here.
"""

from __future__ import annotations

import os
import tempfile
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


def install_year(path_in: Path, extra_dir: Path) -> YearCalendar:
    """Validate a year file and install it durably as ``extra_dir/<year>.toml`` (replacing any previous one).

    The file's own text is kept, comments and all, since they usually cite the notice; it is written to
    a temporary name (not ``*.toml``, so a concurrent ``load`` never sees it half-written), fsynced and
    renamed into place.
    """
    try:
        text = path_in.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise CalendarError(f"{path_in}: cannot read the calendar file: {e}") from None
    try:
        cal = YearCalendar.from_toml(text)
    except CalendarError as e:
        raise CalendarError(f"{path_in}: {e}") from None
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
    year = install_year(path_in, extra_dir)
    await retention.ensure_governance_log(locker)
    await locker.log.append(GOVERNANCE_CASE, Draft("calendar.year_added", who.actor, {
        "year": year.year, "source": year.source, "holidays": len(year.holidays), "workdays": len(year.workdays)}))
    return year
