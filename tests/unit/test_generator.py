import json
from datetime import date

import pyarrow.compute as pc
from event_export.generator import EVENT_NAMES, generate_hour


def test_same_inputs_give_the_same_rows():
    a = generate_hour(date(2026, 11, 1), 10, 2_000)
    b = generate_hour(date(2026, 11, 1), 10, 2_000)
    assert a.equals(b)
    assert not a.equals(generate_hour(date(2026, 11, 1), 11, 2_000))


def test_rows_are_realistic_and_hostile():
    table = generate_hour(date(2026, 11, 1), 12, 20_000)
    names = set(table.column("event_name").to_pylist())
    assert len(names) >= 35 and names <= set(EVENT_NAMES)
    payloads = "".join(table.column("payload").to_pylist()[:5000])
    for needle in ("\\n", '\\"', ",", "न", "م", "🎉"):
        assert needle in payloads
    assert set(table.column("event_type").to_pylist()) == {"web", "app"}


def test_distinct_knob_gives_realistic_payloads_and_leaves_other_columns_alone():
    pooled = generate_hour(date(2026, 11, 1), 12, 20_000)
    real = generate_hour(date(2026, 11, 1), 12, 20_000, distinct=0.95)
    assert real.drop_columns(["payload"]).equals(pooled.drop_columns(["payload"]))
    rows = real.num_rows
    assert pc.count_distinct(pooled.column("payload")).as_py() / rows < 0.5  # the pooled day
    assert pc.count_distinct(real.column("payload")).as_py() / rows >= 0.9
    parsed = [json.loads(text) for text in real.column("payload").to_pylist()]
    own = [p for p in parsed if "order id" in p]
    assert 0.93 * rows < len(own) < 0.97 * rows
    assert all(isinstance(p["amount"], float) and p["at"].startswith("2026-11-01 12:") for p in own)
    assert any(isinstance(p.get("ctx"), dict) for p in own)  # some nested objects
    notes = "".join(p["note"] for p in own)
    for needle in ("\n", '"', ",", "ब", "ش", "素", "🚚"):
        assert needle in notes
    assert generate_hour(date(2026, 11, 1), 12, 20_000, distinct=0.95).equals(real)
