/* rtcscope._timetext: rtcscope.timebase.instants in C (a call list's time texts), and the
 * "sdp" and "streams" objects of a call's JSON (rtcscope.sip.calls: see below).
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

/* (relative, iso) for ``ts`` (0 <= ts, whole microseconds from ``first``, below 2**53 ns
 * from it); NULL with an exception set on failure. */
static PyObject *instant(long long ts, long long first)
{
    long long delta = ts - first;
    long long us = ts / 1000;
    long long second = us / 1000000;
    long long micro = us % 1000000;
    long long days = second / 86400;
    long long sod = second % 86400;
    int year, month, day;
    char text[32];
    PyObject *relative, *iso, *pair;

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
    relative = PyFloat_FromDouble((double)delta / 1e9);
    if (relative == NULL)
        return NULL;
    /* The text is ASCII: copied into a new compact ASCII string (no decoding pass). */
    iso = PyUnicode_New(32, 127);
    if (iso == NULL) {
        Py_DECREF(relative);
        return NULL;
    }
    memcpy(PyUnicode_1BYTE_DATA(iso), text, 32);
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
    seq = PySequence_Fast(stamps, "stamps must be a sequence");
    if (seq == NULL)
        return NULL;
    out = PyDict_New();
    if (out == NULL || PyDict_SetItem(out, Py_None, none_pair) < 0)
        goto fail;
    n = PySequence_Fast_GET_SIZE(seq);
    for (i = 0; i < n; i++) {
        PyObject *ts_obj = PySequence_Fast_GET_ITEM(seq, i);
        PyObject *pair;
        long long ts = 0;
        int known = PyDict_Contains(out, ts_obj), ok;
        if (known < 0)
            goto fail;
        if (known)
            continue;
        ok = first_ok ? small_stamp(ts_obj, &ts) : 0;
        if (ok < 0)
            goto fail;
        if (ok) {
            long long delta = ts - first;
            ok = delta % 1000 == 0 && -EXACT_NS < delta && delta < EXACT_NS;
        }
        if (ok)
            pair = instant(ts, first);
        else
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

static PyObject *key_names[22];
enum {
    K_FRAME, K_TIME_S, K_TIME_ISO, K_SIDE, K_ROLE, K_SIP, K_MEDIA, K_ADDRESS, K_PORT,
    K_DIRECTION, K_CODECS, K_HOLD, K_SRC, K_DST, K_SSRC_HEX, K_CODEC, K_PACKETS, K_LOST,
    K_START_S, K_START_ISO, K_END_S, K_END_ISO
};
static const char *const key_texts[22] = {
    "frame", "time_s", "time_iso", "side", "role", "sip", "media", "address", "port",
    "direction", "codecs", "hold", "src", "dst", "ssrc_hex", "codec", "packets", "lost",
    "start_s", "start_iso", "end_s", "end_iso",
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
static PyObject *sdp_entry(PyObject *sdp, PyObject *at)
{
    PyObject *pair, *codecs, *values[12];
    int i;
    if (!PyTuple_Check(sdp) || PyTuple_GET_SIZE(sdp) != 11 ||
        Py_TYPE(sdp)->tp_iter != PyTuple_Type.tp_iter)
        return NULL;
    pair = instant_of(at, PyTuple_GET_ITEM(sdp, 1));
    if (pair == NULL)
        return NULL;
    codecs = PySequence_List(PyTuple_GET_ITEM(sdp, 9));
    if (codecs == NULL)
        return NULL;
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

/* One stream's object (rtcscope.sip.calls._stream_entry); NULL, with or without an error
 * set: the Python road (its object or its exception). */
static PyObject *stream_entry(PyObject *stream, PyObject *at)
{
    PyObject *got[10] = {NULL}, *values[10] = {NULL}, *start, *end, *out = NULL;
    int i;
    for (i = 0; i < 10; i++) {
        PyObject *owner = i >= A_SRC && i <= A_SSRC ? got[A_KEY] : stream;
        got[i] = PyObject_GetAttr(owner, attr_names[i]);
        if (got[i] == NULL)
            goto done;
    }
    if (!PyTuple_CheckExact(got[A_PACKETS_LOST]) || PyTuple_GET_SIZE(got[A_PACKETS_LOST]) != 2)
        goto done;
    start = instant_of(at, got[A_START_NS]);
    end = start == NULL ? NULL : instant_of(at, got[A_END_NS]);
    if (end == NULL)
        goto done;
    values[0] = address_text(got[A_SRC], got[A_SRC_PORT]);
    values[1] = values[0] == NULL ? NULL : address_text(got[A_DST], got[A_DST_PORT]);
    values[2] = values[1] == NULL ? NULL : ssrc_text(got[A_SSRC]);
    if (values[2] == NULL) {
        Py_XDECREF(values[0]);
        Py_XDECREF(values[1]);
        goto done;
    }
    values[3] = got[A_CODEC];
    values[4] = PyTuple_GET_ITEM(got[A_PACKETS_LOST], 0);
    values[5] = PyTuple_GET_ITEM(got[A_PACKETS_LOST], 1);
    values[6] = PyTuple_GET_ITEM(start, 0);
    values[7] = PyTuple_GET_ITEM(start, 1);
    values[8] = PyTuple_GET_ITEM(end, 0);
    values[9] = PyTuple_GET_ITEM(end, 1);
    for (i = 3; i < 10; i++)
        Py_INCREF(values[i]);
    out = entry_dict(K_SRC, values, 10);
done:
    for (i = 0; i < 10; i++)
        Py_XDECREF(got[i]);
    return out;
}

/* [entry(item) for item in items], an item the entry function leaves (NULL) made by
 * ``fallback(item, at)``. */
static PyObject *entries(PyObject *const *args, Py_ssize_t nargs,
                         PyObject *(*entry)(PyObject *, PyObject *))
{
    PyObject *fallback, *seq, *at, *out;
    Py_ssize_t i, n;
    int read_here;
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "expected 3 arguments: fallback, items, at");
        return NULL;
    }
    fallback = args[0];
    at = args[2];
    seq = PySequence_Fast(args[1], "items must be a sequence");
    if (seq == NULL)
        return NULL;
    n = PySequence_Fast_GET_SIZE(seq);
    /* Only a dict (not a subclass) is read here; anything else: every item to fallback. */
    read_here = PyDict_CheckExact(at);
    out = PyList_New(n);
    for (i = 0; out != NULL && i < n; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(seq, i);
        PyObject *made = read_here ? entry(item, at) : NULL;
        if (made == NULL) {
            /* An error set here is the Python road's to raise, or not (it reads the item
             * again). */
            PyErr_Clear();
            made = PyObject_CallFunctionObjArgs(fallback, item, at, NULL);
            if (made == NULL) {
                Py_CLEAR(out); /* (its items not yet set are NULL) */
                break;
            }
        }
        PyList_SET_ITEM(out, i, made);
    }
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
    return entries(args, nargs, stream_entry);
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
    for (i = 0; i < 22; i++) {
        key_names[i] = PyUnicode_InternFromString(key_texts[i]);
        if (key_names[i] == NULL)
            return NULL;
    }
    for (i = 0; i < 10; i++) {
        attr_names[i] = PyUnicode_InternFromString(attr_texts[i]);
        if (attr_names[i] == NULL)
            return NULL;
    }
    return PyModule_Create(&module);
}
