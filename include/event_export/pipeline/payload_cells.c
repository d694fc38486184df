/* Payload cells in one pass of C over the Arrow string column (see payload_cells.py for why).

   ees_cells_parse reads each row's JSON text once and writes, for every top-level key that is
   in the event's key list, the cell's text as the Python reference spells it
   (payload.as_text(payload.parse(text)[key])) into `scratch`, recording where it went. Anything
   outside a conservative subset of JSON marks the row suspect (its cells are then null and the
   caller spells it in Python): the subset is where this spelling is provably the reference's.
   ees_cells_gather then lays the cells out as one Arrow string column per key. The same
   scanning serves extract (ees_keys_parse: keys, member counts, value kinds) and gcp_export's
   JSON lines (ees_objects_parse: each row's object written compact).

   No allocation, no Python: plain buffers in, plain buffers out, so ctypes can call it with the
   GIL released. */

#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define MAX_DEPTH 64
#define MAX_INT_DIGITS 18    /* up to 18 digits every integer fits in 64 bits */
#define MAX_FLOAT_DIGITS 15  /* up to 15 significant digits a decimal round-trips a double */
#define MAX_NESTED_KEYS 32
#define MAX_ROW_KEYS 256     /* a row with more top-level members is read by Python */

/* Bumped with every change to a function's arguments: payload_cells.py calls no other build. */
int64_t ees_cells_abi(void) { return 7; }

typedef struct {
    const uint8_t *p, *end;
    uint8_t *out;   /* where the next rewritten cell byte goes */
    int bad;        /* the row is outside the subset */
    const uint8_t *span, *span_end;  /* a cell kept as written: its bytes in the text */
} cursor;

/* What a top-level value gave: no cell (null), a cell rewritten into scratch, or a cell that is
   the text's own bytes (c->span..c->span_end), copied once, by ees_cells_gather. */
enum { NO_CELL, REWRITTEN, AS_WRITTEN };

/* The first byte at or after p that ends a plain run inside a JSON string: a quote, a
   backslash or a control byte (16 bytes a step where the CPU has SSE2, as every x86-64 does). */
static inline const uint8_t *plain_run(const uint8_t *p, const uint8_t *end) {
#ifdef __SSE2__
    const __m128i quote = _mm_set1_epi8('"'), slash = _mm_set1_epi8('\\');
    const __m128i control = _mm_set1_epi8(0x1F);
    while (end - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)p);
        __m128i hit = _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, slash));
        hit = _mm_or_si128(hit, _mm_cmpeq_epi8(_mm_min_epu8(v, control), v));
        int bits = _mm_movemask_epi8(hit);
        if (bits) return p + __builtin_ctz((unsigned)bits);
        p += 16;
    }
#endif
    while (p < end && *p != '"' && *p != '\\' && *p >= 0x20) p++;
    return p;
}

/* Key lookup: open addressing over the event's keys, by their UTF-8 bytes. */
typedef struct {
    const int32_t *key_offsets;
    const uint8_t *key_data;
    int32_t *slots; /* key index + 1, 0 empty */
    uint32_t mask;
} keytab;

/* Length and the first and last two bytes: enough to spread an event's keys (collisions only
   cost a probe). */
static inline uint32_t hash_bytes(const uint8_t *s, size_t n) {
    uint32_t h = (uint32_t)n * 0x9E3779B1u;
    if (n) h ^= (uint32_t)s[0] * 0x85EBCA6Bu ^ (uint32_t)s[n - 1] * 0xC2B2AE35u;
    if (n > 1) h ^= (uint32_t)s[1] * 0x27D4EB2Fu ^ (uint32_t)s[n - 2] * 0x165667B1u;
    return h ^ (h >> 15);
}

static inline int same_bytes(const uint8_t *a, const uint8_t *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i]) return 0;
    return 1;
}

static int key_index(const keytab *t, const uint8_t *s, size_t n) {
    uint32_t i = hash_bytes(s, n) & t->mask;
    for (;;) {
        int32_t slot = t->slots[i];
        if (slot == 0) return -1;
        int32_t k = slot - 1;
        int32_t a = t->key_offsets[k], b = t->key_offsets[k + 1];
        if ((size_t)(b - a) == n && same_bytes(t->key_data + a, s, n)) return k;
        i = (i + 1) & t->mask;
    }
}

/* The table of nkeys keys (key_offsets/key_data) in `slots`, a power of two (slot_mask + 1) at
   least twice nkeys. */
static keytab key_table(int64_t nkeys, const int32_t *key_offsets, const uint8_t *key_data,
                        int32_t *slots, int64_t slot_mask) {
    keytab t = {key_offsets, key_data, slots, (uint32_t)slot_mask};
    memset(slots, 0, sizeof(int32_t) * (size_t)(slot_mask + 1));
    for (int64_t k = 0; k < nkeys; k++) {
        int32_t a = key_offsets[k], b = key_offsets[k + 1];
        uint32_t i = hash_bytes(key_data + a, (size_t)(b - a)) & t.mask;
        while (slots[i] != 0) i = (i + 1) & t.mask;
        slots[i] = (int32_t)(k + 1);
    }
    return t;
}

static inline void skip_ws(cursor *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\n' || *c->p == '\r' || *c->p == '\t'))
        c->p++;
}

/* After a member or an element: 1 at a comma (more follow), 0 at `close` (the end), either
   passed; anything else sets c->bad (and gives 0). */
static inline int more(cursor *c, uint8_t close) {
    skip_ws(c);
    if (c->p < c->end && *c->p == ',') {
        c->p++;
        skip_ws(c);
        return 1;
    }
    if (c->p < c->end && *c->p == close) {
        c->p++;
        return 0;
    }
    c->bad = 1;
    return 0;
}

static inline int hexval(uint8_t h) {
    if (h >= '0' && h <= '9') return h - '0';
    if (h >= 'a' && h <= 'f') return h - 'a' + 10;
    if (h >= 'A' && h <= 'F') return h - 'A' + 10;
    return -1;
}

static int hex4(const uint8_t *p) {
    int v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(p[i]);
        if (h < 0) return -1;
        v = v * 16 + h;
    }
    return v;
}

/* A top-level string value: as written when it has no escape, else unescaped into out. c->p is
   past the opening quote. */
static int string_cell(cursor *c) {
    const uint8_t *p = c->p, *end = c->end;
    uint8_t *out = c->out;
    const uint8_t *first = plain_run(p, end);
    if (first < end && *first == '"') {
        c->span = p;
        c->span_end = first;
        c->p = first + 1;
        return AS_WRITTEN;
    }
    for (;;) {
        const uint8_t *run = p;
        p = plain_run(p, end);
        memcpy(out, run, (size_t)(p - run));
        out += p - run;
        if (p >= end || *p < 0x20) { c->bad = 1; return NO_CELL; }
        if (*p == '"') { c->p = p + 1; c->out = out; return REWRITTEN; }
        /* an escape */
        if (p + 1 >= end) { c->bad = 1; return NO_CELL; }
        uint8_t e = p[1];
        p += 2;
        switch (e) {
        case '"': *out++ = '"'; break;
        case '\\': *out++ = '\\'; break;
        case '/': *out++ = '/'; break;
        case 'b': *out++ = '\b'; break;
        case 'f': *out++ = '\f'; break;
        case 'n': *out++ = '\n'; break;
        case 'r': *out++ = '\r'; break;
        case 't': *out++ = '\t'; break;
        case 'u': {
            if (end - p < 4) { c->bad = 1; return NO_CELL; }
            int u = hex4(p);
            p += 4;
            if (u <= 0) { c->bad = 1; return NO_CELL; }  /* invalid, or NUL: left to Python */
            if (u >= 0xDC00 && u <= 0xDFFF) { c->bad = 1; return NO_CELL; }  /* lone low surrogate */
            if (u >= 0xD800 && u <= 0xDBFF) {
                if (end - p < 6 || p[0] != '\\' || p[1] != 'u') { c->bad = 1; return NO_CELL; }
                int lo = hex4(p + 2);
                if (lo < 0xDC00 || lo > 0xDFFF) { c->bad = 1; return NO_CELL; }
                p += 6;
                u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
            }
            /* UTF-8 is never longer than the escape it comes from */
            if (u < 0x80) *out++ = (uint8_t)u;
            else if (u < 0x800) {
                *out++ = (uint8_t)(0xC0 | (u >> 6));
                *out++ = (uint8_t)(0x80 | (u & 0x3F));
            } else if (u < 0x10000) {
                *out++ = (uint8_t)(0xE0 | (u >> 12));
                *out++ = (uint8_t)(0x80 | ((u >> 6) & 0x3F));
                *out++ = (uint8_t)(0x80 | (u & 0x3F));
            } else {
                *out++ = (uint8_t)(0xF0 | (u >> 18));
                *out++ = (uint8_t)(0x80 | ((u >> 12) & 0x3F));
                *out++ = (uint8_t)(0x80 | ((u >> 6) & 0x3F));
                *out++ = (uint8_t)(0x80 | (u & 0x3F));
            }
            break;
        }
        default: c->bad = 1; return NO_CELL;
        }
    }
}

/* A number. Integers are kept as written (Python's repr gives the same digits) when they have at
   most MAX_INT_DIGITS digits and are not "-0"; inside nested values only those are taken.
   A top-level decimal without an exponent, of at most MAX_FLOAT_DIGITS significant digits and
   at least 1e-4 (or zero), is written as Python's repr of its double: the literal with the
   fraction's trailing zeros dropped, keeping one digit. */
static int number(cursor *c, int allow_fraction) {
    const uint8_t *p = c->p, *end = c->end;
    const uint8_t *start = p;
    if (p < end && *p == '-') p++;
    const uint8_t *int_start = p;
    if (p >= end || *p < '0' || *p > '9') { c->bad = 1; return NO_CELL; }
    if (*p == '0') p++;
    else while (p < end && *p >= '0' && *p <= '9') p++;
    const uint8_t *int_end = p;
    if (p < end && (*p == 'e' || *p == 'E')) { c->bad = 1; return NO_CELL; }
    if (p < end && *p == '.') {
        if (!allow_fraction) { c->bad = 1; return NO_CELL; }
        const uint8_t *frac = ++p;
        while (p < end && *p >= '0' && *p <= '9') p++;
        const uint8_t *frac_end = p;
        if (frac_end == frac) { c->bad = 1; return NO_CELL; }
        if (p < end && (*p == 'e' || *p == 'E')) { c->bad = 1; return NO_CELL; }
        const uint8_t *written_end = frac_end;
        while (frac_end > frac + 1 && frac_end[-1] == '0') frac_end--;  /* keep one digit */
        int zero_int = (int_end - int_start == 1 && *int_start == '0');
        int digits;
        if (zero_int) {
            const uint8_t *q = frac;
            while (q < frac_end && *q == '0') q++;
            if (q == frac_end) digits = 0;  /* zero */
            else {
                if (q - frac > 3) { c->bad = 1; return NO_CELL; }  /* below 1e-4: repr has an exponent */
                digits = (int)(frac_end - q);
            }
        } else {
            int trailing = (frac_end - frac == 1 && *frac == '0');
            digits = (int)(int_end - int_start) + (trailing ? 0 : (int)(frac_end - frac));
        }
        if (digits > MAX_FLOAT_DIGITS) { c->bad = 1; return NO_CELL; }
        c->p = p;
        if (frac_end == written_end) {
            c->span = start;
            c->span_end = p;
            return AS_WRITTEN;
        }
        size_t head = (size_t)(int_end - start);
        memcpy(c->out, start, head);
        c->out += head;
        *c->out++ = '.';
        memcpy(c->out, frac, (size_t)(frac_end - frac));
        c->out += frac_end - frac;
        return REWRITTEN;
    }
    if (int_end - int_start > MAX_INT_DIGITS) { c->bad = 1; return NO_CELL; }
    if (*start == '-' && int_end - int_start == 1 && *int_start == '0') { c->bad = 1; return NO_CELL; }
    c->span = start;
    c->span_end = p;
    c->p = p;
    return AS_WRITTEN;
}

/* true, false or null as written: its bytes in c->span; `kind` returned, NO_CELL if it is not
   that word. */
static int word(cursor *c, const char *word, size_t n, int kind) {
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0) { c->bad = 1; return NO_CELL; }
    c->span = c->p;
    c->span_end = c->p + n;
    c->p += n;
    return kind;
}

/* The bytes c->span points at (a value kept as written), copied to c->out. */
static void emit_span(cursor *c) {
    memcpy(c->out, c->span, (size_t)(c->span_end - c->span));
    c->out += c->span_end - c->span;
}

/* A string inside a nested value, copied as written with its quotes: json.dumps writes the same
   bytes for the escapes it would itself use (\" \\ \b \f \n \r \t); any other escape (\/, \u) is
   respelled by Python, so the row is left to it. */
static void nested_string(cursor *c) {
    const uint8_t *p = c->p, *end = c->end;  /* at the opening quote */
    const uint8_t *start = p++;
    for (;;) {
        p = plain_run(p, end);
        if (p >= end || *p < 0x20) { c->bad = 1; return; }
        if (*p == '"') break;
        if (p + 1 >= end) { c->bad = 1; return; }
        uint8_t e = p[1];
        if (e != '"' && e != '\\' && e != 'b' && e != 'f' && e != 'n' && e != 'r' && e != 't') {
            c->bad = 1;
            return;
        }
        p += 2;
    }
    p++;
    memcpy(c->out, start, (size_t)(p - start));
    c->out += p - start;
    c->p = p;
}

static void nested(cursor *c, int depth);

/* One value written compact at `depth`: a string as written, true/false/null, a number, a list.
   As a member of a row's object (`top`) an object and a decimal are taken too; inside a nested
   value neither (an object inside would need its repeated keys checked at every level). */
static void compact(cursor *c, int top, int depth) {
    switch (*c->p) {
    case '"': nested_string(c); return;
    case '[': nested(c, depth + 1); return;
    case 't': if (word(c, "true", 4, AS_WRITTEN)) emit_span(c); return;
    case 'f': if (word(c, "false", 5, AS_WRITTEN)) emit_span(c); return;
    case 'n': if (word(c, "null", 4, AS_WRITTEN)) emit_span(c); return;
    case '{':
        if (top) nested(c, depth + 1);
        else c->bad = 1;
        return;
    default:
        if (*c->p != '-' && (*c->p < '0' || *c->p > '9')) c->bad = 1;
        else if (number(c, top) == AS_WRITTEN) emit_span(c);  /* REWRITTEN: already in out */
    }
}

/* A nested object or list, written compact (json.dumps with separators "," and ":"). Objects are
   taken only as the cell itself (an object inside would need its repeated keys checked at every
   level), and not with a repeated key (Python keeps the last). */
static void nested(cursor *c, int depth) {
    if (depth > MAX_DEPTH) { c->bad = 1; return; }
    uint8_t open = *c->p;
    *c->out++ = open;
    c->p++;
    skip_ws(c);
    uint8_t close = open == '{' ? '}' : ']';
    if (c->p < c->end && *c->p == close) { *c->out++ = close; c->p++; return; }
    const uint8_t *keys[MAX_NESTED_KEYS];
    size_t lens[MAX_NESTED_KEYS];
    int nkeys = 0;
    for (;;) {
        if (c->p >= c->end) { c->bad = 1; return; }
        if (open == '{') {
            if (*c->p != '"') { c->bad = 1; return; }
            const uint8_t *k = c->out;
            nested_string(c);
            if (c->bad) return;
            size_t n = (size_t)(c->out - k);
            if (nkeys == MAX_NESTED_KEYS) { c->bad = 1; return; }
            for (int i = 0; i < nkeys; i++)
                if (lens[i] == n && memcmp(keys[i], k, n) == 0) { c->bad = 1; return; }
            keys[nkeys] = k;
            lens[nkeys++] = n;
            skip_ws(c);
            if (c->p >= c->end || *c->p != ':') { c->bad = 1; return; }
            *c->out++ = ':';
            c->p++;
            skip_ws(c);
            if (c->p >= c->end) { c->bad = 1; return; }
        }
        compact(c, 0, depth);
        if (c->bad) return;
        if (!more(c, close)) {
            if (!c->bad) *c->out++ = close;
            return;
        }
        *c->out++ = ',';
    }
}

/* One top-level value: NO_CELL, REWRITTEN or AS_WRITTEN. */
static int value(cursor *c) {
    switch (*c->p) {
    case '"': c->p++; return string_cell(c);
    case '{': case '[': nested(c, 1); return REWRITTEN;
    case 't': return word(c, "true", 4, AS_WRITTEN);
    case 'f': return word(c, "false", 5, AS_WRITTEN);
    case 'n': return word(c, "null", 4, NO_CELL);
    default:
        if (*c->p == '-' || (*c->p >= '0' && *c->p <= '9')) return number(c, 1);
        c->bad = 1;
        return NO_CELL;
    }
}

/* A top-level key: its raw bytes, which are the key itself when it has no escape. */
static int key_span(cursor *c, const uint8_t **s, size_t *n) {
    const uint8_t *p = c->p + 1, *end = c->end;
    const uint8_t *start = p;
    p = plain_run(p, end);
    if (p >= end || *p != '"') { c->bad = 1; return 0; }  /* an escape or a control byte */
    *s = start;
    *n = (size_t)(p - start);
    c->p = p + 1;
    return 1;
}

/* A top-level member's key and colon: the key's raw bytes in *s, *n, c->p at the value; 0 with
   c->bad set for a key with an escape or anything not JSON. */
static int member_key(cursor *c, const uint8_t **s, size_t *n) {
    if (c->p >= c->end || *c->p != '"' || !key_span(c, s, n)) {
        c->bad = 1;
        return 0;
    }
    skip_ws(c);
    if (c->p >= c->end || *c->p != ':') {
        c->bad = 1;
        return 0;
    }
    c->p++;
    skip_ws(c);
    if (c->p >= c->end) c->bad = 1;
    return !c->bad;
}

/* At a row's start: past `{` and whitespace. 1 when members follow; 0 for `{}` (passed), and
   for a text that is not an object (c->bad set). */
static int open_object(cursor *c) {
    skip_ws(c);
    if (c->p >= c->end || *c->p != '{') {
        c->bad = 1;
        return 0;
    }
    c->p++;
    skip_ws(c);
    if (c->p < c->end && *c->p == '}') {
        c->p++;
        return 0;
    }
    return 1;
}

/* After a row's object: only whitespace may follow. */
static void end_row(cursor *c) {
    if (c->bad) return;
    skip_ws(c);
    if (c->p != c->end) c->bad = 1;
}

/* Parse one row; on success its cells are recorded, else the row is marked bad. */
static void row(cursor *c, const keytab *t, int64_t r, int64_t n, int32_t *seen, int32_t stamp,
                int32_t *cell_start, int32_t *cell_len, const uint8_t *scratch,
                const uint8_t *data) {
    if (open_object(c)) {
        for (;;) {
            const uint8_t *ks;
            size_t kn;
            if (!member_key(c, &ks, &kn)) return;
            int k = key_index(t, ks, kn);
            uint8_t *before = c->out;
            int kind = value(c);
            if (c->bad) return;
            if (k < 0) {
                c->out = before;  /* not asked for: checked, not kept */
            } else {
                if (seen[k] == stamp) { c->bad = 1; return; }  /* Python keeps the last */
                seen[k] = stamp;
                int64_t at = (int64_t)k * n + r;
                if (kind == REWRITTEN) {
                    cell_start[at] = (int32_t)(before - scratch);
                    cell_len[at] = (int32_t)(c->out - before);
                } else if (kind == AS_WRITTEN) {  /* in the text: a negative length says so */
                    cell_start[at] = (int32_t)(c->span - data);
                    cell_len[at] = -1 - (int32_t)(c->span_end - c->span);
                }
            }
            if (!more(c, '}')) break;
        }
    }
    end_row(c);
}

/* Parse n texts (an Arrow string column: offsets[n + 1] from `offsets`, `validity` a bitmap
   starting at bit `bit_offset`, or NULL). Keys: nkeys UTF-8 strings in key_offsets/key_data.
   Writes suspect[n] (1: left to Python), cell_start/cell_len[nkeys * n] (key-major; start -1:
   null; a length below 0, -1 - length, for a cell that is its own bytes in `data`), the cells' bytes into scratch (at least offsets[n] - offsets[0] bytes), and each key's
   byte total into key_bytes[nkeys]. `slots` and `seen` are work space: slots of a power of two
   (slot_mask + 1) at least twice nkeys, seen of nkeys. Returns the scratch bytes used. */
int64_t ees_cells_parse(int64_t n, const int32_t *offsets, const uint8_t *data,
                        const uint8_t *validity, int64_t bit_offset, int64_t nkeys,
                        const int32_t *key_offsets, const uint8_t *key_data, int32_t *slots,
                        int64_t slot_mask, int32_t *seen, uint8_t *suspect, int32_t *cell_start,
                        int32_t *cell_len, uint8_t *scratch, int64_t *key_bytes) {
    keytab t = key_table(nkeys, key_offsets, key_data, slots, slot_mask);
    for (int64_t k = 0; k < nkeys; k++) seen[k] = -1;
    for (int64_t i = 0; i < nkeys * n; i++) cell_start[i] = -1;
    uint8_t *out = scratch;
    for (int64_t r = 0; r < n; r++) {
        suspect[r] = 0;
        if (validity) {
            int64_t bit = bit_offset + r;
            if (!((validity[bit >> 3] >> (bit & 7)) & 1)) continue;
        }
        int32_t a = offsets[r], b = offsets[r + 1];
        if (a == b) continue;  /* empty text: no cells */
        cursor c = {data + a, data + b, out, 0, NULL, NULL};
        row(&c, &t, r, n, seen, (int32_t)r, cell_start, cell_len, scratch, data);
        if (c.bad) {
            suspect[r] = 1;
            for (int64_t k = 0; k < nkeys; k++) cell_start[k * n + r] = -1;
            continue;  /* its bytes are overwritten by the next row */
        }
        out = c.out;
    }
    for (int64_t k = 0; k < nkeys; k++) {
        int64_t total = 0;
        const int32_t *s = cell_start + k * n, *l = cell_len + k * n;
        for (int64_t r = 0; r < n; r++)
            if (s[r] >= 0) total += l[r] >= 0 ? l[r] : -1 - l[r];
        key_bytes[k] = total;
    }
    return (int64_t)(out - scratch);
}

/* Every key's cells as Arrow string columns, in one pass over the rows (the texts are read in
   order once, not once a key): key k's offsets at out_offsets[k * (n + 1)], its bytes at
   out_data + key_base[k] (key_bytes[k] of them, from ees_cells_parse), its validity bitmap at
   out_valid[k * ((n + 7) / 8)], its null count in nulls[k]. `data` is ees_cells_parse's. */
void ees_cells_gather(int64_t n, int64_t nkeys, const int32_t *cell_start,
                      const int32_t *cell_len, const uint8_t *scratch, const uint8_t *data,
                      const int64_t *key_base, int32_t *out_offsets, uint8_t *out_data,
                      uint8_t *out_valid, int64_t *nulls) {
    int64_t bitmap = (n + 7) / 8;
    memset(out_valid, 0, (size_t)(bitmap * nkeys));
    for (int64_t k = 0; k < nkeys; k++) {
        nulls[k] = 0;
        out_offsets[k * (n + 1)] = 0;
    }
    for (int64_t r = 0; r < n; r++) {
        for (int64_t k = 0; k < nkeys; k++) {
            int32_t *offsets = out_offsets + k * (n + 1);
            int32_t at = offsets[r];
            int32_t s = cell_start[k * n + r];
            if (s < 0) {
                nulls[k]++;
                offsets[r + 1] = at;
                continue;
            }
            int32_t l = cell_len[k * n + r];
            int32_t len = l >= 0 ? l : -1 - l;
            memcpy(out_data + key_base[k] + at, (l >= 0 ? scratch : data) + s, (size_t)len);
            offsets[r + 1] = at + len;
            out_valid[k * bitmap + (r >> 3)] |= (uint8_t)(1u << (r & 7));
        }
    }
}

/* ---- Keys: each row's top-level keys and member count, for extract ---- */

/* Past one JSON value of any kind, checking it is JSON Python reads as DuckDB does (nothing is
   written): strict JSON, no exponent of three or more digits and no run of 309 digits (the
   number may overflow a double), nesting at most MAX_DEPTH deep. */
static void skip_value(cursor *c, int depth) {
    if (c->p >= c->end) { c->bad = 1; return; }
    uint8_t b = *c->p;
    if (b == '"') {
        const uint8_t *p = c->p + 1, *end = c->end;
        for (;;) {
            p = plain_run(p, end);
            if (p >= end || *p < 0x20) { c->bad = 1; return; }
            if (*p == '"') { c->p = p + 1; return; }
            if (p + 1 >= end) { c->bad = 1; return; }
            uint8_t e = p[1];
            if (e == 'u') {
                if (end - p < 6 || hex4(p + 2) < 0) { c->bad = 1; return; }
                p += 6;
            } else if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' ||
                       e == 'r' || e == 't') {
                p += 2;
            } else {
                c->bad = 1;
                return;
            }
        }
    }
    if (b == '{' || b == '[') {
        if (depth >= MAX_DEPTH) { c->bad = 1; return; }
        uint8_t close = b == '{' ? '}' : ']';
        c->p++;
        skip_ws(c);
        if (c->p < c->end && *c->p == close) { c->p++; return; }
        for (;;) {
            if (b == '{') {
                if (c->p >= c->end || *c->p != '"') { c->bad = 1; return; }
                skip_value(c, depth + 1);
                if (c->bad) return;
                skip_ws(c);
                if (c->p >= c->end || *c->p != ':') { c->bad = 1; return; }
                c->p++;
                skip_ws(c);
            }
            skip_value(c, depth + 1);
            if (c->bad || !more(c, close)) return;
        }
    }
    if (b == 't') { word(c, "true", 4, 0); return; }
    if (b == 'f') { word(c, "false", 5, 0); return; }
    if (b == 'n') { word(c, "null", 4, 0); return; }
    const uint8_t *p = c->p, *end = c->end;
    if (*p == '-') p++;
    const uint8_t *digits = p;
    if (p >= end || *p < '0' || *p > '9') { c->bad = 1; return; }
    if (*p == '0') p++;
    else while (p < end && *p >= '0' && *p <= '9') p++;
    int64_t run = p - digits;
    if (p < end && *p == '.') {
        const uint8_t *frac = ++p;
        while (p < end && *p >= '0' && *p <= '9') p++;
        if (p == frac) { c->bad = 1; return; }
        run += p - frac;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        const uint8_t *exp = p;
        while (p < end && *p >= '0' && *p <= '9') p++;
        if (p == exp || p - exp >= 3) { c->bad = 1; return; }
    }
    if (run >= 309) { c->bad = 1; return; }
    c->p = p;
}

typedef struct {
    int32_t *group, *start, *len;  /* the found (group, key) pairs; len -1: empty slot */
    int32_t *kinds;                /* each pair's value kinds (KIND_ bits), or NULL */
    uint32_t mask;
    int64_t used;
    const uint8_t *data;
} pairs;

/* A value's kind as payload.value_kind names it (a null value has none). */
enum { KIND_BOOL = 1, KIND_INT = 2, KIND_FLOAT = 4, KIND_STR = 8, KIND_OTHER = 16 };

/* Adds (group, key) unless present, with `kind` among its kinds; 0 when the table is too full
   to add (the caller grows it). */
static int add_pair(pairs *t, int32_t group, const uint8_t *s, size_t n, int32_t kind) {
    uint32_t i = (hash_bytes(s, n) ^ ((uint32_t)group * 0x9E3779B1u)) & t->mask;
    for (;;) {
        if (t->len[i] < 0) break;
        if (t->group[i] == group && (size_t)t->len[i] == n &&
            same_bytes(t->data + t->start[i], s, n)) {
            if (t->kinds) t->kinds[i] |= kind;
            return 1;
        }
        i = (i + 1) & t->mask;
    }
    if ((uint64_t)(t->used + 1) * 2 > (uint64_t)t->mask + 1) return 0;
    t->group[i] = group;
    t->start[i] = (int32_t)(s - t->data);
    t->len[i] = (int32_t)n;
    if (t->kinds) t->kinds[i] = kind;
    t->used++;
    return 1;
}

/* The kind of the value that starts at v and ends at end (skip_value passed it); -1 for an
   integer of more than MAX_INT_DIGITS digits, whose kind depends on its size (Python decides). */
static int32_t value_kind(const uint8_t *v, const uint8_t *end) {
    switch (*v) {
    case '"': return KIND_STR;
    case '{': case '[': return KIND_OTHER;
    case 't': case 'f': return KIND_BOOL;
    case 'n': return 0;
    default: {
        const uint8_t *p = v + (*v == '-');
        for (const uint8_t *q = p; q < end; q++)
            if (*q == '.' || *q == 'e' || *q == 'E') return KIND_FLOAT;
        return end - p > MAX_INT_DIGITS ? -1 : KIND_INT;
    }
    }
}

/* Each row's top-level keys, as distinct (group, key) pairs in a table of slot_mask + 1 slots
   (pair_group/pair_start/pair_len; pair_start an offset into `data`, pair_len -1 for an empty
   slot), and its member count (members[r], a repeated key counted each time; -1 for a null or
   empty text and for a suspect row). A row is suspect (left to Python, its keys not added) when
   skip_value would not pass it as an object, a key has an escape, or it has more than
   MAX_ROW_KEYS members. `groups`: each row's group, or NULL for 0. With `pair_kinds`, each
   pair's value kinds too (KIND_ bits), and an integer past MAX_INT_DIGITS digits sets its row
   aside. Returns the rows read: n, or fewer when the table filled (call again with a larger one
   from that row on: the table keeps what it holds). */
int64_t ees_keys_parse(int64_t n, const int32_t *offsets, const uint8_t *data,
                       const uint8_t *validity, int64_t bit_offset, const int32_t *groups,
                       int64_t first, uint8_t *suspect, int32_t *members, int32_t *pair_group,
                       int32_t *pair_start, int32_t *pair_len, int32_t *pair_kinds,
                       int64_t slot_mask, int64_t used) {
    pairs t = {pair_group, pair_start, pair_len, pair_kinds, (uint32_t)slot_mask, used, data};
    for (int64_t r = first; r < n; r++) {
        suspect[r] = 0;
        members[r] = -1;
        if (validity) {
            int64_t bit = bit_offset + r;
            if (!((validity[bit >> 3] >> (bit & 7)) & 1)) continue;
        }
        int32_t a = offsets[r], b = offsets[r + 1];
        if (a == b) continue;
        cursor c = {data + a, data + b, NULL, 0, NULL, NULL};
        const uint8_t *ks[MAX_ROW_KEYS];  /* added once the row is read whole */
        size_t kn[MAX_ROW_KEYS];
        int32_t kd[MAX_ROW_KEYS];
        int32_t group = groups ? groups[r] : 0;
        int32_t count = 0;
        if (open_object(&c)) {
            for (;;) {
                if (count == MAX_ROW_KEYS) { c.bad = 1; break; }
                if (!member_key(&c, &ks[count], &kn[count])) break;
                const uint8_t *v = c.p;
                skip_value(&c, 1);
                if (c.bad) break;
                kd[count] = pair_kinds ? value_kind(v, c.p) : 0;
                if (kd[count] < 0) { c.bad = 1; break; }
                count++;
                if (!more(&c, '}')) break;
            }
        }
        end_row(&c);
        if (c.bad) {
            suspect[r] = 1;
            continue;
        }
        for (int32_t i = 0; i < count; i++)
            if (!add_pair(&t, group, ks[i], kn[i], kd[i])) return r;  /* full: again, larger */
        members[r] = count;
    }
    return n;
}

/* The pairs of one table placed in another, larger one (new_len all -1 before). */
void ees_pairs_rehash(const int32_t *old_group, const int32_t *old_start, const int32_t *old_len,
                      const int32_t *old_kinds, int64_t old_mask, const uint8_t *data,
                      int32_t *new_group, int32_t *new_start, int32_t *new_len,
                      int32_t *new_kinds, int64_t new_mask) {
    pairs t = {new_group, new_start, new_len, new_kinds, (uint32_t)new_mask, 0, data};
    for (int64_t i = 0; i <= old_mask; i++)
        if (old_len[i] >= 0)
            add_pair(&t, old_group[i], data + old_start[i], (size_t)old_len[i],
                     old_kinds ? old_kinds[i] : 0);
}

/* ---- Objects: each row's payload as one compact JSON object, for gcp_export's JSON lines ---- */

/* Whether the bytes hold a Unicode line break JSON allows raw (U+0085, U+2028, U+2029), which
   the JSON lines writer escapes (formats/text.py, json_text): such a row is left to Python. */
static int has_line_break(const uint8_t *p, const uint8_t *end) {
    for (; p + 1 < end; p++) {
        if (p[0] == 0xC2 && p[1] == 0x85) return 1;
        if (p[0] == 0xE2 && p + 2 < end && p[1] == 0x80 && (p[2] == 0xA8 || p[2] == 0xA9)) return 1;
    }
    return 0;
}

/* The text written since `start` made a JSON string's content: each quote and backslash gets a
   backslash (json.dumps of the text; nested() writes no control byte and no raw line break). The
   caller leaves room for the text twice over. */
static void escape_since(cursor *c, uint8_t *start) {
    size_t extra = 0;
    for (const uint8_t *q = start; q < c->out; q++) extra += (*q == '"' || *q == '\\');
    if (extra == 0) return;
    uint8_t *from = c->out, *to = c->out + extra;
    c->out = to;
    while (from > start) {
        uint8_t b = *--from;
        *--to = b;
        if (b == '"' || b == '\\') *--to = '\\';
    }
}

/* A member's value as payload.as_text spells it, written as a JSON string: a string as written,
   null as null, true, false and numbers quoted, a nested value's compact JSON as a string. */
static void string_value(cursor *c) {
    switch (*c->p) {
    case '"': nested_string(c); return;
    case 'n': if (word(c, "null", 4, AS_WRITTEN)) emit_span(c); return;
    default: {
        *c->out++ = '"';
        uint8_t *start = c->out;
        compact(c, 1, 0);
        if (c->bad) return;
        if (*start == '{' || *start == '[') escape_since(c, start);
        *c->out++ = '"';
    }
    }
}

/* One row's object written compact into c->out, as json.dumps(parse(text), ensure_ascii=False,
   separators=(",", ":")) writes it: members in order, strings as written (the escapes json.dumps
   writes the same way only), numbers as the cells spell them, nested values as nested() writes
   them; with `strings`, each value as string_value() writes it (gcp_export's values as strings);
   with `keep`, only the members whose key it holds (a locked schema's keys).
   A repeated key (Python keeps the last, at the first's place) sets the row aside. */
static void object(cursor *c, int strings, const keytab *keep) {
    int members = open_object(c);
    if (c->bad) return;
    *c->out++ = '{';
    int written = 0;
    if (members) {
        const uint8_t *ks[MAX_ROW_KEYS];
        size_t kn[MAX_ROW_KEYS];
        int count = 0;
        for (;;) {
            if (count == MAX_ROW_KEYS || !member_key(c, &ks[count], &kn[count])) {
                c->bad = 1;
                return;
            }
            for (int i = 0; i < count; i++)
                if (kn[i] == kn[count] && same_bytes(ks[i], ks[count], kn[i])) { c->bad = 1; return; }
            uint8_t *member = c->out;
            if (written) *c->out++ = ',';
            *c->out++ = '"';
            memcpy(c->out, ks[count], kn[count]);
            c->out += kn[count];
            *c->out++ = '"';
            *c->out++ = ':';
            if (strings) string_value(c);
            else compact(c, 1, 0);
            if (c->bad) return;
            if (keep && key_index(keep, ks[count], kn[count]) < 0) c->out = member;  /* dropped */
            else written++;
            count++;
            if (!more(c, '}')) break;
        }
        if (c->bad) return;
    }
    *c->out++ = '}';
    end_row(c);
}

/* Each row's object (a null or empty text: `{}`) as an Arrow string column: out_offsets[n + 1]
   and out_data, which has room for the texts' bytes plus 2 a row (with `strings`: three times
   the texts' bytes plus 2 a row); suspect[n] marks the rows left to Python (written empty).
   With nkeys >= 0, only the members of those keys are written (key_offsets, key_data and slots
   as for ees_cells_parse). Returns the bytes written. */
int64_t ees_objects_parse(int64_t n, const int32_t *offsets, const uint8_t *data,
                          const uint8_t *validity, int64_t bit_offset, uint8_t *suspect,
                          int32_t *out_offsets, uint8_t *out_data, int64_t strings,
                          int64_t nkeys, const int32_t *key_offsets, const uint8_t *key_data,
                          int32_t *slots, int64_t slot_mask) {
    keytab table;
    const keytab *keep = NULL;
    if (nkeys >= 0) {
        table = key_table(nkeys, key_offsets, key_data, slots, slot_mask);
        keep = &table;
    }
    uint8_t *out = out_data;
    out_offsets[0] = 0;
    for (int64_t r = 0; r < n; r++) {
        suspect[r] = 0;
        int valid = 1;
        if (validity) {
            int64_t bit = bit_offset + r;
            valid = (validity[bit >> 3] >> (bit & 7)) & 1;
        }
        int32_t a = offsets[r], b = offsets[r + 1];
        if (!valid || a == b) {
            *out++ = '{';
            *out++ = '}';
        } else {
            cursor c = {data + a, data + b, out, 0, NULL, NULL};
            object(&c, (int)strings, keep);
            if (c.bad || has_line_break(data + a, data + b)) suspect[r] = 1;
            else out = c.out;
        }
        out_offsets[r + 1] = (int32_t)(out - out_data);
    }
    return (int64_t)(out - out_data);
}
