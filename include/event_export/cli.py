"""`ees`: the operator's command line for exports, the same actions as the Exports page.

`list`, `show`, `stop`, `resume`, `run-once` and `backfill` call the page's JSON API on Airflow's
api-server (so Airflow's authentication and permissions apply, and the logic lives once, behind
the page; every call carries the `X-EES-Request` header its state changes need); `pools` creates
the upload pools through Airflow's own REST API; `validate` and `check` use the package directly,
as they need no scheduler state. Credentials come from the
environment, never from arguments (which other users can see in `ps`): EES_API_URL (default
http://127.0.0.1:8080), and EES_API_TOKEN or EES_API_USER + EES_API_PASSWORD.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from event_export.config.edits import check_against
from event_export.config.model import load_all
from event_export.orchestration.airflow_api import AirflowApi, AirflowApiError
from event_export.scheduling.backfills import DEFAULT_MAX_ACTIVE_RUNS, REPROCESS_CHOICES
from event_export.settings import api_login, exports_dir, upload_pool_slots

PAGE_API = "/ees/api"
FILTERS = ("destination", "kind", "format", "status", "frequency")
COLUMNS = (
    ("export_id", "EXPORT"),
    ("client_id", "CLIENT"),
    ("destination", "DESTINATION"),
    ("kind", "KIND"),
    ("format", "FORMAT"),
    ("frequency", "FREQUENCY"),
    ("status", "STATUS"),
    ("last_run", "LAST RUN"),
    ("next_run", "NEXT RUN"),
)


def api_from_env() -> AirflowApi:
    """The api-server and credentials from the environment (see the module docstring)."""
    login = api_login()
    if login.token:
        return AirflowApi.with_token(login.url, login.token)
    return AirflowApi(login.url, login.user, login.password)


def _cell(row: dict, key: str) -> str:
    """One table cell: nested values (destination, last run, incident) shortened to a word."""
    if key == "destination":
        where = row.get("destination") or {}
        return f"{where.get('type') or '?'}:{where.get('name') or '?'}"
    if key == "status":
        incident = row.get("incident") or {}
        sent = incident.get("emails_sent")
        failure = (row.get("last_run") or {}).get("failure") or {}
        if row.get("status") == "FAILED" and failure:
            error = failure.get("error") or "?"
            code = f"/{failure['code']}" if failure.get("code") else ""
            return f"FAILED ({failure['task_id']}: {error}{code})"
        return f"{row['status']} (email {sent}/3)" if sent else str(row.get("status", ""))
    if key == "last_run":
        last = row.get("last_run") or {}
        delivery = last.get("delivery") or {}
        if not last:
            return "-"
        if not delivery:
            return str(last.get("state", ""))
        return f"{last['state']} {delivery.get('files')} files {delivery.get('bytes')} B"
    value = row.get(key)
    return "-" if value in (None, "") else str(value)


def render_table(rows: Sequence[dict]) -> str:
    """A fixed-width table; a broken config's row shows its error instead of the columns."""
    cells = [[title for _, title in COLUMNS]]
    errors = []
    for row in rows:
        if row.get("error"):
            errors.append(f"{row['export_id']}: {'; '.join(row['error'])}")
            continue
        cells.append([_cell(row, key) for key, _ in COLUMNS])
    widths = [max(len(r[i]) for r in cells) for i in range(len(COLUMNS))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(lines + [f"INVALID {e}" for e in errors])


def _print(data: Any, as_json: bool, text: str) -> None:
    print(json.dumps(data, indent=2, sort_keys=True) if as_json else text)


def cmd_list(args: argparse.Namespace, api: AirflowApi) -> int:
    query = {f: getattr(args, f) for f in FILTERS if getattr(args, f)}
    if args.exported_from:
        query["exported_from"] = args.exported_from
    if args.exported_to:
        query["exported_to"] = args.exported_to
    query |= {"page": args.page, "page_size": args.page_size}
    page = api.call_path("GET", f"{PAGE_API}/exports", params=query)
    footer = f"\n{len(page['items'])} of {page['total']} exports (page {page['page']})"
    _print(page, args.json, render_table(page["items"]) + footer)
    return 0


def find_export(get_page: Callable[[dict], dict], export_id: str) -> dict | None:
    """The export's row through the page's API (`get_page(query) -> page`). Its search matches
    ids and clients by substring, so page on until the exact id turns up."""
    number = 1
    while True:
        page = get_page({"q": export_id, "page_size": 40, "page": number})
        for row in page["items"]:
            if row.get("export_id") == export_id:
                return row
        if number * page["page_size"] >= page["total"]:
            return None
        number += 1


def cmd_show(args: argparse.Namespace, api: AirflowApi) -> int:
    row = find_export(
        lambda query: api.call_path("GET", f"{PAGE_API}/exports", params=query), args.export_id
    )
    if row is None:
        print(f"no export {args.export_id!r} (or not visible to this user)", file=sys.stderr)
        return 1
    last = row.get("last_run") or {}
    manifest = None
    if last.get("run_id"):
        path = f"{PAGE_API}/exports/{args.export_id}/runs/{last['run_id']}/manifest"
        manifest = api.call_path("GET", path)
    data = {"export": row, "manifest": manifest}
    text = render_table([row])
    if manifest:
        text += f"\n\nrequest id {manifest['request_id']} delivered to {manifest['location']}:"
        for f in manifest["files"]:
            text += f"\n  {f['name']}  {f['size']} B  {f['rows']} rows  sha256 {f['sha256']}"
    _print(data, args.json, text)
    return 0


def cmd_stop(args: argparse.Namespace, api: AirflowApi) -> int:
    done = api.call_path("POST", f"{PAGE_API}/exports/{args.export_id}/stop")
    _print(done, args.json, f"{args.export_id}: {done['status']}")
    return 0


def cmd_resume(args: argparse.Namespace, api: AirflowApi) -> int:
    done = api.call_path("POST", f"{PAGE_API}/exports/{args.export_id}/resume")
    missed = done.get("missed")
    text = f"{args.export_id}: {done['status']}"
    if missed and not args.backfill_missed:
        text += (
            f"\nmissed while stopped: {missed['from']} to {missed['to']} (client days); deliver "
            f"them with: ees resume {args.export_id} --backfill-missed"
        )
    elif not missed:
        text += "\nno missed days"
    if missed and args.backfill_missed:
        body = {"date_from": missed["from"], "date_to": missed["to"]}
        done["backfill"] = api.call_path(
            "POST", f"{PAGE_API}/exports/{args.export_id}/backfill", json=body
        )
        text += "\n" + render_backfill(done["backfill"])
    _print(done, args.json, text)
    return 0


def render_backfill(done: dict) -> str:
    """One line per planned run: local day/label, UTC window, logical date, whether it runs."""
    will_run = set(done.get("will_run") or [])
    lines = [f"{done['export_id']}: {done['message']} (reprocess {done['reprocess']})"]
    for run in done["runs"]:
        runs = "runs" if _same_instants(run["logical_date"], will_run) else "skipped (already run)"
        lines.append(
            f"  {run['day']}  {run['label']}  UTC {run['window_start']} .. {run['window_end']}"
            f"  logical date {run['logical_date']}  {runs}"
        )
    return "\n".join(lines)


def _same_instants(value: str, among: set[str]) -> bool:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return any(datetime.fromisoformat(x.replace("Z", "+00:00")) == moment for x in among)


def cmd_backfill(args: argparse.Namespace, api: AirflowApi) -> int:
    body = {
        "date_from": args.date_from,
        "date_to": args.date_to,
        "reprocess": args.reprocess,
        "max_active_runs": args.max_active_runs,
        "dry_run": args.dry_run,
    }
    done = api.call_path("POST", f"{PAGE_API}/exports/{args.export_id}/backfill", json=body)
    _print(done, args.json, render_backfill(done))
    return 0


def cmd_run_once(args: argparse.Namespace, api: AirflowApi) -> int:
    if args.day:
        body = {"period": "day", "day": args.day}
    elif args.date_from or args.date_to:
        body = {"period": "date_range", "date_from": args.date_from, "date_to": args.date_to}
    else:
        body = {"period": "previous_month" if args.previous_month else "current_month"}
    done = api.call_path("POST", f"{PAGE_API}/exports/{args.export_id}/run-once", json=body)
    _print(done, args.json, f"{done['message']}: request id {done['request_id']}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    """Lint every config: exit 1 naming each broken file and field, as the import error does;
    with --against REF, also the edit rules (edits.py) against the configs at that git ref."""
    folder = Path(args.exports_dir) if args.exports_dir else exports_dir()
    good, errors = load_all(folder)
    for error in errors:
        print(str(error), file=sys.stderr)
    refused = check_against(args.against, folder) if args.against else []
    for problem in refused:
        print(problem, file=sys.stderr)
    edits = f", {len(refused)} refused edit(s) against {args.against}" if args.against else ""
    print(f"{len(good)} valid, {len(errors)} broken in {folder}{edits}")
    return 1 if errors or refused else 0


def cmd_check(args: argparse.Namespace) -> int:
    """Check the export's destination from here: credentials, bucket or folder, a probe write."""
    from event_export.destinations.check import check_destination

    folder = Path(args.exports_dir) if args.exports_dir else exports_dir()
    good, _ = load_all(folder)
    configs = {c.export_id: c for c in good.values()}
    if args.export_id not in configs:
        print(f"no valid export {args.export_id!r} in {folder}", file=sys.stderr)
        return 1
    result = check_destination(configs[args.export_id].destination)
    verdict = "OK" if result.ok else f"FAILED ({result.code}): {result.explanation} {result.fix}"
    _print(result.to_dict(), args.json, f"{args.export_id}: {verdict}")
    return 0 if result.ok else 1


def cmd_pools(args: argparse.Namespace, api: AirflowApi) -> int:
    """Create the upload pools the configs use and Airflow lacks (existing pools keep their
    slots): run at deployment, before the first night; the hourly health check repeats it."""
    from event_export.orchestration.pools import ensure_upload_pools

    folder = Path(args.exports_dir) if args.exports_dir else exports_dir()
    good, _ = load_all(folder)
    done = ensure_upload_pools(list(good.values()), api, upload_pool_slots(), args.dry_run)
    verb = "would create" if args.dry_run else "created"
    lines = [f"{verb} {name} ({slots} slots)" for name, slots in done.created.items()]
    lines += [f"kept {name} ({slots} slots)" for name, slots in done.existing.items()]
    _print(done.as_dict(), args.json, "\n".join(lines) or "no upload pools needed")
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="ees", description=__doc__.split("\n")[0])
    sub = top.add_subparsers(dest="command", required=True)

    listing = sub.add_parser("list", help="list exports (same filters as the Exports page)")
    for name in FILTERS:
        listing.add_argument(f"--{name}")
    listing.add_argument("--exported-from", help="exported on or after (YYYY-MM-DD)")
    listing.add_argument("--exported-to", help="exported on or before (YYYY-MM-DD)")
    listing.add_argument("--page", type=int, default=1)
    listing.add_argument("--page-size", type=int, default=20, choices=(10, 20, 30, 40))

    show = sub.add_parser("show", help="one export and its last run's manifest")
    stop = sub.add_parser("stop", help="stop (pause) an export")
    resume = sub.add_parser("resume", help="resume (unpause) a stopped export")
    once = sub.add_parser("run-once", help="a one-time export of a day, a range or a month")
    check = sub.add_parser("check", help="check an export's destination (probe write)")
    backfill = sub.add_parser("backfill", help="re-deliver client days through Airflow backfill")
    for command in (show, stop, resume, once, check, backfill):
        command.add_argument("export_id")
    resume.add_argument(
        "--backfill-missed", action="store_true", help="also backfill the days missed while stopped"
    )
    backfill.add_argument("--from", dest="date_from", required=True, help="first local day")
    backfill.add_argument("--to", dest="date_to", required=True, help="last local day, included")
    backfill.add_argument("--dry-run", action="store_true", help="list the runs, create nothing")
    backfill.add_argument("--reprocess", choices=REPROCESS_CHOICES, default="none")
    backfill.add_argument("--max-active-runs", type=int, default=DEFAULT_MAX_ACTIVE_RUNS)
    period = once.add_mutually_exclusive_group(required=True)
    period.add_argument("--day", help="one day (YYYY-MM-DD)")
    period.add_argument("--from", dest="date_from", help="first day of a range (with --to)")
    period.add_argument("--previous-month", action="store_true")
    period.add_argument("--current-month", action="store_true")
    once.add_argument("--to", dest="date_to", help="last day of a range, included")

    pools = sub.add_parser("pools", help="create the upload pools the configs need")
    pools.add_argument("--dry-run", action="store_true", help="list them, create nothing")
    validate = sub.add_parser("validate", help="lint every export config")
    validate.add_argument(
        "--against", metavar="REF", help="also refuse edits the product forbids, against a git ref"
    )
    for command in (validate, check, pools):
        command.add_argument("--exports-dir", help="default: EES_EXPORTS_DIR or include/exports")
    for command in (listing, show, stop, resume, once, check, backfill, pools):
        command.add_argument("--json", action="store_true", help="machine-readable output")
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "validate":
        return cmd_validate(args)
    if args.command == "check":
        return cmd_check(args)
    handlers = {
        "list": cmd_list,
        "show": cmd_show,
        "stop": cmd_stop,
        "resume": cmd_resume,
        "run-once": cmd_run_once,
        "backfill": cmd_backfill,
        "pools": cmd_pools,
    }
    try:
        return handlers[args.command](args, api_from_env())
    except AirflowApiError as exc:
        print(f"ees {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
