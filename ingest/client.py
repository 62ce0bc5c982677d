"""HTTP client of the Custody API, for docking stations and `custody verify --server`.

Uploads are resumable: on any transport error the client asks the server where to resume and sends
the rest, so a flaky dock link costs retries, never a corrupted or half-logged file.  A receipt is
returned only after it has been verified here against the pinned vkey.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

from integrity.hashing import ContentDigest, ContentHasher
from integrity.note import Verifier
from integrity.receipt import verify_receipt

logger = logging.getLogger(__name__)

CHUNK_BYTES = 16 * 1024 * 1024
READ_BYTES = 1024 * 1024
RETRIES = 8


class ApiError(Exception):
    def __init__(self, status: int, body: Any) -> None:
        self.status = status
        self.body = body
        code = body.get("error") if isinstance(body, dict) else None
        message = body.get("message") if isinstance(body, dict) else str(body)[:300]
        super().__init__(f"HTTP {status} {code or ''}: {message}")
        self.code = code


def hash_file(path: Path) -> ContentDigest:
    hasher = ContentHasher()
    with open(path, "rb") as fh:
        while block := fh.read(8 * 1024 * 1024):
            hasher.update(block)
    return hasher.digest()


class CustodyClient:
    def __init__(self, base_url: str, token: str, *, vkeys: list[str] | None = None,
                 timeout_s: float = 300) -> None:
        self.base = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"}
        self._pinned = [Verifier.from_vkey(v) for v in vkeys] if vkeys else None
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, sock_read=timeout_s))

    async def close(self) -> None:
        await self._session.close()

    async def __aenter__(self) -> CustodyClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def request(self, method: str, path: str, **kw: Any) -> Any:
        headers = {**self._headers, **kw.pop("headers", {})}
        async with self._session.request(method, self.base + path, headers=headers, **kw) as resp:
            body: Any = await resp.json() if resp.content_type == "application/json" else await resp.read()
            if resp.status >= 400:
                raise ApiError(resp.status, body)
            return body

    async def verifiers(self) -> list[Verifier]:
        """The pinned vkeys; without a pin, the server's own (said so in the log: trust on first use)."""
        if self._pinned is not None:
            return self._pinned
        logger.warning("no vkey pinned: trusting the keys the server publishes now")
        body = await self.request("GET", "/api/v1/keys")
        return [Verifier.from_vkey(v) for v in body["vkeys"]]

    async def verify_file(self, path: Path, case: str | None = None) -> tuple[ContentDigest, list[dict[str, Any]]]:
        """Hash locally, ask the server, and check every proof here; returns the verified entries."""
        digest = await asyncio.to_thread(hash_file, path)
        query = f"?case={case}" if case else ""
        answer = await self.request("GET", f"/api/v1/verify/{digest.blake3}{query}")
        verifiers = await self.verifiers()
        entries = [verify_receipt(m, verifiers, digest) for m in answer["matches"]]
        return digest, entries

    async def upload(self, path: Path, meta: dict[str, Any], digest: ContentDigest | None = None) -> dict[str, Any]:
        """Upload a file resumably; returns the entry of its verified receipt."""
        _, entry = await self.upload_receipted(path, meta, digest)
        return entry

    async def check_receipt(self, receipt: dict[str, Any], digest: ContentDigest) -> dict[str, Any]:
        """Verify a receipt kept from an earlier upload again (pinned vkeys, inclusion proof, hash); its entry."""
        return verify_receipt(receipt, await self.verifiers(), digest)

    async def upload_receipted(self, path: Path, meta: dict[str, Any],
                               digest: ContentDigest | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
        """Upload a file resumably; returns its receipt as the server gave it, and the receipt's entry,
        once the receipt verified against the pinned vkeys."""
        if digest is None:
            digest = await asyncio.to_thread(hash_file, path)
        spec = {**meta, "blake3": digest.blake3, "size": digest.size, "file_name": meta.get("file_name", path.name)}
        state = await self.request("POST", "/api/v1/uploads", json=spec)
        attempts = 0
        while state["state"] == "open":
            try:
                state = await self._send(path, state["id"], state["offset"])
            except (TimeoutError, aiohttp.ClientError, ConnectionError) as exc:
                attempts += 1
                if attempts > RETRIES:
                    raise
                logger.warning("upload of %s interrupted (%s); resuming", path.name, exc)
                await asyncio.sleep(min(2**attempts * 0.1, 10))
                state = await self.request("GET", f"/api/v1/uploads/{state['id']}")
            except ApiError as exc:
                if exc.code != "offset_mismatch":
                    raise
                state = await self.request("GET", f"/api/v1/uploads/{state['id']}")
        if state["state"] != "committed":
            raise ApiError(409, state)
        return state["receipt"], verify_receipt(state["receipt"], await self.verifiers(), digest)

    async def _send(self, path: Path, upload_id: str, offset: int) -> dict[str, Any]:
        size = os.path.getsize(path)
        end = min(offset + CHUNK_BYTES, size)
        result: dict[str, Any] = await self.request(
            "PUT", f"/api/v1/uploads/{upload_id}?offset={offset}", data=_file_range(path, offset, end),
            headers={"Content-Length": str(end - offset), "Content-Type": "application/octet-stream"},
        )
        return result


async def _file_range(path: Path, start: int, end: int) -> AsyncIterator[bytes]:
    fh = await asyncio.to_thread(open, path, "rb")
    try:
        fh.seek(start)
        remaining = end - start
        while remaining > 0:
            chunk = await asyncio.to_thread(fh.read, min(READ_BYTES, remaining))
            if not chunk:
                raise OSError(f"{path} shrank while it was being uploaded")
            remaining -= len(chunk)
            yield chunk
    finally:
        fh.close()
