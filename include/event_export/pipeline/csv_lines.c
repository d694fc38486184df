/* CSV records from Arrow string columns, in C (see csv_lines.py for why).

   ees_csv_lines writes records of `columns` fields each: fields separated by commas, each
   record ended by a line feed. A field is quoted, its quotes doubled, when it holds a comma, a
   quote, a CR or a LF, starts or ends with a space or a tab, or is the empty string; a null is
   an empty field. That is formats/text.py's csv_field rule, byte for byte.

   Rows go a block at a time: first each field's size, column by column (each column's buffers
   read in order: row by row, a field's first byte was a cache miss, one stream per column
   buffer being more than the CPU's prefetchers follow), then the block's records, row by row,
   from the caches. A short field is tested and copied as the 16 bytes around it where those lie
   inside its column's buffer, the bytes outside it masked off or written over by what follows.

   No allocation, no Python: the caller hands in the output buffer, reused from call to call,
   and the scratch (ees_csv_scratch), so ctypes can call it with the GIL released. Built into
   the same library as payload_cells.c. */

#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define BLOCK_ROWS 256
#define SLACK 16 /* bytes past a record's end a copy may write (the next record overwrites) */

#ifdef __SSE2__
/* A bit per byte of the 16 at p: a comma, quote, CR or LF. */
static unsigned special_bits(const uint8_t *p) {
    __m128i v = _mm_loadu_si128((const __m128i *)p);
    __m128i hit = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(',')),
                               _mm_cmpeq_epi8(v, _mm_set1_epi8('"')));
    hit = _mm_or_si128(hit, _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('\r')),
                                         _mm_cmpeq_epi8(v, _mm_set1_epi8('\n'))));
    return (unsigned)_mm_movemask_epi8(hit);
}
#endif

/* Whether the field [from, from + n) of the buffer `base`, `end` bytes long, holds a comma,
   quote, CR or LF. */
static int has_special(const uint8_t *base, int64_t from, int64_t n, int64_t end) {
    const uint8_t *s = base + from;
#ifdef __SSE2__
    if (n >= 16) {
        for (int64_t i = 0; i + 16 < n; i += 16)
            if (special_bits(s + i)) return 1;
        return special_bits(s + n - 16) != 0; /* the last 16, overlapping the step before */
    }
    if (from + n >= 16) /* the 16 bytes ending with the field's */
        return (special_bits(s + n - 16) >> (16 - n)) != 0;
    if (from + 16 <= end) /* the 16 starting with the field's */
        return (special_bits(s) & ((1u << n) - 1)) != 0;
#else
    (void)end;
#endif
    for (int64_t i = 0; i < n; i++)
        if (s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n') return 1;
    return 0;
}

static int is_blank(uint8_t c) { return c == ' ' || c == '\t'; }

/* The bytes a field takes: n as it is, more when it needs quotes (always more than n).
   `plain`: no comma, quote, CR or LF in any field of its block (one test of them all). */
static int64_t field_size(const uint8_t *base, int64_t from, int64_t n, int64_t end, int plain) {
    const uint8_t *s = base + from;
    if (n > 0 && !is_blank(s[0]) && !is_blank(s[n - 1]) &&
        (plain || !has_special(base, from, n, end)))
        return n;
    int64_t quotes = 0;
    for (const uint8_t *q = s, *stop = s + n; (q = memchr(q, '"', (size_t)(stop - q))) != NULL;)
        quotes++, q++;
    return n + 2 + quotes;
}

/* The field as it is; `out` has SLACK bytes to spare past it. */
static void copy(uint8_t *out, const uint8_t *base, int64_t from, int64_t n, int64_t end) {
#ifdef __SSE2__
    if (n <= 16 && from + 16 <= end) {
        _mm_storeu_si128((__m128i *)out, _mm_loadu_si128((const __m128i *)(base + from)));
        return;
    }
#else
    (void)end;
#endif
    memcpy(out, base + from, (size_t)n);
}

/* The field quoted, its quotes doubled. */
static void quoted(uint8_t *out, const uint8_t *s, int64_t n) {
    *out++ = '"';
    const uint8_t *end = s + n;
    while (s < end) {
        const uint8_t *q = memchr(s, '"', (size_t)(end - s));
        if (q == NULL) {
            memcpy(out, s, (size_t)(end - s));
            out += end - s;
            break;
        }
        memcpy(out, s, (size_t)(q + 1 - s)); /* up to and with the quote, then one more */
        out += q + 1 - s;
        *out++ = '"';
        s = q + 1;
    }
    *out = '"';
}

static int is_null(const uint8_t *validity, int64_t bit) {
    return validity != NULL && !(validity[bit >> 3] >> (bit & 7) & 1);
}

/* The int64 scratch ees_csv_lines needs for `columns` columns. */
int64_t ees_csv_scratch(int64_t columns) { return columns * BLOCK_ROWS; }

/* Writes rows from `first` on into out[0, room), a whole block of rows at a time, as many
   blocks as fit; *next is the first row not written. Returns the bytes written, or, when not
   even the first block fits, minus the room it needs (nothing written).

   offsets[c]: column c's int32 offsets, from its row 0; data[c]: its data buffer; validity[c]:
   its validity bitmap, or NULL when it has no nulls, with bits[c] the bit of its row 0;
   scratch: ees_csv_scratch(columns) int64s; ends, unless NULL: each row's end in `out`, at
   ends[row]. */
int64_t ees_csv_lines(int64_t columns, int64_t rows, const int32_t *const *offsets,
                      const uint8_t *const *data, const uint8_t *const *validity,
                      const int64_t *bits, int64_t first, uint8_t *out, int64_t room,
                      int64_t *scratch, int64_t *next, int64_t *ends) {
    int64_t written = 0;
    for (; first < rows; first += BLOCK_ROWS) {
        int64_t block = rows - first < BLOCK_ROWS ? rows - first : BLOCK_ROWS;
        int64_t need = columns * block; /* a comma or LF per field */
        for (int64_t c = 0; c < columns; c++) { /* each field's size, 0 for a null */
            int64_t *size = scratch + c * BLOCK_ROWS;
            const int32_t *offset = offsets[c] + first;
            int64_t end = offsets[c][rows];
            int plain = !has_special(data[c], offset[0], offset[block] - offset[0], end);
            for (int64_t r = 0; r < block; r++) {
                size[r] = is_null(validity[c], bits[c] + first + r)
                              ? 0
                              : field_size(data[c], offset[r], offset[r + 1] - offset[r], end,
                                           plain);
                need += size[r];
            }
        }
        if (written + need + SLACK > room) {
            *next = first;
            return written > 0 ? written : -(need + SLACK);
        }
        uint8_t *at = out + written;
        for (int64_t r = 0; r < block; r++) {
            for (int64_t c = 0; c < columns; c++) {
                int64_t size = scratch[c * BLOCK_ROWS + r];
                int64_t from = offsets[c][first + r], n = offsets[c][first + r + 1] - from;
                if (size == n && n > 0)
                    copy(at, data[c], from, n, offsets[c][rows]);
                else if (size > 0)
                    quoted(at, data[c] + from, n);
                at += size;
                *at++ = ',';
            }
            at[-1] = '\n';
            if (ends != NULL) ends[first + r] = at - out;
        }
        written = at - out;
    }
    *next = rows;
    return written;
}
