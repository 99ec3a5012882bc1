/* JSON text as orjson writes it (OPT_INDENT_2), written into a growing bytes object, for
 * the C accelerators that write JSON text themselves (rtcscope.sip._pathdict's request
 * paths, rtcscope._timetext's calls). Included by each source (static functions: each
 * extension has its own copy). */

#ifndef RTCSCOPE_JSONBUF_H
#define RTCSCOPE_JSONBUF_H

#include <Python.h>
#include <string.h>

/* Text written into a bytes object grown as needed (its size cut to the text at the end:
 * text_bytes), not copied out. */
typedef struct {
    PyObject *bytes; /* (NULL until the first byte) */
    char *data;      /* its bytes */
    Py_ssize_t size, used;
} Text;

/* Room for n more bytes: 0, or -1 with MemoryError. */
static int reserve(Text *text, Py_ssize_t n)
{
    Py_ssize_t size;
    if (text->used + n <= text->size)
        return 0;
    if (n > PY_SSIZE_T_MAX / 2 - text->used) {
        PyErr_NoMemory();
        return -1;
    }
    size = 2 * (text->used + n);
    if (text->bytes == NULL)
        text->bytes = PyBytes_FromStringAndSize(NULL, size);
    else if (_PyBytes_Resize(&text->bytes, size) < 0)
        text->bytes = NULL; /* (released by _PyBytes_Resize) */
    if (text->bytes == NULL) {
        text->data = NULL;
        text->size = text->used = 0;
        return -1;
    }
    text->data = PyBytes_AS_STRING(text->bytes);
    text->size = size;
    return 0;
}

/* The text as a bytes object (a new reference; the Text then empty), or NULL. */
static PyObject *text_bytes(Text *text)
{
    PyObject *made = text->bytes;
    if (made == NULL)
        return PyBytes_FromStringAndSize("", 0);
    text->bytes = NULL;
    text->data = NULL;
    text->size = 0;
    if (_PyBytes_Resize(&made, text->used) < 0)
        return NULL;
    return made;
}

static int put(Text *text, const char *s, Py_ssize_t n)
{
    if (reserve(text, n) < 0)
        return -1;
    memcpy(text->data + text->used, s, (size_t)n);
    text->used += n;
    return 0;
}

#define PUT_LITERAL(text, s) put((text), (s), (Py_ssize_t)(sizeof(s) - 1))

/* A line feed and the indent of a line at depth (two spaces a level, as OPT_INDENT_2). */
static int new_line(Text *text, int depth)
{
    if (reserve(text, 1 + 2 * (Py_ssize_t)depth) < 0)
        return -1;
    text->data[text->used++] = '\n';
    memset(text->data + text->used, ' ', (size_t)(2 * depth));
    text->used += 2 * depth;
    return 0;
}

/* The bytes s[0:n] of a str as orjson writes them inside its quotes: '"' '\\' and the
 * controls below 0x20 escaped (\b \t \n \f \r, else \u00xx), everything else as it is. */
static int put_escaped(Text *text, const char *s, Py_ssize_t n)
{
    static const char hex[] = "0123456789abcdef";
    Py_ssize_t i, run;
    char *out;
    if (n > PY_SSIZE_T_MAX / 6 || reserve(text, 6 * n) < 0) {
        if (!PyErr_Occurred())
            PyErr_NoMemory();
        return -1;
    }
    out = text->data + text->used;
    for (i = 0; i < n;) {
        unsigned char c;
        for (run = i; run < n; run++) {
            c = (unsigned char)s[run];
            if (c < 0x20 || c == '"' || c == '\\')
                break;
        }
        memcpy(out, s + i, (size_t)(run - i));
        out += run - i;
        if (run == n)
            break;
        c = (unsigned char)s[run];
        *out++ = '\\';
        switch (c) {
        case '"': *out++ = '"'; break;
        case '\\': *out++ = '\\'; break;
        case '\b': *out++ = 'b'; break;
        case '\t': *out++ = 't'; break;
        case '\n': *out++ = 'n'; break;
        case '\f': *out++ = 'f'; break;
        case '\r': *out++ = 'r'; break;
        default:
            memcpy(out, "u00", 3);
            out[3] = hex[c >> 4];
            out[4] = hex[c & 15];
            out += 5;
        }
        i = run + 1;
    }
    text->used = out - text->data;
    return 0;
}

/* The UTF-8 of an exact str (its cached bytes: no copy for ASCII), or NULL: 0 declined (not
 * an exact str, or not UTF-8: a surrogate; no error left), -1 failed. */
static const char *utf8_of(PyObject *value, Py_ssize_t *n, int *declined)
{
    const char *s;
    *declined = 0;
    if (!PyUnicode_CheckExact(value)) {
        *declined = 1;
        return NULL;
    }
    s = PyUnicode_AsUTF8AndSize(value, n);
    if (s == NULL && PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) {
        PyErr_Clear();
        *declined = 1;
    }
    return s;
}

/* A str as orjson writes it, quoted (put_escaped). 1 written, 0 declined (utf8_of), -1
 * failed. */
static int put_str(Text *text, PyObject *value)
{
    Py_ssize_t n;
    int declined;
    const char *s = utf8_of(value, &n, &declined);
    if (s == NULL)
        return declined ? 0 : -1;
    return put(text, "\"", 1) < 0 || put_escaped(text, s, n) < 0 || put(text, "\"", 1) < 0
               ? -1
               : 1;
}

/* A number's digits as Python writes it. */
static int put_number(Text *text, long long number)
{
    char digits[24], *at = digits + sizeof digits;
    unsigned long long left = number < 0 ? 0ULL - (unsigned long long)number
                                          : (unsigned long long)number;
    do {
        *--at = (char)('0' + left % 10);
        left /= 10;
    } while (left);
    if (number < 0)
        *--at = '-';
    return put(text, at, digits + sizeof digits - at);
}

/* ``,`` (but before an object's first key), a line feed, the indent of ``depth``, and
 * ``"key": `` (a key that needs no escaping: the writers' own names). 0, or -1 on error. */
static int put_key(Text *t, const char *key, int depth, int first)
{
    size_t n = strlen(key);
    if ((!first && put(t, ",", 1) < 0) || new_line(t, depth) < 0 ||
        reserve(t, (Py_ssize_t)n + 4) < 0)
        return -1;
    t->data[t->used++] = '"';
    memcpy(t->data + t->used, key, n);
    t->used += (Py_ssize_t)n;
    memcpy(t->data + t->used, "\": ", 3);
    t->used += 3;
    return 0;
}

/* A value as orjson writes it at depth (put_str's returns): an exact str, an exact int of 64
 * bits, None, or (where ``in_list`` is 0) an exact list or tuple of them; anything else
 * (a list in a list, a bool, a float) declined. */
static int put_value(Text *text, PyObject *value, int depth, int in_list)
{
    if (value == Py_None)
        return PUT_LITERAL(text, "null") < 0 ? -1 : 1;
    if (PyLong_CheckExact(value)) {
        int overflow = 0;
        long long number = PyLong_AsLongLongAndOverflow(value, &overflow);
        if (number == -1 && PyErr_Occurred())
            return -1;
        if (overflow)
            return 0;
        return put_number(text, number) < 0 ? -1 : 1;
    }
    if (PyList_CheckExact(value) || PyTuple_CheckExact(value)) {
        /* (the items read one by one: put_value runs no Python code, the list holds) */
        if (in_list)
            return 0;
        Py_ssize_t i, n = PySequence_Fast_GET_SIZE(value);
        if (n == 0)
            return PUT_LITERAL(text, "[]") < 0 ? -1 : 1;
        if (PUT_LITERAL(text, "[") < 0)
            return -1;
        for (i = 0; i < n; i++) {
            int done;
            if ((i && PUT_LITERAL(text, ",") < 0) || new_line(text, depth + 1) < 0)
                return -1;
            done = put_value(text, PySequence_Fast_GET_ITEM(value, i), depth + 1, 1);
            if (done <= 0)
                return done;
        }
        return new_line(text, depth) < 0 || PUT_LITERAL(text, "]") < 0 ? -1 : 1;
    }
    return put_str(text, value);
}

#endif
