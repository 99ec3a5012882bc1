/* rtcscope._timetext: rtcscope.timebase.instants in C (a call list's time texts), the
 * "sdp" and "streams" objects of a call's JSON and the call's whole object
 * (rtcscope.sip.calls: see below).
 *
 * The specification is the pure-Python road, rtcscope.timebase.instants_py: each distinct
 * stamp with its seconds from the capture's first packet (delta / 1e9, the quotient of two
 * doubles) and its ISO 8601 text ("2024-03-01T10:00:00.123456+00:00"); None maps to
 * (None, None). A stamp this code does not convert itself goes to the Python road's
 * one-stamp function given as ``fallback`` (its result, or its exception, is the Python
 * road's own): a stamp outside 0..2**63, a first stamp outside it, a distance from the first
 * stamp that is not whole microseconds or not below 2**53 ns (what round(x, 6) takes).
 * Every stamp this code converts falls in 1970..2262, where the ISO text has four-digit years.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>
#include <structmember.h>

#include "_endpoint.h"
#include "_jsonbuf.h"
#include "_slotread.h"

#define EXACT_NS (1LL << 53)

/* The civil date of ``days`` since 1970-01-01 (days >= 0), proleptic Gregorian. */
static void civil_date(long long days, int *year, int *month, int *day)
{
    /* Count from 0000-03-01 in 400-year eras of 146097 days; a year runs March to February
     * (the leap day last). */
    long long z = days + 719468;
    long long era = z / 146097;
    long long doe = z - era * 146097;                                  /* 0..146096 */
    long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* 0..399 */
    long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);           /* 0..365 */
    long long mp = (5 * doy + 2) / 153;                                /* 0..11, from March */
    long long d = doy - (153 * mp + 2) / 5 + 1;
    long long m = mp < 10 ? mp + 3 : mp - 9;
    *year = (int)(yoe + era * 400 + (m <= 2));
    *month = (int)m;
    *day = (int)d;
}

/* ``value`` (0 <= value < 10**width) in ``width`` decimal digits, zeros first. */
static void put_digits(char *at, long long value, int width)
{
    while (width-- > 0) {
        at[width] = (char)('0' + value % 10);
        value /= 10;
    }
}

/* The 32 characters of the ISO text of ``ts`` (0 <= ts < 2**63) into ``text``. */
static void iso_chars(long long ts, char *text)
{
    long long us = ts / 1000;
    long long second = us / 1000000;
    long long micro = us % 1000000;
    long long days = second / 86400;
    long long sod = second % 86400;
    int year, month, day;

    civil_date(days, &year, &month, &day);
    /* "YYYY-MM-DDTHH:MM:SS.ffffff+00:00": 32 characters, the digits written here (a
     * snprintf of the same costs several times the rest of the pair). */
    put_digits(text, year, 4);
    text[4] = '-';
    put_digits(text + 5, month, 2);
    text[7] = '-';
    put_digits(text + 8, day, 2);
    text[10] = 'T';
    put_digits(text + 11, (long long)(sod / 3600), 2);
    text[13] = ':';
    put_digits(text + 14, (long long)(sod / 60 % 60), 2);
    text[16] = ':';
    put_digits(text + 17, (long long)(sod % 60), 2);
    text[19] = '.';
    put_digits(text + 20, micro, 6);
    memcpy(text + 26, "+00:00", 6);
}

/* The seconds from ``first`` and the ISO text of ``ts`` (0 <= ts, whole microseconds from
 * ``first``, below 2**53 ns from it) as new references in *relative and *iso: 0; -1 with an
 * exception set (and no reference left) on failure. */
static int instant_parts(long long ts, long long first, PyObject **relative, PyObject **iso)
{
    char text[32];
    iso_chars(ts, text);
    *relative = PyFloat_FromDouble((double)(ts - first) / 1e9);
    if (*relative == NULL)
        return -1;
    /* The text is ASCII: copied into a new compact ASCII string (no decoding pass). */
    *iso = PyUnicode_New(32, 127);
    if (*iso == NULL) {
        Py_CLEAR(*relative);
        return -1;
    }
    memcpy(PyUnicode_1BYTE_DATA(*iso), text, 32);
    return 0;
}

/* (relative, iso) for ``ts`` as instant_parts makes them; NULL with an exception set on
 * failure. */
static PyObject *instant(long long ts, long long first)
{
    PyObject *relative, *iso, *pair;
    if (instant_parts(ts, first, &relative, &iso) < 0)
        return NULL;
    pair = PyTuple_Pack(2, relative, iso);
    Py_DECREF(relative);
    Py_DECREF(iso);
    return pair;
}

/* A non-negative value of a Python int below 2**63 in *out: 1; 0 for another value (a
 * negative or larger int, or not an int: the Python road decides); -1 on error. (Stamps,
 * and the ports and SSRCs of a call's streams.) */
static int small_stamp(PyObject *value, long long *out)
{
    int overflow = 0;
    long long v;
    if (!PyLong_CheckExact(value))
        return 0;
    v = PyLong_AsLongLongAndOverflow(value, &overflow);
    if (v == -1 && PyErr_Occurred())
        return -1;
    if (overflow || v < 0)
        return 0;
    *out = v;
    return 1;
}

/* The value of a stamp ``instant`` converts in *value: 1; 0 for a stamp it does not convert
 * (not an int of 0..2**63, not whole microseconds from ``first``, not below 2**53 ns from
 * it: the Python road's); -1 on error. */
static int convertible(PyObject *ts, long long first, long long *value)
{
    long long delta;
    int ok = small_stamp(ts, value);
    if (ok <= 0)
        return ok;
    delta = *value - first;
    return delta % 1000 == 0 && delta > -EXACT_NS && delta < EXACT_NS;
}

/* Puts ``ts``'s pair into ``at`` unless it is there: 1; 0 for a stamp ``instant`` does not
 * convert (the Python road's); -1 on error. */
static int put_instant(PyObject *at, PyObject *ts, long long first)
{
    long long value = 0;
    PyObject *pair;
    int known = PyDict_Contains(at, ts), ok;
    if (known)
        return known; /* 1, or -1 on error */
    ok = convertible(ts, first, &value);
    if (ok <= 0)
        return ok;
    pair = instant(value, first);
    if (pair == NULL)
        return -1;
    ok = PyDict_SetItem(at, ts, pair);
    Py_DECREF(pair);
    return ok < 0 ? -1 : 1;
}

/* put_instant of ``obj``'s attribute ``name``: its answer, or -1 when the read fails. */
static int put_attr_instant(PyObject *at, PyObject *obj, PyObject *name, long long first)
{
    int ok;
    PyObject *ts = PyObject_GetAttr(obj, name);
    if (ts == NULL)
        return -1;
    ok = put_instant(at, ts, first);
    Py_DECREF(ts);
    return ok;
}

static PyObject *instants(PyObject *self, PyObject *args)
{
    PyObject *fallback, *none_pair, *stamps, *first_obj;
    PyObject *seq, *out;
    long long first = 0;
    int first_ok;
    Py_ssize_t i, n;
    (void)self;

    if (!PyArg_ParseTuple(args, "OOOO", &fallback, &none_pair, &stamps, &first_obj))
        return NULL;
    first_ok = small_stamp(first_obj, &first);
    if (first_ok < 0)
        return NULL;
    /* A copy (a tuple is its own): a stamp's __eq__ or __hash__, or fallback, may change
     * a list while its items are read. */
    seq = PySequence_Tuple(stamps);
    if (seq == NULL)
        return NULL;
    out = PyDict_New();
    if (out == NULL || PyDict_SetItem(out, Py_None, none_pair) < 0)
        goto fail;
    n = PyTuple_GET_SIZE(seq);
    for (i = 0; i < n; i++) {
        PyObject *ts_obj = PyTuple_GET_ITEM(seq, i);
        PyObject *pair;
        int ok = first_ok ? put_instant(out, ts_obj, first) : PyDict_Contains(out, ts_obj);
        if (ok < 0)
            goto fail;
        if (ok)
            continue;
        pair = PyObject_CallFunctionObjArgs(fallback, ts_obj, first_obj, NULL);
        if (pair == NULL)
            goto fail;
        if (PyDict_SetItem(out, ts_obj, pair) < 0) {
            Py_DECREF(pair);
            goto fail;
        }
        Py_DECREF(pair);
    }
    Py_DECREF(seq);
    return out;
fail:
    Py_DECREF(seq);
    Py_XDECREF(out);
    return NULL;
}

/* ---- a call's "sdp" and "streams" objects (rtcscope.sip.calls._sdp_entries_py and
 * _stream_entries_py are the specification). An item this code does not read itself (not
 * the tuple or the values it expects, an instant missing from ``at``) goes to the Python
 * road's one-item function ``fallback(item, at)``: its object, or its exception. */

/* (the keys of an "sdp" object from K_FRAME, of a "streams" object from K_SRC, of a "dtmf"
 * object K_FRAME, K_TIME_S, K_TIME_ISO and from K_SIGNAL: each run in its object's order) */
enum {
    K_FRAME, K_TIME_S, K_TIME_ISO, K_SIDE, K_ROLE, K_SIP, K_MEDIA, K_ADDRESS, K_PORT,
    K_DIRECTION, K_CODECS, K_HOLD, K_SIGNAL, K_DURATION_MS, K_SENDER, K_SRC, K_DST,
    K_SSRC_HEX, K_CODEC, K_PACKETS, K_LOST, K_START_S, K_START_ISO, K_END_S, K_END_ISO,
    K_COUNT
};
static PyObject *key_names[K_COUNT];
static const char *const key_texts[K_COUNT] = {
    "frame", "time_s", "time_iso", "side", "role", "sip", "media", "address", "port",
    "direction", "codecs", "hold", "signal", "duration_ms", "sender", "src", "dst",
    "ssrc_hex", "codec", "packets", "lost", "start_s", "start_iso", "end_s", "end_iso",
};
static PyObject *attr_names[10];
enum { A_KEY, A_SRC, A_SRC_PORT, A_DST, A_DST_PORT, A_SSRC, A_CODEC, A_PACKETS_LOST,
       A_START_NS, A_END_NS };
static const char *const attr_texts[10] = {
    "key", "src", "src_port", "dst", "dst_port", "ssrc", "codec", "packets_lost", "start_ns",
    "end_ns",
};

/* The (seconds, text) pair ``at`` holds for ``ts`` (borrowed), or NULL (no error set) when
 * it holds none or another value: the Python road decides. */
static PyObject *instant_of(PyObject *at, PyObject *ts)
{
    PyObject *pair = PyDict_GetItemWithError(at, ts);
    if (pair == NULL || !PyTuple_CheckExact(pair) || PyTuple_GET_SIZE(pair) != 2)
        return NULL;
    return pair;
}

/* A dict of ``n`` keys (key_names from ``first``) and their values (new references, all
 * consumed); NULL on error. */
static PyObject *entry_dict(int first, PyObject **values, int n)
{
    PyObject *out = _PyDict_NewPresized(n);
    int i, failed = out == NULL;
    for (i = 0; i < n; i++) {
        if (!failed && PyDict_SetItem(out, key_names[first + i], values[i]) < 0)
            failed = 1;
        Py_DECREF(values[i]);
    }
    if (failed) {
        Py_XDECREF(out);
        return NULL;
    }
    return out;
}

/* One SdpExchange's object (its fields by position: frame, ts_ns, side, role, sip, media,
 * address, port, direction, codecs, on_hold); NULL, no error set, for the Python road. */
static PyObject *sdp_entry(PyObject *sdp, PyObject *at, const long long *first)
{
    PyObject *pair, *codecs, *values[12];
    int i;
    (void)first; /* (an SDP's instants are always from ``at``) */
    if (!PyTuple_Check(sdp) || PyTuple_GET_SIZE(sdp) != 11 ||
        Py_TYPE(sdp)->tp_iter != PyTuple_Type.tp_iter)
        return NULL;
    /* The codecs first: a list made of any iterable runs Python code, which could drop the
     * pair (borrowed from ``at``) if it came first. */
    codecs = PySequence_List(PyTuple_GET_ITEM(sdp, 9));
    if (codecs == NULL)
        return NULL;
    pair = instant_of(at, PyTuple_GET_ITEM(sdp, 1));
    if (pair == NULL) {
        Py_DECREF(codecs);
        return NULL;
    }
    values[0] = PyTuple_GET_ITEM(sdp, 0);
    values[1] = PyTuple_GET_ITEM(pair, 0);
    values[2] = PyTuple_GET_ITEM(pair, 1);
    for (i = 2; i < 9; i++)
        values[i + 1] = PyTuple_GET_ITEM(sdp, i);
    for (i = 0; i < 10; i++)
        Py_INCREF(values[i]);
    values[10] = codecs;
    values[11] = PyTuple_GET_ITEM(sdp, 10);
    Py_INCREF(values[11]);
    return entry_dict(K_FRAME, values, 12);
}

/* ``address:port`` as f"{address}:{port}" writes it, for ASCII text and a non-negative int;
 * NULL, no error set, otherwise (the Python road). */
static PyObject *address_text(PyObject *address, PyObject *port)
{
    int n = 1;
    long long value = 0, rest;
    Py_ssize_t size;
    PyObject *out;
    if (!PyUnicode_CheckExact(address) || !PyUnicode_IS_ASCII(address) ||
        small_stamp(port, &value) != 1)
        return NULL;
    for (rest = value; rest >= 10; rest /= 10)
        n++;
    size = PyUnicode_GET_LENGTH(address);
    out = PyUnicode_New(size + 1 + n, 127);
    if (out == NULL)
        return NULL;
    memcpy(PyUnicode_1BYTE_DATA(out), PyUnicode_1BYTE_DATA(address), (size_t)size);
    PyUnicode_1BYTE_DATA(out)[size] = ':';
    put_digits((char *)PyUnicode_1BYTE_DATA(out) + size + 1, value, n);
    return out;
}

/* f"0x{ssrc:08X}" for a non-negative int; NULL, no error set, otherwise. */
static PyObject *ssrc_text(PyObject *ssrc)
{
    int n = 8, i;
    long long value = 0;
    PyObject *out;
    char *at;
    if (small_stamp(ssrc, &value) != 1)
        return NULL;
    while (n < 16 && (value >> (4 * n)) != 0)
        n++;
    out = PyUnicode_New(2 + n, 127);
    if (out == NULL)
        return NULL;
    at = (char *)PyUnicode_1BYTE_DATA(out);
    at[0] = '0';
    at[1] = 'x';
    for (i = 0; i < n; i++)
        at[2 + i] = "0123456789ABCDEF"[(value >> (4 * (n - 1 - i))) & 15];
    return out;
}

/* Reading a call, its first requests, a stream and its key (CallSummary, CapturedSip,
 * RtpStream and StreamKey: slotted dataclasses): _slotread.h's readers, each learning the
 * class it last saw. */
static const int stream_reads[4] = {A_KEY, A_START_NS, A_END_NS, A_CODEC};
static const int key_reads[5] = {A_SRC, A_SRC_PORT, A_DST, A_DST_PORT, A_SSRC};
static Py_ssize_t stream_offsets[4], key_offsets[5];
static SlotReader stream_reader = {NULL, 4, attr_names, stream_offsets, stream_reads};
static SlotReader key_reader = {NULL, 5, attr_names, key_offsets, key_reads};

/* The two values of a stamp's instant into values[0] and values[1] (new references):
 * converted here from *first when ``first`` is given (what instants() puts in ``at``), else
 * the pair ``at`` holds. 1; 0 (an error set or not) for the Python road. */
static int instant_values(PyObject *at, PyObject *ts, const long long *first,
                          PyObject **values)
{
    long long value = 0;
    if (first == NULL) {
        PyObject *pair = instant_of(at, ts);
        if (pair == NULL)
            return 0;
        values[0] = PyTuple_GET_ITEM(pair, 0);
        values[1] = PyTuple_GET_ITEM(pair, 1);
        Py_INCREF(values[0]);
        Py_INCREF(values[1]);
        return 1;
    }
    if (convertible(ts, *first, &value) != 1)
        return 0;
    return instant_parts(value, *first, &values[0], &values[1]) == 0;
}

/* A stream's values into got[] (new references; indexes A_*) in the specification's order:
 * key, packets_lost (a tuple of two), start_ns and end_ns, the key's src, src_port, dst,
 * dst_port and ssrc, codec; then its object's first six values into values[0..5] (new
 * references: "src", "dst", "ssrc_hex", "codec", "packets", "lost"). With ``instants``,
 * start_ns and end_ns are each made into their instant's two values (values[6..9],
 * instant_values) as they are read: from ``at``, or,
 * with ``first`` (a call's object or text, which has not put its streams' instants in
 * ``at``; without ``values`` its text converts them itself), converted from *first: that
 * only for a stream read at its slots' offsets (its start_ns and end_ns read once are what
 * the specification reads twice, for the call's instants and for the entry). 1; 0, with or
 * without an error set, for the Python road (its object or its exception). */
static int stream_read(PyObject *stream, PyObject *at, const long long *first, PyObject **got,
                       PyObject **values, int instants)
{
    PyObject *key;
    int i;
    if (first != NULL && !slot_reader_direct(&stream_reader, stream))
        return 0;
    if ((got[A_KEY] = slot_read(&stream_reader, stream, 0)) == NULL)
        return 0;
    /* packets_lost: a property (Python code, which may change the stream or its class) */
    got[A_PACKETS_LOST] = PyObject_GetAttr(stream, attr_names[A_PACKETS_LOST]);
    if (got[A_PACKETS_LOST] == NULL || !PyTuple_CheckExact(got[A_PACKETS_LOST]) ||
        PyTuple_GET_SIZE(got[A_PACKETS_LOST]) != 2)
        return 0;
    if (first != NULL && !slot_reader_direct(&stream_reader, stream))
        return 0;
    /* (a look-up in ``at``, an exact dict, may run a stamp's __eq__: every value is held by
     * a reference of its own) */
    if ((got[A_START_NS] = slot_read(&stream_reader, stream, 1)) == NULL ||
        (instants && instant_values(at, got[A_START_NS], first, &values[6]) != 1))
        return 0;
    if ((got[A_END_NS] = slot_read(&stream_reader, stream, 2)) == NULL ||
        (instants && instant_values(at, got[A_END_NS], first, &values[8]) != 1))
        return 0;
    key = got[A_KEY];
    for (i = 0; i < 5; i++)
        if ((got[key_reads[i]] = slot_read(&key_reader, key, i)) == NULL)
            return 0;
    if ((got[A_CODEC] = slot_read(&stream_reader, stream, 3)) == NULL)
        return 0;
    values[0] = address_text(got[A_SRC], got[A_SRC_PORT]);
    values[1] = values[0] == NULL ? NULL : address_text(got[A_DST], got[A_DST_PORT]);
    values[2] = values[1] == NULL ? NULL : ssrc_text(got[A_SSRC]);
    if (values[2] == NULL)
        return 0;
    values[3] = Py_NewRef(got[A_CODEC]);
    values[4] = Py_NewRef(PyTuple_GET_ITEM(got[A_PACKETS_LOST], 0));
    values[5] = Py_NewRef(PyTuple_GET_ITEM(got[A_PACKETS_LOST], 1));
    return 1;
}

/* One stream's object (rtcscope.sip.calls._stream_entry), read by stream_read. NULL, with
 * or without an error set: the Python road (its object or its exception). */
static PyObject *stream_object(PyObject *stream, PyObject *at, const long long *first)
{
    PyObject *got[10] = {NULL}, *values[10] = {NULL}, *out = NULL;
    int i;
    if (!stream_read(stream, at, first, got, values, 1))
        goto done;
    out = entry_dict(K_SRC, values, 10); /* (its values consumed) */
    for (i = 0; i < 10; i++)
        values[i] = NULL;
done:
    for (i = 0; i < 10; i++) {
        Py_XDECREF(got[i]);
        Py_XDECREF(values[i]);
    }
    return out;
}

/* A stream's start_ns and end_ns into ``at``: 1; 0 or -1 (error set or not) for the Python
 * road. */
static int put_stream_instants(PyObject *at, PyObject *stream, long long first)
{
    int ok = put_attr_instant(at, stream, attr_names[A_START_NS], first);
    return ok == 1 ? put_attr_instant(at, stream, attr_names[A_END_NS], first) : ok;
}

/* An item's entry: its object, its instants from ``at`` or (``first`` given) converted
 * from *first; NULL, with or without an error set, for the Python road. */
typedef PyObject *(*Entry)(PyObject *item, PyObject *at, const long long *first);

/* [entry(item, at, first) for item in the tuple ``seq``], an item the entry function
 * leaves (NULL) made by ``fallback(item, at)``. ``first`` (a call's object, which makes its
 * streams' instants here, not in ``at``; stream_object's only): one handed to ``fallback``
 * gets its instants put into ``at`` first (a stamp not converted here: NULL, the whole call
 * for the Python road). */
static PyObject *entry_list(PyObject *fallback, PyObject *seq, PyObject *at, Entry entry,
                            const long long *first)
{
    Py_ssize_t i, n = PyTuple_GET_SIZE(seq);
    /* Only a dict (not a subclass) is read here; anything else: every item to fallback. */
    int read_here = PyDict_CheckExact(at);
    PyObject *out = PyList_New(n);
    for (i = 0; out != NULL && i < n; i++) {
        PyObject *item = PyTuple_GET_ITEM(seq, i);
        PyObject *made = NULL;
        if (read_here)
            made = entry(item, at, first);
        if (made == NULL) {
            /* An Exception set here is the Python road's to raise, or not (it reads the
             * item again); anything else (KeyboardInterrupt) goes on up. */
            if (PyErr_Occurred() && !PyErr_ExceptionMatches(PyExc_Exception)) {
                Py_CLEAR(out);
                break;
            }
            PyErr_Clear();
            if (first != NULL && put_stream_instants(at, item, *first) != 1) {
                Py_CLEAR(out);
                break;
            }
            made = PyObject_CallFunctionObjArgs(fallback, item, at, NULL);
            if (made == NULL) {
                Py_CLEAR(out); /* (its items not yet set are NULL) */
                break;
            }
        }
        PyList_SET_ITEM(out, i, made);
    }
    return out;
}

static PyObject *entries(PyObject *const *args, Py_ssize_t nargs, Entry entry)
{
    PyObject *seq, *out;
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "expected 3 arguments: fallback, items, at");
        return NULL;
    }
    /* A copy (a tuple is its own): entry and fallback run Python code that may change a
     * list while its items are read. */
    seq = PySequence_Tuple(args[1]);
    if (seq == NULL)
        return NULL;
    out = entry_list(args[0], seq, args[2], entry, NULL);
    Py_DECREF(seq);
    return out;
}

static PyObject *sdp_entries(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    return entries(args, nargs, sdp_entry);
}

static PyObject *stream_entries(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    return entries(args, nargs, stream_object);
}

/* ---- a call's whole JSON object (rtcscope.sip.calls._call_dict_py is the specification:
 * CallSummary.as_dict without its qualities). The object is made here when every value this
 * code reads is what a capture gives (the stamps as ``instant`` converts them, hop addresses
 * as text and ports as ints, status codes as ints, a duration of whole microseconds); for
 * anything else, and on any failure, the whole object is the Python road's: ``roads[0](call,
 * first_ns, detail)`` (its object, or its exception). The "sdp" and "streams" items go
 * through sdp_entry and stream_object (an item they leave: ``roads[1]``, ``roads[2]``), the
 * "dtmf" list, when there is one, is ``roads[3](dtmf, at)``. */

enum {
    C_INDEX, C_CALL_ID, C_CALL_IDS, C_HOPS, C_KIND, C_FROM, C_TO, C_CALLER, C_CALLEE,
    C_START_S, C_START_ISO, C_RING_S, C_RING_ISO, C_ANSWER_S, C_ANSWER_ISO, C_END_S,
    C_END_ISO, C_DURATION_S, C_SETUP_MS, C_FINAL_STATUS, C_FINAL_REASON, C_STATE,
    C_ENDED_BY, C_ANSWERED_BY, C_BYE_SOURCE, C_MESSAGES, C_RESENT, C_METHODS, C_STATUSES,
    C_SDP, C_STREAMS, C_DTMF, C_CLIENT, C_SERVER, C_TRANSPORT, C_KEYS
};
static PyObject *call_keys[C_KEYS];
static const char *const call_key_texts[C_KEYS] = {
    "index", "call_id", "call_ids", "hops", "kind", "from", "to", "caller", "callee",
    "start_s", "start_iso", "ring_s", "ring_iso", "answer_s", "answer_iso", "end_s",
    "end_iso", "duration_s", "setup_ms", "final_status", "final_reason", "state", "ended_by",
    "answered_by", "bye_source", "messages", "resent", "methods", "statuses", "sdp", "streams",
    "dtmf", "client", "server", "transport",
};
/* The CallSummary fields read here, then the names read on its parts. */
enum {
    F_INDEX, F_LEGS, F_KIND, F_FROM_URI, F_TO_URI, F_CALLER, F_CALLEE, F_START_NS, F_RING_NS,
    F_ANSWER_NS, F_END_NS, F_FINAL_STATUS, F_FINAL_REASON, F_STATE, F_ENDED_BY, F_UAS,
    F_BYE_SOURCE, F_MESSAGES, F_RESENT, F_METHODS, F_STATUSES, F_MARKS, F_SDP, F_STREAMS,
    F_DTMF, F_FIELDS,
    N_CALL_ID = F_FIELDS, N_INITIAL_INVITES, N_REQUESTS, N_SRC, N_SPORT, N_DST, N_DPORT,
    N_TRANSPORT, N_VALUE, N_SETUP_MS, N_TS_NS, N_GETITEM, N_FRAME, N_SIGNAL, N_DURATION_MS,
    N_SENDER, N_NAMES
};
static PyObject *call_names[N_NAMES];
static const char *const call_name_texts[N_NAMES] = {
    "index", "legs", "kind", "from_uri", "to_uri", "caller", "callee", "start_ns", "ring_ns",
    "answer_ns", "end_ns", "final_status", "final_reason", "state", "ended_by", "uas",
    "bye_source", "messages", "resent", "methods", "statuses", "marks", "sdp", "streams",
    "dtmf", "call_id", "initial_invites", "requests", "src", "sport", "dst", "dport",
    "transport", "_value_", "setup_ms", "ts_ns", "__getitem__", "frame", "signal",
    "duration_ms", "sender",
};
static const int request_reads[5] = {N_SRC, N_SPORT, N_DST, N_DPORT, N_TRANSPORT};
static Py_ssize_t call_offsets[F_FIELDS], request_offsets[5];
static SlotReader call_reader = {NULL, F_FIELDS, call_names, call_offsets, NULL};
static SlotReader request_reader = {NULL, 5, call_names, request_offsets, request_reads};
/* An InfoDtmf's fields, in its object's order (_dtmf_entries). */
static const int dtmf_reads[6] = {N_FRAME, N_TS_NS, N_SIGNAL, N_DURATION_MS, N_SENDER, N_SRC};
static Py_ssize_t dtmf_offsets[6];
static SlotReader dtmf_reader = {NULL, 6, call_names, dtmf_offsets, dtmf_reads};
static PyObject *no_instant; /* (None, None) */
/* dict.__getitem__ and tuple.__getitem__ (borrowed from their types): a subclass reads its
 * items as they do when a look-up of __getitem__ on it finds the same (Counter, a named
 * tuple; a subclass's mp_subscript slot is a wrapper even when it defines nothing). */
static PyObject *dict_getitem, *tuple_getitem;

static int reads_as(PyObject *value, PyObject *getitem)
{
    return _PyType_Lookup(Py_TYPE(value), call_names[N_GETITEM]) == getitem;
}

/* endpoint(address, port) (rtcscope.sip.transactions): "addr:port", IPv6 in brackets, for
 * a str and an int of 64 bits; NULL, no error set, otherwise (the Python road). The text is
 * _endpoint.h's, shared with _callwalk.c. */
static PyObject *endpoint_text(PyObject *address, PyObject *port)
{
    return endpoint_exact_text(address, port);
}

/* What is done with each hop _hops finds: its client and server texts and its transport
 * (borrowed); 1 done, 0 (an error set or not) for the Python road. */
typedef int (*HopSink)(void *sink, PyObject *client, PyObject *server, PyObject *transport);

/* _hops(legs): each leg's initial INVITEs' first requests' {client, server, transport},
 * handed to ``hop_put`` in order; 1, or 0 (an error set or not) for the Python road. */
static int walk_hops(PyObject *legs, HopSink hop_put, void *sink)
{
    PyObject *leg_seq = NULL, *invites = NULL, *requests = NULL;
    PyObject *req = NULL, *got[5] = {NULL}, *values[2] = {NULL};
    Py_ssize_t i, j, n_legs;
    int k, done = 0;
    /* Copies (a tuple is its own): the properties read below run Python code that may
     * change the legs or a leg's INVITEs. */
    leg_seq = PySequence_Tuple(legs);
    if (leg_seq == NULL)
        goto fail;
    n_legs = PyTuple_GET_SIZE(leg_seq);
    for (i = 0; i < n_legs; i++) {
        PyObject *inv_seq;
        invites = PyObject_GetAttr(PyTuple_GET_ITEM(leg_seq, i), call_names[N_INITIAL_INVITES]);
        if (invites == NULL)
            goto fail;
        inv_seq = PySequence_Tuple(invites);
        Py_CLEAR(invites);
        if (inv_seq == NULL)
            goto fail;
        invites = inv_seq;
        for (j = 0; j < PyTuple_GET_SIZE(invites); j++) {
            int truth;
            requests = PyObject_GetAttr(PyTuple_GET_ITEM(invites, j),
                                        call_names[N_REQUESTS]);
            if (requests == NULL)
                goto fail;
            truth = PyObject_IsTrue(requests);
            if (truth < 0)
                goto fail;
            if (truth) {
                req = PySequence_GetItem(requests, 0);
                if (req == NULL)
                    goto fail;
                for (k = 0; k < 5; k++) {
                    got[k] = slot_read(&request_reader, req, k);
                    if (got[k] == NULL)
                        goto fail;
                }
                values[0] = endpoint_text(got[0], got[1]);
                values[1] = values[0] == NULL ? NULL : endpoint_text(got[2], got[3]);
                if (values[1] == NULL || hop_put(sink, values[0], values[1], got[4]) != 1)
                    goto fail;
                for (k = 0; k < 5; k++)
                    Py_CLEAR(got[k]);
                for (k = 0; k < 2; k++)
                    Py_CLEAR(values[k]);
                Py_CLEAR(req);
            }
            Py_CLEAR(requests);
        }
        Py_CLEAR(invites);
    }
    done = 1;
fail:
    for (k = 0; k < 5; k++)
        Py_XDECREF(got[k]);
    for (k = 0; k < 2; k++)
        Py_XDECREF(values[k]);
    Py_XDECREF(req);
    Py_XDECREF(requests);
    Py_XDECREF(invites);
    Py_XDECREF(leg_seq);
    return done;
}

/* A hop as its object, appended to the list ``sink``. */
static int hop_object(void *sink, PyObject *client, PyObject *server, PyObject *transport)
{
    PyObject *values[3] = {client, server, transport};
    PyObject *hop = _PyDict_NewPresized(3);
    int k;
    for (k = 0; hop != NULL && k < 3; k++)
        if (PyDict_SetItem(hop, call_keys[C_CLIENT + k], values[k]) < 0)
            Py_CLEAR(hop);
    if (hop == NULL)
        return 0;
    k = PyList_Append((PyObject *)sink, hop);
    Py_DECREF(hop);
    return k == 0;
}

/* _hops(legs): the list of the hops' objects; NULL (an error set or not) for the Python
 * road. */
static PyObject *hops_list(PyObject *legs)
{
    PyObject *out = PyList_New(0);
    if (out != NULL && !walk_hops(legs, hop_object, out))
        Py_CLEAR(out);
    return out;
}

/* str(code): a new reference; the texts of 0..999 are made once and kept (a status code's
 * text recurs in every call; a formatted one costs more than the rest of the object). */
static PyObject *code_texts[1000];

static PyObject *code_text(long long code)
{
    PyObject *text;
    int n = code >= 100 ? 3 : code >= 10 ? 2 : 1;
    if (code < 0 || code >= 1000)
        return PyUnicode_FromFormat("%lld", code);
    text = code_texts[code];
    if (text == NULL) {
        text = PyUnicode_New(n, 127);
        if (text == NULL)
            return NULL;
        put_digits((char *)PyUnicode_1BYTE_DATA(text), code, n);
        code_texts[code] = text;
    }
    Py_INCREF(text);
    return text;
}

/* The codes (into ``codes``) and counts (into ``counts``, borrowed from the dict) of a
 * call's statuses in order of code, for a dict (or a subclass that reads items as dict
 * does: Counter) of at most 16 int codes of 64 bits: how many; -1 (an error set or not) for
 * the Python road. */
static Py_ssize_t sorted_statuses(PyObject *statuses, long long *codes, PyObject **counts)
{
    PyObject *key, *value;
    Py_ssize_t pos = 0, n, i, j;
    if (!PyDict_Check(statuses) || Py_TYPE(statuses)->tp_iter != PyDict_Type.tp_iter ||
        !reads_as(statuses, dict_getitem))
        return -1;
    n = PyDict_GET_SIZE(statuses);
    if (n > 16)
        return -1; /* (a call with more distinct codes: rare, the Python road) */
    i = 0;
    while (PyDict_Next(statuses, &pos, &key, &value)) {
        int overflow = 0;
        long long code;
        if (i >= n || !PyLong_CheckExact(key))
            return -1;
        code = PyLong_AsLongLongAndOverflow(key, &overflow);
        if ((code == -1 && PyErr_Occurred()) || overflow)
            return -1;
        /* insertion into the sorted prefix (codes are distinct: dict keys) */
        for (j = i; j > 0 && codes[j - 1] > code; j--) {
            codes[j] = codes[j - 1];
            counts[j] = counts[j - 1];
        }
        codes[j] = code;
        counts[j] = value;
        i++;
    }
    return i == n ? n : -1;
}

/* _statuses_json(statuses): {str(code): count} in order of code (sorted_statuses); NULL
 * (an error set or not) for the Python road. */
static PyObject *statuses_object(PyObject *statuses)
{
    PyObject *out, *counts[16];
    long long codes[16];
    Py_ssize_t n = sorted_statuses(statuses, codes, counts), i;
    if (n < 0)
        return NULL;
    out = _PyDict_NewPresized(n);
    for (i = 0; out != NULL && i < n; i++) {
        PyObject *text = code_text(codes[i]);
        if (text == NULL || PyDict_SetItem(out, text, counts[i]) < 0)
            Py_CLEAR(out);
        Py_XDECREF(text);
    }
    return out;
}

/* CallSummary.setup_ms: the first truthy setup_ms of the marks (an exact dict); NULL (an
 * error set or not) for the Python road. */
static PyObject *setup_ms_of(PyObject *marks)
{
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    if (!PyDict_CheckExact(marks))
        return NULL;
    while (PyDict_Next(marks, &pos, &key, &value)) {
        PyObject *setup;
        int truth;
        Py_INCREF(value);
        setup = PyObject_GetAttr(value, call_names[N_SETUP_MS]);
        Py_DECREF(value);
        if (setup == NULL)
            return NULL;
        truth = PyObject_IsTrue(setup);
        if (truth) {
            if (truth < 0)
                Py_CLEAR(setup);
            return setup;
        }
        Py_DECREF(setup);
    }
    Py_RETURN_NONE;
}

/* CallSummary.duration_s's nanoseconds, end_ns - answer_ns, into *delta: 1 for a whole
 * number of microseconds below 2**53 ns (relative_s's exact seconds); 2 without an answer
 * or an end (None); 0 for the Python road. */
static int duration_delta(PyObject *answer, PyObject *end, long long *delta)
{
    long long a = 0, e = 0;
    if (answer == Py_None || end == Py_None)
        return 2;
    if (small_stamp(answer, &a) != 1 || small_stamp(end, &e) != 1)
        return 0;
    *delta = e - a;
    return *delta % 1000 == 0 && *delta > -EXACT_NS && *delta < EXACT_NS;
}

/* CallSummary.duration_s (duration_delta's): a float or None; NULL for the Python road. */
static PyObject *duration_of(PyObject *answer, PyObject *end)
{
    long long delta = 0;
    int ok = duration_delta(answer, end, &delta);
    if (ok == 2)
        Py_RETURN_NONE;
    return ok ? PyFloat_FromDouble((double)delta / 1e9) : NULL;
}

/* The stamps of a call's SDP exchanges (item 1 of each tuple) or DTMF (ts_ns) into ``at``
 * (its streams' are converted as their objects are made: stream_object): 1; 0 or -1 (error
 * set or not) for the Python road. */
static int put_part_instants(PyObject *at, PyObject *seq, int part, long long first)
{
    Py_ssize_t i, n = PyTuple_GET_SIZE(seq);
    for (i = 0; i < n; i++) {
        PyObject *item = PyTuple_GET_ITEM(seq, i);
        int ok;
        if (part == F_SDP) {
            if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) < 2 ||
                !reads_as(item, tuple_getitem))
                return 0;
            if (put_instant(at, PyTuple_GET_ITEM(item, 1), first) != 1)
                return 0;
            continue;
        }
        ok = put_attr_instant(at, item, call_names[N_TS_NS], first);
        if (ok != 1)
            return ok;
    }
    return 1;
}

/* The call's object; NULL (an error set or not) for the Python road. */
static PyObject *call_object(PyObject *roads, PyObject *call, PyObject *first_obj, int detail)
{
    PyObject *got[F_FIELDS] = {NULL}, *values[C_DTMF + 1] = {NULL}, *seqs[3] = {NULL};
    PyObject *at = NULL, *out = NULL, *legs = NULL, *pairs[4];
    long long first = 0;
    Py_ssize_t n_legs, i;
    int k, last = detail ? C_DTMF : C_STATUSES;

    /* A subclass may compute duration_s and setup_ms (read from the fields here) its own
     * way: the Python road reads them. */
    if (Py_TYPE(call) != (PyTypeObject *)PyTuple_GET_ITEM(roads, 4) ||
        small_stamp(first_obj, &first) != 1)
        return NULL;
    for (k = 0; k < F_FIELDS; k++) {
        if (!detail && k >= F_SDP)
            break;
        got[k] = slot_read(&call_reader, call, k);
        if (got[k] == NULL)
            goto done;
    }
    at = PyDict_New();
    if (at == NULL || PyDict_SetItem(at, Py_None, no_instant) < 0)
        goto done;
    for (k = 0; k < 4; k++)
        if (put_instant(at, got[F_START_NS + k], first) != 1)
            goto done;
    if (detail) {
        for (k = 0; k < 3; k++) {
            /* Copies (a tuple is its own): a stamp's __eq__ or __hash__, or a property
             * read, may change the call's lists while their items are read. */
            seqs[k] = PySequence_Tuple(got[F_SDP + k]);
            if (seqs[k] == NULL ||
                (F_SDP + k != F_STREAMS && put_part_instants(at, seqs[k], F_SDP + k, first) != 1))
                goto done;
        }
    }
    for (k = 0; k < 4; k++) {
        pairs[k] = instant_of(at, got[F_START_NS + k]);
        if (pairs[k] == NULL)
            goto done;
    }

    /* "index", "call_id", "call_ids": from a copy of the legs, as a leg's properties run
     * Python code that may change the list */
    if (!PyList_CheckExact(got[F_LEGS]) || PyList_GET_SIZE(got[F_LEGS]) == 0 ||
        (legs = PyList_AsTuple(got[F_LEGS])) == NULL)
        goto done;
    n_legs = PyTuple_GET_SIZE(legs);
    values[C_CALL_IDS] = PyList_New(n_legs);
    if (values[C_CALL_IDS] == NULL)
        goto done;
    for (i = 0; i < n_legs; i++) {
        PyObject *id = PyObject_GetAttr(PyTuple_GET_ITEM(legs, i), call_names[N_CALL_ID]);
        if (id == NULL)
            goto done;
        PyList_SET_ITEM(values[C_CALL_IDS], i, id);
    }
    values[C_CALL_ID] = PyList_GET_ITEM(values[C_CALL_IDS], 0);
    Py_INCREF(values[C_CALL_ID]);
    if (detail && (values[C_HOPS] = hops_list(legs)) == NULL)
        goto done;
    /* the fields as they are */
    {
        static const int same[][2] = {
            {C_INDEX, F_INDEX}, {C_KIND, F_KIND}, {C_FROM, F_FROM_URI}, {C_TO, F_TO_URI},
            {C_CALLER, F_CALLER}, {C_CALLEE, F_CALLEE}, {C_FINAL_STATUS, F_FINAL_STATUS},
            {C_FINAL_REASON, F_FINAL_REASON}, {C_ENDED_BY, F_ENDED_BY},
            {C_ANSWERED_BY, F_UAS}, {C_BYE_SOURCE, F_BYE_SOURCE}, {C_RESENT, F_RESENT},
        };
        for (k = 0; k < (int)(sizeof(same) / sizeof(same[0])); k++) {
            values[same[k][0]] = got[same[k][1]];
            Py_INCREF(values[same[k][0]]);
        }
    }
    for (k = 0; k < 4; k++) {
        values[C_START_S + 2 * k] = PyTuple_GET_ITEM(pairs[k], 0);
        values[C_START_ISO + 2 * k] = PyTuple_GET_ITEM(pairs[k], 1);
        Py_INCREF(values[C_START_S + 2 * k]);
        Py_INCREF(values[C_START_ISO + 2 * k]);
    }
    if ((values[C_DURATION_S] = duration_of(got[F_ANSWER_NS], got[F_END_NS])) == NULL ||
        (values[C_SETUP_MS] = setup_ms_of(got[F_MARKS])) == NULL ||
        (values[C_STATE] = PyObject_GetAttr(got[F_STATE], call_names[N_VALUE])) == NULL)
        goto done;
    i = PyObject_Size(got[F_MESSAGES]);
    if (i < 0 || (values[C_MESSAGES] = PyLong_FromSsize_t(i)) == NULL)
        goto done;
    values[C_METHODS] = PyObject_CallOneArg((PyObject *)&PyDict_Type, got[F_METHODS]);
    if (values[C_METHODS] == NULL ||
        (values[C_STATUSES] = statuses_object(got[F_STATUSES])) == NULL)
        goto done;
    if (detail) {
        for (k = 0; k < 3; k++) {
            PyObject *seq = seqs[k];
            if (PyTuple_GET_SIZE(seq) == 0)
                values[C_SDP + k] = PyList_New(0);
            else if (k == 0)
                values[C_SDP] = entry_list(PyTuple_GET_ITEM(roads, 1), seq, at, sdp_entry, NULL);
            else if (k == 1)
                values[C_STREAMS] = entry_list(PyTuple_GET_ITEM(roads, 2), seq, at, stream_object,
                                               &first);
            else
                values[C_DTMF] = PyObject_CallFunctionObjArgs(PyTuple_GET_ITEM(roads, 3),
                                                              got[F_DTMF], at, NULL);
            if (values[C_SDP + k] == NULL)
                goto done;
        }
    }
    out = _PyDict_NewPresized(last + 1);
    for (k = 0; out != NULL && k <= last; k++) {
        if (k == C_HOPS && !detail)
            continue;
        if (PyDict_SetItem(out, call_keys[k], values[k]) < 0)
            Py_CLEAR(out);
    }
done:
    for (k = 0; k < F_FIELDS; k++)
        Py_XDECREF(got[k]);
    for (k = 0; k <= C_DTMF; k++)
        Py_XDECREF(values[k]);
    for (k = 0; k < 3; k++)
        Py_XDECREF(seqs[k]);
    Py_XDECREF(at);
    Py_XDECREF(legs);
    return out;
}

static PyObject *call_dict(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *made;
    int detail;
    (void)self;
    if (nargs != 4 || !PyTuple_CheckExact(args[0]) || PyTuple_GET_SIZE(args[0]) != 5) {
        PyErr_SetString(PyExc_TypeError,
                        "expected 4 arguments: (python road, sdp_entry, stream_entry, "
                        "dtmf_entries, CallSummary), call, first_ns, detail");
        return NULL;
    }
    detail = PyObject_IsTrue(args[3]);
    if (detail < 0)
        return NULL;
    made = call_object(args[0], args[1], args[2], detail);
    if (made != NULL)
        return made;
    /* An Exception raised here is the Python road's to raise, or not (it reads the call
     * again); anything else (KeyboardInterrupt, SystemExit) goes on up. */
    if (PyErr_Occurred()) {
        if (!PyErr_ExceptionMatches(PyExc_Exception))
            return NULL;
        PyErr_Clear();
    }
    return PyObject_CallFunctionObjArgs(PyTuple_GET_ITEM(args[0], 0), args[1], args[2],
                                        args[3], NULL);
}

/* ---- a call's whole JSON text (calls_text; rtcscope.sip.calls._calls_text_py is the
 * specification): the bytes orjson writes for _call_dict_py's object (with its lists, no
 * qualities) with OPT_INDENT_2, written from the call's slots, its SDP tuples, its streams'
 * slots and its DTMF objects, no object made for it. Written only for an exact CallSummary
 * whose every value is one this code writes as orjson does (_jsonbuf.h's put_value: an
 * exact str that is UTF-8, an exact int of 64 bits, None; True and False; the instants
 * instant() converts, a duration of whole microseconds) and whose lists are exact lists;
 * any other call is declined (its text then comes from its object, the caller's road). */

/* What the text of a call reads besides the call: the capture's first stamp, and the
 * class of the DTMF objects it reads (InfoDtmf: a slotted frozen dataclass). */
typedef struct {
    long long first;
    PyObject *dtmf_type;
} CallRead;

/* A value as orjson writes it at depth: put_value's, and True and False. 1 written, 0
 * declined, -1 failed. */
static int put_field(Text *t, PyObject *value, int depth)
{
    if (value == Py_True || value == Py_False)
        return put(t, value == Py_True ? "true" : "false", value == Py_True ? 4 : 5) < 0 ? -1
                                                                                        : 1;
    return put_value(t, value, depth, 0);
}

/* ``delta`` ns (whole microseconds, below 2**53 ns either side of zero: what instant() and
 * relative_s convert) as orjson writes the float delta / 1e9: the microseconds' decimal
 * digits with the trailing zeros of the fraction dropped but one (2.5, 3.0). That is the
 * shortest text that reads back as the double, which orjson writes (as Python's repr):
 * doubles below 2**53 ns are far closer together than a microsecond, so no shorter text
 * reads back as the same one. 1; 0 for 1 to 9 microseconds either side of zero, which
 * orjson writes with an exponent (1e-6, not written here); -1 failed. */
static int put_seconds(Text *t, long long delta)
{
    long long us = delta / 1000;
    long long size = us < 0 ? -us : us;
    char fraction[6];
    int n = 6;
    if (size > 0 && size < 10)
        return 0;
    if ((us < 0 && put(t, "-", 1) < 0) || put_number(t, size / 1000000) < 0 ||
        put(t, ".", 1) < 0)
        return -1;
    put_digits(fraction, size % 1000000, 6);
    while (n > 1 && fraction[n - 1] == '0')
        n--;
    return put(t, fraction, n) < 0 ? -1 : 1;
}

/* The two keys keys[0] and keys[1] of the stamp ``ts`` (never an object's first keys) and
 * its seconds and ISO text as instant() converts it; null and null for None. 1; 0 for a
 * stamp instant() does not convert; -1 failed. */
static int put_instant_text(Text *t, PyObject *ts, const CallRead *read,
                            const char *const *keys, int depth)
{
    long long value = 0;
    int ok;
    if (ts == Py_None)
        return put_key(t, keys[0], depth, 0) < 0 || PUT_LITERAL(t, "null") < 0 ||
                       put_key(t, keys[1], depth, 0) < 0 || PUT_LITERAL(t, "null") < 0
                   ? -1
                   : 1;
    ok = convertible(ts, read->first, &value);
    if (ok != 1)
        return ok;
    if (put_key(t, keys[0], depth, 0) < 0)
        return -1;
    ok = put_seconds(t, value - read->first);
    if (ok != 1)
        return ok;
    if (put_key(t, keys[1], depth, 0) < 0 || reserve(t, 34) < 0)
        return -1;
    t->data[t->used] = '"';
    iso_chars(value, t->data + t->used + 1);
    t->data[t->used + 33] = '"';
    t->used += 34;
    return 1;
}

/* Each of ``keys`` (from the ``first`` one of an object, or after it) and its value (put_field
 * at depth). 1, 0 declined, -1 failed. */
static int put_fields_text(Text *t, const char *const *keys, PyObject *const *values, int n,
                           int depth, int first)
{
    int i, ok;
    for (i = 0; i < n; i++) {
        if (put_key(t, keys[i], depth, first && i == 0) < 0)
            return -1;
        ok = put_field(t, values[i], depth);
        if (ok != 1)
            return ok;
    }
    return 1;
}

/* What closes an object at depth. */
static int close_object(Text *t, int depth)
{
    return new_line(t, depth) < 0 || PUT_LITERAL(t, "}") < 0 ? -1 : 1;
}

/* An item's object at depth, its text (1, 0 declined, -1 failed). */
typedef int (*ItemText)(Text *t, PyObject *item, const CallRead *read, int depth);

/* An SdpExchange's object (_sdp_entries_py's, the tuple read by position as sdp_entry
 * reads it). */
static int sdp_text(Text *t, PyObject *sdp, const CallRead *read, int depth)
{
    PyObject *codecs;
    int ok;
    if (!PyTuple_Check(sdp) || PyTuple_GET_SIZE(sdp) != 11 ||
        Py_TYPE(sdp)->tp_iter != PyTuple_Type.tp_iter)
        return 0;
    codecs = PyTuple_GET_ITEM(sdp, 9); /* (list(codecs): a list or tuple only) */
    if (!PyList_CheckExact(codecs) && !PyTuple_CheckExact(codecs))
        return 0;
    if (PUT_LITERAL(t, "{") < 0)
        return -1;
    if ((ok = put_fields_text(t, key_texts + K_FRAME, &PyTuple_GET_ITEM(sdp, 0), 1, depth + 1,
                              1)) != 1 ||
        (ok = put_instant_text(t, PyTuple_GET_ITEM(sdp, 1), read, key_texts + K_TIME_S,
                               depth + 1)) != 1 ||
        (ok = put_fields_text(t, key_texts + K_SIDE, &PyTuple_GET_ITEM(sdp, 2), 7, depth + 1,
                              0)) != 1 ||
        (ok = put_fields_text(t, key_texts + K_CODECS, &PyTuple_GET_ITEM(sdp, 9), 2, depth + 1,
                              0)) != 1)
        return ok;
    return close_object(t, depth);
}

/* A stream's object (_stream_entry's, read by stream_read at its slots' offsets). */
static int stream_text(Text *t, PyObject *stream, const CallRead *read, int depth)
{
    PyObject *got[10] = {NULL}, *values[6] = {NULL};
    int i, ok = 0;
    if (!stream_read(stream, NULL, &read->first, got, values, 0))
        goto done;
    if (PUT_LITERAL(t, "{") < 0) {
        ok = -1;
        goto done;
    }
    if ((ok = put_fields_text(t, key_texts + K_SRC, values, 6, depth + 1, 1)) != 1 ||
        (ok = put_instant_text(t, got[A_START_NS], read, key_texts + K_START_S, depth + 1)) !=
            1 ||
        (ok = put_instant_text(t, got[A_END_NS], read, key_texts + K_END_S, depth + 1)) != 1)
        goto done;
    ok = close_object(t, depth);
done:
    for (i = 0; i < 10; i++)
        Py_XDECREF(got[i]);
    for (i = 0; i < 6; i++)
        Py_XDECREF(values[i]);
    return ok;
}

/* An InfoDtmf's object (_dtmf_entries's), for an object of exactly read->dtmf_type. */
static int dtmf_text(Text *t, PyObject *dtmf, const CallRead *read, int depth)
{
    PyObject *got[6] = {NULL};
    int i, ok = 0;
    if (Py_TYPE(dtmf) != (PyTypeObject *)read->dtmf_type)
        return 0;
    if (slot_read_all(&dtmf_reader, dtmf, got) < 0)
        return 0; /* (its error: the caller's to clear or raise) */
    if (PUT_LITERAL(t, "{") < 0) {
        ok = -1;
        goto done;
    }
    if ((ok = put_fields_text(t, key_texts + K_FRAME, got, 1, depth + 1, 1)) != 1 ||
        (ok = put_instant_text(t, got[1], read, key_texts + K_TIME_S, depth + 1)) != 1 ||
        (ok = put_fields_text(t, key_texts + K_SIGNAL, got + 2, 4, depth + 1, 0)) != 1)
        goto done;
    ok = close_object(t, depth);
done:
    for (i = 0; i < 6; i++)
        Py_XDECREF(got[i]);
    return ok;
}

/* The tuple ``items`` as a list at depth, each item's object ``item_text``'s. */
static int put_items_text(Text *t, PyObject *items, ItemText item_text, const CallRead *read,
                          int depth)
{
    Py_ssize_t i, n = PyTuple_GET_SIZE(items);
    int ok;
    if (n == 0)
        return PUT_LITERAL(t, "[]") < 0 ? -1 : 1;
    for (i = 0; i < n; i++) {
        if (put(t, i ? "," : "[", 1) < 0 || new_line(t, depth + 1) < 0)
            return -1;
        /* (the tuple holds its items while an item's reads run Python code) */
        ok = item_text(t, PyTuple_GET_ITEM(items, i), read, depth + 1);
        if (ok != 1)
            return ok;
    }
    return new_line(t, depth) < 0 || PUT_LITERAL(t, "]") < 0 ? -1 : 1;
}

/* The hops' list at ``depth`` as walk_hops finds them (HopSink). */
typedef struct {
    Text *text;
    int depth;
    Py_ssize_t count;
} HopText;

static int hop_text(void *sink, PyObject *client, PyObject *server, PyObject *transport)
{
    HopText *hops = sink;
    PyObject *values[3] = {client, server, transport};
    int depth = hops->depth;
    if (put(hops->text, hops->count ? "," : "[", 1) < 0 || new_line(hops->text, depth + 1) < 0 ||
        PUT_LITERAL(hops->text, "{") < 0 ||
        put_fields_text(hops->text, call_key_texts + C_CLIENT, values, 3, depth + 2, 1) != 1 ||
        close_object(hops->text, depth + 1) != 1)
        return 0;
    hops->count++;
    return 1;
}

/* A dict of str keys (dict(call.methods): a dict, or a subclass iterated as dict is) as an
 * object at depth. */
static int put_counts_text(Text *t, PyObject *counts, int depth)
{
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    int ok, first = 1;
    if (!PyDict_Check(counts) || Py_TYPE(counts)->tp_iter != PyDict_Type.tp_iter)
        return 0;
    if (PyDict_GET_SIZE(counts) == 0)
        return PUT_LITERAL(t, "{}") < 0 ? -1 : 1;
    /* (no Python code runs meanwhile: the dict does not change) */
    while (PyDict_Next(counts, &pos, &key, &value)) {
        if (put(t, first ? "{" : ",", 1) < 0 || new_line(t, depth + 1) < 0)
            return -1;
        first = 0;
        if ((ok = put_str(t, key)) != 1 || PUT_LITERAL(t, ": ") < 0 ||
            (ok = put_field(t, value, depth + 1)) != 1)
            return ok == 1 ? -1 : ok;
    }
    return close_object(t, depth);
}

/* _statuses_json(statuses) (sorted_statuses) as an object at depth. */
static int put_statuses_text(Text *t, PyObject *statuses, int depth)
{
    PyObject *counts[16];
    long long codes[16];
    Py_ssize_t n = sorted_statuses(statuses, codes, counts), i;
    int ok;
    if (n < 0)
        return 0;
    if (n == 0)
        return PUT_LITERAL(t, "{}") < 0 ? -1 : 1;
    for (i = 0; i < n; i++) {
        if (put(t, i ? "," : "{", 1) < 0 || new_line(t, depth + 1) < 0 ||
            PUT_LITERAL(t, "\"") < 0 || put_number(t, codes[i]) < 0 ||
            PUT_LITERAL(t, "\": ") < 0)
            return -1;
        if ((ok = put_field(t, counts[i], depth + 1)) != 1)
            return ok;
    }
    return close_object(t, depth);
}

/* The parts of a call its text reads before it is written (each a new reference). */
typedef struct {
    PyObject *got[F_FIELDS]; /* the call's fields */
    PyObject *legs;          /* a copy of its legs */
    PyObject *ids;           /* the legs' Call-IDs (a list) */
    PyObject *lists[3];      /* copies of sdp, streams, dtmf */
    PyObject *state;         /* state._value_ */
    PyObject *setup_ms;
    Py_ssize_t messages;
} CallParts;

static int write_call(Text *t, CallParts *c, const CallRead *read, int depth)
{
    PyObject **got = c->got;
    HopText hops = {t, depth + 1, 0};
    long long delta = 0;
    int k, ok;
    if (PUT_LITERAL(t, "{") < 0)
        return -1;
    if ((ok = put_fields_text(t, call_key_texts + C_INDEX, &got[F_INDEX], 1, depth + 1, 1)) !=
            1 ||
        (ok = put_fields_text(t, call_key_texts + C_CALL_ID, &PyList_GET_ITEM(c->ids, 0), 1,
                              depth + 1, 0)) != 1 ||
        (ok = put_fields_text(t, call_key_texts + C_CALL_IDS, &c->ids, 1, depth + 1, 0)) != 1)
        return ok;
    if (put_key(t, call_key_texts[C_HOPS], depth + 1, 0) < 0)
        return -1;
    if (!walk_hops(c->legs, hop_text, &hops))
        return 0;
    if ((hops.count == 0 ? PUT_LITERAL(t, "[]")
                         : new_line(t, depth + 1) < 0 ? -1 : PUT_LITERAL(t, "]")) < 0)
        return -1;
    if ((ok = put_fields_text(t, call_key_texts + C_KIND, &got[F_KIND], 5, depth + 1, 0)) != 1)
        return ok;
    for (k = 0; k < 4; k++)
        if ((ok = put_instant_text(t, got[F_START_NS + k], read,
                                   call_key_texts + C_START_S + 2 * k, depth + 1)) != 1)
            return ok;
    if (put_key(t, call_key_texts[C_DURATION_S], depth + 1, 0) < 0)
        return -1;
    ok = duration_delta(got[F_ANSWER_NS], got[F_END_NS], &delta);
    if ((ok = ok == 2 ? PUT_LITERAL(t, "null") < 0 ? -1 : 1 : ok ? put_seconds(t, delta) : 0) !=
        1)
        return ok;
    {
        PyObject *values[8] = {c->setup_ms, got[F_FINAL_STATUS], got[F_FINAL_REASON], c->state,
                               got[F_ENDED_BY], got[F_UAS], got[F_BYE_SOURCE], NULL};
        if ((ok = put_fields_text(t, call_key_texts + C_SETUP_MS, values, 7, depth + 1, 0)) !=
            1)
            return ok;
    }
    if (put_key(t, call_key_texts[C_MESSAGES], depth + 1, 0) < 0 ||
        put_number(t, c->messages) < 0)
        return -1;
    if ((ok = put_fields_text(t, call_key_texts + C_RESENT, &got[F_RESENT], 1, depth + 1, 0)) !=
        1)
        return ok;
    if (put_key(t, call_key_texts[C_METHODS], depth + 1, 0) < 0)
        return -1;
    if ((ok = put_counts_text(t, got[F_METHODS], depth + 1)) != 1)
        return ok;
    if (put_key(t, call_key_texts[C_STATUSES], depth + 1, 0) < 0)
        return -1;
    if ((ok = put_statuses_text(t, got[F_STATUSES], depth + 1)) != 1)
        return ok;
    {
        static const ItemText item_texts[3] = {sdp_text, stream_text, dtmf_text};
        for (k = 0; k < 3; k++) {
            if (put_key(t, call_key_texts[C_SDP + k], depth + 1, 0) < 0)
                return -1;
            if ((ok = put_items_text(t, c->lists[k], item_texts[k], read, depth + 1)) != 1)
                return ok;
        }
    }
    return close_object(t, depth);
}

/* The call's text at depth (an exact CallSummary, read->first a stamp of 0..2**63). */
static int put_call_text(Text *t, PyObject *call, const CallRead *read, int depth)
{
    CallParts c;
    Py_ssize_t n_legs, i;
    int k, ok = 0;
    memset(&c, 0, sizeof c);
    for (k = 0; k < F_FIELDS; k++)
        if ((c.got[k] = slot_read(&call_reader, call, k)) == NULL)
            goto done;
    /* Copies (a tuple is its own): the properties read below run Python code that may
     * change the call's lists. */
    if (!PyList_CheckExact(c.got[F_LEGS]) || PyList_GET_SIZE(c.got[F_LEGS]) == 0 ||
        (c.legs = PyList_AsTuple(c.got[F_LEGS])) == NULL)
        goto done;
    for (k = 0; k < 3; k++)
        if (!PyList_CheckExact(c.got[F_SDP + k]) ||
            (c.lists[k] = PyList_AsTuple(c.got[F_SDP + k])) == NULL)
            goto done;
    n_legs = PyTuple_GET_SIZE(c.legs);
    if ((c.ids = PyList_New(n_legs)) == NULL)
        goto done;
    for (i = 0; i < n_legs; i++) {
        PyObject *id = PyObject_GetAttr(PyTuple_GET_ITEM(c.legs, i), call_names[N_CALL_ID]);
        if (id == NULL)
            goto done;
        PyList_SET_ITEM(c.ids, i, id);
    }
    if ((c.setup_ms = setup_ms_of(c.got[F_MARKS])) == NULL ||
        (c.state = PyObject_GetAttr(c.got[F_STATE], call_names[N_VALUE])) == NULL ||
        (c.messages = PyObject_Size(c.got[F_MESSAGES])) < 0)
        goto done;
    ok = write_call(t, &c, read, depth);
done:
    for (k = 0; k < F_FIELDS; k++)
        Py_XDECREF(c.got[k]);
    for (k = 0; k < 3; k++)
        Py_XDECREF(c.lists[k]);
    Py_XDECREF(c.legs);
    Py_XDECREF(c.ids);
    Py_XDECREF(c.state);
    Py_XDECREF(c.setup_ms);
    return ok;
}

static PyObject *calls_text(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *seq, *made;
    Text t = {NULL, NULL, 0, 0};
    CallRead read = {0, NULL};
    Py_ssize_t i = 0, n;
    long level;
    int first_ok;
    (void)self;
    if (nargs != 4 || !PyTuple_CheckExact(args[0]) || PyTuple_GET_SIZE(args[0]) != 2 ||
        !PyLong_CheckExact(args[3])) {
        PyErr_SetString(PyExc_TypeError, "expected 4 arguments: (CallSummary, InfoDtmf), "
                                         "first_ns, calls, level (an int)");
        return NULL;
    }
    level = PyLong_AsLong(args[3]);
    if (level == -1 && PyErr_Occurred())
        return NULL;
    read.dtmf_type = PyTuple_GET_ITEM(args[0], 1);
    first_ok = small_stamp(args[1], &read.first);
    if (first_ok < 0)
        return NULL;
    /* A copy (a tuple is its own): the calls' reads run Python code that may change a list
     * while its items are read. */
    seq = PySequence_Tuple(args[2]);
    if (seq == NULL)
        return NULL;
    n = PyTuple_GET_SIZE(seq);
    /* (room for the usual call's text, ~3 KB: not grown call by call) */
    if (n > 0 && n < 4096 && reserve(&t, 4096 * n) < 0) {
        Py_DECREF(seq);
        return NULL;
    }
    /* (a level beyond orjson's nesting limit, or a first stamp not converted here: no call
     * written) */
    for (i = 0; first_ok == 1 && level >= 0 && level <= 255 && i < n; i++) {
        PyObject *call = PyTuple_GET_ITEM(seq, i);
        Py_ssize_t mark = t.used;
        int ok = 0;
        if (i && (put(&t, ",", 1) < 0 || new_line(&t, (int)level) < 0))
            ok = -1;
        else if (Py_TYPE(call) == (PyTypeObject *)PyTuple_GET_ITEM(args[0], 0))
            ok = put_call_text(&t, call, &read, (int)level);
        if (ok == 1)
            continue;
        /* An Exception raised here is the caller's road's to raise, or not (it reads the
         * call again); anything else (KeyboardInterrupt, SystemExit), and a text lost to a
         * failed allocation, goes on up. */
        if (PyErr_Occurred()) {
            if (!PyErr_ExceptionMatches(PyExc_Exception) || (t.bytes == NULL && mark > 0))
                goto fail;
            PyErr_Clear();
        }
        t.used = mark;
        break;
    }
    made = text_bytes(&t);
    Py_DECREF(seq);
    return made == NULL ? NULL : Py_BuildValue("(Nn)", made, i);
fail:
    Py_XDECREF(t.bytes);
    Py_DECREF(seq);
    return NULL;
}

static PyMethodDef methods[] = {
    {"instants", instants, METH_VARARGS,
     "instants(fallback, none_pair, stamps, first_ns): rtcscope.timebase.instants_py's "
     "dict; a stamp not converted here is fallback(stamp, first_ns)'s; None maps to "
     "none_pair."},
    {"sdp_entries", (PyCFunction)(void (*)(void))sdp_entries, METH_FASTCALL,
     "sdp_entries(fallback, sdps, at): rtcscope.sip.calls._sdp_entries_py's list; an "
     "exchange not read here is fallback(sdp, at)'s."},
    {"stream_entries", (PyCFunction)(void (*)(void))stream_entries, METH_FASTCALL,
     "stream_entries(fallback, streams, at): rtcscope.sip.calls._stream_entries_py's list; "
     "a stream not read here is fallback(stream, at)'s."},
    {"call_dict", (PyCFunction)(void (*)(void))call_dict, METH_FASTCALL,
     "call_dict(roads, call, first_ns, detail): rtcscope.sip.calls._call_dict_py's object; "
     "a call not read here (one whose type is not roads[4]) is roads[0](call, first_ns, "
     "detail)'s."},
    {"calls_text", (PyCFunction)(void (*)(void))calls_text, METH_FASTCALL,
     "calls_text((CallSummary, InfoDtmf), first_ns, calls, level): (text, count), "
     "rtcscope.sip.calls._calls_text_py's text of the first count calls; the next call "
     "(count < len(calls)) is declined."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_timetext",
    "rtcscope.timebase.instants and a call's SDP and stream objects in C (see "
    "rtcscope/_timetext.c).", -1, methods,
};

PyMODINIT_FUNC PyInit__timetext(void)
{
    int i;
    for (i = 0; i < K_COUNT; i++) {
        key_names[i] = PyUnicode_InternFromString(key_texts[i]);
        if (key_names[i] == NULL)
            return NULL;
    }
    for (i = 0; i < 10; i++) {
        attr_names[i] = PyUnicode_InternFromString(attr_texts[i]);
        if (attr_names[i] == NULL)
            return NULL;
    }
    for (i = 0; i < C_KEYS; i++) {
        call_keys[i] = PyUnicode_InternFromString(call_key_texts[i]);
        if (call_keys[i] == NULL)
            return NULL;
    }
    for (i = 0; i < N_NAMES; i++) {
        call_names[i] = PyUnicode_InternFromString(call_name_texts[i]);
        if (call_names[i] == NULL)
            return NULL;
    }
    no_instant = PyTuple_Pack(2, Py_None, Py_None);
    dict_getitem = _PyType_Lookup(&PyDict_Type, call_names[N_GETITEM]);
    tuple_getitem = _PyType_Lookup(&PyTuple_Type, call_names[N_GETITEM]);
    if (no_instant == NULL || dict_getitem == NULL || tuple_getitem == NULL)
        return NULL;
    return PyModule_Create(&module);
}
