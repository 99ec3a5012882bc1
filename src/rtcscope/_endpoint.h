/* rtcscope.sip.transactions.endpoint(address, port), "addr:port" with an IPv6 address in
 * brackets, for two C accelerators (rtcscope._timetext's call JSON and
 * rtcscope.sip._callwalk's summary). Included by both sources (a static function: each
 * extension has its own copy). */

#ifndef RTCSCOPE_ENDPOINT_H
#define RTCSCOPE_ENDPOINT_H

#include <Python.h>
#include <stdio.h>
#include <string.h>

/* endpoint(address, port) for an exact str and an exact int of 64 bits (a new reference);
 * NULL with an error set, or NULL without one for anything else (the caller's Python road). */
static PyObject *endpoint_exact_text(PyObject *address, PyObject *port)
{
    int overflow = 0;
    long long value;
    Py_ssize_t n, colon;
    if (!PyUnicode_CheckExact(address) || !PyLong_CheckExact(port))
        return NULL;
    value = PyLong_AsLongLongAndOverflow(port, &overflow);
    if ((value == -1 && PyErr_Occurred()) || overflow)
        return NULL;
    n = PyUnicode_GET_LENGTH(address);
    colon = PyUnicode_FindChar(address, ':', 0, n, 1);
    if (colon == -2)
        return NULL;
    /* The usual: an ASCII address, made in one piece. */
    if (PyUnicode_IS_ASCII(address)) {
        char digits[24];
        int n_digits = snprintf(digits, sizeof digits, "%lld", value);
        Py_ssize_t bracket = colon >= 0;
        PyObject *text;
        Py_UCS1 *out;
        if (n_digits < 0 || (size_t)n_digits >= sizeof digits) {
            PyErr_SetString(PyExc_SystemError, "endpoint: a port beyond its text");
            return NULL;
        }
        text = PyUnicode_New(n + 2 * bracket + 1 + n_digits, 127);
        if (text == NULL)
            return NULL;
        out = PyUnicode_1BYTE_DATA(text);
        if (bracket)
            *out++ = '[';
        memcpy(out, PyUnicode_1BYTE_DATA(address), (size_t)n);
        out += n;
        if (bracket)
            *out++ = ']';
        *out++ = ':';
        memcpy(out, digits, (size_t)n_digits);
        return text;
    }
    return PyUnicode_FromFormat(colon >= 0 ? "[%U]:%lld" : "%U:%lld", address, value);
}

#endif
