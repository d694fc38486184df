"""On-call's email about exports without a DAG (alerts/broken_configs.py): once per broken file,
again only when its error changes, retried after a refused send."""

from __future__ import annotations

import json
import logging

import pytest
from bad_configs import GOOD, GOOD_ID, populate, static_cases
from event_export.alerts import broken_configs
from event_export.alerts.incidents import IncidentStore
from event_export.config.model import load_all
from event_export.orchestration.health_check import alert_missing_exports

TO = ("oncall@ees.invalid",)


def _write(folder, export_id: str, text: str):
    path = folder / f"{export_id}.yaml"
    path.write_text(text)
    return path


def _errors(folder) -> dict[str, str]:
    return broken_configs.lines(load_all(folder)[1])


def test_each_broken_file_is_emailed_once_and_again_only_when_its_error_changes(tmp_path, caplog):
    folder, state = tmp_path / "exports", tmp_path / "state" / broken_configs.STATE_FILE
    folder.mkdir()
    _write(folder, GOOD_ID, GOOD.format(export_id=GOOD_ID))
    _write(folder, "typo", GOOD.format(export_id="typo").replace("Asia/Kolkata", "Asia/Kolkta"))
    sent = []
    caplog.set_level(logging.INFO, "event_export.alerts")
    assert broken_configs.alert(_errors(folder), state, sent.append, TO) == [
        str(folder / "typo.yaml")
    ]
    (email,) = sent
    assert email.to == TO and email.subject.startswith("[EES config] 1 export config(s)")
    assert any(
        "typo.yaml: schedule.timezone: unknown IANA time zone" in p for p in email.paragraphs
    )
    assert f"EES_ALERT config_invalid file={folder / 'typo.yaml'}" in caplog.text
    # the next hours: nothing new, nothing sent
    assert broken_configs.alert(_errors(folder), state, sent.append, TO) == []
    assert len(sent) == 1
    # a second file breaks, the first one's error changes: one email naming both
    _write(folder, "nodest", "client_id: a\nexport_id: nodest\n")
    _write(folder, "typo", GOOD.format(export_id="typo").replace("7:30", "25:00"))
    assert len(broken_configs.alert(_errors(folder), state, sent.append, TO)) == 2
    assert sent[-1].subject.startswith("[EES config] 2 export config(s)")
    # fixed files are logged, not emailed
    (folder / "typo.yaml").unlink()
    (folder / "nodest.yaml").unlink()
    assert broken_configs.alert(_errors(folder), state, sent.append, TO) == []
    assert len(sent) == 2 and json.loads(state.read_text()) == {}
    assert "EES_ALERT config_loads_again file=" in caplog.text


def test_a_refused_send_is_retried_at_the_next_check(tmp_path):
    folder, state = tmp_path / "exports", tmp_path / broken_configs.STATE_FILE
    populate(folder, [c for c in static_cases() if c.file_name == "date_feb_30.yaml"])

    def refuse(email):
        raise ConnectionRefusedError("smtp down")

    with pytest.raises(ConnectionRefusedError):
        broken_configs.alert(_errors(folder), state, refuse, TO)
    sent = []
    assert len(broken_configs.alert(_errors(folder), state, sent.append, TO)) == 1
    assert len(sent) == 1 and "date_feb_30.yaml" in sent[0].paragraphs[1]


def test_the_whole_corpus_reaches_on_call_by_smtp_in_one_email(tmp_path, smtp_server, monkeypatch):
    monkeypatch.setenv("EES_ONCALL_EMAILS", TO[0])
    folder = tmp_path / "exports"
    cases = populate(folder)
    store = IncidentStore(tmp_path / "incidents.json")
    errors = load_all(folder)[1]
    before = len(smtp_server.messages)
    assert len(alert_missing_exports(errors, {}, store)) == len(cases)
    assert alert_missing_exports(errors, {}, store) == []  # the next check: already told
    (message,) = smtp_server.messages[before:]
    assert message["X-Envelope-To"] == TO[0]
    assert str(message["Subject"]) == (
        f"[EES config] {len(cases)} export config(s) not loaded: their exports do not run"
    )
    body = smtp_server.body(message)
    for case in cases:  # every file named, escaped as the import error shows it
        assert case.line_prefix(folder).split(": ")[0].replace("&", "&amp;") in body
    assert "\x00" not in body and "\u202e" not in body
