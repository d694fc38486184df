"""`ees`: the operator's command line for exports, the same actions as the Exports page.

`list`, `show`, `stop`, `resume`, `run-once`, `backfill` and `check` call the page's JSON API on
Airflow's api-server (so Airflow's authentication and permissions apply, the deployment's
connections are the ones checked, and the logic lives once, behind the page; every call carries
the `X-EES-Request` header its state changes need); `pools` creates the upload pools through
Airflow's own REST API; `validate` and `check --local` use the package directly. Credentials come
from the environment, never from arguments (which other users can see in `ps`). Every failure is
one line on stderr naming what to change, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import typing
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from event_export.config.edits import check_against
from event_export.config.model import Destination, ExportConfig, Schedule, load_all
from event_export.orchestration.airflow_api import AirflowApi, AirflowApiError
from event_export.orchestration.failure_reports import XCOM_KEY as CLIENT_ERROR_KEY
from event_export.scheduling.backfills import DEFAULT_MAX_ACTIVE_RUNS, REPROCESS_CHOICES
from event_export.settings import ApiLogin, api_login, exports_dir
from event_export.ui.exports_catalog import DEFAULT_PAGE_SIZE, PAGE_SIZES, STATUSES
from event_export.ui.payloads import ExportRow, PageAnswer

PAGE_API = "/ees/api"
FILTERS = ("destination", "kind", "format", "status", "frequency")
ENVIRONMENT = """environment:
  EES_API_URL       the api-server (default http://127.0.0.1:8080; `make up` prints it)
  EES_API_TOKEN     a token from POST /auth/token, or instead:
  EES_API_USER      an Airflow user, with
  EES_API_PASSWORD  its password
  EES_EXPORTS_DIR   the configs `validate` and `check --local` read (default include/exports)
`make up` writes the first three for its admin user to .up/ees.env."""


def _literals(model: Any, name: str) -> tuple[str, ...]:
    return typing.get_args(model.model_fields[name].annotation)


# each filter's allowed values, from the config model and the page's statuses
FILTER_CHOICES: dict[str, tuple[str, ...]] = {
    "destination": tuple(
        _literals(kind, "type")[0] for kind in typing.get_args(typing.get_args(Destination)[0])
    ),
    "kind": _literals(ExportConfig, "kind"),
    "format": _literals(ExportConfig, "format"),
    "status": STATUSES,
    "frequency": _literals(Schedule, "frequency"),
}


class CliError(Exception):
    """A failure told in one line (no traceback), with the exit status."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


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
    """The api-server and credentials from the environment (see ENVIRONMENT)."""
    login = api_login()
    if login.token:
        return AirflowApi.with_token(login.url, login.token)
    if not (login.user and login.password):
        pairs = (("EES_API_USER", login.user), ("EES_API_PASSWORD", login.password))
        missing = " and ".join(name for name, value in pairs if not value)
        raise CliError(
            f"no credentials for {login.url}: set {missing} (an Airflow user and its password), "
            "or EES_API_TOKEN"
        )
    return AirflowApi(login.url, login.user, login.password)


def explain(exc: AirflowApiError, login: ApiLogin) -> str:
    """One line for a refused call: what to set for a refused login, else the server's sentence."""
    at_login = str(exc).startswith("POST /auth/token")
    if exc.status == 401 and at_login:
        return (
            f"{login.url} refused the login of EES_API_USER {login.user!r}: check EES_API_USER "
            "and EES_API_PASSWORD, or set EES_API_TOKEN"
        )
    if exc.status == 401:
        return (
            f"{login.url} refused EES_API_TOKEN (expired or not one of its tokens): set a fresh "
            "EES_API_TOKEN, or unset it and set EES_API_USER and EES_API_PASSWORD"
        )
    if exc.status in (400, 422) and at_login:
        return (
            f"{login.url} wants an Airflow user and password: set EES_API_USER and "
            f"EES_API_PASSWORD, or EES_API_TOKEN ({exc.detail})"
        )
    if exc.status == 403 and exc.detail in ("", "Forbidden"):
        who = f"user {login.user!r}" if login.user else "this token's user"
        return f"{who} may not do this on {login.url} (Airflow refused it: HTTP 403)"
    if exc.status is not None and exc.status >= 500:
        return (
            f"the api-server at {login.url} failed (HTTP {exc.status}): {exc.detail}; see its log"
        )
    return " ".join((exc.detail or str(exc)).split())  # one line, even for a multi-line reason


def unreachable(exc: httpx.HTTPError, login: ApiLogin) -> str:
    """One line for a transport failure, naming EES_API_URL."""
    if isinstance(exc, httpx.TimeoutException):
        return f"the api-server at {login.url} (EES_API_URL) did not answer in time"
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return f"EES_API_URL {login.url!r} is not an http:// or https:// address"
    reason = str(exc).split("] ")[-1] or type(exc).__name__
    return (
        f"cannot reach the api-server at {login.url} ({reason}): is it running (`make up`)? "
        "Set EES_API_URL to its address"
    )


def _cell(row: ExportRow, key: str) -> str:
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
        if sent:
            return f"{row['status']} (email {sent}/{incident['of']})"
        return str(row.get("status", ""))
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


def render_table(rows: Sequence[ExportRow]) -> str:
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


def find_export(get_page: Callable[[dict], PageAnswer], export_id: str) -> ExportRow | None:
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
        raise CliError(f"no export {args.export_id!r} (or not visible to this user)", 1)
    last = row.get("last_run") or {}
    manifest = None
    if last.get("delivery") and last.get("run_id"):  # only a delivered run has a manifest
        path = f"{PAGE_API}/exports/{args.export_id}/runs/{last['run_id']}/manifest"
        manifest = api.call_path("GET", path)
    problem = _problem(api, row)
    data = {"export": row, "manifest": manifest, "problem": problem}
    text = render_table([row])
    if row.get("status_detail"):
        text += f"\n\n{row['status']}: {row['status_detail']}"
    if problem:
        text += "\n" + render_problem(problem)
    if manifest:
        text += f"\n\nrequest id {manifest['request_id']} delivered to {manifest['location']}:"
        for f in manifest["files"]:
            text += f"\n  {f['name']}  {f['size']} B  {f['rows']} rows  sha256 {f['sha256']}"
    _print(data, args.json, text)
    return 0


def _problem(api: AirflowApi, row: dict) -> dict | None:
    """Why the export fails: the open incident (its code, explanation, fix, emails), else the
    failed last run's task and error, with the client-facing words its task recorded."""
    incident = row.get("incident")
    if incident:
        return {"source": "incident", **incident}
    last = row.get("last_run") or {}
    failure = last.get("failure")
    if last.get("state") != "failed" or not failure:
        return None
    problem = {"source": "last_run", "run_id": last.get("run_id"), **failure}
    if failure.get("code"):
        recorded = api.xcom(
            row["dag_id"],
            last["run_id"],
            failure["task_id"],
            CLIENT_ERROR_KEY,
            failure.get("map_index", -1),
        )
        if isinstance(recorded, dict):
            problem |= {k: recorded.get(k) for k in ("explanation", "fix")}
    return problem


def render_problem(problem: dict) -> str:
    if problem["source"] == "incident":
        sent = problem.get("emails_sent") or 0
        if problem.get("stopped_at"):
            emails = f"email 3 of 3 sent: stopped on {problem['stopped_at'][:10]}"
        elif sent:
            emails = f"email {sent} of 3 sent; the export stops on {problem['stops_at'][:10]}"
        else:
            emails = "no email sent yet"
        return (
            f"error {problem['code']} (the client's side): {problem['explanation']}\n"
            f"fix: {problem['fix']}\n{emails} (incident opened {problem['opened_at'][:10]})"
        )
    where = f"run {problem['run_id']} failed in task {problem['task_id']}: {problem['error']}"
    if not problem.get("code"):
        return f"{where}\non our side: no email to the client; on-call looks at the task's log"
    text = f"{where}\nerror {problem['code']} (the client's side)"
    if problem.get("explanation"):
        text += f": {problem['explanation']}\nfix: {problem['fix']}"
    return text + "\nno email sent yet: the hourly health check opens the incident (email 1)"


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


def cmd_check(args: argparse.Namespace, api: AirflowApi | None = None) -> int:
    """Check the export's destination: credentials, bucket or folder, a probe write. Through the
    page's API (the deployment's connections) unless --local (this machine's)."""
    if args.local:
        from event_export.destinations.check import check_destination

        folder = Path(args.exports_dir) if args.exports_dir else exports_dir()
        good, _ = load_all(folder)
        configs = {c.export_id: c for c in good.values()}
        if args.export_id not in configs:
            raise CliError(f"no valid export {args.export_id!r} in {folder}", 1)
        # the stores log as they work (Airflow logs to stdout): keep stdout for the answer
        with contextlib.redirect_stdout(sys.stderr):
            config = configs[args.export_id]
            result = check_destination(config.destination, encrypt=config.encrypt).to_dict()
    else:
        assert api is not None
        result = api.call_path("POST", f"{PAGE_API}/exports/{args.export_id}/check")
    verdict = (
        "OK"
        if result["ok"]
        else f"FAILED ({result['code']}): {result['explanation']} {result['fix']}".rstrip()
    )
    _print(result, args.json, f"{args.export_id}: {verdict}")
    return 0 if result["ok"] else 1


def cmd_pools(args: argparse.Namespace, api: AirflowApi) -> int:
    """Create the upload pools the configs use and Airflow lacks (existing pools keep their
    slots): run at deployment, before the first night; the hourly health check repeats it."""
    from event_export.orchestration.pools import ensure_folder_pools

    folder = Path(args.exports_dir) if args.exports_dir else exports_dir()
    done = ensure_folder_pools(folder, api, dry_run=args.dry_run)
    verb = "would create" if args.dry_run else "created"
    lines = [f"{verb} {name} ({slots} slots)" for name, slots in done.created.items()]
    lines += [f"kept {name} ({slots} slots)" for name, slots in done.existing.items()]
    _print(done.as_dict(), args.json, "\n".join(lines) or "no upload pools needed")
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="ees",
        description=__doc__.split("\n")[0],
        epilog=ENVIRONMENT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = top.add_subparsers(dest="command", required=True)

    listing = sub.add_parser(
        "list",
        help="list exports (same filters as the Exports page)",
        epilog=ENVIRONMENT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    for name in FILTERS:
        # values checked here: an unknown one exits 2 listing the allowed ones (not 0 rows)
        listing.add_argument(
            f"--{name}",
            choices=FILTER_CHOICES[name],
            type=str.upper if name == "status" else str.lower,
            metavar=name.upper(),
            help=f"one of {', '.join(FILTER_CHOICES[name])}",
        )
    listing.add_argument("--exported-from", help="exported on or after (YYYY-MM-DD)")
    listing.add_argument("--exported-to", help="exported on or before (YYYY-MM-DD)")
    listing.add_argument("--page", type=int, default=1)
    listing.add_argument("--page-size", type=int, default=DEFAULT_PAGE_SIZE, choices=PAGE_SIZES)

    show = sub.add_parser("show", help="one export and its last run's manifest")
    stop = sub.add_parser("stop", help="stop (pause) an export")
    resume = sub.add_parser("resume", help="resume (unpause) a stopped export")
    once = sub.add_parser("run-once", help="a one-time export of a day, a range or a month")
    check = sub.add_parser(
        "check", help="check an export's destination through the api-server (probe write)"
    )
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
    check.add_argument(
        "--local",
        action="store_true",
        help="check from this machine with its own connections and configs, not the server's",
    )
    for command in (validate, check, pools):
        command.add_argument("--exports-dir", help="default: EES_EXPORTS_DIR or include/exports")
    for command in (listing, show, stop, resume, once, check, backfill, pools):
        command.add_argument("--json", action="store_true", help="machine-readable output")
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    handlers = {
        "list": cmd_list,
        "show": cmd_show,
        "stop": cmd_stop,
        "resume": cmd_resume,
        "run-once": cmd_run_once,
        "backfill": cmd_backfill,
        "check": cmd_check,
        "pools": cmd_pools,
    }
    login = api_login()
    try:
        if args.command == "validate":
            return cmd_validate(args)
        if args.command == "check" and args.local:
            return cmd_check(args)
        return handlers[args.command](args, api_from_env())
    except CliError as exc:
        message, code = str(exc), exc.code
    except AirflowApiError as exc:
        message, code = explain(exc, login), 2
    except httpx.HTTPError as exc:
        message, code = unreachable(exc, login), 2
    except json.JSONDecodeError:
        message = f"{login.url} (EES_API_URL) answered, but not as the Exports API: is it Airflow?"
        code = 2
    print(f"ees {args.command}: {message}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
