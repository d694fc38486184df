"""A deterministic generator of realistic event-lake days, for the demo, the tests and benchmarks.

The same (day, events, seed, distinct) always gives byte-identical Parquet files. Values are drawn
from pools so a million rows take seconds, while still carrying everything a real day throws at an
exporter: about 40 event names with a skewed mix, system and custom events, web and app, payloads
of varying keys and types, and Hindi, Arabic, emoji, commas, quotes and newlines inside values.

Payload distinctness is a knob because it decides what payload parsing costs. With `distinct=0`
every event draws from 512 pooled payload texts (a 10 M-event day holds about 20 k distinct ones),
kind to any per-distinct-text cache. Real payloads carry ids, prices, timestamps and free text and
are nearly all distinct: `distinct=0.95` gives that share of rows its own payload (an order id, an
amount, a timestamp, free text in several scripts, a nested object in a quarter of them) ahead of
the pooled keys, so the skew of keys and sizes per event stays as it was. Only the payload column
depends on the knob; every other column is the same at any setting.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from event_export.pipeline.lake import (
    EVENT_SCHEMA,
    PROFILE_SCHEMA,
    Window,
    partition_dir,
    profiles_dir,
)
from event_export.scheduling.windows import day_window

SYSTEM_EVENTS = [
    "app launched", "app installed", "app uninstalled", "page viewed", "session started",
    "session ended", "notification viewed", "notification clicked", "push impression",
    "web push clicked", "email opened", "email clicked", "sms delivered", "in-app viewed",
    "in-app clicked", "user login", "user logout", "user signup", "location updated",
    "app updated",
]  # fmt: skip
CUSTOM_EVENTS = [
    "add to cart", "product purchase", "product viewed", "remove from cart", "checkout started",
    "wishlist added", "search performed", "coupon applied", "payment failed", "order cancelled",
    "review submitted", "video played", "video completed", "article read", "share clicked",
    "subscription started", "subscription renewed", "rating given", "referral sent",
    "खरीदारी पूरी",  # Hindi: "purchase complete"
]  # fmt: skip
EVENT_NAMES = SYSTEM_EVENTS + CUSTOM_EVENTS

TEXTS = [
    "plain text", "with, comma", 'with "quotes"', "line one\nline two", "tab\there",
    "नमस्ते दुनिया", "मोबाइल फ़ोन, 128GB", "مرحبا بالعالم", "سماعات لاسلكية", "🎉 sale 🛒",
    "emoji 👍🏽 and text", "中文商品", "ελληνικά", "", "semi;colon", "  spaced  ", "back\\slash",
    "Casio Chronograph Watch", "Mens Watch", "USD", "INR", "🇮🇳 India",
]  # fmt: skip
PAYLOAD_KEYS = [
    "price", "currency", "product name", "category", "quantity", "sku", "discount", "coupon",
    "in_stock", "rating", "page", "query", "results", "duration", "source", "campaign",
    "brand", "color", "size", "variant", "city", "लेबल", "الفئة", "tags", "meta",
]  # fmt: skip
PROFILE_KEYS = [
    "plan", "lifetime value", "orders", "newsletter", "preferred language", "last coupon",
    "loyalty tier", "app rating", "interests", "पसंदीदा", "المدينة", "referrals",
]  # fmt: skip
NAMES = [
    "Aarav Sharma", "आरव शर्मा", "محمد علي", "李小龙", "O'Brien, Pat", 'Dwayne "The Rock"',
    "Zoë 🌟", "Line\nBreak", "", "Ελένη", "  Spaced Name  ", "Tab\tName",
]  # fmt: skip
CITIES = ["Mumbai", "मुंबई", "دبي", "東京", "São Paulo", "New York, NY", ""]
MEDIA = ["", "Broadcast", "Journey", "Onsite"]
OS_TYPES = ["Android", "iOS", "Windows", "macOS", "Linux"]
MAKES = ["Samsung", "Apple", "Xiaomi", "OnePlus", "Google", "Vivo", "Oppo", ""]
POOL = 512  # distinct values per pooled column
# free-text words for distinct payloads, several scripts, some needing JSON or CSV escapes
WORDS = [
    "fast", "delivery", "gift", "wrap", "please", "call", "before", "arriving", "बहुत", "अच्छा",
    "उत्पाद", "شكرا", "جميل", "جدا", "素晴らしい", "商品", "très", "bien", "größe", "🚚", "👍",
    'said "ok"', "a, b", "line\nbreak", "50%", "#1", "size: XL",
]  # fmt: skip
_WORDS_JSON = [json.dumps(w, ensure_ascii=False)[1:-1] for w in WORDS]  # escaped, unquoted


def _rng(seed: int, *parts: object) -> np.random.Generator:
    digest = hashlib.sha256(repr((seed, *parts)).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def _value(rng: np.random.Generator, key_index: int):
    kind = key_index % 6
    if kind == 0:
        return round(float(rng.uniform(0.5, 5000)), 2)
    if kind == 1:
        return int(rng.integers(0, 1000))
    if kind == 2:
        return bool(rng.integers(0, 2))
    if kind == 3 and key_index % 12 == 3:
        return {"k": TEXTS[int(rng.integers(len(TEXTS)))], "n": int(rng.integers(10))}
    return TEXTS[int(rng.integers(len(TEXTS)))]


@functools.lru_cache(maxsize=256)
def _payload_pool(seed: int, event_index: int) -> list[str]:
    """POOL payload texts for one event, each with 3 to 12 keys from the event's own key set."""
    rng = _rng(seed, "payload", event_index)
    own = rng.choice(len(PAYLOAD_KEYS), size=12, replace=False)
    pool = []
    for _ in range(POOL):
        n = int(rng.integers(3, 13))
        keys = sorted(own[:n] if rng.random() < 0.7 else rng.choice(own, n, replace=False))
        pool.append(
            json.dumps({PAYLOAD_KEYS[k]: _value(rng, int(k)) for k in keys}, ensure_ascii=False)
        )
    return pool


@functools.lru_cache(maxsize=8)
def _all_payloads(seed: int) -> pa.Array:
    """Every event's payload pool, one after the other, so rows pick theirs with one `take`."""
    return pa.array([t for e in range(len(EVENT_NAMES)) for t in _payload_pool(seed, e)])


def _sequence_ids(prefix: str, n: int) -> pa.Array:
    """`<prefix>000000000`, `<prefix>000000001`, ... built column-wise (no per-row Python)."""
    digits = pc.utf8_lpad(pa.array(np.arange(n)).cast(pa.string()), 9, "0")
    return pc.binary_join_element_wise(prefix, digits, "")


def _choice(rng: np.random.Generator, values: list, n: int) -> pa.Array:
    return pa.array(values).take(pa.array(rng.integers(0, len(values), n)))


def _pooled(rng: np.random.Generator, fmt: str, n: int, none_share: float = 0.0) -> pa.Array:
    pool = [fmt.format(i) for i in range(POOL)]
    idx = rng.integers(0, POOL, n)
    mask = rng.random(n) < none_share if none_share else None
    return pa.array(pool).take(pa.array(idx, mask=mask))


def _hour_weights() -> np.ndarray:
    hours = np.arange(24)
    weights = 1.0 + 0.8 * np.sin((hours - 9) / 24 * 2 * np.pi)  # busier during the day
    return weights / weights.sum()


def _text(values) -> pa.Array:
    return pa.array(values).cast(pa.string())


def _distinct_payloads(
    pooled: pa.Array, start_ms: int, distinct: float, rng: np.random.Generator
) -> pa.Array:
    """`pooled` with a `distinct` share of rows given row-unique fields ahead of the pooled keys.

    Built column-wise (Arrow string kernels, no per-row Python), so a 10 M-event day stays quick.
    """
    rows = len(pooled)
    ids = pc.utf8_lpad(_text(rng.integers(0, 2**62, rows)), 19, "0")
    cents = rng.integers(1, 10_000_000, rows)
    amount = pc.binary_join_element_wise(
        _text(cents // 100), pc.utf8_lpad(_text(cents % 100), 2, "0"), "."
    )
    at = pa.array(start_ms + rng.integers(0, 3_600_000, rows), pa.timestamp("ms", tz="UTC"))
    words = pa.array(_WORDS_JSON)
    note = pc.binary_join_element_wise(
        *(words.take(pa.array(rng.integers(0, len(WORDS), rows))) for _ in range(3)), " "
    )
    nested = pc.binary_join_element_wise(
        '"ctx":{"qty":', _text(rng.integers(1, 20, rows)), ',"tags":["', note, '"]},', ""
    )
    nested = pc.if_else(pa.array(rng.random(rows) < 0.25), nested, "")
    unique = pc.binary_join_element_wise(
        '{"order id":"', ids, '","amount":', amount, ',"at":"', at.cast(pa.string()),
        '","note":"', note, '",', nested, pc.utf8_slice_codeunits(pooled, 1), "",
    )  # fmt: skip
    return pc.if_else(pa.array(rng.random(rows) < distinct), unique, pooled)


def generate_hour(
    day: date, hour: int, rows: int, seed: int = 7, distinct: float = 0.0
) -> pa.Table:
    """One UTC hour of events, sorted by time; `distinct`: the share of rows whose payload is
    their own (see the module's docstring), 0 for pooled payloads only."""
    rng = _rng(seed, day.isoformat(), hour)
    ranks = np.arange(1, len(EVENT_NAMES) + 1)
    mix = (1 / ranks**1.1) / (1 / ranks**1.1).sum()  # Zipf-like skew
    event_idx = rng.choice(len(EVENT_NAMES), size=rows, p=mix)
    start_ms = int(datetime(day.year, day.month, day.day, hour, tzinfo=UTC).timestamp() * 1000)
    ts = np.sort(rng.integers(start_ms, start_ms + 3_600_000, rows))
    is_web = rng.random(rows) < 0.4

    payload_idx = np.empty(rows, dtype=np.int64)  # index into every event's pool, end to end
    for e in np.unique(event_idx):
        where = np.flatnonzero(event_idx == e)
        payload_idx[where] = int(e) * POOL + rng.integers(0, POOL, where.size)

    web = pa.array(is_web)
    none = pa.nulls(rows, pa.string())

    def by_channel(web_values: pa.Array, app_values: pa.Array) -> pa.Array:
        return pc.if_else(web, web_values, app_values)

    identity = _pooled(rng, "user-{:05d}", rows, none_share=0.2)
    columns = {
        "event_name": pa.array(EVENT_NAMES).take(pa.array(event_idx)),
        "event_id": _sequence_ids(f"{day:%Y%m%d}-{hour:02d}-", rows),
        "event_type": by_channel(pa.array(["web"] * rows), pa.array(["app"] * rows)),
        "ts": pa.array(ts, pa.timestamp("ms", tz="UTC")),
        "app_version": by_channel(none, _choice(rng, ["2.30.1", "2.31.0", "3.0.0"], rows)),
        "app_id": by_channel(none, _choice(rng, ["com.shop.app", "com.shop.lite"], rows)),
        "site_id": by_channel(_choice(rng, ["site-main", "site-blog"], rows), none),
        "model": by_channel(none, _choice(rng, ["SM-G991B", "iPhone14,2", "Pixel 8", ""], rows)),
        "purl": by_channel(_pooled(rng, "https://shop.example/p/{}?ref=a,b", rows), none),
        "url": by_channel(_pooled(rng, "https://shop.example/item/{}", rows), none),
        "pts": by_channel(
            pa.array(rng.integers(1, 600, rows), pa.int32()), pa.nulls(rows, pa.int32())
        ),
        "sdk_version": _choice(rng, ["30107", "30200", "web-4.1"], rows),
        "os_version": _choice(rng, ["5.1.1", "14", "17.2", "10"], rows),
        "identity": identity,
        "email": _pooled(rng, "user{}@mail.example", rows, none_share=0.3),
        "phone": _pooled(rng, "+9198{:08d}", rows, none_share=0.5),
        "os_type": _choice(rng, OS_TYPES, rows),
        "make": _choice(rng, MAKES, rows),
        "medium": _choice(rng, MEDIA, rows),
        "msg_id": _pooled(rng, "msg-{}", rows, none_share=0.7),
        "session_id": by_channel(none, _pooled(rng, "s-{:06d}", rows)),
        "sid": by_channel(_pooled(rng, "w-{:06d}", rows), none),
        "payload": _all_payloads(seed).take(pa.array(payload_idx)),
    }
    if distinct:
        unique_rng = _rng(seed, "distinct", day.isoformat(), hour)
        columns["payload"] = _distinct_payloads(columns["payload"], start_ms, distinct, unique_rng)
    return pa.table(columns, schema=EVENT_SCHEMA)


def _write_hour(root: str | Path, hour: datetime, rows: int, seed: int, distinct: float) -> None:
    table = generate_hour(hour.date(), hour.hour, rows, seed, distinct)
    folder = Path(partition_dir(str(root), hour))
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, folder / "part-0.parquet", compression="zstd", row_group_size=65536)


def write_window(
    root: str | Path, window: Window, events: int, seed: int = 7, distinct: float = 0.0
) -> int:
    """Write about `events` rows into the UTC hour partitions that overlap a window.

    The rows follow the same daily curve as `write_day`; whole hours are written, so rows in the
    part of an edge hour outside the window exist in the lake but are not the window's.
    """
    hours = list(window.hours())
    weights = _hour_weights()[[h.hour for h in hours]]
    per_hour = np.floor(weights / weights.sum() * events).astype(int)
    per_hour[: events - per_hour.sum()] += 1
    for hour, rows in zip(hours, per_hour.tolist(), strict=True):
        _write_hour(root, hour, rows, seed, distinct)
    return int(per_hour.sum())


@functools.lru_cache(maxsize=8)
def _properties_pool(seed: int) -> list[str]:
    """POOL custom-property texts for profiles: 2 to 8 keys with mixed types and scripts."""
    rng = _rng(seed, "profile-properties")
    pool = []
    for _ in range(POOL):
        keys = sorted(rng.choice(len(PROFILE_KEYS), size=int(rng.integers(2, 9)), replace=False))
        props = {PROFILE_KEYS[k]: _value(rng, int(k)) for k in keys}
        pool.append(json.dumps(props, ensure_ascii=False))
    return pool


def generate_profiles(day: date, users: int, seed: int = 7) -> pa.Table:
    """The profile snapshot at the end of `day`: `users` profiles, whose identifiers are the
    events' own (user-00042, user42@mail.example, +919800000042), each missing for some users."""
    rng = _rng(seed, "profiles", day.isoformat())
    ids = np.arange(users)

    def ids_as(fmt: str, none_share: float) -> pa.Array:
        values = pa.array([fmt.format(i) for i in ids.tolist()], pa.string())
        return pc.if_else(pa.array(rng.random(users) < none_share), pa.nulls(users), values)

    end_ms = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)
    end_ms += 86_400_000
    first = rng.integers(end_ms - 400 * 86_400_000, end_ms - 86_400_000, users)
    last = first + rng.integers(0, end_ms - first)
    pool = _properties_pool(seed)
    columns = {
        "identity": ids_as("user-{:05d}", 0.2),
        "email": ids_as("user{}@mail.example", 0.3),
        "phone": ids_as("+9198{:08d}", 0.5),
        "name": _choice(rng, NAMES, users),
        "gender": _choice(rng, ["M", "F", "O", ""], users),
        "city": _choice(rng, CITIES, users),
        "country": _choice(rng, ["IN", "AE", "JP", "BR", "US"], users),
        "platform": _choice(rng, ["Android", "iOS", "Web"], users),
        "first_seen": pa.array(first, pa.timestamp("ms", tz="UTC")),
        "last_seen": pa.array(last, pa.timestamp("ms", tz="UTC")),
        "properties": pa.array(pool).take(pa.array(rng.integers(0, POOL, users))),
    }
    return pa.table(columns, schema=PROFILE_SCHEMA)


def write_profiles(root: str | Path, day: date, users: int, seed: int = 7) -> int:
    """Write the profile snapshot of `day` (UTC date partition) and return its row count."""
    folder = Path(profiles_dir(str(root), day))
    folder.mkdir(parents=True, exist_ok=True)
    table = generate_profiles(day, users, seed)
    pq.write_table(table, folder / "part-0.parquet", compression="zstd", row_group_size=65536)
    return table.num_rows


def main() -> None:
    parser = argparse.ArgumentParser(description="Generate one client-day of demo events.")
    parser.add_argument("root", help="lake root folder")
    parser.add_argument("--day", type=date.fromisoformat, required=True)
    parser.add_argument("--timezone", default="UTC")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--profiles", type=int, default=0, help="users in the day's snapshot")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--distinct", type=float, default=0.0, help="share of rows with a payload of their own"
    )
    args = parser.parse_args()
    window = day_window(args.day, ZoneInfo(args.timezone))
    written = write_window(args.root, window, args.events, args.seed, args.distinct)
    print(written, "events written")
    if args.profiles:
        print(write_profiles(args.root, args.day, args.profiles, args.seed), "profiles written")


if __name__ == "__main__":
    main()
