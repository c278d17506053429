"""Smoke test of the Python bindings (for scripting and operations work).

Run by scripts/test.sh after scripts/bindings.sh has generated bindings/python/generated/
(the package `doorstep`: doorstep_core.py and doorstep_ffi.py with libdoorstep_ffi.so beside
them):

    python3 -m pytest bindings/python/tests
"""

import pathlib
import sys
import time

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "generated"))

import doorstep as d  # noqa: E402

KEY = bytes([7] * 32)


def config(tmp_path, device, key=KEY):
    return d.StoreConfig(
        path=str(tmp_path / f"{device}.db"),
        key=key,
        device_id=device,
        user=d.User(id=f"user-{device}", display_name=f"Ops {device}", role=d.Role.DISTRICT_NURSE, team="team-a"),
    )


def full_observations():
    # RCP chart: 22 -> 2, 95 % -> 1, air -> 0, 105 -> 1, 95 -> 1, alert -> 0, 38.5 -> 1 = 6 (medium).
    return d.Observations(
        respiration_rate=22,
        spo2_percent=95,
        on_oxygen=False,
        systolic_bp=105,
        diastolic_bp=70,
        pulse=95,
        consciousness=d.Consciousness.ALERT,
        temperature_c=38.5,
    )


def test_record_a_visit_read_the_caseload_and_exchange(tmp_path):
    a = d.FieldStore.open(config(tmp_path, "ops-a"))
    pid = a.register_patient(
        d.Demographics(given_name="Edith", family_name="Crawley", nhs_number="943 476 5919", date_of_birth="1941-03-09")
    )
    now_ms = int(time.time() * 1000)
    visit = a.record_visit(
        pid,
        d.VisitInput(
            contact_type=d.ContactType.HOME_VISIT,
            started_at_ms=now_ms - 30 * 60_000,
            ended_at_ms=now_ms - 5 * 60_000,
            outcome=d.VisitOutcome.COMPLETED,
            interventions=[d.Intervention.WOUND_CARE(), d.Intervention.OTHER("Compression bandaging")],
            observations=full_observations(),
        ),
    )
    assert visit.news2.total == 6
    assert visit.news2.risk == d.ClinicalRisk.MEDIUM
    assert [s.score for s in visit.news2.sub_scores] == [2, 1, 0, 1, 1, 0, 1]

    [line] = a.caseload()
    assert (line.person_id, line.nhs_number, line.latest_news2) == (pid, "9434765919", 6)
    assert line.last_visit_ms == now_ms - 30 * 60_000

    b = d.FieldStore.open(config(tmp_path, "ops-b"))
    report = b.import_changes(a.export_changes(0))
    assert report.people_added == [pid]
    [arrived] = b.patient(pid).clinical.visits
    assert arrived == visit.visit
    assert arrived.interventions[1] == d.Intervention.OTHER("Compression bandaging")


def test_typed_errors_carry_the_core_messages(tmp_path):
    s = d.FieldStore.open(config(tmp_path, "ops-a"))
    with pytest.raises(d.DoorstepError.Validation, match="NHS number '943 476 5918' is not valid"):
        s.register_patient(d.Demographics(given_name="Ann", family_name="Lee", nhs_number="943 476 5918"))
    with pytest.raises(d.DoorstepError.NotFound, match="No person with id nobody"):
        s.patient("nobody")
    with pytest.raises(d.DoorstepError.WrongKey, match="cannot be opened with this key"):
        d.FieldStore.open(config(tmp_path, "ops-a", key=bytes([9] * 32)))
    with pytest.raises(d.DoorstepError.InvalidKey, match="exactly 32 bytes"):
        d.FieldStore.open(config(tmp_path, "ops-c", key=b"short"))
    # A value that does not convert at the boundary is a validation error, never an internal one.
    with pytest.raises(d.DoorstepError.Validation, match="'09/03/1941' is not a valid date: use the form YYYY-MM-DD"):
        s.register_patient(d.Demographics(given_name="Ann", family_name="Lee", date_of_birth="09/03/1941"))
    assert s.caseload() == []


def test_an_out_of_role_write_is_refused_and_never_queued(tmp_path):
    cfg = config(tmp_path, "ops-w")
    w = d.FieldStore.open(
        d.StoreConfig(path=cfg.path, key=KEY, device_id="ops-w",
                      user=d.User(id="joe", display_name="Joe", role=d.Role.ADVICE_WORKER, team="team-a"))
    )
    pid = w.register_patient(d.Demographics(given_name="Edith", family_name="Crawley"))
    now_ms = int(time.time() * 1000)
    with pytest.raises(d.DoorstepError.NotAllowed, match="an advice worker may not write the clinical record"):
        w.record_visit(pid, d.VisitInput(contact_type=d.ContactType.TELEPHONE, started_at_ms=now_ms,
                                         outcome=d.VisitOutcome.COMPLETED))
    assert len(w.pending_changes()) == 1  # the registration only


def test_news2_and_nhs_number_helpers():
    assert d.score_news2(full_observations(), d.SpO2Scale.SCALE1).total == 6
    partial = d.score_news2(d.Observations(pulse=72), d.SpO2Scale.SCALE1)
    assert partial.total is None and d.Parameter.RESPIRATION_RATE in partial.missing
    assert d.validate_nhs_number("943-476-5919") == "9434765919"
    assert d.format_nhs_number("9434765919") == "943 476 5919"
    assert d.key_length() == 32


def test_enrol_and_sync_through_a_loopback_server(tmp_path):
    """`enrol` and `sync` are coroutines in Python; a real `doorstep serve` on loopback."""
    import asyncio
    import os
    import subprocess

    cli = os.environ.get("DOORSTEP_CLI") or str(pathlib.Path(__file__).resolve().parents[3] / "target/debug/doorstep")
    assert os.access(cli, os.X_OK), f"{cli} is not built: cargo build -p doorstep-cli"
    data = tmp_path / "server"

    def admin(*args):
        return subprocess.run([cli, "admin", "--data-dir", str(data), *args], check=True, capture_output=True, text=True).stdout.strip()

    admin("create-team", "north", "Team north")
    admin("create-user", "north-ops", "--name", "Ops", "--role", "district-nurse", "--team", "north")
    server = subprocess.Popen([cli, "serve", "--data-dir", str(data), "--listen", "127.0.0.1:0"], stdout=subprocess.PIPE, text=True)
    try:
        url = next(w for w in server.stdout.readline().split() if w.startswith("http://"))
        e = asyncio.run(d.enrol(url, admin("issue-code", "north-ops")))
        assert e.user.id == "north-ops"
        s = d.FieldStore.open(d.StoreConfig(path=str(tmp_path / "dev.db"), key=KEY, device_id=e.device_id, user=e.user))
        s.register_patient(d.Demographics(given_name="Edith", family_name="Crawley"))
        report = asyncio.run(d.sync(s, d.SyncEndpoint(url=url, device_token=e.device_token), None))
        assert report.changes_sent == 1 and s.pending_changes() == []
        with pytest.raises(d.DoorstepError.AuthFailed):
            asyncio.run(d.sync(s, d.SyncEndpoint(url=url, device_token="forged"), None))
    finally:
        server.kill()
        server.wait()
