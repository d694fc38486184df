"""What a failing task records for the Exports page: the error's class, never its message."""

from airflow.sdk.exceptions import AirflowFailException
from event_export.destinations.errors import ClientSideError, DeliveryError
from event_export.orchestration.failure_reports import failure_record
from event_export.scheduling.schedules import RequestRefused


def test_the_class_and_a_client_errors_code_never_the_message():
    secret = "s3://bucket?X-Amz-Credential=AKIASECRET"
    assert failure_record(DeliveryError(secret)) == {"error": "DeliveryError"}
    client = ClientSideError(secret, "fix", code="auth_failed")
    assert failure_record(client) == {"error": "ClientSideError", "code": "auth_failed"}


def test_a_deliberate_fail_names_its_cause():
    try:
        try:
            raise RequestRefused("2020-01-01 is more than 60 days ago")
        except RequestRefused as exc:
            raise AirflowFailException("one-time export refused") from exc
    except AirflowFailException as failed:
        assert failure_record(failed) == {"error": "RequestRefused"}
    assert failure_record(AirflowFailException("bare")) == {"error": "AirflowFailException"}
