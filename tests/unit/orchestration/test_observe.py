"""Classifying an export's latest run from what the REST API returns."""

from event_export.orchestration.health_check import observe


class FakeApi:
    """The three REST reads observe() makes, answered from dicts shaped like Airflow's replies."""

    def __init__(self, runs, failed=(), xcoms=None):
        self.runs, self.failed, self.xcoms = list(runs), list(failed), xcoms or {}

    def latest_runs(self, dag_id, limit=5):
        return self.runs[:limit]

    def task_instances(self, dag_id, run_id, state=None):
        return self.failed

    def xcom(self, dag_id, run_id, task_id, key, map_index=-1):
        return self.xcoms.get((task_id, map_index, key))


RUN = {"dag_run_id": "scheduled__1", "state": "failed", "end_date": "2026-11-02T00:10:00Z"}


def test_no_finished_run_is_nothing_to_say():
    assert observe(FakeApi([]), "export_x") is None


def test_success():
    seen = observe(FakeApi([{**RUN, "state": "success"}]), "export_x")
    assert seen.outcome == "success"
    assert seen.finished_at.isoformat() == "2026-11-02T00:10:00+00:00"


def test_a_mapped_upload_with_a_client_error_record_is_the_clients_failure():
    record = {"code": "auth_rejected", "explanation": "The key was rejected.", "fix": "Renew it."}
    api = FakeApi(
        [RUN],
        failed=[{"task_id": "upload", "map_index": 2}],
        xcoms={("upload", 2, "client_error"): record},
    )
    seen = observe(api, "export_x")
    assert (seen.outcome, seen.code, seen.fix) == ("client_failure", "auth_rejected", "Renew it.")


def test_a_failure_without_a_record_is_ours_and_names_the_tasks():
    api = FakeApi([RUN], failed=[{"task_id": "extract", "map_index": -1}])
    seen = observe(api, "export_x")
    assert seen.outcome == "internal_failure"
    assert seen.error == "failed task(s): extract"


def test_a_refused_one_time_request_is_neither():
    api = FakeApi([RUN], failed=[{"task_id": "check_request", "map_index": -1}])
    assert observe(api, "export_x").outcome == "refused"
