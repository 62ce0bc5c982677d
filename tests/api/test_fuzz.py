"""Schemathesis against the live OpenAPI document, every check, as an administrator and as a station:
no server error, no response that contradicts the document, no valid request refused, no invalid one
accepted.

Behind the ``fuzz`` marker (slow): ``pytest -m fuzz`` or ``make fuzz``.  The same bounded settings for
both tokens (``FUZZ_ARGS``); the counts are printed for the record.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.api.conftest import free_port
from tests.api.test_serve import REPO, Server, cli, custody_env, wait_healthy

pytestmark = pytest.mark.fuzz
CONFIG = Path(__file__).with_name("schemathesis.toml")

#: Bounded and repeatable: the same examples every run, a fixed budget per operation.
FUZZ_ARGS = ("--checks", "all", "--max-examples", "25", "--generation-deterministic", "--workers", "1",
             "--phases", "examples,coverage,fuzzing", "--suppress-health-check", "all", "--request-timeout", "30",
             "--warnings", "off")


@pytest.mark.timeout(1600)
@pytest.mark.parametrize("role", ["admin", "station"])
async def test_schemathesis_finds_no_server_error_or_schema_violation(role: str, database_url: str,
                                                                      tmp_path: Path) -> None:
    st = shutil.which("st", path=str(Path(sys.executable).parent))
    assert st, "schemathesis is a test dependency"
    # The ignored_auth check sends bad tokens on every operation; the back-off (429, tested on its own in
    # test_throttle.py) would answer them before the 401 this check looks for.
    env = custody_env(tmp_path / "home", database_url, free_port(), CUSTODY_LOG_LEVEL="WARNING",
                      CUSTODY_AUTH_FAILURES_PER_BURST="1000000")
    cli(env, "db", "migrate")
    adding = ("station", "add", "fuzz-station") if role == "station" else ("user", "add", "fuzz-admin", "--role", role)
    token = cli(env, *adding).strip().splitlines()[-1]
    server = Server(env)
    try:
        await wait_healthy(server.base, server.proc)
        command = [st, "--config-file", str(CONFIG), "run", f"{server.base}/api/v1/openapi.json",
                   "-H", f"Authorization: Bearer {token}", *FUZZ_ARGS]
        out = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=1500)
        summary = [line for line in out.stdout.splitlines()
                   if re.search(r"(passed|failed|error|skipped|Test cases|Operations|generated)", line, re.I)]
        print(f"$ st --config-file tests/api/schemathesis.toml run <openapi.json> "
              f"-H 'Authorization: Bearer <{role} token>' {' '.join(FUZZ_ARGS)}")
        print("\n".join(summary[-12:]))
        assert out.returncode == 0, out.stdout[-20000:]
    finally:
        server.stop()
