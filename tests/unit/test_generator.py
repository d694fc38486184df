from datetime import date

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
