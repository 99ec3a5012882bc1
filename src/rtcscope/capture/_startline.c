/* rtcscope.capture._startline: the counts tap's match of a usual SIP start line in C.
 *
 * The specification is the pure-Python road, rtcscope.capture.info._USUAL_START_LINE
 * matched as count_sip_columns_py matches it: ``pattern.match(buffer, start, limit)`` with
 * the pattern ``SIP/2\.0 [0-9]{3}|[A-Z]+ [^ \r\n]+ SIP/2\.0\r\n`` (RFC 3261 7.1: a status
 * line, or a request line of capital letters, a target without space, CR or LF, and the
 * version). Neither branch can backtrack into another way of matching (a run of capitals
 * ends at the first non-capital, a target at the first space, CR or LF), so one forward
 * walk decides each payload. ``start`` and ``limit`` are clamped as ``re`` clamps pos and
 * endpos (below 0: 0; past the end: the end).
 *
 * Also the batch road's IPv4 address texts (rtcscope.capture.fastscan): ``dotted_quads``
 * (the specification: ipv4_text_map's f-string of each octet) and ``address_texts`` (its
 * specification: fastscan._address_texts_py, a SIP batch's source and destination texts).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* Whether s[0:n] starts with a usual start line (the pattern's match at 0, ending by n). */
static int usual_start_line(const unsigned char *s, Py_ssize_t n)
{
    Py_ssize_t at = 0, target;
    if (n >= 11 && memcmp(s, "SIP/2.0 ", 8) == 0 && s[8] >= '0' && s[8] <= '9' &&
        s[9] >= '0' && s[9] <= '9' && s[10] >= '0' && s[10] <= '9')
        return 1;
    while (at < n && s[at] >= 'A' && s[at] <= 'Z')
        at++;
    if (at == 0 || at >= n || s[at] != ' ')
        return 0;
    target = ++at;
    while (at < n && s[at] != ' ' && s[at] != '\r' && s[at] != '\n')
        at++;
    if (at == target || n - at < 10)
        return 0;
    return memcmp(s + at, " SIP/2.0\r\n", 10) == 0;
}

/* A position from a list of ints, clamped to 0..size. */
static int clamped(PyObject *list, Py_ssize_t i, Py_ssize_t size, Py_ssize_t *out)
{
    Py_ssize_t value = PyLong_AsSsize_t(PyList_GET_ITEM(list, i));
    if (value == -1 && PyErr_Occurred())
        return -1;
    *out = value < 0 ? 0 : (value > size ? size : value);
    return 0;
}

/* unusual(buffer, starts, limits) -> the positions i (a list, in order) where
 * buffer[starts[i]:limits[i]] does not start with a usual start line. */
static PyObject *unusual(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer view;
    PyObject *starts, *limits, *missed;
    Py_ssize_t count, i, start, limit;
    (void)module;
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "unusual() takes buffer, starts and limits");
        return NULL;
    }
    starts = args[1];
    limits = args[2];
    if (!PyList_Check(starts) || !PyList_Check(limits)) {
        PyErr_SetString(PyExc_TypeError, "unusual(): starts and limits must be lists");
        return NULL;
    }
    count = PyList_GET_SIZE(starts);
    if (PyList_GET_SIZE(limits) != count) {
        PyErr_SetString(PyExc_ValueError, "unusual(): starts and limits differ in length");
        return NULL;
    }
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0)
        return NULL;
    missed = PyList_New(0);
    if (missed == NULL)
        goto fail;
    for (i = 0; i < count; i++) {
        if (clamped(starts, i, view.len, &start) < 0 || clamped(limits, i, view.len, &limit) < 0)
            goto fail;
        if (limit > start && usual_start_line((const unsigned char *)view.buf + start,
                                              limit - start))
            continue;
        {
            PyObject *position = PyLong_FromSsize_t(i);
            int failed = position == NULL || PyList_Append(missed, position) < 0;
            Py_XDECREF(position);
            if (failed)
                goto fail;
        }
    }
    PyBuffer_Release(&view);
    return missed;
fail:
    Py_XDECREF(missed);
    PyBuffer_Release(&view);
    return NULL;
}

/* -- IPv4 address texts -------------------------------------------------------------------- */

/* The dotted quad of value (0 <= value < 2**32), as fastscan's f-string writes it: a new str. */
static PyObject *dotted_quad(unsigned long value)
{
    char text[16], *at = text;
    int shift;
    for (shift = 24; shift >= 0; shift -= 8) {
        unsigned octet = (unsigned)(value >> shift) & 255u;
        if (octet >= 100)
            *at++ = (char)('0' + octet / 100);
        if (octet >= 10)
            *at++ = (char)('0' + octet / 10 % 10);
        *at++ = (char)('0' + octet % 10);
        if (shift)
            *at++ = '.';
    }
    return PyUnicode_FromStringAndSize(text, at - text);
}

/* A number as an IPv4 address value: 0 with *out set, -1 with an exception set. */
static int address_value(PyObject *number, unsigned long *out)
{
    unsigned long value;
    if (!PyLong_Check(number)) {
        PyErr_SetString(PyExc_TypeError, "an IPv4 address must be an int");
        return -1;
    }
    value = PyLong_AsUnsignedLong(number);
    if (value == (unsigned long)-1 && PyErr_Occurred())
        return -1;
    if (value > 0xFFFFFFFFul) {
        PyErr_SetString(PyExc_ValueError, "an IPv4 address must be below 2**32");
        return -1;
    }
    *out = value;
    return 0;
}

/* dotted_quads(values: list[int]) -> the dotted quad of each (a list). */
static PyObject *dotted_quads(PyObject *module, PyObject *values)
{
    PyObject *out;
    Py_ssize_t count, i;
    unsigned long value;
    (void)module;
    if (!PyList_Check(values)) {
        PyErr_SetString(PyExc_TypeError, "dotted_quads(values: list[int])");
        return NULL;
    }
    count = PyList_GET_SIZE(values);
    out = PyList_New(count);
    if (out == NULL)
        return NULL;
    for (i = 0; i < count; i++) {
        PyObject *text;
        if (address_value(PyList_GET_ITEM(values, i), &value) < 0) {
            Py_DECREF(out);
            return NULL;
        }
        text = dotted_quad(value);
        if (text == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, i, text);
    }
    return out;
}

/* texts[value] (borrowed), the dotted quad made and put there when missing (texts emptied
 * first when it holds ``limit`` texts); NULL with an exception set. */
static PyObject *text_of(PyObject *texts, unsigned long value, Py_ssize_t limit)
{
    PyObject *key = PyLong_FromUnsignedLong(value), *text;
    if (key == NULL)
        return NULL;
    text = PyDict_GetItemWithError(texts, key);
    if (text == NULL && !PyErr_Occurred()) {
        if (PyDict_GET_SIZE(texts) >= limit)
            PyDict_Clear(texts); /* a scan of many hosts: forget the older ones */
        text = dotted_quad(value);
        if (text != NULL) {
            int failed = PyDict_SetItem(texts, key, text);
            Py_DECREF(text); /* held by texts */
            if (failed < 0)
                text = NULL;
        }
    }
    Py_DECREF(key);
    return text;
}

/* address_texts(addresses, texts: dict, limit: int) -> (sources, destinations): the texts
 * of a C-contiguous buffer of native uint32 pairs (source, destination; items of 4 bytes, or
 * bytes), each taken from or put in ``texts``. */
static PyObject *address_texts(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer view;
    PyObject *lists[2] = {NULL, NULL}, *out = NULL;
    Py_ssize_t count, i, limit;
    const unsigned char *at;
    int side;
    (void)module;
    if (nargs != 3 || !PyDict_CheckExact(args[1]) || !PyLong_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError, "address_texts(addresses, texts: dict, limit: int)");
        return NULL;
    }
    limit = PyLong_AsSsize_t(args[2]);
    if (limit == -1 && PyErr_Occurred())
        return NULL;
    if (PyObject_GetBuffer(args[0], &view, PyBUF_C_CONTIGUOUS) < 0)
        return NULL;
    if (view.len % 8 != 0 || (view.itemsize != 4 && view.itemsize != 1)) {
        PyErr_SetString(PyExc_ValueError, "address_texts(): not a buffer of uint32 pairs");
        goto done;
    }
    count = view.len / 8;
    for (side = 0; side < 2; side++) {
        lists[side] = PyList_New(count);
        if (lists[side] == NULL)
            goto done;
    }
    at = (const unsigned char *)view.buf;
    for (i = 0; i < count; i++) {
        for (side = 0; side < 2; side++) {
            uint32_t value;
            PyObject *text;
            memcpy(&value, at + 8 * i + 4 * side, 4);
            text = text_of(args[1], value, limit);
            if (text == NULL)
                goto done;
            PyList_SET_ITEM(lists[side], i, Py_NewRef(text));
        }
    }
    out = PyTuple_Pack(2, lists[0], lists[1]);
done:
    Py_XDECREF(lists[0]);
    Py_XDECREF(lists[1]);
    PyBuffer_Release(&view);
    return out;
}

static PyMethodDef methods[] = {
    {"dotted_quads", (PyCFunction)dotted_quads, METH_O,
     "dotted_quads(values: list[int]) -> the dotted quad of each"},
    {"address_texts", (PyCFunction)(void (*)(void))address_texts, METH_FASTCALL,
     "address_texts(addresses, texts, limit) -> (source texts, destination texts)"},
    {"unusual", (PyCFunction)(void (*)(void))unusual, METH_FASTCALL,
     "unusual(buffer, starts, limits) -> positions without a usual SIP start line"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "rtcscope.capture._startline", NULL, 0, methods,
};

PyMODINIT_FUNC PyInit__startline(void)
{
    return PyModule_Create(&module);
}
