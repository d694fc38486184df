from pathlib import Path

import pytest
from event_export.config.model import ExportConfig, json_schema, load_all, load_config

VALID = """\
client_id: acme
export_id: {export_id}
kind: all_events
schedule: {{timezone: Asia/Kolkata}}
destination: {{type: local, conn_id: demo_local, path: acme}}
notify: {{failure_emails: [ops@acme.example]}}
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(text)
    return path


def test_valid_config_gets_defaults(tmp_path):
    config = load_config(write(tmp_path, "acme_daily", VALID.format(export_id="acme_daily")))
    assert config.dag_id == "export_acme_daily"
    assert config.schedule.deadline.isoformat() == "07:00:00"
    assert config.profile == "daily_zip" and config.format == "csv"
    assert str(config.tz) == "Asia/Kolkata"


@pytest.mark.parametrize(
    ("replace", "field", "message"),
    [
        ("client_id: acme\n", "client_id", "Field required"),
        ("kind: all_events", "kind", "Input should be 'all_events', 'selected_events' or"),
        ("timezone: Asia/Kolkata", "schedule.timezone", "unknown IANA time zone"),
        (
            "type: local",
            "destination.type",
            "Input should be 'local', 's3', 'gcs', 'azure', 'sftp' or 'ftp'",
        ),
        ("path: acme", "destination.path", "must not contain '..'"),
        ("ops@acme.example", "notify.failure_emails.0", "not a valid email"),
        ("kind: all_events\n", "events", "at least one event name"),
        ("export_id: acme_daily", "export_id", "must equal the file name"),
        ("notify:", "notfy", "Extra inputs are not permitted"),
    ],
)
def test_each_broken_field_is_named_with_the_file(tmp_path, replace, field, message):
    text = VALID.format(export_id="acme_daily")
    broken = {
        "client_id: acme\n": "",
        "kind: all_events": "kind: every_event",
        "timezone: Asia/Kolkata": "timezone: Mars/Olympus",
        "type: local": "type: dropbox",
        "path: acme": "path: ../../etc",
        "ops@acme.example": "not-an-address",
        "kind: all_events\n": "kind: selected_events\n",
        "export_id: acme_daily": "export_id: other_name",
        "notify:": "notfy:",
    }[replace]
    path = write(tmp_path, "acme_daily", text.replace(replace, broken, 1))
    with pytest.raises(ValueError) as err:
        load_config(path)
    assert f"{path}: {field}: " in str(err.value)
    assert message in str(err.value)


@pytest.mark.parametrize(
    ("destination", "message"),
    [
        ("{type: s3, conn_id: c}", "destination.bucket: Field required"),
        ("{type: s3, conn_id: c, bucket: S3://Up}", "destination.bucket: 'S3://Up' is not a"),
        (
            "{type: s3, conn_id: c, bucket: b-1, kms_key_id: k}",
            "destination.kms_key_id: only allowed with sse: kms",
        ),
        ("{type: s3, conn_id: c, bucket: b-1, sse: des}", "destination.sse: Input should be"),
        ("{type: gcs, conn_id: c}", "destination.bucket: Field required"),
        ("{type: sftp, conn_id: c, bucket: b-1}", "destination.bucket: Extra inputs are not"),
        ("{type: azure, conn_id: c}", "destination.container: Field required"),
        ("{type: azure, conn_id: c, container: a--b}", "destination.container: 'a--b' is not a"),
        ("{type: azure, conn_id: c, container: Box}", "destination.container: 'Box' is not a"),
        ("{type: azure, conn_id: c, container: -box}", "destination.container: '-box' is not a"),
        ("{type: azure, conn_id: c, container: ab}", "destination.container: 'ab' is not a"),
        ("{type: azure, conn_id: c, container: b, bucket: b}", "destination.bucket: Extra inputs"),
        ("{type: ftp, conn_id: c, ftps: maybe}", "destination.ftps: Input should be a valid"),
        ("{conn_id: c}", "destination.type: Field required"),
    ],
)
def test_destination_fields_depend_on_the_type(tmp_path, destination, message):
    text = VALID.format(export_id="d").replace(
        "{type: local, conn_id: demo_local, path: acme}", destination
    )
    with pytest.raises(ValueError) as err:
        load_config(write(tmp_path, "d", text))
    assert message in str(err.value)


@pytest.mark.parametrize(
    ("destination", "fields"),
    [
        ("{type: s3, conn_id: c, bucket: my.bucket, path: a/b}", {"sse": "none", "path": "a/b"}),
        ("{type: s3, conn_id: c, bucket: b-1, sse: kms, kms_key_id: alias/x}", {"sse": "kms"}),
        ("{type: gcs, conn_id: c, bucket: b_1}", {"bucket": "b_1"}),
        ("{type: sftp, conn_id: c, path: /out/}", {"path": "out"}),
        (
            "{type: azure, conn_id: c, container: box-1, path: a/b}",
            {"container": "box-1", "location": "az://box-1/a/b", "display_name": "box-1"},
        ),
        ("{type: ftp, conn_id: c, ftps: true}", {"ftps": True}),
    ],
)
def test_each_destination_type_loads(tmp_path, destination, fields):
    text = VALID.format(export_id="d").replace(
        "{type: local, conn_id: demo_local, path: acme}", destination
    )
    loaded = load_config(write(tmp_path, "d", text)).destination
    assert {k: getattr(loaded, k) for k in fields} == fields


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = write(tmp_path, "x", "client_id: acme\nexport_id: [unclosed\n")
    with pytest.raises(ValueError, match=r"x\.yaml: \(file\): not valid YAML at line 3"):
        load_config(path)


def test_a_broken_file_fails_alone(tmp_path):
    write(tmp_path, "a_good", VALID.format(export_id="a_good"))
    write(tmp_path, "b_bad", "client_id: acme\nexport_id: b_bad\n")
    write(tmp_path, "c_good", VALID.format(export_id="c_good").replace("path: acme", "path: c"))
    good, errors = load_all(tmp_path)
    assert sorted(c.export_id for c in good.values()) == ["a_good", "c_good"]
    assert len(errors) == 1
    assert errors[0].path.name == "b_bad.yaml"
    assert "destination: Field required" in str(errors[0])


def test_selected_events_needs_and_keeps_its_list(tmp_path):
    text = VALID.format(export_id="sel").replace(
        "kind: all_events", "kind: selected_events\nevents: [add to cart]"
    )
    assert load_config(write(tmp_path, "sel", text)).events == ["add to cart"]


def test_shipped_configs_are_valid_and_schema_is_current():
    folder = Path(__file__).resolve().parents[3] / "include" / "exports"
    good, errors = load_all(folder)
    assert not errors
    assert len(good) >= 2
    import json

    published = json.loads((folder / "export.schema.json").read_text())
    assert published == json.loads(json.dumps(json_schema())), "run `make schema`"
    assert set(published["required"]) == {"client_id", "export_id", "destination"}
    assert ExportConfig.model_json_schema()["properties"]["kind"]["enum"] == [
        "all_events",
        "selected_events",
        "user_profiles",
    ]
    formats = {c.format for c in good.values() if c.profile == "gcp_export"}
    assert formats == {"csv", "json", "xml", "parquet"}  # one example per format


GCP = VALID + "profile: gcp_export\n"


def test_gcp_export_options_and_their_defaults(tmp_path):
    text = GCP.format(export_id="g") + (
        "format: parquet\nparquet_compression: none\nidentity_priority: [email, identity]\n"
        "values_as_strings: true\nchunk_size_mb: 0.5\ndatabase_id: db7\n"
    )
    config = load_config(write(tmp_path, "g", text))
    assert config.identity_priority == ["email", "identity"]
    assert config.values_as_strings and config.chunk_size_mb == 0.5
    assert (config.parquet_compression, config.database_id) == ("none", "db7")
    plain = load_config(write(tmp_path, "h", GCP.format(export_id="h")))
    assert plain.identity_priority == ["identity"] and plain.chunk_size_mb == 100
    assert (plain.format, plain.parquet_compression, plain.database_id) == ("csv", "gzip", "0")
    assert plain.account_id is None


@pytest.mark.parametrize(
    ("extra", "field", "message"),
    [
        ("format: json\n", "format", "profile daily_zip writes csv only"),
        ("kind: user_profiles\n", "kind", "user_profiles needs profile gcp_export"),
        ("values_as_strings: true\n", "values_as_strings", "only used by profile gcp_export"),
        ("chunk_size_mb: 5\n", "chunk_size_mb", "only used by profile gcp_export"),
        ("profile: gcp_export\nformat: yaml\n", "format", "Input should be"),
        ("profile: gcp_export\nchunk_size_mb: 0\n", "chunk_size_mb", "greater than 0"),
        ("profile: gcp_export\nidentity_priority: [email, email]\n", "identity_priority",
         "list each identifier once"),
        ("profile: gcp_export\nidentity_priority: [fax]\n", "identity_priority.0",
         "Input should be"),
        ("profile: gcp_export\nidentity_priority: []\n", "identity_priority", "at least 1"),
        ("profile: gcp_export\nkind: selected_events\nevents: [x]\n"
         "identity_priority: [email]\n", "identity_priority", "all_events and user_profiles"),
        ("profile: gcp_export\nparquet_compression: none\n", "parquet_compression",
         "only used by format parquet"),
        ("profile: gcp_export\nkind: user_profiles\n", "account_id", "required"),
        ("profile: gcp_export\ndatabase_id: a-b\n", "database_id", "should match pattern"),
        ("profile: gcp_export\nrequest_id: '1'\n", "request_id", "not permitted"),
    ],
)  # fmt: skip
def test_gcp_export_option_errors_name_the_field(tmp_path, extra, field, message):
    text = VALID.format(export_id="g").replace("kind: all_events\n", "") + extra
    with pytest.raises(ValueError) as err:
        load_config(write(tmp_path, "g", text))
    assert f"g.yaml: {field}: " in str(err.value)
    assert message in str(err.value)


def test_destination_nickname_names_it_on_the_page_and_location_has_no_secret(tmp_path):
    plain = load_config(write(tmp_path, "p", VALID.format(export_id="p")))
    assert plain.destination.display_name == "demo_local"
    assert plain.destination.location == "local://demo_local/acme"
    text = VALID.format(export_id="s").replace(
        "{type: local, conn_id: demo_local, path: acme}",
        "{type: s3, conn_id: acme_aws, bucket: acme-exports, path: daily, nickname: EU archive}",
    )
    s3 = load_config(write(tmp_path, "s", text))
    assert s3.destination.display_name == "EU archive"
    assert s3.destination.location == "s3://acme-exports/daily"
    too_long = text.replace("EU archive", "x" * 61)
    with pytest.raises(ValueError, match=r"destination\.nickname"):
        load_config(write(tmp_path, "t", too_long))
