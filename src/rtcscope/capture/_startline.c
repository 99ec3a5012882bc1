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
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
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

static PyMethodDef methods[] = {
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
