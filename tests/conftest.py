"""Real components for the tests: embedded PostgreSQL, a real S3 server (Ceph RGW), both object stores.

A ``DATABASE_URL`` in the environment wins over the embedded server (CI against a real cluster).
Each test that needs a database gets its own, cloned from a migrated template, so tests never see
each other's rows.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
from minio import Minio

from foundation.settings import Settings
from storage import db
from storage.filestore import FileStore
from storage.objects import ObjectStore
from storage.s3store import S3Store
from tests import rgw as rgw_cluster

REPO = Path(__file__).resolve().parents[1]
VECTORS = REPO / "tests" / "vectors"  # known-answer vectors from outside sources, see its README.md
POLICY_TEXT = REPO / "docs" / "policy" / "enforcement-disclosure-policy.zh.txt"  # the Chinese original
TEMPLATE_DB = "custody_template"


@pytest.fixture(scope="session")
def pg_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if url := os.environ.get("DATABASE_URL"):
        yield url
        return
    pg_dir = tmp_path_factory.mktemp("embedded") / "pg"
    url = db.start_embedded(pg_dir)
    try:
        yield url
    finally:
        db.stop_embedded(pg_dir)


@pytest.fixture(scope="session")
async def template_db(pg_url: str) -> str:
    conn = await asyncpg.connect(pg_url)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {TEMPLATE_DB}")
        await conn.execute(f"CREATE DATABASE {TEMPLATE_DB}")
    finally:
        await conn.close()
    conn = await asyncpg.connect(_with_db(pg_url, TEMPLATE_DB))
    try:
        await db.migrate(conn)
    finally:
        await conn.close()
    return TEMPLATE_DB


@asynccontextmanager
async def fresh_database(pg_url: str, template_db: str) -> AsyncIterator[str]:
    """A fresh, migrated database cloned from the template; dropped on exit."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(pg_url)
    try:
        await admin.execute(f"CREATE DATABASE {name} TEMPLATE {template_db}")
    finally:
        await admin.close()
    try:
        yield _with_db(pg_url, name)
    finally:
        admin = await asyncpg.connect(pg_url)
        try:
            await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        finally:
            await admin.close()


@pytest.fixture
async def database_url(pg_url: str, template_db: str) -> AsyncIterator[str]:
    """A fresh, migrated database of the test's own, dropped afterwards."""
    async with fresh_database(pg_url, template_db) as url:
        yield url


@pytest.fixture
async def pool(database_url: str, tmp_path: Path) -> AsyncIterator[asyncpg.Pool]:
    settings = Settings.from_env({}, home=tmp_path, database_url=database_url, db_pool_max=60)
    async with db.open_pool(settings) as p:
        yield p


def _with_db(url: str, name: str) -> str:
    """Swap the database name in a libpq URL (the embedded one carries ?host=/socket/dir)."""
    base, sep, query = url.partition("?")
    scheme_host, _, _ = base.rpartition("/")
    return f"{scheme_host}/{name}{sep}{query}"


@dataclass(frozen=True)
class S3Server:
    """An S3 endpoint on loopback and the credentials of its test user."""

    endpoint: str
    access_key: str
    secret_key: str
    kind: str  # "rgw" (real Object Lock) or "moto" (only for faults RGW cannot give)

    def client(self) -> Minio:
        return Minio(self.endpoint, access_key=self.access_key, secret_key=self.secret_key, secure=False)


@pytest.fixture(scope="session")
def rgw() -> Iterator[rgw_cluster.Rgw]:
    """A real S3 server with Object Lock for the whole session: a throwaway single-node Ceph cluster
    and RADOS Gateway (tests/rgw.py), started in about two seconds and killed at the end."""
    if missing := rgw_cluster.missing_programs():
        pytest.skip(f"REAL S3 (Ceph RGW) NOT TESTED: {', '.join(missing)} missing; run deploy/bootstrap.sh "
                    "as root or apt-get install --no-install-recommends ceph-mon ceph-osd ceph-common radosgw")
    # Short path: Ceph's admin sockets live under it (108-byte limit for a socket path).
    directory = Path(tempfile.mkdtemp(prefix="custody-rgw-"))
    with rgw_cluster.running(directory) as server:
        yield server


@pytest.fixture(scope="session")
def s3_server(rgw: rgw_cluster.Rgw) -> S3Server:
    """The S3 server every S3 store and API-on-S3 test runs against: Ceph RGW, which enforces
    Object Lock as a production server does."""
    return S3Server(rgw.endpoint, rgw.access_key, rgw.secret_key, "rgw")


@contextmanager
def moto_server() -> Iterator[S3Server]:
    """moto in server mode: used only by tests that need a fault a real server cannot be made to
    give on demand (each such test says which); moto does not enforce Object Lock."""
    # Deferred: moto is heavy to import and only the few fault tests need it.
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield S3Server(f"{host}:{port}", "custody-test", "custody-test-secret", "moto")
    finally:
        server.stop()


def s3_settings(server: S3Server, home: Path, bucket: str | None = None) -> Settings:
    """Settings for a store on ``server`` in a fresh bucket of its own (or ``bucket``)."""
    return Settings.from_env(
        {},
        home=home,
        store="s3",
        s3_endpoint=server.endpoint,
        s3_access_key=server.access_key,
        s3_secret_key=server.secret_key,
        s3_secure=False,
        s3_bucket=bucket or f"custody-{uuid.uuid4().hex[:12]}",
        s3_part_size_mib=5,  # the S3 minimum: small parts make multipart paths cheap to exercise
    )


@pytest.fixture(params=["file", "s3"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ObjectStore]:
    """Each store implementation, empty; the contract tests run against both."""
    s: ObjectStore
    if request.param == "file":
        s = FileStore(tmp_path / "objects")
    else:
        s = S3Store.from_settings(s3_settings(request.getfixturevalue("s3_server"), tmp_path))
    await s.check()
    try:
        yield s
    finally:
        await s.close()
