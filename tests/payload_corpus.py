"""Payload texts shared by the tests that compare native code with the Python reference.

`HOSTILE` holds every way DuckDB's JSON reader and writer and Python's `json` are known to differ
(duplicate keys, NaN and infinities, trailing commas, numbers past a double or 64 bits, number
spellings, escapes, deep nesting, non-objects, invalid text); `ORDINARY` payloads as the
generator writes them. Used by tests/unit/pipeline/test_payload_native.py (the daily zip's
flattening) and tests/unit/formats/test_records_native.py (gcp_export's writers).
"""

ORDINARY = [
    '{"order id":"0154350304965966010","amount":58448.00,"at":"2026-11-01 12:34:36.762Z",'
    '"note":"said \\"ok\\" a, b","ctx":{"qty":11,"tags":["line\\nbreak 👍 call"]},'
    '"price": 4641.53, "in_stock": false, "brand": "ελληνικά", "variant": 119}',
    '{"a": 1, "b": "x", "c": true, "d": null, "e": [1, "two", null, false], "f": {}}',
    '{"k": "नमस्ते 🎉", "campaign": {"k": "tab\\there", "n": 7}, "n": -12}',
]
HOSTILE = [
    # duplicate keys: Python keeps the last value (at the first key's place)
    '{"a": 1, "a": 2}', '{"a": 1, "b": null, "a": 2}', '{"a": {"x": 1, "x": 2}}',
    '{"a": [{"x": 1, "x": 2}]}', '{"a": {"b": {"x": 1}}}', '{"a": null, "a": null}',
    '{"a": {"x": 1, "y": 2, "x": 3}}', '{"a": {"x": 1, "y": 2}, "b": {"y": "x", "y": "z"}}',
    '{"a": {"x": 1, "y": 2, "z": 3}, "b": 1, "c": 2, "b": 3}',
    # number spellings, top level and nested
    '{"a": 2.50, "b": 1E5, "c": 1e16, "d": 1e15, "e": 0.0001, "f": 1e-5, "g": -0.0, "h": -0}',
    '{"a": 5e-324, "b": 1.7976931348623157e308, "c": 12345678901234567890.5, "d": 0.1e1}',
    '{"a": [1.0, 1E5, 1e16, 0.0001, 1e-5, -0.0, 100e-2]}', '{"a": {"p": 9.99, "q": 2.50}}',
    '{"a": 123456789012345678901234567890}', '{"a": -123456789012345678901234567890}',
    '{"a": 18446744073709551616}', '{"a": 9223372036854775808}', '{"a": -9223372036854775809}',
    '{"a": [18446744073709551616, -0]}', '{"a": 1' + "0" * 400 + "}", '{"a": 1' + "0" * 400 + ".5}",
    '{"a": 1e400}', '{"a": -1e400}', '{"a": 1e-400}', '{"a": [1e400]}', '{"a": 1E+0400}',
    # NaN and infinities: Python takes NaN/Infinity/-Infinity only, DuckDB any case
    '{"a": NaN}', '{"a": Infinity}', '{"a": -Infinity}', '{"a": [NaN, 1]}',
    '{"a": {"b": -Infinity}}',
    '{"a": nan}', '{"a": inf}', '{"a": -inf}', '{"a": INF}', '{"a": "NaN", "b": "inf"}',
    # escapes and strings
    '{"a": "x\\u0000y"}', '{"a": "\\ud83d\\ude00"}', '{"a": "\\/"}', '{"\\u0041": 1, "A": 2}',
    '{"a\\"b": 1}', '{"": 1}', '{"A": 1, "a": 2}', '{"a.b": 1, "$": 2, "$.a": 3}',
    '{"a": ["\\u001f", "\\b\\f\\n\\r\\t", "/", "\\u2028", "\\u007f", "\\\\", "\\""]}',
    '{"a": {"\\u001f": "\\u00e9"}}', '{"a": "{\\"x\\": 1, \\"x\\": 2}"}', '{"a": "[1.5]"}',
    '{"a": "{not json"}', '{"a": "\\u0000"}', '{"k\\\\": 6}', '{"\\u0000": "\\u202e"}',
    '{"a\\u0000b": 1}', '{"\\ud83d\\ude00": 1, "\\u00e9": 2, "É": 3, "é": 4, "ß": 5, "SS": 6}',
    # layout and whitespace
    '{"a" : { "k" : [ 1 , 2 ] } , "b" : [ ] , "c" : { } }', '  {"a": 1}  ', '\t{"a":1}\n',
    '{"b": 1, "a": {"z": 1, "y": [true, false, null]}}', "{}",
    # not objects: Python gives {"value": v}
    "[1, 2]", '"x"', "3", "null", "true", "1.5", '[{"a": 1}]',
    # trailing commas (DuckDB takes them, Python does not)
    '{"a": 1,}', '{"a": [1,]}', '{"a": [1,2,],"b":1}', '{"a": {"b": 1,}}',
    # deep nesting
    '{"a": ' + "[" * 300 + "]" * 300 + "}", '{"a": ' + "[" * 150 + "]" * 150 + "}",
    # invalid
    '{"a": 1} x', "{", '{"a": }', "{'a': 1}", "\ufeff{}", '{"a": 1 /* c */}', '{"a": 01}',
    '{"a": .5}', '{"a": "x\ny"}', '{"a": "\t"}', '{"a": +1}', '{"a": 0x10}', '{"a": tru}', " ",
    '{"a": "\\ud800"}', '{"a": "\\x41"}', '{"a": 1.}', "[" * 2000 + "]" * 2000,
]  # fmt: skip
