"""Reading an XCom from task code when it may legitimately be absent.

Why: when the execution API answers 404 for an XCom, the Task SDK's client logs "XCom not found"
at error level before it hands the task None. Two of our reads are often absent in runs that go
well: the previous delivery's schema record (the first delivery has none) and the mapped `format`
results `chunk` reads (a day without events maps no `format` task). An error line in every such
run would bury the real ones on-call looks for (tests/integration/test_airflow_run.py and the
health-check stack test assert a successful run logs none). So every such read goes through
`pull_maybe_absent`, which only makes requests that cannot 404:

- this run's values of a task: the sequence slice, every map index in one request, in map-index
  order (Airflow answers an empty list, not a 404, when there are none; iterating the mapped
  results instead asks one past the end and gets the 404);
- the latest value at or before this run (`latest_prior=True`): asked only when the context shows
  an earlier successful run of the DAG, since before that no run can have pushed one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.sdk import Context

RETURN_VALUE = "return_value"  # a task's returned value (the Task SDK's XCOM_RETURN_KEY)


def pull_maybe_absent(
    context: Context, task_id: str, key: str = RETURN_VALUE, *, latest_prior: bool = False
) -> list[Any]:
    """`task_id`'s values under `key`, [] when there are none, never through a request that logs
    an error for their absence (see the module docstring).

    By default: every value the task pushed in this run, in map-index order (one for a task that
    is not mapped). With `latest_prior`: at most one, the latest at or before this run's logical
    date (Airflow orders them), from this run or an earlier one.
    """
    ti = context["ti"]
    if latest_prior:
        if not context.get("prev_start_date_success"):
            return []
        value = ti.xcom_pull(task_ids=task_id, key=key, map_indexes=-1, include_prior_dates=True)
        return [] if value is None else [value]
    from airflow.sdk.execution_time.xcom import XCom  # the backend the Task SDK resolved

    values = XCom.get_all(key=key, dag_id=ti.dag_id, task_id=task_id, run_id=ti.run_id)
    return list(values or [])
