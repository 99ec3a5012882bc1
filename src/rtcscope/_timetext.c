/* rtcscope._timetext: rtcscope.timebase.instants in C (a call list's time texts).
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
 * negative or larger int, or not an int: the Python road decides); -1 on error. */
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

static PyMethodDef methods[] = {
    {"instants", instants, METH_VARARGS,
     "instants(fallback, none_pair, stamps, first_ns): rtcscope.timebase.instants_py's "
     "dict; a stamp not converted here is fallback(stamp, first_ns)'s; None maps to "
     "none_pair."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_timetext",
    "rtcscope.timebase.instants in C (see rtcscope/_timetext.c).", -1, methods,
};

PyMODINIT_FUNC PyInit__timetext(void)
{
    return PyModule_Create(&module);
}
