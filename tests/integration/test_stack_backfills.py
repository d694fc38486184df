"""Backfills on the shared stack's real scheduler (issue 20): client days typed the natural way
(`ees backfill` and the page's API) become Airflow backfill runs that deliver one zip per local
day with the lake's rows for that day, in Asia/Kolkata and across the US clock change; a 6-hour
export's day is four contiguous windows; no deadline alert for backfilled days; reprocessing a
delivered day rewrites the same bytes; and a day without events delivers what its daily run
would: a manifest of zero rows and no zip.

The three backfills run side by side (the 6-hour one with max_active_runs 4: its four blocks in
one wave), so the test's wall time is about one backfill's; the reprocessing and the empty day
start as soon as their export's first backfill is done. Two days a daily backfill are enough for
what is checked (one zip a day, none for the neighbours, a reprocessed day among them); New York's
two are the 25-hour day of the clock change and the 24-hour day after it (EDT then EST)."""

import csv
import functools
import io
import itertools
import json
import sys
import time
import warnings
import zipfile
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from event_export import cli
from event_export.generator import write_window
from event_export.pipeline.lake import count_window
from event_export.pipeline.naming import daily_zip_name, manifest_name
from event_export.scheduling.schedules import hours_period, recurring_blocks
from event_export.scheduling.windows import Window, day_window, local_midnight
from stack import BACKFILLED, wait_until

EVENT = "add to cart"
KOLKATA, NEW_YORK = ZoneInfo("Asia/Kolkata"), ZoneInfo("America/New_York")
KOLKATA_DAYS = [date(2026, 11, 2), date(2026, 11, 3)]
NY_DAYS = [date(2026, 11, 1), date(2026, 11, 2)]  # 1 Nov has 25 hours
SIX_HOUR_DAY = date(2026, 11, 3)
EMPTY_DAY = date(2026, 11, 8)  # no test writes events near it
BACKFILL_TIMEOUT = 420
WAITS: dict[str, float] = {}  # seconds each wait took (see _retried): past SLOW_S in all, a
SLOW_S = 120  # warning in pytest's summary names them


def _timed(label: str, wait):
    """`wait()`, its seconds kept under `label` and written to stderr (shown on a failure)."""
    started = time.monotonic()
    try:
        return wait()
    finally:
        WAITS[label] = round(time.monotonic() - started, 1)
        print(f"waited {WAITS[label]} s: {label}", file=sys.stderr)


def _page(api, export_id: str, **body) -> dict:
    return api.call_path("POST", f"/ees/api/exports/{export_id}/backfill", json=body)


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _zip_rows(path: Path) -> int:
    with zipfile.ZipFile(path) as zf:
        return sum(
            len(list(csv.DictReader(io.StringIO(zf.read(n).decode("utf-8"), newline=""))))
            for n in zf.namelist()
        )


def _lake_rows(lake: Path, window: Window) -> int:
    return count_window(str(lake), window, [EVENT]).get(EVENT, 0)


def _check_daily(folder: Path, lake: Path, days: list[date], tz: ZoneInfo) -> None:
    """One zip per local day, its rows those of the lake for that day (the lake holds rows on
    both sides of every day: a window off by an hour or a day would count others)."""
    near = [days[0] - timedelta(days=1), *days, days[-1] + timedelta(days=1)]
    named = {daily_zip_name("acme", d): d for d in near}  # (the scheduler's own run of
    zips = sorted(named[p.name] for p in folder.glob("*.zip") if p.name in named)  # yesterday
    assert zips == days  # is far from these days) one zip per day, none for the neighbours
    for day in days:
        zip_path = folder / daily_zip_name("acme", day)
        manifest = json.loads((folder / manifest_name(zip_path.name)).read_text())
        expected = _lake_rows(lake, day_window(day, tz))
        assert expected > 0, day
        assert _zip_rows(zip_path) == manifest["total_rows"] == expected, day


def test_backfills_deliver_each_client_day_once_on_the_real_scheduler(
    airflow_stack, smtp_server, monkeypatch, capsys
):
    stack, api = airflow_stack, airflow_stack.api()
    home, lake = airflow_stack.home, airflow_stack.home / "lake"
    delivered = home / BACKFILLED
    for export_id in ("bf_kolkata", "bf_ny", "bf_6h"):
        dag_id = f"export_{export_id}"
        _timed(f"DAG {dag_id} parsed", functools.partial(stack.wait_for_dag, dag_id))
    # events from the day before the first to the day after the last, in each zone
    write_window(
        lake,
        Window(
            local_midnight(date(2026, 11, 1), KOLKATA), local_midnight(date(2026, 11, 5), KOLKATA)
        ),
        3200,
    )
    write_window(
        lake,
        Window(
            local_midnight(date(2026, 10, 31), NEW_YORK),
            local_midnight(date(2026, 11, 4), NEW_YORK),
        ),
        3200,
        seed=11,
    )

    # the CLI, as on-call types it: client days, inclusive
    monkeypatch.setenv("EES_API_URL", stack.base_url)
    monkeypatch.setenv("EES_API_USER", "ees_service")
    monkeypatch.setenv("EES_API_PASSWORD", stack.password)
    started = time.monotonic()
    argv = ["backfill", "bf_kolkata", "--from", "2026-11-02", "--to", "2026-11-03", "--json"]
    assert cli.main(argv) == 0
    kolkata = json.loads(capsys.readouterr().out)
    ny = _page(api, "bf_ny", date_from="2026-11-01", date_to="2026-11-02")
    day = str(SIX_HOUR_DAY)
    six = _page(api, "bf_6h", date_from=day, date_to=day, max_active_runs=4)
    assert [len(x["will_run"]) for x in (kolkata, ny, six)] == [2, 2, 4]
    assert [x["max_active_runs"] for x in (ny, six)] == [3, 4]  # the page's default, and 4

    kolkata_runs = _runs_after(stack, kolkata, "export_bf_kolkata")
    wall_time = time.monotonic() - started
    assert [r["state"] for r in kolkata_runs] == ["success"] * 2, stack.describe_runs(
        "export_bf_kolkata"
    )
    _check_daily(delivered / "bf_kolkata", lake, KOLKATA_DAYS, KOLKATA)
    assert _retried(api, kolkata_runs) == []  # (before the reprocessing below tries one again)

    # reprocessing a delivered day rewrites byte-identical files: started as soon as its export's
    # backfill is done, while the others still run (so is the day without events below)
    folder = delivered / "bf_kolkata"
    day_zip = folder / daily_zip_name("acme", KOLKATA_DAYS[1])
    ours = [daily_zip_name("acme", d) for d in KOLKATA_DAYS]
    ours += [manifest_name(name) for name in ours]
    before = {name: (folder / name).read_bytes() for name in ours}
    written = day_zip.stat().st_mtime_ns
    skipped = _page(api, "bf_kolkata", date_from="2026-11-03", date_to="2026-11-03", dry_run=True)
    assert skipped["will_run"] == []  # reprocess none: a delivered day is not run again
    redo = _page(
        api, "bf_kolkata", date_from="2026-11-03", date_to="2026-11-03", reprocess="completed"
    )

    ny_runs = _runs_after(stack, ny, "export_bf_ny")
    # a day without events, to see what the daily run delivers for it (one backfill of a DAG
    # at a time: after bf_ny's first)
    empty = _page(api, "bf_ny", date_from=str(EMPTY_DAY), date_to=str(EMPTY_DAY))
    six_runs = _runs_after(stack, six, "export_bf_6h", completed=False)
    print(f"\n2-day backfill of bf_kolkata: {wall_time:.0f} s wall time")

    for runs, days, tz in ((kolkata_runs, KOLKATA_DAYS, KOLKATA), (ny_runs, NY_DAYS, NEW_YORK)):
        assert [r["state"] for r in runs] == ["success"] * 2, stack.describe_runs(runs[0]["dag_id"])
        assert [r["run_type"] for r in runs] == ["backfill"] * 2
        assert [_at(r["logical_date"]) for r in runs] == [day_window(d, tz).end for d in days]
    _check_daily(delivered / "bf_ny", lake, NY_DAYS, NEW_YORK)
    ny_hours = [(day_window(d, NEW_YORK).end - day_window(d, NEW_YORK).start) for d in NY_DAYS]
    assert ny_hours == [timedelta(hours=25), timedelta(hours=24)]

    # 6-hour blocks: four runs whose data intervals tile the local day, no gap, no overlap
    assert [r["state"] for r in six_runs] == ["success"] * 4, stack.describe_runs("export_bf_6h")
    windows = [Window(_at(r["data_interval_start"]), _at(r["data_interval_end"])) for r in six_runs]
    assert windows == recurring_blocks(SIX_HOUR_DAY, 6, KOLKATA)
    assert windows[0].start == day_window(SIX_HOUR_DAY, KOLKATA).start
    assert windows[-1].end == day_window(SIX_HOUR_DAY, KOLKATA).end
    assert all(a.end == b.start for a, b in itertools.pairwise(windows))
    block_rows = []
    for window in windows:
        name = f"acme_{hours_period(window, 6, KOLKATA).label}.zip"
        block_rows.append(_lake_rows(lake, window))
        assert _zip_rows(delivered / "bf_6h" / name) == block_rows[-1], name
    assert sum(block_rows) == _lake_rows(lake, day_window(SIX_HOUR_DAY, KOLKATA)) > 0
    around = [SIX_HOUR_DAY + timedelta(days=n) for n in (-1, 0, 1)]
    on_days = [
        p
        for p in (delivered / "bf_6h").glob("*.zip")
        if any(p.name.startswith(f"acme_{d:%d%m%Y}T") for d in around)
    ]
    assert len(on_days) == 4

    assert _retried(api, ny_runs + six_runs) == []

    # no deadline alert for a backfilled day: the triggerer saw each missed deadline, ignored it
    daily_run_ids = {r["dag_run_id"] for r in kolkata_runs + ny_runs}

    _timed(
        "the triggerer ignored the missed deadlines",
        lambda: wait_until(
            lambda: (
                all(f"run {run_id}: ignored" in stack.log_text() for run_id in daily_run_ids)
                or None
            ),
            120,
            "the triggerer to ignore the backfill runs' missed deadlines",
            every=3,
        ),
    )
    alerts = [line for line in stack.log_text().splitlines() if "EES_ALERT deadline_missed" in line]
    assert not [line for line in alerts if "run_id=backfill__" in line]
    emails = [
        smtp_server.body(m) for m in smtp_server.messages if "[EES deadline]" in str(m["Subject"])
    ]
    assert not [body for body in emails if any(run_id in body for run_id in daily_run_ids)]
    # (the scheduler's own run of yesterday, created on unpause, may be past its deadline and
    # alert: it is a scheduled run, and it is not one of these)

    (rerun,) = _runs_after(stack, redo, "export_bf_kolkata", completed=False)
    assert rerun["state"] == "success", stack.describe_runs("export_bf_kolkata")
    assert _at(rerun["logical_date"]) == day_window(KOLKATA_DAYS[1], KOLKATA).end
    assert day_zip.stat().st_mtime_ns != written  # delivered again, not skipped
    assert {name: (folder / name).read_bytes() for name in ours} == before

    (run,) = _runs_after(stack, empty, "export_bf_ny", completed=False)
    assert run["state"] == "success", stack.describe_runs("export_bf_ny")
    assert _lake_rows(lake, day_window(EMPTY_DAY, NEW_YORK)) == 0
    folder = delivered / "bf_ny"
    empty_zip = folder / daily_zip_name("acme", EMPTY_DAY)
    print(f"empty day delivered: {sorted(p.name for p in folder.glob('acme_08112026*'))}")
    assert sorted(p.name for p in folder.glob(f"acme_{EMPTY_DAY:%d%m%Y}*")) == [
        manifest_name(empty_zip.name),
        empty_zip.name,
    ]
    with zipfile.ZipFile(empty_zip) as zf:
        assert zf.namelist() == []  # a valid zip without members
    manifest = json.loads((folder / manifest_name(empty_zip.name)).read_text())
    assert manifest["total_rows"] == 0
    assert [(f["name"], f["rows"]) for f in manifest["files"]] == [(empty_zip.name, 0)]
    if sum(WAITS.values()) > SLOW_S:
        warnings.warn(f"the waits took {sum(WAITS.values()):.0f} s: {WAITS}", stacklevel=1)


def _retried(api, runs: list[dict]) -> list[str]:
    """The task instances of `runs` that took more than one try. A backfill's runs check one
    destination folder side by side, beside the scheduled run of the same DAG: a check deleting
    another's probe failed that one, whose retry came minutes later (this test then took 200-250
    s instead of 30-60)."""
    return [
        f"{r['dag_id']} {r['dag_run_id']} {t['task_id']}[{t['map_index']}] try {t['try_number']}"
        for r in runs
        for t in api.task_instances(r["dag_id"], r["dag_run_id"])
        if t["try_number"] > 1
    ]


def _runs_after(stack, created: dict, dag_id: str, completed: bool = True) -> list[dict]:
    """The runs of the backfill `created`, oldest first, once Airflow has marked it complete
    (`completed`: what a next backfill of the same DAG waits for), else as soon as each of its
    runs has finished: the scheduler marks backfills complete on a fixed 30 s timer (Airflow
    3.3.2's `_mark_backfills_complete`), up to 30 s after the last run, which no assertion needs.
    (Every run of a backfill exists, queued, once the API has created it, a reprocessed one too.)"""
    api = stack.api()
    backfill_id = created["backfill_id"]
    wanted = {_at(d) for d in created["will_run"]}

    def runs() -> list[dict]:
        found = api.call_path(
            "GET", f"/api/v2/dags/{dag_id}/dagRuns", params={"run_type": ["backfill"], "limit": 100}
        )["dag_runs"]
        chosen = [r for r in found if _at(r["logical_date"]) in wanted]
        return sorted(chosen, key=lambda r: _at(r["logical_date"]))

    def done():
        if completed:
            found = api.call_path("GET", f"/api/v2/backfills/{backfill_id}")
            return found if found["completed_at"] else None
        chosen = runs()
        finished = len(chosen) == len(wanted)
        return finished and all(r["state"] in ("success", "failed") for r in chosen)

    try:
        label = f"backfill {backfill_id} of {dag_id} {'complete' if completed else 'runs done'}"
        _timed(label, lambda: wait_until(done, BACKFILL_TIMEOUT, label, every=2))
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{stack.describe_runs(dag_id)}") from None
    return runs()
