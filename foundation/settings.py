"""Settings: one frozen dataclass, read once from the environment and an optional TOML file.

Precedence: environment variable > TOML file (``$CUSTODY_CONFIG`` or ``$CUSTODY_HOME/custody.toml``)
> default.  TOML keys are the environment names in lower case (``s3_bucket = "..."``).
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from foundation.errors import CustodyError, Status

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_ORIGIN_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-:]{0,252}$")


class SettingsError(CustodyError, ValueError):
    """A setting has a value Custody cannot use; the message names the setting."""

    status = Status.INVALID
    code = "settings"


@dataclass(frozen=True, slots=True)
class Settings:
    """Every knob Custody has.  Field docs are the README's configuration table."""

    #: Data directory: embedded database, file object store, signing keys, spool.
    home: Path = Path("./var")
    #: PostgreSQL URL.  Unset: start the embedded PostgreSQL in ``$CUSTODY_HOME/pg``.
    database_url: str | None = None
    #: asyncpg pool bounds.
    db_pool_min: int = 1
    db_pool_max: int = 20
    #: An upload session no byte reached for this long is closed (the station starts it again).
    upload_idle_hours: int = 24
    #: The upload sweep leaves the store's temp files (``.part``) younger than this: a writer may own them.
    upload_part_grace_s: int = 120
    #: Failed authentications from one address (or with one token) within a minute before it backs off (429).
    auth_failures_per_burst: int = 20
    #: Object store: ``file`` (``$CUSTODY_HOME/objects``) or ``s3``.  Default: ``s3`` if S3_ENDPOINT is set.
    store: str = "file"
    #: S3/MinIO endpoint as ``host:port``.
    s3_endpoint: str | None = None
    s3_access_key: str | None = field(default=None, repr=False)
    s3_secret_key: str | None = field(default=None, repr=False)
    s3_bucket: str = "custody-evidence"
    s3_secure: bool = True
    s3_region: str = "us-east-1"
    #: Multipart part size for S3 uploads; memory per upload is about two parts.
    s3_part_size_mib: int = 16
    #: Memory for S3 part buffers shared by all uploads at once (at least two parts).
    s3_buffer_mib: int = 64
    #: Log origin host and signing key name (checkpoint origin is ``<origin>/case/<id>``).
    origin: str = "custody.local"
    #: HTTP server bind address.
    host: str = "127.0.0.1"
    port: int = 8470
    #: ``custody serve`` processes sharing the port (SO_REUSEPORT); about one per core.
    workers: int = 1
    #: ``json`` for machines, ``text`` for people.
    log_format: str = "text"
    log_level: str = "INFO"
    #: Let the scheduled ``custody disclosure sweep`` take down published records whose period expired
    #: (reason "period expired").  Off: it only lists them for staff.
    auto_takedown: bool = False
    #: Separation of duties (policy §二: 采集、传递、审核、发布 by different responsibilities): approval and
    #: publication of a disclosure record by two different people, and a takedown or revocation of a
    #: major decision asked by one and confirmed by another.  (The drafter never approves, whatever this says.)
    separate_duties: bool = True
    #: Load jieba's Chinese name dictionary (~170 MiB, ~1.5 s) in the background at start-up, so the first
    #: masking does not wait.  Off: loaded on the first masking (a server that only takes uploads never
    #: pays it, and each ``--workers`` process pays it only once it masks).
    warm_up_names: bool = False
    #: A fine of at least this many yuan is proposed as "较大数额罚款", a major decision (§四(二)).
    major_fine_yuan: int = 50_000
    #: A web sign-in session ends after this many minutes without a request (checked to the minute) ...
    session_idle_minutes: int = 30
    #: ... and this many hours after sign-in, however busy.
    session_hours: int = 12
    #: Reverse proxies (IP addresses or CIDR networks, comma-separated) whose X-Forwarded-For is
    #: believed: the client address logged for requests, evidence reads and web sign-ins is then the
    #: browser's, not the proxy's.  Empty: the connecting address, and X-Forwarded-For is ignored.
    trusted_proxies: str = ""
    #: The time zone the web pages show times in and read search dates in (an IANA name); the log, the
    #: API and bundles keep UTC.
    timezone: str = "Asia/Shanghai"
    #: The user the command line acts as when a command that decides something is given no ``--as``.
    cli_user: str | None = None
    #: Witnesses that cosign every case checkpoint: entries ``<URL> <witness vkey>`` separated by
    #: commas or newlines (the URL is the witness's submission prefix, ``/add-checkpoint`` is added).
    witnesses: str = ""
    #: How many of those witnesses must cosign a checkpoint for it to count as witnessed.
    witness_quorum: int = 1
    #: A case's new checkpoints go to each witness at most once per this many seconds (batched).
    witness_interval_seconds: int = 3
    #: Alarm (ERROR log, ``custody_witness_alarm`` = 1) when a checkpoint waits longer than this for its quorum.
    witness_lag_alarm_seconds: int = 600
    #: RFC 3161 time-stamping authorities, comma-separated URLs; empty: no timestamps.
    tsa_urls: str = ""
    #: PEM file with the TSAs' certificate chains, copied into bundles for verifiers (optional).
    tsa_chain_file: str | None = None
    #: How often the timestamping job anchors the changed case checkpoints (minutes).
    timestamp_interval_minutes: int = 60
    #: ``custody witness serve``: the witness's directory (key, witness.toml, state.sqlite).
    #: Empty: ``$CUSTODY_HOME/witness``.
    witness_home: str = ""
    #: ``custody witness serve``: the port it listens on (host: CUSTODY_HOST).
    witness_port: int = 8471
    #: Redaction renders run at once (each one ffmpeg); more wait their turn, uploads never do.
    redaction_workers: int = 1
    #: Encoder threads of each render; 0 lets ffmpeg choose (one per core).
    redaction_threads: int = 0

    @property
    def objects_dir(self) -> Path:
        return self.home / "objects"

    @property
    def pg_dir(self) -> Path:
        return self.home / "pg"

    @property
    def keys_dir(self) -> Path:
        return self.home / "keys"

    @property
    def calendar_dir(self) -> Path:
        """Working-day calendar years added by admins (beside the packaged ones)."""
        return self.home / "calendars"

    @property
    def witness_dir(self) -> Path:
        return Path(self.witness_home) if self.witness_home else self.home / "witness"

    @property
    def witness_entries(self) -> list[tuple[str, str]]:
        """``(url, vkey)`` of every configured witness, in the order given."""
        entries = []
        for part in self.witnesses.replace(",", "\n").splitlines():
            if part.strip():
                url, _, vkey = part.strip().partition(" ")
                entries.append((url.rstrip("/"), vkey.strip()))
        return entries

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        """The zone of ``timezone`` (the web pages' local time)."""
        return zoneinfo.ZoneInfo(self.timezone)

    @property
    def tsa_url_list(self) -> list[str]:
        return [u.strip() for u in self.tsa_urls.split(",") if u.strip()]

    @property
    def proxy_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return tuple(ipaddress.ip_network(part.strip(), strict=False)
                     for part in self.trusted_proxies.split(",") if part.strip())

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read settings once; ``overrides`` (tests, CLI flags) win over everything."""
        env = dict(os.environ if environ is None else environ)
        home = Path(env.get("CUSTODY_HOME", "./var"))
        config_path = Path(env["CUSTODY_CONFIG"]) if "CUSTODY_CONFIG" in env else home / "custody.toml"
        values: dict[str, Any] = {}
        if config_path.is_file():
            with config_path.open("rb") as fh:
                values.update({k.lower(): v for k, v in tomllib.load(fh).items()})
        elif "CUSTODY_CONFIG" in env:
            raise SettingsError(f"CUSTODY_CONFIG={config_path} does not exist")
        for f in fields(cls):
            name = _env_name(f.name)
            if name in env:
                values[f.name] = env[name]
        values.update(overrides)
        if "store" not in values:
            values["store"] = "s3" if values.get("s3_endpoint") else "file"
        known = {f.name: f for f in fields(cls)}
        unknown = set(values) - set(known)
        if unknown:
            raise SettingsError(f"unknown settings in {config_path}: {', '.join(sorted(unknown))}")
        typed = {name: _coerce(name, known[name].type, value) for name, value in values.items()}
        settings = cls(**typed)
        settings.validate()
        return settings

    def validate(self) -> None:
        if self.store not in ("file", "s3"):
            raise SettingsError(f"CUSTODY_STORE must be 'file' or 's3', not {self.store!r}")
        if self.store == "s3":
            missing = [
                n for n in ("s3_endpoint", "s3_access_key", "s3_secret_key") if not getattr(self, n)
            ]
            if missing:
                raise SettingsError("CUSTODY_STORE=s3 needs " + ", ".join(_env_name(n) for n in missing))
        if not _ORIGIN_RE.match(self.origin) or "+" in self.origin:
            raise SettingsError(f"CUSTODY_ORIGIN must be a host name without spaces or '+': {self.origin!r}")
        if not 5 <= self.s3_part_size_mib <= 5120:
            raise SettingsError("S3_PART_SIZE_MIB must be between 5 and 5120 (S3 part limits)")
        if self.db_pool_min < 1 or self.db_pool_max < self.db_pool_min:
            raise SettingsError("CUSTODY_DB_POOL_MIN/MAX must satisfy 1 <= min <= max")
        if not 1 <= self.workers <= 64:
            raise SettingsError("CUSTODY_WORKERS must be between 1 and 64")
        if self.log_format not in ("json", "text"):
            raise SettingsError("CUSTODY_LOG_FORMAT must be 'json' or 'text'")
        if not 1 <= self.session_hours <= 7 * 24:
            raise SettingsError("CUSTODY_SESSION_HOURS must be between 1 and 168")
        self._validate_witnessing()
        self._validate_zone()
        try:
            self.proxy_networks  # noqa: B018 - parsing is the check
        except ValueError as exc:
            raise SettingsError(f"CUSTODY_TRUSTED_PROXIES: {exc}") from None
        if not 1 <= self.session_idle_minutes <= self.session_hours * 60:
            raise SettingsError("CUSTODY_SESSION_IDLE_MINUTES must be between 1 and CUSTODY_SESSION_HOURS × 60")

    def _validate_zone(self) -> None:
        try:
            self.zone  # noqa: B018 - parsing is the check
        except (ValueError, zoneinfo.ZoneInfoNotFoundError):
            raise SettingsError(f"CUSTODY_TIMEZONE must be an IANA time zone name, not {self.timezone!r}") from None

    def _validate_witnessing(self) -> None:
        entries = self.witness_entries
        for url, vkey in entries:
            if not url.startswith(("http://", "https://")) or not vkey:
                raise SettingsError(f"CUSTODY_WITNESSES: each entry is '<URL> <witness vkey>', not {url!r} {vkey!r}")
        if not 1 <= self.witness_quorum <= max(1, len(entries)):
            raise SettingsError("CUSTODY_WITNESS_QUORUM must be between 1 and the number of witnesses "
                                f"({len(entries)})")
        if self.witness_interval_seconds < 1 or self.witness_lag_alarm_seconds < 1:
            raise SettingsError("CUSTODY_WITNESS_INTERVAL_SECONDS and CUSTODY_WITNESS_LAG_ALARM_SECONDS must be >= 1")
        if self.timestamp_interval_minutes < 1:
            raise SettingsError("CUSTODY_TIMESTAMP_INTERVAL_MINUTES must be >= 1")
        if any(not u.startswith(("http://", "https://")) for u in self.tsa_url_list):
            raise SettingsError("CUSTODY_TSA_URLS: comma-separated http(s) URLs")
        if not 1 <= self.witness_port <= 65535:
            raise SettingsError("CUSTODY_WITNESS_PORT must be a TCP port")


def _env_name(field_name: str) -> str:
    if field_name.startswith("s3_") or field_name == "database_url":
        return field_name.upper()
    return "CUSTODY_" + field_name.upper()


def _coerce(name: str, type_name: Any, value: Any) -> Any:
    kind = str(type_name)
    try:
        if kind == "Path":
            return Path(value)
        if kind == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in _TRUE:
                return True
            if text in _FALSE:
                return False
            raise ValueError(value)
        if kind == "int":
            return int(value)
        if kind == "str | None":
            return str(value) if value not in (None, "") else None
        return str(value)
    except ValueError:
        raise SettingsError(f"{_env_name(name)}: cannot read {value!r} as {kind}") from None
