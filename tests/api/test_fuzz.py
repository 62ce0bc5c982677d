"""Schemathesis against the live OpenAPI document: no 500s, no responses that contradict the spec.

Behind the ``fuzz`` marker (slow): ``pytest -m fuzz``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.api.conftest import free_port
from tests.api.test_serve import REPO, Server, cli, custody_env, wait_healthy

pytestmark = pytest.mark.fuzz


async def test_schemathesis_finds_no_server_error_or_schema_violation(database_url: str, tmp_path: Path) -> None:
    st = shutil.which("st", path=str(Path(sys.executable).parent))
    assert st, "schemathesis is a test dependency"
    env = custody_env(tmp_path / "home", database_url, free_port(), CUSTODY_LOG_LEVEL="WARNING")
    cli(env, "db", "migrate")
    admin = cli(env, "user", "add", "fuzz-admin", "--role", "admin").strip().splitlines()[-1]
    server = Server(env)
    try:
        await wait_healthy(server.base, server.proc)
        out = subprocess.run(
            [st, "run", f"{server.base}/api/v1/openapi.json", "-H", f"Authorization: Bearer {admin}",
             "-c", "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance",
             "-n", "30", "--generation-deterministic"],
            cwd=REPO, capture_output=True, text=True, timeout=600,
        )
        assert out.returncode == 0, out.stdout[-5000:]
    finally:
        server.stop()
