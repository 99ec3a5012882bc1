/* rtcscope.sip._routescan: two reads of rtcscope.sip.routing in C, on a message's bytes as
 * they are (no lower-cased copy made):
 *
 * may_hold_route(raw): routing.may_hold_route(raw.lower()), "route" anywhere in the bytes
 * lower-cased (bytes.lower changes A-Z only).
 *
 * usual_max_forwards(raw): message_max_forwards's plainly written line (_max_forwards_name,
 * then _max_forwards_value's usual line as a number): None without "max-forwards" in the
 * bytes lower-cased; the number where the first one starts a line, no empty line comes
 * before it and the line is the usual one (blanks, a colon, blanks, digits, blanks or CRs,
 * then a line end not followed by a folded line, or the end of the bytes); False for
 * anything else (the Python road decides; also for more digits, leading zeros aside, than a
 * long long holds).
 * tests/sip/test_routing.py checks both against the Python road on any bytes.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* Whether ``c`` lower-cased (A-Z to a-z only) is the lower-case letter ``letter``. */
#define IS_LETTER(c, letter) (((c) | 0x20) == (letter))

static const char ROUTE[] = "route";
static const char MAX_FORWARDS[] = "max-forwards";

/* Where ``name`` (lower-case letters and '-') first stands in ``raw`` lower-cased, or -1. */
static Py_ssize_t find_lowered(const unsigned char *raw, Py_ssize_t n, const char *name,
                               Py_ssize_t length)
{
    Py_ssize_t i, j;
    for (i = 0; i + length <= n; i++) {
        for (j = 0; j < length; j++) {
            unsigned char c = raw[i + j];
            unsigned char want = (unsigned char)name[j];
            if (want == '-' ? c != '-' : !IS_LETTER(c, want))
                break;
        }
        if (j == length)
            return i;
    }
    return -1;
}

/* ``arg``'s bytes and length; 0 with a TypeError set when it is not bytes. */
static int bytes_of(PyObject *arg, const unsigned char **raw, Py_ssize_t *n)
{
    if (!PyBytes_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "a message's bytes (bytes) expected");
        return 0;
    }
    *raw = (const unsigned char *)PyBytes_AS_STRING(arg);
    *n = PyBytes_GET_SIZE(arg);
    return 1;
}

static PyObject *may_hold_route(PyObject *self, PyObject *arg)
{
    const unsigned char *raw;
    Py_ssize_t n;
    if (!bytes_of(arg, &raw, &n))
        return NULL;
    return PyBool_FromLong(find_lowered(raw, n, ROUTE, 5) >= 0);
}

static PyObject *usual_max_forwards(PyObject *self, PyObject *arg)
{
    const unsigned char *raw;
    Py_ssize_t n, at, i;
    long long value = 0;
    int digits = 0, zeros = 0;
    if (!bytes_of(arg, &raw, &n))
        return NULL;
    at = find_lowered(raw, n, MAX_FORWARDS, 12);
    if (at < 0)
        Py_RETURN_NONE;
    /* _max_forwards_name: at a line start, the bytes not starting with a line end, no empty
     * line ("\n\n" or "\n\r\n") wholly before it. */
    if (at == 0 || raw[at - 1] != '\n' || raw[0] == '\r' || raw[0] == '\n')
        Py_RETURN_FALSE;
    for (i = 0; i + 1 < at; i++) {
        if (raw[i] != '\n')
            continue;
        if (raw[i + 1] == '\n')
            Py_RETURN_FALSE;
        if (raw[i + 1] == '\r' && i + 2 < at && raw[i + 2] == '\n')
            Py_RETURN_FALSE;
    }
    /* _USUAL_MAX_FORWARDS: [ \t]*:[ \t]*([0-9]+)[ \t\r]*(?:\n(?![ \t])|\Z) */
    i = at + 12;
    while (i < n && (raw[i] == ' ' || raw[i] == '\t'))
        i++;
    if (i >= n || raw[i] != ':')
        Py_RETURN_FALSE;
    i++;
    while (i < n && (raw[i] == ' ' || raw[i] == '\t'))
        i++;
    /* leading zeros add nothing to the value: only the digits after them count */
    while (i < n && raw[i] == '0') {
        zeros = 1;
        i++;
    }
    while (i < n && raw[i] >= '0' && raw[i] <= '9') {
        if (++digits > 18)
            Py_RETURN_FALSE; /* (the Python road reads any number) */
        value = value * 10 + (raw[i] - '0');
        i++;
    }
    if (digits == 0 && !zeros)
        Py_RETURN_FALSE;
    while (i < n && (raw[i] == ' ' || raw[i] == '\t' || raw[i] == '\r'))
        i++;
    if (i < n) {
        if (raw[i] != '\n')
            Py_RETURN_FALSE;
        if (i + 1 < n && (raw[i + 1] == ' ' || raw[i + 1] == '\t'))
            Py_RETURN_FALSE;
    }
    return PyLong_FromLongLong(value);
}

static PyMethodDef methods[] = {
    {"may_hold_route", may_hold_route, METH_O,
     "may_hold_route(raw): \"route\" in raw.lower() (routing.may_hold_route)"},
    {"usual_max_forwards", usual_max_forwards, METH_O,
     "usual_max_forwards(raw): the plainly written Max-Forwards number, None without the "
     "name, False when the Python road decides"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_routescan",
    "rtcscope.sip.routing's route and Max-Forwards reads on the bytes as they are", -1,
    methods,
};

PyMODINIT_FUNC PyInit__routescan(void)
{
    return PyModule_Create(&module);
}
