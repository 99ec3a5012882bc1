/* rtcscope.sip._sipscan: the header-block scan of SipMessage's common shape, in C.
 *
 * The specification is the pure-Python road in rtcscope/sip/message.py
 * (_plain_fields_py: _plain_block then _shape_of); plain_fields() here returns exactly what
 * it returns, or False where it leaves the decision to that road (a header name with a byte
 * of 0x80 or above: Unicode case mapping and whitespace would have to be replicated).
 * It reads only the bytes object it is given, within its length; every string it returns is
 * decoded as the Python road decodes it (UTF-8, surrogateescape), line by line: a line end
 * (CR, LF) is never part of a multi-byte sequence, so each line decodes to the same text as
 * the same line cut from the whole block decoded.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <stdint.h>
#include <string.h>

/* The keys of message.py's _FIRST_KEYS in order, then "via". */
enum { K_CALL_ID, K_CSEQ, K_FROM, K_TO, K_TYPE, K_LENGTH, K_VIA, K_OTHER, K_EMPTY };

/* str.strip()'s whitespace among ASCII characters. */
static const unsigned char PY_SPACE[256] = {
    [9] = 1, [10] = 1, [11] = 1, [12] = 1, [13] = 1, [28] = 1, [29] = 1, [30] = 1, [31] = 1,
    [' '] = 1,
};

static int is_py_space(unsigned char c)
{
    return PY_SPACE[c];
}

/* Whether s[:n] is ``word`` (n characters, lower case) in any case. */
static int same_lower(const unsigned char *s, Py_ssize_t n, const char *word)
{
    Py_ssize_t i;
    for (i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c + ('a' - 'A'));
        if (c != (unsigned char)word[i])
            return 0;
    }
    return 1;
}

/* headers.header_key for an ASCII name (not starting with space or tab), reduced to which of
 * the keys above it is: K_EMPTY when it strips to nothing. */
static int key_of(const unsigned char *s, Py_ssize_t n)
{
    while (n > 0 && is_py_space(s[0])) {
        s++;
        n--;
    }
    while (n > 0 && is_py_space(s[n - 1]))
        n--;
    if (n == 0)
        return K_EMPTY;
    if (n == 1) { /* RFC 3261 7.3.3 compact forms */
        switch (s[0] | 0x20) {
        case 'i': return K_CALL_ID;
        case 'f': return K_FROM;
        case 't': return K_TO;
        case 'c': return K_TYPE;
        case 'l': return K_LENGTH;
        case 'v': return K_VIA;
        default: return K_OTHER;
        }
    }
    switch (n) { /* by length first: most names are none of these */
    case 2: return same_lower(s, n, "to") ? K_TO : K_OTHER;
    case 3: return same_lower(s, n, "via") ? K_VIA : K_OTHER;
    case 4:
        if (same_lower(s, n, "from")) return K_FROM;
        return same_lower(s, n, "cseq") ? K_CSEQ : K_OTHER;
    case 7: return same_lower(s, n, "call-id") ? K_CALL_ID : K_OTHER;
    case 12: return same_lower(s, n, "content-type") ? K_TYPE : K_OTHER;
    case 14: return same_lower(s, n, "content-length") ? K_LENGTH : K_OTHER;
    default: break;
    }
    return K_OTHER;
}

/* Whether s[:n] holds a byte >= 0x80 (eight bytes at a time). */
static int has_high_byte(const unsigned char *s, Py_ssize_t n)
{
    uint64_t word, high = 0;
    Py_ssize_t i = 0;
    for (; i + 8 <= n; i += 8) {
        memcpy(&word, s + i, 8);
        high |= word;
    }
    for (; i < n; i++)
        high |= s[i];
    return (high & 0x8080808080808080u) != 0;
}

static PyObject *decode(const unsigned char *s, Py_ssize_t n)
{
    PyObject *text;
    if (has_high_byte(s, n))
        return PyUnicode_DecodeUTF8((const char *)s, n, "surrogateescape");
    /* ASCII: what the decoder gives, made directly */
    text = PyUnicode_New(n, 127);
    if (text != NULL)
        memcpy(PyUnicode_DATA(text), s, (size_t)n);
    return text;
}

#define MAX_VIAS 64

/* Where the parse step's lines are in a header block of the common shape. */
typedef struct {
    Py_ssize_t end, start_end;          /* the blank line's start; the start line's end */
    Py_ssize_t first[K_VIA], first_end[K_VIA]; /* each key's first line (-1: none) */
    int vias;
    Py_ssize_t via_start[MAX_VIAS], via_end[MAX_VIAS];
} Block;

/* 1: the common shape (``block`` filled); 0: not (the general road); -1: the Python road
 * decides (a header name with a byte >= 0x80, more Via lines than kept here).
 *
 * The block ends at the first CRLFCRLF at or after pos. Read line by line (each ends at a LF,
 * which must follow a CR: a LF alone is not the common shape), that is where the first empty
 * line after the start line begins, less 2: every LF ends a line, so the first CRLFCRLF ends
 * a line with its CRLF and makes the next one empty, and an empty line after the start line
 * follows a CRLF. */
static int scan_block(const unsigned char *s, Py_ssize_t n, Py_ssize_t pos, Block *block)
{
    Py_ssize_t line = pos, line_end, next;
    int non_ascii = 0, k, start = 1;

    block->vias = 0;
    for (k = 0; k < K_VIA; k++)
        block->first[k] = block->first_end[k] = -1;
    for (;;) {
        Py_ssize_t colon;
        const unsigned char *found = memchr(s + line, '\n', (size_t)(n - line));
        if (found == NULL)
            return 0; /* no blank line */
        next = found - s + 1;
        line_end = next - 2;
        if (line_end < line || s[line_end] != '\r')
            return 0; /* a LF without a CR before it */
        if (start) { /* the start line */
            block->start_end = line_end;
            start = 0;
            line = next;
            continue;
        }
        if (line_end == line) { /* the blank line: the block ends at the CRLF before it */
            block->end = line - 2;
            return non_ascii ? -1 : 1;
        }
        found = memchr(s + line, ':', (size_t)(line_end - line));
        if (found == NULL)
            return 0; /* no colon */
        colon = found - s;
        if (colon == line || s[line] == ' ' || s[line] == '\t')
            return 0; /* no name, or a folded line (RFC 3261 7.3.1) */
        if (has_high_byte(s + line, colon - line)) {
            non_ascii = 1;
        } else {
            k = key_of(s + line, colon - line);
            if (k == K_EMPTY)
                return 0;
            if (k == K_VIA) {
                if (block->vias == MAX_VIAS) {
                    non_ascii = 1;
                } else {
                    block->via_start[block->vias] = line;
                    block->via_end[block->vias] = line_end;
                    block->vias++;
                }
            } else if (k < K_VIA && block->first[k] < 0) {
                block->first[k] = line;
                block->first_end[k] = line_end;
            }
        }
        line = next;
    }
}

/* The size of the Via lines' bytes joined by CRLF (message.py's key of them), written to
 * ``to`` unless it is NULL. */
static Py_ssize_t joined_vias(const unsigned char *s, const Block *block, unsigned char *to)
{
    Py_ssize_t at = 0;
    int i;
    for (i = 0; i < block->vias; i++) {
        Py_ssize_t size = block->via_end[i] - block->via_start[i];
        if (i) {
            if (to != NULL) {
                to[at] = '\r';
                to[at + 1] = '\n';
            }
            at += 2;
        }
        if (to != NULL)
            memcpy(to + at, s + block->via_start[i], (size_t)size);
        at += size;
    }
    return at;
}

/* The Via lines joined by CRLF, as message.py keys them (None without one). */
static PyObject *via_key(const unsigned char *s, const Block *block)
{
    Py_ssize_t size;
    unsigned char *buffer;
    PyObject *item;
    if (block->vias == 0)
        Py_RETURN_NONE;
    if (block->vias == 1)
        return decode(s + block->via_start[0], block->via_end[0] - block->via_start[0]);
    size = joined_vias(s, block, NULL);
    buffer = PyMem_Malloc((size_t)size);
    if (buffer == NULL)
        return PyErr_NoMemory();
    joined_vias(s, block, buffer);
    item = decode(buffer, size);
    PyMem_Free(buffer);
    return item;
}

/* The tuple's order after (end, start line): Content-Type, Content-Length, Call-ID, CSeq,
 * From, To lines, then the Via key. */
static const int ORDER[6] = {K_TYPE, K_LENGTH, K_CALL_ID, K_CSEQ, K_FROM, K_TO};

/* message._plain_fields_py's tuple for a scanned block. */
static PyObject *fields_of(const unsigned char *s, Py_ssize_t pos, const Block *block)
{
    PyObject *out = PyTuple_New(9), *item;
    int i, k;
    if (out == NULL)
        return NULL;
    item = PyLong_FromSsize_t(block->end);
    if (item == NULL)
        goto fail;
    PyTuple_SET_ITEM(out, 0, item);
    item = decode(s + pos, block->start_end - pos);
    if (item == NULL)
        goto fail;
    PyTuple_SET_ITEM(out, 1, item);
    for (i = 0; i < 6; i++) {
        k = ORDER[i];
        if (block->first[k] < 0) {
            item = Py_None;
            Py_INCREF(item);
        } else {
            item = decode(s + block->first[k], block->first_end[k] - block->first[k]);
            if (item == NULL)
                goto fail;
        }
        PyTuple_SET_ITEM(out, 2 + i, item);
    }
    item = via_key(s, block);
    if (item == NULL)
        goto fail;
    PyTuple_SET_ITEM(out, 8, item);
    return out;
fail:
    Py_DECREF(out);
    return NULL;
}

/* (bytes, position) arguments; 0 with an exception set when they are not. */
static int raw_and_pos(PyObject *const *args, const unsigned char **s, Py_ssize_t *n,
                       Py_ssize_t *pos)
{
    if (!PyBytes_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "raw must be bytes");
        return 0;
    }
    *pos = PyLong_AsSsize_t(args[1]);
    if (*pos == -1 && PyErr_Occurred())
        return 0;
    *s = (const unsigned char *)PyBytes_AS_STRING(args[0]);
    *n = PyBytes_GET_SIZE(args[0]);
    return 1;
}

static PyObject *plain_fields(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    const unsigned char *s;
    Py_ssize_t n, pos;
    Block block;
    int found;

    (void)module;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "plain_fields(raw: bytes, pos: int)");
        return NULL;
    }
    if (!raw_and_pos(args, &s, &n, &pos))
        return NULL;
    if (pos < 0)
        Py_RETURN_FALSE; /* bytes.find reads a negative start from the end: not ours */
    if (pos > n)
        Py_RETURN_NONE; /* bytes.find finds nothing there */
    found = scan_block(s, n, pos, &block);
    if (found == 0)
        Py_RETURN_NONE;
    if (found < 0)
        Py_RETURN_FALSE;
    return fields_of(s, pos, &block);
}

/* -- fill: the parse step's values taken from message.py's caches -------------------------
 *
 * message.py gives its caches once (setup); fill() scans the block as plain_fields() does,
 * then, for each value whose line the caches already hold, stores on the message what
 * SipMessage._parse_start_line / _parse_known store for that line (the cached objects
 * themselves) and puts None in the returned tuple in that line's place; what is not there
 * (a line not seen before, a value with a fault) stays in the tuple for the Python code,
 * which reads it as it reads every line on its own road. No value found here adds a problem,
 * so the problems come out in the same order. */
enum {
    C_TYPE, C_LENGTH, C_CALL_ID, C_CSEQ, C_TAGS, C_TOPS, C_STATUS, C_SHARED, C_CSEQ_CLASS,
    C_MESSAGE_CLASS, C_COUNT
};
static PyObject *caches[C_COUNT];
static Py_ssize_t cache_limit = -1; /* message.py's CACHE_LIMIT (setup_build) */

enum {
    A_TYPE, A_LENGTH, A_CALL_ID, A_CSEQ, A_FROM, A_FROM_TAG, A_TO, A_TO_TAG, A_VIAS, A_SENT_BY,
    A_BRANCH, A_IS_RESPONSE, A_VERSION, A_STATUS, A_REASON, A_METHOD, A_URI, A_URI_PROBLEM,
    A_COUNT
};
static const char *const ATTRIBUTE_NAMES[A_COUNT] = {
    "_content_type_value", "content_length", "call_id", "cseq", "_from", "from_tag", "_to",
    "to_tag", "_vias", "sent_by", "branch", "is_response", "sip_version", "status_code",
    "reason", "request_method", "request_uri_text", "_uri_problem_at",
};
static PyObject *names[A_COUNT];
static PyObject *zero; /* _uri_problem_at of a request read here */
/* SipMessage's slots (its member descriptors' definitions): stored as the descriptor's
 * __set__ stores, for a message of exactly that class. */
static PyMemberDef *members[A_COUNT];
static PyObject *descriptors[A_COUNT];

static void tables_reset(void);

static PyObject *setup(PyObject *module, PyObject *given)
{
    int i;
    (void)module;
    if (!PyTuple_CheckExact(given) || PyTuple_GET_SIZE(given) != C_COUNT) {
        PyErr_Format(PyExc_TypeError, "setup() takes a tuple of %d caches", C_COUNT);
        return NULL;
    }
    for (i = 0; i < C_COUNT; i++) {
        PyObject *item = PyTuple_GET_ITEM(given, i);
        if (i < C_CSEQ_CLASS ? !PyDict_CheckExact(item) : !PyType_Check(item)) {
            PyErr_SetString(PyExc_TypeError, "setup(): the caches are dicts, then two classes");
            return NULL;
        }
    }
    if (zero == NULL) {
        zero = PyLong_FromLong(0);
        if (zero == NULL)
            return NULL;
    }
    for (i = 0; i < A_COUNT; i++) {
        if (names[i] == NULL) {
            names[i] = PyUnicode_InternFromString(ATTRIBUTE_NAMES[i]);
            if (names[i] == NULL)
                return NULL;
        }
    }
    for (i = 0; i < A_COUNT; i++) {
        PyObject *descriptor =
            PyObject_GetAttr(PyTuple_GET_ITEM(given, C_MESSAGE_CLASS), names[i]);
        if (descriptor == NULL)
            return NULL;
        if (!Py_IS_TYPE(descriptor, &PyMemberDescr_Type) ||
            ((PyMemberDescrObject *)descriptor)->d_member->type != T_OBJECT_EX ||
            (((PyMemberDescrObject *)descriptor)->d_member->flags & READONLY)) {
            Py_DECREF(descriptor);
            PyErr_Format(PyExc_TypeError, "setup(): %R is not a writable slot", names[i]);
            return NULL;
        }
        Py_XSETREF(descriptors[i], descriptor);
        members[i] = ((PyMemberDescrObject *)descriptor)->d_member;
    }
    for (i = 0; i < C_COUNT; i++) {
        PyObject *item = PyTuple_GET_ITEM(given, i);
        Py_INCREF(item);
        Py_XSETREF(caches[i], item);
    }
    tables_reset(); /* new caches: what the tables hold is not theirs */
    Py_RETURN_NONE;
}

/* caches[cache][key] when there and true (``cache.get(key) or ...``): borrowed; NULL when not
 * (*error set when the lookup failed). */
static PyObject *cached(int cache, PyObject *key, int *error)
{
    PyObject *found = PyDict_GetItemWithError(caches[cache], key);
    int true_;
    if (found == NULL) {
        if (PyErr_Occurred())
            *error = 1;
        return NULL;
    }
    true_ = PyObject_IsTrue(found);
    if (true_ < 0)
        *error = 1;
    return true_ > 0 ? found : NULL;
}

/* -- the caches' values found by the bytes of their keys --------------------------------------
 *
 * A lookup in one of message.py's caches takes a str: the line decoded (a new object), hashed,
 * looked up, thrown away, for each line of each message. A table per cache finds what that
 * lookup finds from the line's bytes alone: each entry holds a hash of the bytes, the key as
 * an ASCII str (its characters are its bytes: compared as they are) and the value the cache
 * gave for it. Entries come from the caches only (a value looked up there and found, or put
 * there by this module), so a table gives what its cache gives. A cache emptied by Python
 * (message.py clears one when full; tests clear them) empties its table, seen before each
 * call by the dict's size going down or its key storage being replaced (a clear, or a
 * resize: then the table is emptied needlessly, a few times as a cache grows). Bounded: at
 * most TABLE_MAX entries, then emptied; a probe reads at most PROBES slots, a key not found
 * there is looked up in the cache as before (so lines whose hashes collide cost no more than
 * that lookup), and a new entry whose slots are all taken replaces the first. */
#define TABLE_MAX 8192
#define PROBES 8

typedef struct {
    uint64_t hash;
    PyObject *key; /* NULL: a free slot */
    PyObject *value;
} Entry;

typedef struct {
    Entry *slots; /* NULL until the first entry */
    size_t mask;  /* the number of slots less one */
    Py_ssize_t used;
    PyDictKeysObject *keys_seen; /* the cache's key storage and size when last checked */
    Py_ssize_t size_seen;
} Table;

static Table tables[C_CSEQ_CLASS]; /* one per dict of caches[], the same index */

static uint64_t bytes_hash(const unsigned char *s, Py_ssize_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15u ^ (uint64_t)n, word;
    Py_ssize_t whole = n;
    while (n >= 8) {
        memcpy(&word, s, 8);
        h = (h ^ word) * 0xff51afd7ed558ccdu;
        h ^= h >> 29;
        s += 8;
        n -= 8;
    }
    if (n > 0) {
        if (whole >= 8) { /* the last 8 bytes, some read twice */
            memcpy(&word, s + n - 8, 8);
        } else {
            word = 0;
            while (n > 0)
                word = word << 8 | s[--n];
        }
        h = (h ^ word) * 0xc4ceb9fe1a85ec53u;
    }
    return h ^ (h >> 32);
}

static void table_empty(Table *table)
{
    size_t i;
    if (table->slots == NULL)
        return;
    for (i = 0; i <= table->mask; i++) {
        Py_CLEAR(table->slots[i].key);
        Py_CLEAR(table->slots[i].value);
    }
    table->used = 0;
}

static void tables_reset(void)
{
    int c;
    for (c = 0; c < C_CSEQ_CLASS; c++) {
        table_empty(&tables[c]);
        tables[c].keys_seen = NULL;
        tables[c].size_seen = 0;
    }
}

/* Each table emptied where Python emptied its cache since the last check. */
static void tables_check(void)
{
    int c;
    for (c = 0; c < C_CSEQ_CLASS; c++) {
        PyDictObject *dict = (PyDictObject *)caches[c];
        Table *table = &tables[c];
        if (dict->ma_keys != table->keys_seen || dict->ma_used < table->size_seen) {
            table_empty(table);
            table->keys_seen = dict->ma_keys;
        }
        table->size_seen = dict->ma_used;
    }
}

static int same_key(PyObject *key, const unsigned char *s, Py_ssize_t n)
{
    return PyUnicode_GET_LENGTH(key) == n && memcmp(PyUnicode_1BYTE_DATA(key), s, (size_t)n) == 0;
}

/* The value kept for the bytes s[:n] (borrowed), or NULL. */
static PyObject *table_find(const Table *table, uint64_t hash, const unsigned char *s,
                            Py_ssize_t n)
{
    size_t i, k;
    if (table->slots == NULL)
        return NULL;
    for (k = 0, i = hash & table->mask; k < PROBES; k++, i = (i + 1) & table->mask) {
        const Entry *entry = &table->slots[i];
        if (entry->key == NULL)
            return NULL;
        if (entry->hash == hash && same_key(entry->key, s, n))
            return entry->value;
    }
    return NULL;
}

/* An entry in the first free slot of its probe, else in place of the first slot's (new
 * references taken). */
static void table_place(Table *table, uint64_t hash, PyObject *key, PyObject *value)
{
    size_t i, k;
    Entry *entry;
    for (k = 0, i = hash & table->mask; k < PROBES; k++, i = (i + 1) & table->mask) {
        if (table->slots[i].key == NULL)
            break;
    }
    if (k == PROBES) {
        i = hash & table->mask;
        Py_CLEAR(table->slots[i].key);
        Py_CLEAR(table->slots[i].value);
        table->used--;
    }
    entry = &table->slots[i];
    entry->hash = hash;
    entry->key = Py_NewRef(key);
    entry->value = Py_NewRef(value);
    table->used++;
}

/* value kept for s[:n]: ``key`` is the first of the candidates that is an ASCII str of those
 * bytes (none: nothing kept). 0, or -1 on a failed allocation. */
static int table_put(Table *table, uint64_t hash, const unsigned char *s, Py_ssize_t n,
                     PyObject *candidate, PyObject *other, PyObject *value)
{
    PyObject *key = NULL;
    if (candidate != NULL && PyUnicode_CheckExact(candidate) && PyUnicode_IS_ASCII(candidate) &&
        same_key(candidate, s, n))
        key = candidate;
    else if (other != NULL && PyUnicode_CheckExact(other) && PyUnicode_IS_ASCII(other) &&
             same_key(other, s, n))
        key = other;
    if (key == NULL)
        return 0;
    if (table->slots == NULL || (size_t)(table->used + 1) * 2 > table->mask + 1) {
        size_t size = table->slots == NULL ? 64 : 2 * (table->mask + 1), i, old_size;
        Entry *old = table->slots, *slots;
        if (size > 2 * TABLE_MAX) {
            table_empty(table); /* full: emptied, its slots kept */
        } else {
            slots = PyMem_Calloc(size, sizeof(Entry));
            if (slots == NULL) {
                PyErr_NoMemory();
                return -1;
            }
            old_size = old == NULL ? 0 : table->mask + 1;
            table->slots = slots;
            table->mask = size - 1;
            table->used = 0;
            for (i = 0; i < old_size; i++) {
                if (old[i].key != NULL) {
                    table_place(table, old[i].hash, old[i].key, old[i].value);
                    Py_DECREF(old[i].key);
                    Py_DECREF(old[i].value);
                }
            }
            PyMem_Free(old);
        }
    }
    table_place(table, hash, key, value);
    return 0;
}

/* caches[c]'s value for the key of bytes s[:n] (borrowed: held by the cache and the table),
 * found in its table, else in the cache (``truthy``: as cached() reads it, else a plain get)
 * and kept in the table; NULL when not there, then *text is the key decoded (a new reference,
 * the caller's), or NULL with *error set on a failure. */
static PyObject *lookup(int c, const unsigned char *s, Py_ssize_t n, int truthy, PyObject **text,
                        int *error)
{
    uint64_t hash = bytes_hash(s, n);
    PyObject *found = table_find(&tables[c], hash, s, n), *key, *candidate;
    *text = NULL;
    if (found != NULL)
        return found;
    key = decode(s, n);
    if (key == NULL) {
        *error = 1;
        return NULL;
    }
    if (truthy) {
        found = cached(c, key, error);
    } else {
        found = PyDict_GetItemWithError(caches[c], key);
        if (found == NULL && PyErr_Occurred())
            *error = 1;
    }
    if (found == NULL) {
        if (*error)
            Py_DECREF(key);
        else
            *text = key;
        return NULL;
    }
    /* the key kept: the cache's own where the value holds it (a text, or a pair whose first
     * item is the line), else the one decoded here */
    candidate = found;
    if (PyTuple_CheckExact(found) && PyTuple_GET_SIZE(found) == 2)
        candidate = PyTuple_GET_ITEM(found, 0);
    if (table_put(&tables[c], hash, s, n, candidate, key, found) < 0) {
        *error = 1;
        found = NULL;
    }
    Py_DECREF(key);
    return found;
}

/* What SipMessage's slot descriptor stores (a message of exactly that class: its slot written
 * as the descriptor writes it; the old values are the template's or stored here). */
static int store(PyObject *message, int name, PyObject *value)
{
    if (Py_IS_TYPE(message, (PyTypeObject *)caches[C_MESSAGE_CLASS])) {
        PyObject **slot = (PyObject **)((char *)message + members[name]->offset);
        Py_XSETREF(*slot, Py_NewRef(value));
        return 0;
    }
    return PyObject_SetAttr(message, names[name], value);
}

/* A 2-tuple's items (borrowed), or 0. */
static int pair(PyObject *found, PyObject **first, PyObject **second)
{
    if (found == NULL || !PyTuple_CheckExact(found) || PyTuple_GET_SIZE(found) != 2)
        return 0;
    *first = PyTuple_GET_ITEM(found, 0);
    *second = PyTuple_GET_ITEM(found, 1);
    return 1;
}

/* The start line [a, b) as _parse_start_line reads it, when its values are cached: 1 (stored),
 * 0 (left to Python: not ASCII, not cached, not SIP/2.0), -1 (error). */
static int fill_start_line(PyObject *message, const unsigned char *s, Py_ssize_t a, Py_ssize_t b)
{
    Py_ssize_t i, part[3][2];
    int parts = 0, error = 0, done = 0;
    PyObject *text, *found, *method, *version, *uri;
    if (has_high_byte(s + a, b - a))
        return 0; /* str.strip/split take Unicode spaces: the Python road */
    while (a < b && is_py_space(s[a]))
        a++;
    while (b > a && is_py_space(s[b - 1]))
        b--;
    if (b - a >= 4 && same_lower(s + a, 4, "sip/")) {
        /* a status line: _STATUS_LINES holds those read before without a fault */
        found = lookup(C_STATUS, s + a, b - a, 0, &text, &error);
        Py_XDECREF(text);
        if (found == NULL)
            return error ? -1 : 0;
        if (!PyTuple_CheckExact(found) || PyTuple_GET_SIZE(found) != 3)
            return 0;
        Py_INCREF(found); /* held while the stores run */
        done = store(message, A_IS_RESPONSE, Py_True) == 0 &&
               store(message, A_VERSION, PyTuple_GET_ITEM(found, 0)) == 0 &&
               store(message, A_STATUS, PyTuple_GET_ITEM(found, 1)) == 0 &&
               store(message, A_REASON, PyTuple_GET_ITEM(found, 2)) == 0;
        Py_DECREF(found);
        return done ? 1 : -1;
    }
    /* a request line: three words, the last SIP/2.0 */
    i = a;
    while (i < b) {
        if (parts == 3)
            return 0;
        part[parts][0] = i;
        while (i < b && !is_py_space(s[i]))
            i++;
        part[parts][1] = i;
        parts++;
        while (i < b && is_py_space(s[i]))
            i++;
    }
    if (parts != 3 || part[2][1] - part[2][0] != 7 || memcmp(s + part[2][0], "SIP/2.0", 7) != 0)
        return 0;
    method = lookup(C_SHARED, s + part[0][0], part[0][1] - part[0][0], 1, &text, &error);
    Py_XDECREF(text);
    if (method == NULL)
        return error ? -1 : 0;
    Py_INCREF(method); /* held while the stores run */
    version = lookup(C_SHARED, s + part[2][0], 7, 1, &text, &error);
    Py_XDECREF(text);
    if (version == NULL) {
        Py_DECREF(method);
        return error ? -1 : 0;
    }
    Py_INCREF(version);
    uri = decode(s + part[1][0], part[1][1] - part[1][0]);
    done = uri != NULL && store(message, A_METHOD, method) == 0 &&
           store(message, A_URI, uri) == 0 && store(message, A_VERSION, version) == 0 &&
           store(message, A_URI_PROBLEM, zero) == 0;
    Py_XDECREF(uri);
    Py_DECREF(method);
    Py_DECREF(version);
    return done ? 1 : -1;
}

/* The value of the line [a, b) after its first colon, stripped of ASCII blanks (_value_of for
 * an ASCII line): 1 with [*va, *vb), 0 without a colon. */
static int value_span(const unsigned char *s, Py_ssize_t a, Py_ssize_t b, Py_ssize_t *va,
                      Py_ssize_t *vb)
{
    const unsigned char *colon = memchr(s + a, ':', (size_t)(b - a));
    if (colon == NULL)
        return 0;
    a = colon - s + 1;
    while (a < b && is_py_space(s[a]))
        a++;
    while (b > a && is_py_space(s[b - 1]))
        b--;
    *va = a;
    *vb = b;
    return 1;
}

/* The Call-ID line [a, b)'s value (_value_of: after the first colon, stripped), looked up in
 * _CALL_IDS, a new one kept there as _shared keeps it: 1 stored, 0 left to Python, -1 error. */
static int fill_call_id(PyObject *message, const unsigned char *s, Py_ssize_t a, Py_ssize_t b)
{
    PyObject *text, *found;
    int error = 0;
    if (!value_span(s, a, b, &a, &b))
        return 0;
    if (a == b || s[a] >= 0x80 || s[b - 1] >= 0x80)
        return 0; /* empty, or maybe a Unicode space at an end: the Python road */
    found = lookup(C_CALL_ID, s + a, b - a, 1, &text, &error);
    if (found != NULL)
        return store(message, A_CALL_ID, found) < 0 ? -1 : 1;
    if (error)
        return -1;
    /* a new Call-ID: kept as _shared keeps it (at most 1,024 characters; a full cache is
     * Python's to clear) */
    if (PyUnicode_GET_LENGTH(text) <= 1024) {
        if (cache_limit < 0 || PyDict_GET_SIZE(caches[C_CALL_ID]) >= cache_limit) {
            Py_DECREF(text);
            return 0;
        }
        if (PyDict_SetItem(caches[C_CALL_ID], text, text) < 0 ||
            table_put(&tables[C_CALL_ID], bytes_hash(s + a, b - a), s + a, b - a, text, NULL,
                      text) < 0) {
            Py_DECREF(text);
            return -1;
        }
    }
    error = store(message, A_CALL_ID, text) < 0 ? -1 : 1;
    Py_DECREF(text);
    return error;
}

/* -- new lines: the values message.py's Python code would read, for the usual shapes ---------
 *
 * A line not in its cache yet (a call's first From line, a transaction's first Via) is read
 * here when it has the usual shape, exactly as the Python road reads it, and put in the cache
 * as _read_line / _top_of / _shared put it; anything else (a byte >= 0x80, an unusual shape,
 * a full cache that Python clears) is left to the Python road (0). Each reader follows the
 * regular expression message.py's road applies (headers._SIMPLE_NAME_ADDR, _SIMPLE_VIA) and
 * hands back only what a full match gives without a further step. */

static int is_digit(unsigned char c);

/* The stripped value of the line [a, b) after its first colon (_value_of), ASCII only:
 * 1 with [*va, *vb), or 0. */
static int ascii_value(const unsigned char *s, Py_ssize_t a, Py_ssize_t b, Py_ssize_t *va,
                       Py_ssize_t *vb)
{
    if (has_high_byte(s + a, b - a))
        return 0;
    return value_span(s, a, b, va, vb);
}

static int is_host_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '-';
}

/* [^@?\s<>"\[\]] of headers._SIMPLE_SIP_URI (ASCII). */
static int is_uri_part_char(unsigned char c)
{
    return !is_py_space(c) && c != '@' && c != '?' && c != '<' && c != '>' && c != '"' &&
           c != '[' && c != ']';
}

/* headers._PORT: the digits [a, b) as a whole (nothing may follow in the run). */
static int is_port(const unsigned char *s, Py_ssize_t a, Py_ssize_t b)
{
    Py_ssize_t i;
    long value = 0;
    if (b - a < 1 || b - a > 5)
        return 0;
    for (i = a; i < b; i++)
        value = value * 10 + (s[i] - '0');
    return b - a < 5 || (s[a] != '0' && value <= 65535);
}

/* headers._SIMPLE_SIP_URI from i up to the '>' closing it: that '>''s position, or -1. */
static Py_ssize_t simple_sip_uri(const unsigned char *s, Py_ssize_t i, Py_ssize_t b)
{
    Py_ssize_t j, d;
    if (i + 4 > b || (s[i] | 0x20) != 's' || (s[i + 1] | 0x20) != 'i' || (s[i + 2] | 0x20) != 'p')
        return -1;
    i += 3;
    if (i < b && (s[i] | 0x20) == 's')
        i++;
    if (i >= b || s[i] != ':')
        return -1;
    i++;
    for (j = i; j < b && is_uri_part_char(s[j]); j++)
        ;
    if (j < b && s[j] == '@')
        i = j + 1; /* the user part (it holds no '>': no other reading reaches one) */
    if (i < b && s[i] == '[') {
        for (j = i + 1; j < b && (is_digit(s[j]) || ((s[j] | 0x20) >= 'a' && (s[j] | 0x20) <= 'f') ||
                                  s[j] == ':' || s[j] == '.');
             j++)
            ;
        if (j == i + 1 || j >= b || s[j] != ']')
            return -1;
        i = j + 1;
    } else {
        for (j = i; j < b && is_host_char(s[j]); j++)
            ;
        if (j == i)
            return -1;
        i = j;
    }
    if (i < b && s[i] == ':') {
        for (d = i + 1; d < b && is_digit(s[d]); d++)
            ;
        if (!is_port(s, i + 1, d))
            return -1;
        i = d;
    }
    if (i < b && s[i] == ';')
        for (i++; i < b && is_uri_part_char(s[i]); i++)
            ;
    return i < b && s[i] == '>' ? i : -1;
}

/* name_addr_tag(_value_of(line)) for the line [a, b) when headers._SIMPLE_NAME_ADDR matches
 * it and gives the tag without a further step: 1 with *tag (a new reference: the tag or
 * None), 0 otherwise, -1 on error. */
static int read_tag(const unsigned char *s, Py_ssize_t a, Py_ssize_t b, PyObject **tag)
{
    Py_ssize_t i, gt;
    if (!ascii_value(s, a, b, &a, &b))
        return 0;
    /* [^"<\\]*(?:"[^"\\]*"[^"<\\]*)*< : the first '<' outside quotes */
    for (i = a; i < b && s[i] != '<'; i++) {
        if (s[i] == '\\')
            return 0;
        if (s[i] == '"') {
            for (i++; i < b && s[i] != '"'; i++)
                if (s[i] == '\\')
                    return 0;
            if (i >= b)
                return 0;
        }
    }
    if (i >= b)
        return 0; /* an addr-spec: the Python road */
    gt = simple_sip_uri(s, i + 1, b);
    if (gt < 0)
        return 0;
    i = gt + 1;
    if (i == b) { /* nothing after '>': param_value("", "tag") is None */
        *tag = Py_NewRef(Py_None);
        return 1;
    }
    if (b - i < 6 || memcmp(s + i, ";tag=", 5) != 0)
        return 0;
    for (gt = i + 5; gt < b; gt++)
        if (s[gt] == ';' || s[gt] == '"' || is_py_space(s[gt]))
            return 0;
    *tag = decode(s + i + 5, b - i - 5);
    return *tag == NULL ? -1 : 1;
}

/* headers.via_sent_by_branch of the first Via line [a, b)'s value when it holds no comma and
 * headers._SIMPLE_VIA matches it with the branch first or no parameters, the port at most
 * 65535: 1 with *top a new (sent-by, branch) tuple, 0 otherwise, -1 on error. */
static int read_via(const unsigned char *s, Py_ssize_t a, Py_ssize_t b, PyObject **top)
{
    Py_ssize_t i, host, host_end, port = -1, port_end = -1, branch = -1, branch_end = -1;
    PyObject *sent_by, *value;
    const unsigned char *slash;
    if (!ascii_value(s, a, b, &a, &b) || a == b || memchr(s + a, ',', (size_t)(b - a)))
        return 0;
    /* [^/]*\/[^/]*\/\s*\S+\s+ */
    slash = memchr(s + a, '/', (size_t)(b - a));
    if (slash == NULL)
        return 0;
    slash = memchr(slash + 1, '/', (size_t)(b - (slash + 1 - s)));
    if (slash == NULL)
        return 0;
    i = slash - s + 1;
    while (i < b && is_py_space(s[i]))
        i++;
    if (i >= b)
        return 0;
    while (i < b && !is_py_space(s[i]))
        i++;
    if (i >= b)
        return 0;
    while (i < b && is_py_space(s[i]))
        i++;
    host = i;
    while (i < b && is_host_char(s[i]))
        i++;
    host_end = i;
    if (host_end == host)
        return 0;
    if (i < b && s[i] == ':') {
        port = i + 1;
        for (i = port; i < b && is_digit(s[i]); i++)
            ;
        port_end = i;
        if (port_end == port || port_end - port > 5)
            return 0;
    }
    while (i < b && is_py_space(s[i]))
        i++;
    if (i < b) {
        /* ;branch=([^;"\s]*)(?:;[^"]*)? to the end, else the Python road */
        if (b - i < 8 || memcmp(s + i, ";branch=", 8) != 0)
            return 0;
        branch = i + 8;
        for (i = branch; i < b && s[i] != ';' && s[i] != '"' && !is_py_space(s[i]); i++)
            ;
        branch_end = i;
        if (i < b && (s[i] != ';' || memchr(s + i, '"', (size_t)(b - i)) != NULL))
            return 0;
    }
    if (port >= 0) {
        long number = 0;
        for (i = port; i < port_end; i++)
            number = number * 10 + (s[i] - '0');
        if (number > 65535)
            return 0; /* _sent_by_branch gives None: the parsed stack decides */
        /* the host text, then ":<port>" as int() writes it (no leading zeros): the bytes
         * as they are when the port has none (host, ':' and digits are ASCII) */
        for (i = port; i < port_end - 1 && s[i] == '0'; i++)
            ;
        if (i == port) {
            sent_by = decode(s + host, port_end - host);
        } else {
            Py_ssize_t size = (port - host) + (port_end - i);
            sent_by = PyUnicode_New(size, 127);
            if (sent_by != NULL) {
                memcpy(PyUnicode_1BYTE_DATA(sent_by), s + host, (size_t)(port - host));
                memcpy(PyUnicode_1BYTE_DATA(sent_by) + (port - host), s + i,
                       (size_t)(port_end - i));
            }
        }
    } else {
        sent_by = decode(s + host, host_end - host);
    }
    if (sent_by == NULL)
        return -1;
    if (branch < 0 || branch_end == branch) {
        value = Py_NewRef(Py_None); /* branch or None */
    } else {
        value = decode(s + branch, branch_end - branch);
        if (value == NULL) {
            Py_DECREF(sent_by);
            return -1;
        }
    }
    *top = PyTuple_Pack(2, sent_by, value);
    Py_DECREF(sent_by);
    Py_DECREF(value);
    return *top == NULL ? -1 : 1;
}

/* cache[key] = (key, value) as _read_line / _top_of put it, when the cache is not full (Python
 * clears it then): the new pair (borrowed from the cache) or NULL (*error on failure). */
static PyObject *keep_pair(int cache, PyObject *key, PyObject *value, int *error)
{
    PyObject *pair_;
    if (cache_limit < 0 || PyDict_GET_SIZE(caches[cache]) >= cache_limit)
        return NULL;
    pair_ = PyTuple_Pack(2, key, value);
    if (pair_ == NULL || PyDict_SetItem(caches[cache], key, pair_) < 0) {
        Py_XDECREF(pair_);
        *error = 1;
        return NULL;
    }
    Py_DECREF(pair_); /* held by the cache */
    return pair_;
}

static int fill_line_found(PyObject *message, int which, PyObject *found);

/* A From, To or Via line not in its cache (``line`` its text, k[:kn] its key's bytes), the
 * first line [a, b): read (the usual shape), kept, stored: 1, 0, -1. */
static int fill_new_line(PyObject *message, int which, PyObject *line, const unsigned char *s,
                         Py_ssize_t a, Py_ssize_t b, const unsigned char *k, Py_ssize_t kn)
{
    PyObject *value = NULL, *kept;
    int done, error = 0, cache = which == K_VIA ? C_TOPS : C_TAGS;
    done = which == K_VIA ? read_via(s, a, b, &value) : read_tag(s, a, b, &value);
    if (done <= 0)
        return done;
    kept = keep_pair(cache, line, value, &error);
    Py_DECREF(value);
    if (kept == NULL)
        return error ? -1 : 0;
    Py_INCREF(kept);
    done = table_put(&tables[cache], bytes_hash(k, kn), k, kn, line, NULL, kept) < 0
               ? -1
               : fill_line_found(message, which, kept);
    Py_DECREF(kept);
    return done;
}

/* One header line's value from its cache, looked up by its key's bytes k[:kn] (the line, or
 * the Via lines joined by CRLF), the first line [a, b): 1, 0 or -1. ``rest``: the bytes after
 * the blank line. */
static int fill_line(PyObject *message, int which, Py_ssize_t rest, const unsigned char *k,
                     Py_ssize_t kn, const unsigned char *s, Py_ssize_t a, Py_ssize_t b)
{
    PyObject *found, *text;
    int error = 0, done;
    int cache = which == K_TYPE     ? C_TYPE
                : which == K_LENGTH ? C_LENGTH
                : which == K_CSEQ   ? C_CSEQ
                : which == K_VIA    ? C_TOPS
                                    : C_TAGS;
    /* _LENGTH_LINES.get(line) (a length of 0 counts); the others ``.get(line) or ...`` */
    found = lookup(cache, k, kn, which != K_LENGTH, &text, &error);
    if (found == NULL) {
        if (error)
            return -1;
        done = 0;
        if (which == K_FROM || which == K_TO || which == K_VIA)
            done = fill_new_line(message, which, text, s, a, b, k, kn);
        Py_DECREF(text);
        return done;
    }
    if (which == K_LENGTH) {
        /* used as it is only when the body is exactly that long */
        Py_ssize_t length;
        if (!PyLong_CheckExact(found))
            return 0;
        length = PyLong_AsSsize_t(found);
        if (length == -1 && PyErr_Occurred()) {
            PyErr_Clear();
            return 0;
        }
        if (length != rest)
            return 0; /* a cut body or bytes after it: _parse_body's problems */
        return store(message, A_LENGTH, found) < 0 ? -1 : 1;
    }
    Py_INCREF(found); /* held while the stores run */
    done = fill_line_found(message, which, found);
    Py_DECREF(found);
    return done;
}

/* What _parse_known stores for a cached value of a Content-Type, CSeq, From, To or Via line. */
static int fill_line_found(PyObject *message, int which, PyObject *found)
{
    PyObject *first, *second;
    switch (which) {
    case K_TYPE:
        return store(message, A_TYPE, found) < 0 ? -1 : 1;
    case K_CSEQ: {
        int is_cseq = PyObject_IsInstance(found, caches[C_CSEQ_CLASS]);
        if (is_cseq < 0)
            return -1;
        return store(message, A_CSEQ, is_cseq ? found : Py_None) < 0 ? -1 : 1;
    }
    case K_FROM:
    case K_TO:
        if (!pair(found, &first, &second))
            return 0;
        if (store(message, which == K_FROM ? A_FROM : A_TO, first) < 0 ||
            store(message, which == K_FROM ? A_FROM_TAG : A_TO_TAG, second) < 0)
            return -1;
        return 1;
    default: { /* K_VIA: (key, (sent-by, branch)); a top of None is read by Python */
        PyObject *sent_by, *branch;
        if (!pair(found, &first, &second) || !pair(second, &sent_by, &branch))
            return 0;
        if (store(message, A_VIAS, first) < 0 || store(message, A_SENT_BY, sent_by) < 0 ||
            store(message, A_BRANCH, branch) < 0)
            return -1;
        return 1;
    }
    }
}

/* fill()'s work on ``message`` for the block at ``pos`` of ``s`` (n bytes): 0 (not the common
 * shape: None), 1 (the Python road decides: False), 2 (the common shape, ``block`` scanned:
 * *out the tuple fill() returns, or NULL when no line is left for Python and ``tuple`` is 0),
 * -1 (an exception set). A line is decoded only when it is left for Python. */
static int fill_block(PyObject *message, const unsigned char *s, Py_ssize_t n, Py_ssize_t pos,
                      Block *block, int tuple, PyObject **out)
{
    /* the tuple's items after (end, start line), and the key each is read by */
    static const int keys[7] = {K_TYPE, K_LENGTH, K_CALL_ID, K_CSEQ, K_FROM, K_TO, K_VIA};
    unsigned char joined_here[512], *joined = NULL;
    const unsigned char *k;
    Py_ssize_t kn, a, b;
    PyObject *item;
    int found, i, left = 0, done[8];

    *out = NULL;
    if (pos < 0)
        return 1;
    if (pos > n)
        return 0;
    found = scan_block(s, n, pos, block);
    if (found == 0)
        return 0;
    if (found < 0)
        return 1;
    tables_check();
    done[0] = fill_start_line(message, s, pos, block->start_end);
    if (done[0] < 0)
        return -1;
    for (i = 0; i < 7; i++) {
        int key = keys[i];
        if (key == K_VIA ? block->vias == 0 : block->first[key] < 0) {
            done[i + 1] = 1; /* no such line: None */
            continue;
        }
        if (key == K_VIA) {
            a = block->via_start[0];
            b = block->via_end[0];
            k = s + a;
            kn = b - a;
            if (block->vias > 1) { /* the key: the Via lines joined by CRLF */
                kn = joined_vias(s, block, NULL);
                joined = kn <= (Py_ssize_t)sizeof(joined_here) ? joined_here
                                                               : PyMem_Malloc((size_t)kn);
                if (joined == NULL) {
                    PyErr_NoMemory();
                    return -1;
                }
                joined_vias(s, block, joined);
                k = joined;
            }
        } else {
            a = block->first[key];
            b = block->first_end[key];
            k = s + a;
            kn = b - a;
        }
        if (key == K_CALL_ID)
            done[i + 1] = fill_call_id(message, s, a, b);
        else
            done[i + 1] = fill_line(message, key, n - (block->end + 4), k, kn, s, a, b);
        if (joined != NULL && joined != joined_here)
            PyMem_Free(joined);
        joined = NULL;
        if (done[i + 1] < 0)
            return -1;
    }
    for (i = 0; i < 8; i++)
        left |= !done[i];
    if (!left && !tuple)
        return 2;
    /* the tuple (end, start line, Content-Type, Content-Length, Call-ID, CSeq, From, To
     * lines, Via key): None for a line filled here or absent */
    *out = PyTuple_New(9);
    if (*out == NULL)
        return -1;
    item = PyLong_FromSsize_t(block->end);
    if (item == NULL)
        goto fail;
    PyTuple_SET_ITEM(*out, 0, item);
    for (i = 0; i < 8; i++) {
        int key = i ? keys[i - 1] : -1;
        if (done[i])
            item = Py_NewRef(Py_None);
        else if (i == 0)
            item = decode(s + pos, block->start_end - pos);
        else if (key == K_VIA)
            item = via_key(s, block);
        else
            item = decode(s + block->first[key], block->first_end[key] - block->first[key]);
        if (item == NULL)
            goto fail;
        PyTuple_SET_ITEM(*out, 1 + i, item);
    }
    return 2;
fail:
    Py_CLEAR(*out);
    return -1;
}

static PyObject *fill(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    const unsigned char *s;
    Py_ssize_t n, pos;
    Block block;
    PyObject *out;
    int found;

    (void)module;
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "fill(message, raw: bytes, pos: int)");
        return NULL;
    }
    if (caches[0] == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "fill() before setup()");
        return NULL;
    }
    if (!raw_and_pos(args + 1, &s, &n, &pos))
        return NULL;
    found = fill_block(args[0], s, n, pos, &block, 1, &out);
    if (found < 0)
        return NULL;
    if (found == 0)
        Py_RETURN_NONE;
    if (found == 1)
        Py_RETURN_FALSE;
    return out;
}

/* -- build: a new message, then fill ---------------------------------------------------------
 *
 * SipMessage.__init__ stores 24 slots in Python, once per SIP message of a capture. build()
 * makes the message as object.__new__ does (tp_alloc), copies every slot from a message made
 * by __init__ (the template: message.py gives it once, every default immutable), puts the
 * bytes in ``raw``, then fills it as fill() does and sets ``header_length`` from the scan.
 * The slots are the object's whole body after its header: setup_build() checks that the
 * class is a plain slotted subclass of object whose members cover exactly that body. */
static PyObject *template_message;
static Py_ssize_t slot_count;
static PyMemberDef *raw_member, *header_length_member;

static PyMemberDef *member_named(PyTypeObject *type, const char *name)
{
    PyMemberDef *member;
    for (member = type->tp_members; member != NULL && member->name != NULL; member++)
        if (strcmp(member->name, name) == 0)
            return member;
    return NULL;
}

static PyObject *setup_build(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *given;
    PyTypeObject *type;
    PyMemberDef *member;
    Py_ssize_t count = 0, body, i, limit;
    (void)module;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "setup_build(template, cache_limit: int)");
        return NULL;
    }
    given = args[0];
    limit = PyLong_AsSsize_t(args[1]);
    if (limit == -1 && PyErr_Occurred())
        return NULL;
    type = Py_TYPE(given);
    body = type->tp_basicsize - (Py_ssize_t)sizeof(PyObject);
    if (caches[C_MESSAGE_CLASS] == NULL || (PyObject *)type != caches[C_MESSAGE_CLASS]) {
        PyErr_SetString(PyExc_TypeError, "setup_build(): a message of the class given to setup()");
        return NULL;
    }
    if (type->tp_base != &PyBaseObject_Type || type->tp_itemsize != 0 ||
        type->tp_dictoffset != 0 || type->tp_weaklistoffset != 0 || body <= 0 ||
        body % (Py_ssize_t)sizeof(PyObject *) != 0 || type->tp_members == NULL) {
        PyErr_SetString(PyExc_TypeError, "setup_build(): not a plain slotted class");
        return NULL;
    }
    for (member = type->tp_members; member->name != NULL; member++) {
        if (member->type != T_OBJECT_EX || (member->flags & READONLY) ||
            member->offset < (Py_ssize_t)sizeof(PyObject) ||
            member->offset >= type->tp_basicsize ||
            (member->offset - (Py_ssize_t)sizeof(PyObject)) % (Py_ssize_t)sizeof(PyObject *)) {
            PyErr_SetString(PyExc_TypeError, "setup_build(): a member is not a plain slot");
            return NULL;
        }
        count++;
    }
    if (count != body / (Py_ssize_t)sizeof(PyObject *)) {
        PyErr_SetString(PyExc_TypeError, "setup_build(): the slots are not the whole body");
        return NULL;
    }
    for (i = 0; i < count; i++) {
        if (((PyObject **)((char *)given + sizeof(PyObject)))[i] == NULL) {
            PyErr_SetString(PyExc_TypeError, "setup_build(): a slot of the template is unset");
            return NULL;
        }
    }
    raw_member = member_named(type, "raw");
    header_length_member = member_named(type, "header_length");
    if (raw_member == NULL || header_length_member == NULL) {
        PyErr_SetString(PyExc_TypeError, "setup_build(): no raw or header_length slot");
        return NULL;
    }
    slot_count = count;
    cache_limit = limit;
    Py_INCREF(given);
    Py_XSETREF(template_message, given);
    Py_RETURN_NONE;
}

/* A header block's length as the int header_length holds: one object per length met
 * (under LENGTHS_KEPT bytes; Python's own small ints below 257), not one per message. A new
 * reference, or NULL. */
#define LENGTHS_KEPT 4096
static PyObject *lengths[LENGTHS_KEPT];

static PyObject *length_int(Py_ssize_t length)
{
    if (length < 0 || length >= LENGTHS_KEPT)
        return PyLong_FromSsize_t(length);
    if (lengths[length] == NULL) {
        lengths[length] = PyLong_FromSsize_t(length);
        if (lengths[length] == NULL)
            return NULL;
    }
    return Py_NewRef(lengths[length]);
}

static PyObject *new_message(PyObject *raw)
{
    PyTypeObject *type = Py_TYPE(template_message);
    PyObject *message = type->tp_alloc(type, 0), **to, **from;
    Py_ssize_t i;
    if (message == NULL)
        return NULL;
    to = (PyObject **)((char *)message + sizeof(PyObject));
    from = (PyObject **)((char *)template_message + sizeof(PyObject));
    for (i = 0; i < slot_count; i++)
        to[i] = Py_NewRef(from[i]);
    Py_XSETREF(*(PyObject **)((char *)message + raw_member->offset), Py_NewRef(raw));
    return message;
}

/* A new message holding raw (bytes), filled from pos: the message alone when nothing is left for the
 * Python road, else (message, fill()'s result); NULL with an exception set. */
static PyObject *build_raw(PyObject *raw, Py_ssize_t pos)
{
    const unsigned char *s = (const unsigned char *)PyBytes_AS_STRING(raw);
    Py_ssize_t n = PyBytes_GET_SIZE(raw);
    PyObject *message, *rest, *out;
    Block block;
    int found;

    message = new_message(raw);
    if (message == NULL)
        return NULL;
    found = fill_block(message, s, n, pos, &block, 0, &rest);
    if (found < 0) {
        Py_DECREF(message);
        return NULL;
    }
    if (found == 2) {
        /* the common shape: bytes up to and including the blank line */
        PyObject *length = length_int(block.end + 4), **slot;
        if (length == NULL) {
            Py_XDECREF(rest);
            Py_DECREF(message);
            return NULL;
        }
        slot = (PyObject **)((char *)message + header_length_member->offset);
        Py_XSETREF(*slot, length);
        if (rest == NULL)
            return message; /* every value stored: nothing left to read */
    } else {
        rest = Py_NewRef(found ? Py_False : Py_None);
    }
    out = PyTuple_Pack(2, message, rest);
    Py_DECREF(message);
    Py_DECREF(rest);
    return out;
}

static PyObject *build(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t pos;

    (void)module;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "build(raw: bytes, pos: int)");
        return NULL;
    }
    if (template_message == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "build() before setup_build()");
        return NULL;
    }
    if (!PyBytes_CheckExact(args[0])) {
        PyErr_SetString(PyExc_TypeError, "raw must be exactly bytes");
        return NULL;
    }
    pos = PyLong_AsSsize_t(args[1]);
    if (pos == -1 && PyErr_Occurred())
        return NULL;
    return build_raw(args[0], pos); /* (fill_message checks pos against the length) */
}

/* message.looks_like_sip's regular expression (_START_LINE), matched by hand: after optional
 * CR/LFs, a request line (token, spaces, a run without whitespace, spaces, SIP/d.d, spaces)
 * or a status line (SIP/d.d, spaces, three digits, optionally a space or tab and text),
 * then an optional CR and a LF, all within the first 2048 bytes. Every repetition of that
 * pattern is followed by what it cannot take, so one left-to-right pass decides. */
static int is_token_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           (c != 0 && strchr(".!%*_+`'~-", c) != NULL);
}

static int is_regex_space(unsigned char c) /* bytes \s: space, \t, \n, \r, \f, \v */
{
    return c == ' ' || (c >= 9 && c <= 13);
}

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* SIP/\d+\.\d+ at i: where it ends, or -1. */
static Py_ssize_t sip_version_end(const unsigned char *s, Py_ssize_t n, Py_ssize_t i)
{
    if (i + 4 > n || memcmp(s + i, "SIP/", 4) != 0)
        return -1;
    i += 4;
    if (i >= n || !is_digit(s[i]))
        return -1;
    while (i < n && is_digit(s[i]))
        i++;
    if (i >= n || s[i] != '.')
        return -1;
    i++;
    if (i >= n || !is_digit(s[i]))
        return -1;
    while (i < n && is_digit(s[i]))
        i++;
    return i;
}

/* \r?\n at i */
static int line_end_at(const unsigned char *s, Py_ssize_t n, Py_ssize_t i)
{
    if (i < n && s[i] == '\r')
        i++;
    return i < n && s[i] == '\n';
}

static int start_line_at(const unsigned char *s, Py_ssize_t n)
{
    Py_ssize_t i = 0, j;
    while (i < n && (s[i] == '\r' || s[i] == '\n'))
        i++;
    j = sip_version_end(s, n, i);
    if (j >= 0) { /* a status line (a request's token cannot hold '/') */
        if (j >= n || (s[j] != ' ' && s[j] != '\t'))
            return 0;
        while (j < n && (s[j] == ' ' || s[j] == '\t'))
            j++;
        if (j + 3 > n || !is_digit(s[j]) || !is_digit(s[j + 1]) || !is_digit(s[j + 2]))
            return 0;
        j += 3;
        if (line_end_at(s, n, j))
            return 1;
        if (j >= n || (s[j] != ' ' && s[j] != '\t'))
            return 0;
        j++;
        while (j < n && s[j] != '\r' && s[j] != '\n')
            j++;
        return line_end_at(s, n, j);
    }
    if (i >= n || !((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z')))
        return 0;
    i++;
    while (i < n && is_token_char(s[i]))
        i++;
    if (i >= n || (s[i] != ' ' && s[i] != '\t'))
        return 0;
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    if (i >= n || is_regex_space(s[i]))
        return 0;
    while (i < n && !is_regex_space(s[i]))
        i++;
    if (i >= n || (s[i] != ' ' && s[i] != '\t'))
        return 0;
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    i = sip_version_end(s, n, i);
    if (i < 0)
        return 0;
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    return line_end_at(s, n, i);
}

/* -- sdp_holes: rtcscope.sip.sdp._holes_py(raw), the parts as one key ---------------------
 *
 * The pattern: a LF, then "o=" and printable ASCII up to CRLF or LF; or "c=IN IP4 " / "c=IN
 * IP6 " and an address of [!-.0-~]+ followed by spaces or tabs and CRLF or LF; or "m=", [a-z]+,
 * a space, and a port of 1 to 5 digits followed by an optional /count, a space and a printable
 * character. Each part matches one way only (what follows a greedy run cannot belong to it),
 * so no backtracking is needed: the split's list is [text, prefix, value, text, ...]. */
static int is_print(unsigned char c) { return c >= 0x21 && c <= 0x7e; } /* [!-~] */

static int ends_line(const unsigned char *s, Py_ssize_t n, Py_ssize_t k) /* (?=\r?\n) */
{
    return (k < n && s[k] == '\n') || (k + 1 < n && s[k] == '\r' && s[k + 1] == '\n');
}

/* The match of the pattern at the LF s[at]: 1 with the prefix [at + 1, *mid) and the value
 * [*mid, *end); 0 without. */
static int changing_value_at(const unsigned char *s, Py_ssize_t n, Py_ssize_t at, Py_ssize_t *mid,
                             Py_ssize_t *end)
{
    Py_ssize_t j = at + 1, k, d;
    if (n - j >= 2 && s[j] == 'o' && s[j + 1] == '=') {
        k = *mid = j + 2;
        while (k < n && s[k] >= 0x20 && s[k] <= 0x7e)
            k++;
        *end = k;
        return ends_line(s, n, k);
    }
    if (n - j >= 9 && memcmp(s + j, "c=IN IP", 7) == 0 && (s[j + 7] == '4' || s[j + 7] == '6') &&
        s[j + 8] == ' ') {
        k = *mid = j + 9;
        while (k < n && is_print(s[k]) && s[k] != '/')
            k++;
        if (k == *mid)
            return 0;
        *end = k;
        while (k < n && (s[k] == ' ' || s[k] == '\t'))
            k++;
        return ends_line(s, n, k);
    }
    if (n - j >= 2 && s[j] == 'm' && s[j + 1] == '=') {
        k = j + 2;
        while (k < n && s[k] >= 'a' && s[k] <= 'z')
            k++;
        if (k == j + 2 || k >= n || s[k] != ' ')
            return 0;
        d = *mid = k + 1;
        while (d < n && is_digit(s[d]))
            d++;
        if (d == *mid || d - *mid > 5)
            return 0;
        *end = k = d;
        if (k < n && s[k] == '/') { /* (?:/[0-9]+)? */
            k++;
            while (k < n && is_digit(s[k]))
                k++;
            if (k == d + 1)
                return 0;
        }
        return k + 1 < n && s[k] == ' ' && is_print(s[k + 1]);
    }
    return 0;
}

static int append_bytes(PyObject *list, const unsigned char *s, Py_ssize_t a, Py_ssize_t b)
{
    PyObject *item = PyBytes_FromStringAndSize((const char *)s + a, b - a);
    int failed = item == NULL || PyList_Append(list, item) < 0;
    Py_XDECREF(item);
    return failed ? -1 : 0;
}

/* sdp_holes: the split's texts and prefixes as one key, its values apart (see sdp.py). Each
 * part of the key: its length (4 bytes, little-endian), then its bytes. */
static void put_part(unsigned char **to, const unsigned char *s, Py_ssize_t a, Py_ssize_t b)
{
    uint32_t size = (uint32_t)(b - a);
    unsigned char *t = *to;
    t[0] = (unsigned char)size;
    t[1] = (unsigned char)(size >> 8);
    t[2] = (unsigned char)(size >> 16);
    t[3] = (unsigned char)(size >> 24);
    memcpy(t + 4, s + a, (size_t)(b - a));
    *to = t + 4 + (b - a);
}

static PyObject *sdp_holes(PyObject *module, PyObject *raw)
{
    const unsigned char *s, *nl;
    unsigned char *to;
    Py_ssize_t n, at = 0, mid, end, last = 0, matches = 0, i;
    PyObject *values, *key, *out;
    (void)module;
    if (!PyBytes_Check(raw)) {
        PyErr_SetString(PyExc_TypeError, "sdp_holes(raw: bytes)");
        return NULL;
    }
    s = (const unsigned char *)PyBytes_AS_STRING(raw);
    n = PyBytes_GET_SIZE(raw);
    if (n > 0x7fffffff) {
        PyErr_SetString(PyExc_ValueError, "sdp_holes(): more than 2 GB");
        return NULL;
    }
    values = PyList_New(0);
    if (values == NULL)
        return NULL;
    /* first pass: the values, and how many matches (the key's size) */
    while (at < n && (nl = memchr(s + at, '\n', (size_t)(n - at))) != NULL) {
        at = nl - s;
        if (!changing_value_at(s, n, at, &mid, &end)) {
            at++;
            continue;
        }
        if (append_bytes(values, s, mid, end) < 0) {
            Py_DECREF(values);
            return NULL;
        }
        matches++;
        at = end;
    }
    /* the key: n bytes less the values' and the LFs' bytes, 4 for each of 2 * matches + 1
     * parts */
    {
        Py_ssize_t size = n + 4 * (2 * matches + 1) - matches;
        for (i = 0; i < matches; i++)
            size -= PyBytes_GET_SIZE(PyList_GET_ITEM(values, i));
        key = PyBytes_FromStringAndSize(NULL, size);
    }
    if (key == NULL) {
        Py_DECREF(values);
        return NULL;
    }
    to = (unsigned char *)PyBytes_AS_STRING(key);
    at = 0;
    while (at < n && (nl = memchr(s + at, '\n', (size_t)(n - at))) != NULL) {
        at = nl - s;
        if (!changing_value_at(s, n, at, &mid, &end)) {
            at++;
            continue;
        }
        put_part(&to, s, last, at);
        put_part(&to, s, at + 1, mid);
        last = at = end;
    }
    put_part(&to, s, last, n);
    out = PyTuple_Pack(2, key, values);
    Py_DECREF(key);
    Py_DECREF(values);
    return out;
}

static PyObject *looks_like_sip(PyObject *module, PyObject *data)
{
    Py_buffer view;
    int found;
    (void)module;
    if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    found = start_line_at((const unsigned char *)view.buf, view.len < 2048 ? view.len : 2048);
    PyBuffer_Release(&view);
    return PyBool_FromLong(found);
}

/* -- the scan's UDP datagrams, a batch at a time (rtcscope.sip.capture.SipCaptureFramer.
 * datagrams; its pure-Python road _datagrams_py is the specification) ------------------- */

enum { F_FRAME, F_TS_NS, F_SRC, F_SPORT, F_DST, F_DPORT, F_TRANSPORT, F_MESSAGE, F_COUNT };
static const char *const CAPTURED_NAMES[F_COUNT] = {"frame", "ts_ns", "src", "sport",
                                                     "dst", "dport", "transport", "message"};
static PyTypeObject *captured_type;
static PyMemberDef *captured_members[F_COUNT];
static PyObject *udp_text;

static PyObject *setup_captured(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    PyTypeObject *type;
    PyMemberDef *found[F_COUNT];
    int i;
    (void)module;
    if (nargs != 2 || !PyType_Check(args[0]) || !PyUnicode_CheckExact(args[1])) {
        PyErr_SetString(PyExc_TypeError, "setup_captured(captured_class, transport: str)");
        return NULL;
    }
    type = (PyTypeObject *)args[0];
    if (type->tp_itemsize != 0 || type->tp_dictoffset != 0) {
        PyErr_SetString(PyExc_TypeError, "setup_captured(): not a plain slotted class");
        return NULL;
    }
    for (i = 0; i < F_COUNT; i++) {
        found[i] = member_named(type, CAPTURED_NAMES[i]);
        if (found[i] == NULL || found[i]->type != T_OBJECT_EX || (found[i]->flags & READONLY)) {
            PyErr_SetString(PyExc_TypeError, "setup_captured(): a field is not a plain slot");
            return NULL;
        }
    }
    for (i = 0; i < F_COUNT; i++)
        captured_members[i] = found[i];
    Py_INCREF(type);
    Py_XSETREF(captured_type, type);
    Py_INCREF(args[1]);
    Py_XSETREF(udp_text, args[1]);
    Py_RETURN_NONE;
}

/* The flows met in one datagrams() call, by the identity of their address objects and the
 * values of their ports: a row of a flow met before in the call takes its shared flow without
 * a key built and looked up (the same flow: its key tuple would be equal). Direct-mapped; the
 * objects held until the call ends. */
#define FLOWS_MET 1024

typedef struct {
    PyObject *src, *dst, *shared; /* shared NULL: an empty slot */
    long sport, dport;
} FlowMet;

/* SipCaptureFramer._shared_flow(key) (its specification): the flow with each address and
 * port the one object every message shares (``shared``), kept in ``flows`` as its own key;
 * both emptied first when ``flows`` holds ``limit`` flows (and the flows met: what they hold
 * is no longer in ``flows``). A new reference, or NULL. */
static PyObject *share_flow(PyObject *key, PyObject *flows, PyObject *shared, Py_ssize_t limit,
                            FlowMet *met)
{
    PyObject *items[4], *found;
    int k;
    if (PyDict_GET_SIZE(flows) >= limit) {
        PyDict_Clear(flows); /* bounded: a scan of many hosts keeps the last ones */
        PyDict_Clear(shared);
        for (k = 0; k < FLOWS_MET; k++) {
            Py_CLEAR(met[k].src);
            Py_CLEAR(met[k].dst);
            Py_CLEAR(met[k].shared);
        }
    }
    for (k = 0; k < 4; k++) {
        PyObject *item = PyTuple_GET_ITEM(key, k);
        items[k] = PyDict_SetDefault(shared, item, item); /* borrowed: held by ``shared`` */
        if (items[k] == NULL)
            return NULL;
    }
    found = PyTuple_Pack(4, items[0], items[1], items[2], items[3]);
    if (found != NULL && PyDict_SetItem(flows, found, found) < 0)
        Py_CLEAR(found);
    return found;
}

/* A CapturedSip of the datagram at row i (ports sp and dp), its flow shared (met, flows,
 * share_flow). */
static PyObject *captured_of(PyObject *const *columns, Py_ssize_t i, long sp, long dp,
                             PyObject *flows, PyObject *shared_items, Py_ssize_t limit,
                             FlowMet *met, PyObject *message)
{
    PyObject *src = PyList_GET_ITEM(columns[0], i), *dst = PyList_GET_ITEM(columns[2], i);
    PyObject *key, *shared = NULL, *captured, *values[F_COUNT];
    FlowMet *seen;
    int k;
    uint64_t h = (uint64_t)(uintptr_t)src * 0x9e3779b97f4a7c15u ^
                 (uint64_t)(uintptr_t)dst * 0xc2b2ae3d27d4eb4fu ^
                 ((uint64_t)sp << 20 ^ (uint64_t)dp) * 0x165667b19e3779f9u;

    seen = &met[(h >> 40) & (FLOWS_MET - 1)];
    if (seen->shared != NULL && seen->src == src && seen->dst == dst && seen->sport == sp &&
        seen->dport == dp)
        shared = Py_NewRef(seen->shared);
    if (shared == NULL) {
        PyObject *sport = PyLong_FromLong(sp), *dport = PyLong_FromLong(dp);
        key = sport == NULL || dport == NULL ? NULL : PyTuple_Pack(4, src, sport, dst, dport);
        Py_XDECREF(sport);
        Py_XDECREF(dport);
        if (key == NULL)
            return NULL;
        shared = PyDict_GetItemWithError(flows, key);
        if (shared != NULL)
            Py_INCREF(shared);
        else if (!PyErr_Occurred())
            shared = share_flow(key, flows, shared_items, limit, met);
        Py_DECREF(key);
        if (shared == NULL)
            return NULL;
        if (!PyTuple_CheckExact(shared) || PyTuple_GET_SIZE(shared) != 4) {
            Py_DECREF(shared);
            PyErr_SetString(PyExc_TypeError, "a shared flow is not a 4-tuple");
            return NULL;
        }
        Py_XSETREF(seen->src, Py_NewRef(src));
        Py_XSETREF(seen->dst, Py_NewRef(dst));
        Py_XSETREF(seen->shared, Py_NewRef(shared));
        seen->sport = sp;
        seen->dport = dp;
    }
    captured = captured_type->tp_alloc(captured_type, 0);
    if (captured == NULL) {
        Py_DECREF(shared);
        return NULL;
    }
    values[F_FRAME] = PyList_GET_ITEM(columns[4], i);
    values[F_TS_NS] = PyList_GET_ITEM(columns[5], i);
    values[F_SRC] = PyTuple_GET_ITEM(shared, 0);
    values[F_SPORT] = PyTuple_GET_ITEM(shared, 1);
    values[F_DST] = PyTuple_GET_ITEM(shared, 2);
    values[F_DPORT] = PyTuple_GET_ITEM(shared, 3);
    values[F_TRANSPORT] = udp_text;
    values[F_MESSAGE] = message;
    /* a new object's slots are empty: each set as its descriptor would set it */
    for (k = 0; k < F_COUNT; k++)
        Py_XSETREF(*(PyObject **)((char *)captured + captured_members[k]->offset),
                   Py_NewRef(values[k]));
    Py_DECREF(shared);
    return captured;
}

/* A column of int64 values (a C-contiguous buffer of native 8-byte signed integers, as NumPy's
 * int64 arrays give) of ``count`` items: 0 with *view held, -1 with an exception set. */
static int int64_column(PyObject *column, Py_ssize_t count, Py_buffer *view)
{
    if (PyObject_GetBuffer(column, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0)
        return -1;
    if (view->itemsize != 8 || view->format == NULL ||
        (strcmp(view->format, "l") != 0 && strcmp(view->format, "q") != 0) ||
        sizeof(long) != 8) {
        PyBuffer_Release(view);
        PyErr_SetString(PyExc_TypeError, "datagrams(): a column of offsets or ports is not int64");
        return -1;
    }
    if (view->len / 8 != count) {
        PyBuffer_Release(view);
        PyErr_SetString(PyExc_ValueError, "datagrams(): columns of different lengths");
        return -1;
    }
    return 0;
}

/* The int64 item i of a column as an offset within [0, limit]; -1 with an exception set when
 * not. */
static Py_ssize_t offset_at(const Py_buffer *column, Py_ssize_t i, Py_ssize_t limit)
{
    int64_t value;
    memcpy(&value, (const char *)column->buf + 8 * i, 8);
    if (value < 0 || value > (int64_t)limit) {
        PyErr_SetString(PyExc_ValueError, "a datagram offset outside the buffer");
        return -1;
    }
    return (Py_ssize_t)value;
}

/* The int64 item i of a column as a port (a C long: int64 where this module runs). */
static long port_at(const Py_buffer *column, Py_ssize_t i)
{
    int64_t value;
    memcpy(&value, (const char *)column->buf + 8 * i, 8);
    return (long)value;
}

static PyObject *datagrams(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    /* args: buffer, starts, stops, frames, times, srcs, sports, dsts, dports, flows, shared,
     * limit, finish; starts, stops, sports and dports int64 columns, the others lists */
    static const int int64_args[4] = {1, 2, 6, 8};
    Py_buffer view, numbers[4];
    PyObject *out = NULL, *item, *raw, *built, *columns[6];
    Py_ssize_t count, i, start, stop, size, keepalives = 0, left = 0, j, limit;
    const unsigned char *base, *s;
    FlowMet *met;
    int ok = 1, held = 0;

    (void)module;
    if (nargs != 13 || !PyDict_CheckExact(args[9]) || !PyDict_CheckExact(args[10]) ||
        !PyLong_Check(args[11]) || !PyCallable_Check(args[12])) {
        PyErr_SetString(PyExc_TypeError,
                        "datagrams(buffer, starts, stops, frames, times, srcs, sports, dsts, "
                        "dports, flows: dict, shared: dict, limit: int, finish)");
        return NULL;
    }
    limit = PyLong_AsSsize_t(args[11]);
    if (limit == -1 && PyErr_Occurred())
        return NULL;
    if (template_message == NULL || captured_type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "datagrams() before setup_build() and setup_captured()");
        return NULL;
    }
    if (!PyList_CheckExact(args[3]) || !PyList_CheckExact(args[4]) || !PyList_CheckExact(args[5]) ||
        !PyList_CheckExact(args[7])) {
        PyErr_SetString(PyExc_TypeError, "datagrams(): frames, times, srcs and dsts must be lists");
        return NULL;
    }
    count = PyList_GET_SIZE(args[3]);
    if (PyList_GET_SIZE(args[4]) != count || PyList_GET_SIZE(args[5]) != count ||
        PyList_GET_SIZE(args[7]) != count) {
        PyErr_SetString(PyExc_ValueError, "datagrams(): columns of different lengths");
        return NULL;
    }
    for (held = 0; held < 4; held++) {
        if (int64_column(args[int64_args[held]], count, &numbers[held]) < 0) {
            for (j = 0; j < held; j++)
                PyBuffer_Release(&numbers[j]);
            return NULL;
        }
    }
    /* flow key columns (source, port, destination, port), then frame and time */
    columns[0] = args[5];
    columns[1] = NULL;
    columns[2] = args[7];
    columns[3] = NULL;
    columns[4] = args[3];
    columns[5] = args[4];
    met = PyMem_Calloc(FLOWS_MET, sizeof(FlowMet));
    if (met == NULL) {
        PyErr_NoMemory();
        goto released;
    }
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0) {
        PyMem_Free(met);
        goto released;
    }
    base = (const unsigned char *)view.buf;
    out = PyList_New(0);
    if (out == NULL)
        ok = 0;
    for (i = 0; ok && i < count; i++) {
        start = offset_at(&numbers[0], i, view.len);
        stop = start < 0 ? -1 : offset_at(&numbers[1], i, view.len);
        if (stop < 0) {
            ok = 0;
            break;
        }
        if (stop < start) {
            PyErr_SetString(PyExc_ValueError, "a datagram ending before its start");
            ok = 0;
            break;
        }
        s = base + start;
        size = stop - start;
        if (size < 12) {
            if (size > 0) {
                for (j = 0; j < size; j++)
                    if (s[j] != '\r' && s[j] != '\n' && s[j] != 0)
                        break;
                if (j == size)
                    keepalives++;
            }
            continue;
        }
        if (s[0] == '\r' || s[0] == '\n') {
            item = PyLong_FromSsize_t(i); /* the Python road reads it (a keep-alive, maybe) */
            left++;
        } else if (!((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z')) ||
                   !start_line_at(s, size < 2048 ? size : 2048)) {
            continue;
        } else {
            raw = PyBytes_FromStringAndSize((const char *)s, size);
            if (raw == NULL) {
                ok = 0;
                break;
            }
            built = build_raw(raw, 0);
            Py_DECREF(raw);
            if (built == NULL) {
                ok = 0;
                break;
            }
            if (PyTuple_CheckExact(built)) {
                /* more to read than the common shape: finished by the Python road now, as
                 * parse_started finishes it (what it puts in the caches serves the next
                 * messages of the batch) */
                Py_SETREF(built, PyObject_CallOneArg(args[12], built));
                if (built == NULL) {
                    ok = 0;
                    break;
                }
            }
            item = captured_of(columns, i, port_at(&numbers[2], i), port_at(&numbers[3], i),
                               args[9], args[10], limit, met, built);
            Py_DECREF(built);
        }
        if (item == NULL || PyList_Append(out, item) < 0)
            ok = 0;
        Py_XDECREF(item);
    }
    PyBuffer_Release(&view);
    for (i = 0; i < FLOWS_MET; i++) {
        Py_XDECREF(met[i].src);
        Py_XDECREF(met[i].dst);
        Py_XDECREF(met[i].shared);
    }
    PyMem_Free(met);
released:
    for (j = 0; j < 4; j++)
        PyBuffer_Release(&numbers[j]);
    if (!ok || out == NULL) {
        Py_XDECREF(out);
        return NULL;
    }
    return Py_BuildValue("(Nnn)", out, keepalives, left);
}

/* sdp_announce: defined at the end of the file. */
static PyObject *sdp_announce(PyObject *module, PyObject *const *args, Py_ssize_t nargs);
static PyObject *setup_announcer(PyObject *module, PyObject *given);
static PyObject *announcer_feed(PyObject *module, PyObject *const *args, Py_ssize_t nargs);
static PyObject *announcer_batch(PyObject *module, PyObject *const *args, Py_ssize_t nargs);

static PyMethodDef methods[] = {
    {"plain_fields", (PyCFunction)(void (*)(void))plain_fields, METH_FASTCALL,
     "plain_fields(raw, pos) -> (end, start line, Content-Type, Content-Length, Call-ID, CSeq,\n"
     "From, To lines, Via lines joined by CRLF) | None (not the common shape) | False (ask\n"
     "the Python road): see rtcscope.sip.message._plain_fields_py."},
    {"setup", setup, METH_O,
     "setup(caches): message.py's caches the fill() reads (a tuple, see message.py)."},
    {"fill", (PyCFunction)(void (*)(void))fill, METH_FASTCALL,
     "fill(message, raw, pos): plain_fields(raw, pos), the values already in message.py's\n"
     "caches stored on the message and their lines None in the tuple."},
    {"setup_build", (PyCFunction)(void (*)(void))setup_build, METH_FASTCALL,
     "setup_build(template, cache_limit): a message made by its class's __init__, whose slots\n"
     "build() copies into each new message, and the size at which message.py clears its\n"
     "caches (after setup())."},
    {"build", (PyCFunction)(void (*)(void))build, METH_FASTCALL,
     "build(raw, pos) -> message | (message, fill()'s result): a new message of the template's\n"
     "class holding raw, filled as fill() does, header_length set for the common shape; the\n"
     "message alone when nothing is left for the Python road."},
    {"setup_captured", (PyCFunction)(void (*)(void))setup_captured, METH_FASTCALL,
     "setup_captured(captured_class, transport): the class (slots frame, ts_ns, src, sport,\n"
     "dst, dport, transport, message) datagrams() makes, and the transport text it stores."},
    {"datagrams", (PyCFunction)(void (*)(void))datagrams, METH_FASTCALL,
     "datagrams(buffer, starts, stops, frames, times, srcs, sports, dsts, dports, flows,\n"
     "shared, limit, finish) -> (items, keep-alives, left): rtcscope.sip.capture.\n"
     "_datagrams_py's reading of the payloads buffer[start:stop]: a captured message per SIP\n"
     "datagram (its flow shared: flows[flow], else made as SipCaptureFramer._shared_flow\n"
     "makes it, with its dicts flows and shared and its limit; a message not of the common\n"
     "shape finished by finish(build()'s tuple) at once), the row's index where the Python\n"
     "road must read it (a payload starting with CR or LF): 'left' of those, in row order;\n"
     "keep-alives shorter than 12 bytes counted."},
    {"sdp_holes", sdp_holes, METH_O,
     "sdp_holes(raw: bytes) -> (key, values): sdp._CHANGING_VALUE.split(raw)'s values (every\n"
     "third item from the third), its other items as one bytes key, each its length (4 bytes,\n"
     "little-endian) and its bytes."},
    {"looks_like_sip", looks_like_sip, METH_O,
     "looks_like_sip(data) -> bool: rtcscope.sip.message.looks_like_sip's test."},
    {"sdp_announce", (PyCFunction)(void (*)(void))sdp_announce, METH_FASTCALL,
     "sdp_announce(raw, templates, head, make, addresses, limit) -> list | None: what the\n"
     "media sections of the SDP raw announce, filled into its template (templates[key] of\n"
     "sdp_holes(raw)), each a make (tuple or a subclass) of head's values then the\n"
     "section's; None where the template cannot tell: rtcscope.sip.sdp._announce_py."},
    {"setup_announcer", setup_announcer, METH_O,
     "setup_announcer((cseqs, texts, shared_text, media_types, templates, make, addresses,\n"
     "limit, announced_untold)): what announcer_feed() reads besides the announcer's state:\n"
     "rtcscope.sip.capture's _CSEQS, _TEXTS and _shared_text, message._MEDIA_TYPES, and\n"
     "sdp_announce()'s arguments and sdp._announced_untold."},
    {"announcer_feed", (PyCFunction)(void (*)(void))announcer_feed, METH_FASTCALL,
     "announcer_feed(item, caller_tags, offers, pending) -> list | None: rtcscope.sip.capture.\n"
     "MediaAnnouncer._feed_py(item) with the announcer's dict and sets; None (no change but the\n"
     "caller's tag _feed_py keeps first) where the Python road must read the message."},
    {"announcer_batch", (PyCFunction)(void (*)(void))announcer_batch, METH_FASTCALL,
     "announcer_batch(items, caller_tags, offers, pending, feed_py, ahead) -> (announcements,\n"
     "announcing): rtcscope.sip.capture.MediaAnnouncer._feed_batch_py(items, ahead) with the\n"
     "announcer's dict and sets, feed_py reading what announcer_feed leaves."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_sipscan",
    "The common-shape header scan of rtcscope.sip.message in C (optional accelerator).", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__sipscan(void)
{
    return PyModule_Create(&module);
}

/* -- sdp_announce: rtcscope.sip.sdp._announce_py(raw, templates, head, make, addresses, limit) --
 *
 * A template's section (sdp._Entry): (address_from, port_from, index, media, proto,
 * rtcp_address, rtcp_code, rtcp_mux, direction, held, rest). The values of an announcement:
 * head's, index, media, proto, address, port, rtcp_address or address, the RTCP port, rtcp_mux,
 * direction, held or a hold address, then rest's. */
#define SDP_RTCP_SAME (-2)
#define SDP_RTCP_NEXT (-1)

/* A new tuple of make's class (a subclass of tuple) of n items, all NULL. */
static PyObject *new_made(PyTypeObject *make, Py_ssize_t n)
{
    if (make == &PyTuple_Type)
        return PyTuple_New(n);
#if PY_VERSION_HEX < 0x030E0000
    return make->tp_alloc(make, n); /* as tuple's own subtype_new fills it */
#else
    {
        /* a tuple caches its hash from 3.14: made by tuple's constructor */
        PyObject *plain = PyTuple_New(n), *args, *out;
        Py_ssize_t i;
        if (plain == NULL)
            return NULL;
        for (i = 0; i < n; i++)
            PyTuple_SET_ITEM(plain, i, Py_NewRef(Py_None));
        args = PyTuple_Pack(1, plain);
        Py_DECREF(plain);
        if (args == NULL)
            return NULL;
        out = PyTuple_Type.tp_new(make, args, NULL);
        Py_DECREF(args);
        if (out != NULL)
            for (i = 0; i < n; i++) {
                Py_DECREF(PyTuple_GET_ITEM(out, i));
                PyTuple_SET_ITEM(out, i, NULL);
            }
        return out;
    }
#endif
}

/* The value values[index] of a template's index object (bytes), or NULL with an error. */
static PyObject *hole_value(PyObject *values, PyObject *index)
{
    Py_ssize_t i = PyLong_AsSsize_t(index);
    PyObject *value;
    if (i == -1 && PyErr_Occurred())
        return NULL;
    if (i < 0 || i >= PyList_GET_SIZE(values)) {
        PyErr_SetString(PyExc_ValueError, "sdp_announce(): a template's value index out of range");
        return NULL;
    }
    value = PyList_GET_ITEM(values, i);
    if (!PyBytes_Check(value)) {
        PyErr_SetString(PyExc_TypeError, "sdp_announce(): a value is not bytes");
        return NULL;
    }
    return value;
}

/* One section's announcement (a new reference), or NULL: with an error, or without one for a
 * port above 65535 (*rejected set). */
static PyObject *announce_entry(PyObject *entry, PyObject *values, PyObject *head,
                                PyTypeObject *make, PyObject *addresses, Py_ssize_t limit,
                                int *rejected)
{
    PyObject *text, *address, *rest, *rtcp_address, *rtcp_port, *held, *port_obj, *out;
    const char *digits;
    Py_ssize_t size, i, nhead, width, at;
    long port = 0, code;
    int hold;
    if (!PyTuple_Check(entry) || PyTuple_GET_SIZE(entry) != 11 ||
        !PyTuple_Check(PyTuple_GET_ITEM(entry, 10)) || !PyLong_Check(PyTuple_GET_ITEM(entry, 6))) {
        PyErr_SetString(PyExc_TypeError, "sdp_announce(): a template's section is not an _Entry");
        return NULL;
    }
    text = hole_value(values, PyTuple_GET_ITEM(entry, 1));
    if (text == NULL)
        return NULL;
    digits = PyBytes_AS_STRING(text);
    size = PyBytes_GET_SIZE(text);
    if (size < 1 || size > 9) {
        PyErr_SetString(PyExc_ValueError, "sdp_announce(): a port is not 1 to 9 digits");
        return NULL;
    }
    for (i = 0; i < size; i++) {
        if (!is_digit((unsigned char)digits[i])) {
            PyErr_SetString(PyExc_ValueError, "sdp_announce(): a port is not digits");
            return NULL;
        }
        port = port * 10 + (digits[i] - '0');
    }
    if (port > 65535) {
        *rejected = 1; /* the parser rejects this m= line */
        return NULL;
    }
    /* the address: a changing value's text (shared through addresses), else as written */
    address = PyTuple_GET_ITEM(entry, 0);
    if (PyLong_Check(address)) {
        text = hole_value(values, address);
        if (text == NULL)
            return NULL;
        address = PyDict_GetItemWithError(addresses, text);
        if (address == NULL) {
            if (PyErr_Occurred())
                return NULL;
            if (PyDict_GET_SIZE(addresses) >= limit)
                PyDict_Clear(addresses);
            address = PyUnicode_DecodeASCII(PyBytes_AS_STRING(text), PyBytes_GET_SIZE(text),
                                            NULL);
            if (address == NULL)
                return NULL;
            if (PyDict_SetItem(addresses, text, address) < 0) {
                Py_DECREF(address);
                return NULL;
            }
        } else {
            Py_INCREF(address);
        }
    } else {
        Py_INCREF(address);
    }
    /* the RTCP port (section_rtcp_port) */
    code = PyLong_AsLong(PyTuple_GET_ITEM(entry, 6));
    if (code == -1 && PyErr_Occurred()) {
        Py_DECREF(address);
        return NULL;
    }
    if (port == 0)
        rtcp_port = Py_NewRef(Py_None);
    else if (code == SDP_RTCP_NEXT)
        rtcp_port = PyLong_FromLong(port + 1);
    else if (code == SDP_RTCP_SAME)
        rtcp_port = PyLong_FromLong(port);
    else
        rtcp_port = Py_NewRef(PyTuple_GET_ITEM(entry, 6));
    port_obj = PyLong_FromLong(port);
    rtcp_address = PyTuple_GET_ITEM(entry, 5);
    hold = PyObject_IsTrue(rtcp_address);
    if (rtcp_port == NULL || port_obj == NULL || hold < 0) {
        Py_XDECREF(rtcp_port);
        Py_XDECREF(port_obj);
        Py_DECREF(address);
        return NULL;
    }
    if (!hold)
        rtcp_address = address;
    /* held or address in HOLD_ADDRESSES */
    held = PyTuple_GET_ITEM(entry, 9);
    hold = PyObject_IsTrue(held);
    if (hold < 0) {
        Py_DECREF(rtcp_port);
        Py_DECREF(port_obj);
        Py_DECREF(address);
        return NULL;
    }
    if (!hold)
        held = PyBool_FromLong(PyUnicode_Check(address) &&
                               (PyUnicode_CompareWithASCIIString(address, "0.0.0.0") == 0 ||
                                PyUnicode_CompareWithASCIIString(address, "::") == 0));
    else
        Py_INCREF(held);
    rest = PyTuple_GET_ITEM(entry, 10);
    nhead = PyTuple_GET_SIZE(head);
    width = nhead + 10 + PyTuple_GET_SIZE(rest);
    out = new_made(make, width);
    if (out == NULL) {
        Py_DECREF(held);
        Py_DECREF(rtcp_port);
        Py_DECREF(port_obj);
        Py_DECREF(address);
        return NULL;
    }
    for (i = 0; i < nhead; i++)
        PyTuple_SET_ITEM(out, i, Py_NewRef(PyTuple_GET_ITEM(head, i)));
    at = nhead;
    PyTuple_SET_ITEM(out, at, Py_NewRef(PyTuple_GET_ITEM(entry, 2))); /* index */
    PyTuple_SET_ITEM(out, at + 1, Py_NewRef(PyTuple_GET_ITEM(entry, 3))); /* media */
    PyTuple_SET_ITEM(out, at + 2, Py_NewRef(PyTuple_GET_ITEM(entry, 4))); /* proto */
    PyTuple_SET_ITEM(out, at + 3, Py_NewRef(address));
    PyTuple_SET_ITEM(out, at + 4, port_obj);
    PyTuple_SET_ITEM(out, at + 5, Py_NewRef(rtcp_address));
    PyTuple_SET_ITEM(out, at + 6, rtcp_port);
    PyTuple_SET_ITEM(out, at + 7, Py_NewRef(PyTuple_GET_ITEM(entry, 7))); /* rtcp_mux */
    PyTuple_SET_ITEM(out, at + 8, Py_NewRef(PyTuple_GET_ITEM(entry, 8))); /* direction */
    PyTuple_SET_ITEM(out, at + 9, held);
    for (i = 0; i < PyTuple_GET_SIZE(rest); i++)
        PyTuple_SET_ITEM(out, at + 10 + i, Py_NewRef(PyTuple_GET_ITEM(rest, i)));
    Py_DECREF(address);
    return out;
}

static PyObject *sdp_announce(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *split, *template, *out = NULL, *item;
    Py_ssize_t limit, i, count;
    int rejected = 0;
    if (nargs != 6 || !PyDict_Check(args[1]) || !PyTuple_Check(args[2]) || !PyType_Check(args[3]) ||
        !PyType_IsSubtype((PyTypeObject *)args[3], &PyTuple_Type) || !PyDict_Check(args[4])) {
        PyErr_SetString(PyExc_TypeError,
                        "sdp_announce(raw: bytes, templates: dict, head: tuple, make: type[tuple], "
                        "addresses: dict, limit: int)");
        return NULL;
    }
    limit = PyLong_AsSsize_t(args[5]);
    if (limit == -1 && PyErr_Occurred())
        return NULL;
    split = sdp_holes(module, args[0]);
    if (split == NULL)
        return NULL;
    template = PyDict_GetItemWithError(args[1], PyTuple_GET_ITEM(split, 0));
    if (template == NULL || template == Py_None) {
        Py_DECREF(split);
        return PyErr_Occurred() ? NULL : Py_NewRef(Py_None);
    }
    if (!PyTuple_Check(template)) {
        Py_DECREF(split);
        PyErr_SetString(PyExc_TypeError, "sdp_announce(): a template is not a tuple");
        return NULL;
    }
    Py_INCREF(template); /* the addresses' clearing runs no code, but hold it */
    count = PyTuple_GET_SIZE(template);
    out = PyList_New(count);
    for (i = 0; out != NULL && i < count; i++) {
        item = announce_entry(PyTuple_GET_ITEM(template, i), PyTuple_GET_ITEM(split, 1), args[2],
                              (PyTypeObject *)args[3], args[4], limit, &rejected);
        if (item == NULL) {
            Py_CLEAR(out);
            break;
        }
        PyList_SET_ITEM(out, i, item);
    }
    Py_DECREF(template);
    Py_DECREF(split);
    if (out == NULL && rejected && !PyErr_Occurred())
        return Py_NewRef(Py_None);
    return out;
}

/* -- announcer_feed: rtcscope.sip.capture.MediaAnnouncer._feed_py(item) ---------------------
 *
 * The announcer's step for one message: the caller's tag of a dialog's first INVITE kept, then,
 * for an SDP body, offer or answer decided (RFC 3264 bookkeeping in the announcer's sets), the
 * SIP fields of its announcements put together and the SDP read by sdp_announce (else by
 * announced_media's next step, sdp._announced_untold), in _feed_py's order (an exception leaves the state as there). Every case
 * this does not take (a message not of the SipMessage class, a body that is not plainly
 * application/sdp, a CSeq or summary text not cached yet, a message without a start line, values
 * of other types) returns None before the sets change, at most the caller's tag kept (which the
 * Python road then finds kept): the Python road reads it all. */
enum {
    N_MESSAGE, N_FRAME, N_TS_NS, N_SRC, N_SPORT, N_DST, N_DPORT, N_REQUEST_METHOD, N_TO_TAG,
    N_CALL_ID, N_FROM_TAG, N_CONTENT_LENGTH, N_CONTENT_TYPE, N_RAW, N_HEADER_LENGTH, N_CSEQ,
    N_NUMBER, N_METHOD, N_URI, N_STATUS, N_REASON, N_COUNT
};
static const char *const FEED_NAMES[N_COUNT] = {
    "message", "frame", "ts_ns", "src", "sport", "dst", "dport", "request_method", "to_tag",
    "call_id", "from_tag", "content_length", "_content_type_value", "raw", "header_length",
    "cseq", "number", "method", "request_uri_text", "status_code", "reason",
};
static PyObject *feed_names[N_COUNT];
/* (cseqs, texts, shared_text, media_types, templates, make, addresses, limit, announced_untold) */
enum {
    S_CSEQS, S_TEXTS, S_SHARED_TEXT, S_MEDIA_TYPES, S_TEMPLATES, S_MAKE, S_ADDRESSES, S_LIMIT,
    S_ANNOUNCED, S_COUNT
};
static PyObject *feed_setup[S_COUNT];
static PyObject *word_offer, *word_answer, *word_caller, *word_callee, *word_invite, *word_sdp;
/* Where each field is read without a lookup: the slot of an object of exactly the class that
 * holds it (CapturedSip's from setup_captured, SipMessage's from setup and setup_build); NULL:
 * by name. */
static PyTypeObject *feed_types[N_COUNT];
static PyMemberDef *feed_members[N_COUNT];

/* obj.<field> (a new reference), or NULL with an exception (an unset slot: as getattr). */
static PyObject *feed_attr(PyObject *obj, int field)
{
    if (feed_types[field] != NULL && Py_IS_TYPE(obj, feed_types[field])) {
        PyObject *value = *(PyObject **)((char *)obj + feed_members[field]->offset);
        if (value != NULL)
            return Py_NewRef(value);
    }
    return PyObject_GetAttr(obj, feed_names[field]);
}

/* The slots feed_attr() reads, from the classes set up by then (each held while read here:
 * a class set up again later leaves these as they are, consistent). */
static void feed_slots(void)
{
    static const int captured[][2] = {{N_MESSAGE, F_MESSAGE}, {N_FRAME, F_FRAME},
                                      {N_TS_NS, F_TS_NS},     {N_SRC, F_SRC},
                                      {N_SPORT, F_SPORT},     {N_DST, F_DST},
                                      {N_DPORT, F_DPORT}};
    static const int message[][2] = {
        {N_REQUEST_METHOD, A_METHOD}, {N_TO_TAG, A_TO_TAG},         {N_CALL_ID, A_CALL_ID},
        {N_FROM_TAG, A_FROM_TAG},     {N_CONTENT_LENGTH, A_LENGTH}, {N_CONTENT_TYPE, A_TYPE},
        {N_CSEQ, A_CSEQ},             {N_URI, A_URI},               {N_STATUS, A_STATUS},
        {N_REASON, A_REASON}};
    size_t i;
    for (i = 0; i < N_COUNT; i++)
        Py_CLEAR(feed_types[i]);
    if (captured_type != NULL) {
        for (i = 0; i < sizeof(captured) / sizeof(captured[0]); i++) {
            feed_types[captured[i][0]] = captured_type;
            feed_members[captured[i][0]] = captured_members[captured[i][1]];
        }
    }
    if (caches[C_MESSAGE_CLASS] != NULL && members[A_COUNT - 1] != NULL) {
        PyTypeObject *type = (PyTypeObject *)caches[C_MESSAGE_CLASS];
        for (i = 0; i < sizeof(message) / sizeof(message[0]); i++) {
            feed_types[message[i][0]] = type;
            feed_members[message[i][0]] = members[message[i][1]];
        }
        if (template_message != NULL && Py_IS_TYPE(template_message, type)) {
            feed_types[N_RAW] = feed_types[N_HEADER_LENGTH] = type;
            feed_members[N_RAW] = raw_member;
            feed_members[N_HEADER_LENGTH] = header_length_member;
        }
    }
    for (i = 0; i < N_COUNT; i++)
        Py_XINCREF(feed_types[i]);
}

static PyObject *setup_announcer(PyObject *module, PyObject *given)
{
    int i;
    (void)module;
    if (!PyTuple_CheckExact(given) || PyTuple_GET_SIZE(given) != S_COUNT ||
        !PyDict_CheckExact(PyTuple_GET_ITEM(given, S_CSEQS)) ||
        !PyDict_CheckExact(PyTuple_GET_ITEM(given, S_TEXTS)) ||
        !PyCallable_Check(PyTuple_GET_ITEM(given, S_SHARED_TEXT)) ||
        !PyDict_CheckExact(PyTuple_GET_ITEM(given, S_MEDIA_TYPES)) ||
        !PyDict_Check(PyTuple_GET_ITEM(given, S_TEMPLATES)) ||
        !PyType_Check(PyTuple_GET_ITEM(given, S_MAKE)) ||
        !PyType_IsSubtype((PyTypeObject *)PyTuple_GET_ITEM(given, S_MAKE), &PyTuple_Type) ||
        !PyDict_Check(PyTuple_GET_ITEM(given, S_ADDRESSES)) ||
        !PyLong_CheckExact(PyTuple_GET_ITEM(given, S_LIMIT)) ||
        !PyCallable_Check(PyTuple_GET_ITEM(given, S_ANNOUNCED))) {
        PyErr_SetString(PyExc_TypeError,
                        "setup_announcer((cseqs: dict, texts: dict, shared_text, media_types: "
                        "dict, templates: dict, make: type[tuple], addresses: dict, limit: int, "
                        "announced_untold))");
        return NULL;
    }
    for (i = 0; i < N_COUNT; i++) {
        if (feed_names[i] == NULL && (feed_names[i] = PyUnicode_InternFromString(FEED_NAMES[i])) == NULL)
            return NULL;
    }
#define WORD(name, text)                                                                          \
    if (name == NULL && (name = PyUnicode_InternFromString(text)) == NULL)                        \
        return NULL;
    WORD(word_offer, "offer")
    WORD(word_answer, "answer")
    WORD(word_caller, "caller")
    WORD(word_callee, "callee")
    WORD(word_invite, "INVITE")
    WORD(word_sdp, "application/sdp")
#undef WORD
    for (i = 0; i < S_COUNT; i++) {
        PyObject *item = PyTuple_GET_ITEM(given, i);
        Py_INCREF(item);
        Py_XSETREF(feed_setup[i], item);
    }
    feed_slots();
    Py_RETURN_NONE;
}

/* Whether a str equals the ASCII word (exactly, no case folding). */
static int is_word(PyObject *text, PyObject *word)
{
    return text == word || (PyUnicode_CheckExact(text) && PyUnicode_Compare(text, word) == 0);
}

/* The summary text (message.summary), not shared yet: a new reference; NULL and *fallback set
 * where the Python road must read it (no error), NULL alone on an error. */
static PyObject *feed_summary(PyObject *method, PyObject *uri, PyObject *code, PyObject *reason,
                              int *fallback)
{
    if (method != Py_None) {
        if (!PyUnicode_CheckExact(uri)) {
            *fallback = 1;
            return NULL;
        }
        return PyUnicode_FromFormat("%U %U", method, uri);
    } else {
        Py_ssize_t n;
        if (!PyLong_CheckExact(code) || (reason != Py_None && !PyUnicode_CheckExact(reason))) {
            *fallback = 1;
            return NULL;
        }
        n = reason == Py_None ? 0 : PyUnicode_GET_LENGTH(reason);
        if (n == 0)
            return PyObject_Str(code); /* f"{code} ".rstrip() */
        if (Py_UNICODE_ISSPACE(PyUnicode_READ_CHAR(reason, n - 1))) {
            *fallback = 1; /* .rstrip() would cut the reason */
            return NULL;
        }
        return PyUnicode_FromFormat("%S %U", code, reason);
    }
}

/* _TEXTS.get(text) or _shared_text(text): a new reference, NULL on an error (text: stolen). */
static PyObject *shared_summary(PyObject *text)
{
    PyObject *found = PyDict_GetItemWithError(feed_setup[S_TEXTS], text);
    int r;
    if (found == NULL && PyErr_Occurred()) {
        Py_DECREF(text);
        return NULL;
    }
    if (found != NULL) {
        Py_INCREF(found);
        r = PyObject_IsTrue(found);
        if (r != 0) {
            Py_DECREF(text);
            if (r < 0)
                Py_CLEAR(found);
            return found;
        }
        Py_DECREF(found);
    }
    Py_SETREF(text, PyObject_CallOneArg(feed_setup[S_SHARED_TEXT], text));
    return text;
}

/* An exact int as a bound of a slice of bytes: 1 with *out set (a value past PY_SSIZE_T_MAX as
 * PY_SSIZE_T_MAX: raw[start:start + length] takes a huge Content-Length as the rest of the
 * bytes), 0 for a negative one (the Python road's), -1 on an error. */
static int slice_bound(PyObject *value, Py_ssize_t *out)
{
    int overflow;
    long long n = PyLong_AsLongLongAndOverflow(value, &overflow);
    if (n == -1 && !overflow && PyErr_Occurred())
        return -1;
    if (overflow < 0 || (!overflow && n < 0))
        return 0;
    *out = overflow > 0 || n > (long long)PY_SSIZE_T_MAX ? PY_SSIZE_T_MAX : (Py_ssize_t)n;
    return 1;
}

/* The announcer's state: MediaAnnouncer's caller tags (dict) and offer/answer sets. */
typedef struct {
    PyObject *callers, *offers, *pending;
} AnnouncerState;

/* The state from args[0:3], checked; 0, or -1 with an exception set. */
static int announcer_state(PyObject *const *args, AnnouncerState *state, const char *signature)
{
    if (!PyDict_CheckExact(args[0]) || !PySet_CheckExact(args[1]) || !PySet_CheckExact(args[2])) {
        PyErr_SetString(PyExc_TypeError, signature);
        return -1;
    }
    if (feed_setup[0] == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "announcer_feed() before setup_announcer()");
        return -1;
    }
    state->callers = args[0];
    state->offers = args[1];
    state->pending = args[2];
    return 0;
}

/* message.<field> of a SipMessage (of exactly the class set up: checked by the caller): a new
 * reference, or NULL without an exception for an unset slot, read where the Python road reads
 * it (raw and header_length without setup_build: by their member descriptors). */
static PyObject *message_field(PyObject *message, int field)
{
    PyObject *value;
    if (feed_types[field] != NULL)
        return Py_XNewRef(*(PyObject **)((char *)message + feed_members[field]->offset));
    value = PyObject_GetAttr(message, feed_names[field]);
    if (value == NULL && PyErr_ExceptionMatches(PyExc_AttributeError))
        PyErr_Clear();
    return value;
}

/* MediaAnnouncer._feed_py(item): its announcements (a new list), None where the Python road must
 * read the item, NULL on an error. In _feed_py's order: the item's message, the caller's tag of a
 * dialog's first INVITE kept (the one change before None: the Python road's same first step then
 * finds it kept and changes nothing), the body, the CSeq's texts, then (every case left to the
 * Python road decided by then) the offer/answer sets, the item's own fields, the texts shared.
 * The message is read only as a SipMessage, by its slots: no Python code runs for it (a message
 * of another class, whose sdp_body or summary may be its own, is left to the Python road). */
static PyObject *feed_one(PyObject *module, PyObject *item, const AnnouncerState *state)
{
    PyObject *v[N_COUNT] = {NULL}, *callers = state->callers, *offers = state->offers;
    PyObject *pending = state->pending, *message;
    PyObject *body = NULL, *text = NULL, *texts = NULL, *cseq_text, *upper, *key = NULL, *side;
    PyObject *from_role, *other_role, *role, *caller_tag = NULL, *head = NULL, *out = NULL;
    PyObject *number_method, *announced, *call[6];
    const unsigned char *raw;
    Py_ssize_t length = -1, start, size, stop, at;
    int i, fallback = 0, invite, r;

    message = v[N_MESSAGE] = feed_attr(item, N_MESSAGE);
    if (message == NULL)
        return NULL;
    if (feed_types[N_REQUEST_METHOD] == NULL ||
        !Py_IS_TYPE(message, feed_types[N_REQUEST_METHOD])) {
        out = Py_NewRef(Py_None);
        goto done;
    }
#define GET(field)                                                                                \
    if ((v[field] = message_field(message, field)) == NULL) {                                     \
        if (!PyErr_Occurred())                                                                    \
            out = Py_NewRef(Py_None);                                                             \
        goto done;                                                                                \
    }
    GET(N_REQUEST_METHOD)
    if (v[N_REQUEST_METHOD] != Py_None &&
        (!PyUnicode_CheckExact(v[N_REQUEST_METHOD]) || !PyUnicode_IS_ASCII(v[N_REQUEST_METHOD]))) {
        out = Py_NewRef(Py_None); /* (a method's .upper() beyond ASCII: the Python road) */
        goto done;
    }
    invite = is_word(v[N_REQUEST_METHOD], word_invite);
    if (invite) {
        GET(N_TO_TAG)
        if (v[N_TO_TAG] == Py_None) {
            GET(N_CALL_ID)
            r = PyDict_Contains(callers, v[N_CALL_ID]);
            if (r < 0)
                goto done;
            if (r == 0) {
                GET(N_FROM_TAG)
                if (PyDict_SetItem(callers, v[N_CALL_ID], v[N_FROM_TAG]) < 0)
                    goto done;
            }
        }
    }
    GET(N_CONTENT_LENGTH)
    if (PyLong_CheckExact(v[N_CONTENT_LENGTH])) {
        r = slice_bound(v[N_CONTENT_LENGTH], &length);
        if (r < 0)
            goto done;
        if (r == 0) {
            out = Py_NewRef(Py_None);
            goto done;
        }
    } else if (v[N_CONTENT_LENGTH] != Py_None) {
        out = Py_NewRef(Py_None);
        goto done;
    }
    if (length != 0) {
        /* message.sdp_body(): a plain application/sdp body only, its media type cached */
        PyObject *media;
        GET(N_CONTENT_TYPE)
        GET(N_RAW)
        GET(N_HEADER_LENGTH)
        media = PyUnicode_CheckExact(v[N_CONTENT_TYPE]) && PyUnicode_GET_LENGTH(v[N_CONTENT_TYPE])
                    ? PyDict_GetItemWithError(feed_setup[S_MEDIA_TYPES], v[N_CONTENT_TYPE])
                    : NULL;
        if (media == NULL && PyErr_Occurred())
            goto done;
        if (media == NULL || !is_word(media, word_sdp) || !PyBytes_CheckExact(v[N_RAW]) ||
            !PyLong_CheckExact(v[N_HEADER_LENGTH])) {
            out = Py_NewRef(Py_None);
            goto done;
        }
        r = slice_bound(v[N_HEADER_LENGTH], &start);
        if (r < 0)
            goto done;
        if (r == 0) {
            out = Py_NewRef(Py_None);
            goto done;
        }
        size = PyBytes_GET_SIZE(v[N_RAW]);
        if (start > size)
            start = size;
        stop = length < 0 || length > size - start ? size : start + length;
        raw = (const unsigned char *)PyBytes_AS_STRING(v[N_RAW]);
        for (at = start; at < stop && is_regex_space(raw[at]); at++)
            ; /* not body or body.isspace(): no SDP */
        if (at < stop) {
            body = PyBytes_FromStringAndSize((const char *)raw + start, stop - start);
            if (body == NULL)
                goto done;
        }
    }
    if (body == NULL) {
        out = PyList_New(0);
        goto done;
    }
    /* what the announcements' SIP fields need, every case left to the Python road found before
     * the sets change */
    if (v[N_CALL_ID] == NULL)
        GET(N_CALL_ID)
    GET(N_CSEQ)
    if (v[N_CSEQ] == Py_None) {
        out = Py_NewRef(Py_None);
        goto done;
    }
    if ((v[N_NUMBER] = feed_attr(v[N_CSEQ], N_NUMBER)) == NULL ||
        (v[N_METHOD] = feed_attr(v[N_CSEQ], N_METHOD)) == NULL)
        goto done;
    number_method = PyTuple_Pack(2, v[N_NUMBER], v[N_METHOD]);
    if (number_method == NULL)
        goto done;
    texts = PyDict_GetItemWithError(feed_setup[S_CSEQS], number_method);
    /* owned at once: the texts are read after calls that may run Python code (a field of
     * another class, _shared_text) and may clear _CSEQS */
    Py_XINCREF(texts);
    Py_DECREF(number_method);
    if (texts == NULL && PyErr_Occurred())
        goto done;
    if (texts == NULL || !PyTuple_CheckExact(texts) || PyTuple_GET_SIZE(texts) != 2) {
        out = Py_NewRef(Py_None); /* _cseq_texts makes it on the Python road */
        goto done;
    }
    cseq_text = PyTuple_GET_ITEM(texts, 0);
    upper = PyTuple_GET_ITEM(texts, 1);
    if (v[N_REQUEST_METHOD] != Py_None) {
        GET(N_URI)
    } else {
        GET(N_STATUS)
        if (v[N_STATUS] == Py_None) {
            out = Py_NewRef(Py_None); /* a summary from the start line */
            goto done;
        }
        GET(N_REASON)
    }
    if (v[N_FROM_TAG] == NULL)
        GET(N_FROM_TAG)
#undef GET
    text = feed_summary(v[N_REQUEST_METHOD], v[N_URI], v[N_STATUS], v[N_REASON], &fallback);
    if (text == NULL) {
        if (fallback)
            out = Py_NewRef(Py_None);
        goto done;
    }
    key = PyTuple_Pack(3, v[N_CALL_ID], v[N_NUMBER], upper);
    if (key == NULL)
        goto done;
    head = PyTuple_New(11);
    if (head == NULL)
        goto done;
    /* from here on, the offer/answer sets change */
    if (v[N_REQUEST_METHOD] != Py_None) {
        /* method.upper() of an ASCII method: "ACK", or "PRACK" after an offer in a response */
        const unsigned char *method = PyUnicode_1BYTE_DATA(v[N_REQUEST_METHOD]);
        Py_ssize_t n = PyUnicode_GET_LENGTH(v[N_REQUEST_METHOD]);
        int answer = n == 3 && same_lower(method, n, "ack");
        if (!answer && n == 5 && same_lower(method, n, "prack")) {
            answer = PySet_Contains(pending, v[N_CALL_ID]);
            if (answer < 0)
                goto done;
        }
        if (answer) {
            side = word_answer;
            if (PySet_Discard(pending, v[N_CALL_ID]) < 0)
                goto done;
        } else {
            side = word_offer;
            if (PySet_Add(offers, key) < 0)
                goto done;
        }
        from_role = word_caller;
        other_role = word_callee;
    } else {
        r = PySet_Contains(offers, key);
        if (r < 0)
            goto done;
        if (r) {
            side = word_answer;
        } else {
            side = word_offer;
            if (PySet_Add(pending, v[N_CALL_ID]) < 0)
                goto done;
        }
        from_role = word_callee;
        other_role = word_caller;
    }
    caller_tag = PyDict_GetItemWithError(callers, v[N_CALL_ID]);
    Py_XINCREF(caller_tag);
    if (caller_tag == NULL && PyErr_Occurred())
        goto done;
    /* the head tuple, its values read in the Python road's order */
    if ((v[N_FRAME] = feed_attr(item, N_FRAME)) == NULL ||
        (v[N_TS_NS] = feed_attr(item, N_TS_NS)) == NULL)
        goto done;
    role = from_role;
    if (caller_tag != NULL && caller_tag != Py_None) {
        r = PyObject_RichCompareBool(v[N_FROM_TAG], caller_tag, Py_EQ);
        if (r < 0)
            goto done;
        if (!r)
            role = other_role;
    }
    PyTuple_SET_ITEM(head, 5, shared_summary(text));
    text = NULL; /* (stolen) */
    if (PyTuple_GET_ITEM(head, 5) == NULL)
        goto done;
    for (i = N_SRC; i <= N_DPORT; i++)
        if ((v[i] = feed_attr(item, i)) == NULL)
            goto done;
    PyTuple_SET_ITEM(head, 0, Py_NewRef(v[N_FRAME]));
    PyTuple_SET_ITEM(head, 1, Py_NewRef(v[N_TS_NS]));
    PyTuple_SET_ITEM(head, 2, Py_NewRef(v[N_CALL_ID]));
    PyTuple_SET_ITEM(head, 3, Py_NewRef(side));
    PyTuple_SET_ITEM(head, 4, Py_NewRef(role));
    PyTuple_SET_ITEM(head, 6, Py_NewRef(cseq_text));
    PyTuple_SET_ITEM(head, 7, Py_NewRef(v[N_SRC]));
    PyTuple_SET_ITEM(head, 8, Py_NewRef(v[N_SPORT]));
    PyTuple_SET_ITEM(head, 9, Py_NewRef(v[N_DST]));
    PyTuple_SET_ITEM(head, 10, Py_NewRef(v[N_DPORT]));
    /* the setup's objects held for the calls (Python code run by them may set up others) */
    call[0] = body;
    call[1] = Py_NewRef(feed_setup[S_TEMPLATES]);
    call[2] = head;
    call[3] = Py_NewRef(feed_setup[S_MAKE]);
    call[4] = Py_NewRef(feed_setup[S_ADDRESSES]);
    call[5] = Py_NewRef(feed_setup[S_LIMIT]);
    announced = Py_NewRef(feed_setup[S_ANNOUNCED]);
    out = sdp_announce(module, call, 6);
    if (out == Py_None) {
        /* a new text, one not templated, a port the parser rejects: announced_media's step
         * after its _announce (sdp._announced_untold) reads it */
        Py_DECREF(out);
        out = PyObject_CallFunctionObjArgs(announced, body, head, call[3], NULL);
    }
    Py_DECREF(announced);
    for (i = 1; i < 6; i++)
        if (i != 2)
            Py_DECREF(call[i]);
done:
    for (i = 0; i < N_COUNT; i++)
        Py_XDECREF(v[i]);
    Py_XDECREF(body);
    Py_XDECREF(text);
    Py_XDECREF(texts);
    Py_XDECREF(caller_tag);
    Py_XDECREF(key);
    Py_XDECREF(head);
    return out;
}

static PyObject *announcer_feed(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    /* args: item, caller_tags (dict), offers_in_requests (set), response_offer_pending (set) */
    static const char signature[] =
        "announcer_feed(item, caller_tags: dict, offers: set, pending: set)";
    AnnouncerState state;
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, signature);
        return NULL;
    }
    if (announcer_state(args + 1, &state, signature) < 0)
        return NULL;
    return feed_one(module, args[0], &state);
}

/* -- announcer_batch: rtcscope.sip.capture.MediaAnnouncer._feed_batch_py(items, ahead) --------
 *
 * A batch's messages fed in order in one call: the ones MediaAnnouncer.reads() passes over (no
 * body, not an INVITE: most of them) skipped here without a Python call, every other one read
 * by feed_one(), else (what it leaves) by the Python road's feed_py(item). Returns every
 * announcement in order; with ``ahead`` (a dict), each item that announced something also has
 * its own list there under its frame, and is in the second list returned. */

/* Whether MediaAnnouncer.reads(message) may be true: 0 only for a body length of exactly 0 and a
 * request method that is None or an exact str other than "INVITE"; -1 on an error. */
static int may_read(PyObject *item)
{
    PyObject *message = feed_attr(item, N_MESSAGE), *length, *method;
    int reads = 1;
    if (message == NULL)
        return -1;
    length = feed_attr(message, N_CONTENT_LENGTH);
    if (length == NULL) {
        Py_DECREF(message);
        return -1;
    }
    if (PyLong_CheckExact(length)) {
        int overflow;
        long value = PyLong_AsLongAndOverflow(length, &overflow);
        if (value == -1 && PyErr_Occurred())
            reads = -1;
        else if (value == 0 && !overflow)
            reads = 2; /* no body: the method decides */
    }
    if (reads == 2) {
        method = feed_attr(message, N_REQUEST_METHOD);
        if (method == NULL)
            reads = -1;
        else
            reads = method == Py_None ||
                            (PyUnicode_CheckExact(method) && !is_word(method, word_invite))
                        ? 0
                        : 1;
        Py_XDECREF(method);
    }
    Py_DECREF(length);
    Py_DECREF(message);
    return reads < 0 ? -1 : reads > 0;
}

static PyObject *announcer_batch(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    /* args: items (list), caller_tags, offers, pending, feed_py, ahead (dict or None) */
    static const char signature[] = "announcer_batch(items: list, caller_tags: dict, offers: set, "
                                    "pending: set, feed_py, ahead: dict | None)";
    AnnouncerState state;
    PyObject *items, *feed_py, *ahead, *out = NULL, *announcing = NULL, *found, *item, *frame;
    Py_ssize_t i;
    int reads;

    if (nargs != 6 || !PyList_CheckExact(args[0]) || !PyCallable_Check(args[4]) ||
        (args[5] != Py_None && !PyDict_CheckExact(args[5]))) {
        PyErr_SetString(PyExc_TypeError, signature);
        return NULL;
    }
    if (announcer_state(args + 1, &state, signature) < 0)
        return NULL;
    items = args[0];
    feed_py = args[4];
    ahead = args[5] == Py_None ? NULL : args[5];
    out = PyList_New(0);
    announcing = PyList_New(0);
    if (out == NULL || announcing == NULL)
        goto error;
    /* the list is read by index each time: feed_py may run any Python code */
    for (i = 0; i < PyList_GET_SIZE(items); i++) {
        item = Py_NewRef(PyList_GET_ITEM(items, i));
        reads = may_read(item);
        if (reads <= 0) {
            Py_DECREF(item);
            if (reads < 0)
                goto error;
            continue;
        }
        found = feed_one(module, item, &state);
        if (found == Py_None) {
            Py_DECREF(found);
            found = PyObject_CallOneArg(feed_py, item);
        }
        if (found == NULL || !PyList_CheckExact(found)) {
            if (found != NULL)
                PyErr_SetString(PyExc_TypeError, "announcer_batch(): feed_py gave no list");
            Py_XDECREF(found);
            Py_DECREF(item);
            goto error;
        }
        if (PyList_GET_SIZE(found) > 0) {
            Py_ssize_t end = PyList_GET_SIZE(out);
            if (PyList_SetSlice(out, end, end, found) < 0) {
                Py_DECREF(found);
                Py_DECREF(item);
                goto error;
            }
            if (ahead != NULL) {
                frame = feed_attr(item, N_FRAME);
                if (frame == NULL || PyDict_SetItem(ahead, frame, found) < 0 ||
                    PyList_Append(announcing, item) < 0) {
                    Py_XDECREF(frame);
                    Py_DECREF(found);
                    Py_DECREF(item);
                    goto error;
                }
                Py_DECREF(frame);
            }
        }
        Py_DECREF(found);
        Py_DECREF(item);
    }
    return Py_BuildValue("(NN)", out, announcing);
error:
    Py_XDECREF(out);
    Py_XDECREF(announcing);
    return NULL;
}
