"""The path_template grammar: what passes renders only safe relative folders, what fails names
the folder and the reason. (The bad-config corpus runs the same rules through the loader and
Airflow's parse: tests/dags/bad_configs/template_*.yaml.)"""

import pytest
from event_export.config.path_template import EVENT_BYTES, fields, parse


@pytest.mark.parametrize(
    "template",
    [
        "dt={yyyy}-{mm}-{dd}/event={event}",
        "{yyyy}/{mm}/{dd}/{hh}",
        "{export_id}/{request_id}",
        "exports/{event}",
        "x" * (255 - EVENT_BYTES) + "{event}",
    ],
)
def test_valid_templates(template):
    assert parse(template)


@pytest.mark.parametrize(
    ("template", "fragment"),
    [
        ("", "must not be empty"),
        ("/abs/{yyyy}", "must be relative"),
        ("a//b", "folder 2 is empty"),
        ("a/", "folder 2 is empty"),
        ("../x", "'.' and '..' are not allowed"),
        ("a/./b", "'.' and '..' are not allowed"),
        (".hidden", "must not start with '.'"),
        ("dots.", "must not end with '.'"),
        ("{year}", "unknown placeholder {year}"),
        ("{}", "unknown placeholder {}"),
        ("{0}", "unknown placeholder {0}"),
        ("{event.name}", "unknown placeholder {event.name}"),
        ("{yyyy!r}", "takes no format or conversion"),
        ("{dd:02}", "takes no format or conversion"),
        ("dt={yyyy", "braces unbalanced"),
        ("dt=}", "braces unbalanced"),
        ("{{literal}}", "a literal brace is not allowed"),
        ("a\\..\\b", "the character '\\\\' is not allowed"),
        ("with space", "the character ' ' is not allowed"),
        ("c:", "the character ':' is not allowed"),
        ("tab\there", "is not allowed"),
        ("/".join(["a"] * 9), "at most 8 folder levels"),
        ("x" * 201, "at most 200 characters"),
        ("x" * (256 - EVENT_BYTES) + "{event}", "over 255"),
    ],
)
def test_invalid_templates_say_why(template, fragment):
    with pytest.raises(ValueError) as err:
        parse(template)
    assert fragment in str(err.value)


def test_fields_lists_the_placeholders_used():
    assert fields("dt={yyyy}-{mm}/{event}/{yyyy}") == {"yyyy", "mm", "event"}
