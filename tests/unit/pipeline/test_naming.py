from datetime import date

import pytest
from event_export.pipeline import naming


def test_daily_zip_and_csv_names_follow_the_document():
    day = date(2022, 1, 1)
    assert naming.daily_zip_name("acme", day) == "acme_01012022.zip"
    assert naming.daily_csv_name("add to cart", day) == "add to cart_01012022.csv"
    assert naming.daily_csv_name("product purchase", day) == "product purchase_01012022.csv"
    assert naming.manifest_name("acme_01012022.zip") == "acme_01012022.manifest"


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ("add to cart", "add to cart"),
        ("a/b\\c", "a-b-c"),
        ("tab\there\nnew", "tab-here-new"),
        ("nul\x00byte", "nul-byte"),
        ("bell\x07", "bell_"),
        ("../../etc/passwd", "-..-etc-passwd"),
        ("..", "-"),
        ("खरीदारी पूरी 🛒", "खरीदारी पूरी 🛒"),
    ],
)
def test_event_names_become_safe_file_names(event, expected):
    cleaned = naming.safe_component(event)
    assert cleaned == expected
    assert "/" not in cleaned and not cleaned.startswith(".")


def test_colliding_names_are_disambiguated_deterministically():
    events = ["a/b", "a\\b", "c"]
    out = naming.member_names(events, "x")
    assert len(set(out.values())) == 3
    assert out["c"] == "c_x.csv"
    assert out["a/b"] == "a-b_x.csv"  # first in name order keeps the plain name
    assert out["a\\b"].startswith("a-b-") and out["a\\b"].endswith("_x.csv")  # hash before date
    assert out == naming.member_names(list(reversed(events)), "x")
