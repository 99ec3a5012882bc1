/* rtcscope.sip._routescan: three reads of rtcscope.sip.routing in C, on a message's bytes as
 * they are (no lower-cased copy made), and the plainest SIP URI's host and port:
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
 *
 * usual_contact_text(raw): routing.plain_contact_text(raw, raw.lower()) (the first Contact
 * line's first value's URI text) where that line is written the usual way: the name
 * "Contact" or "m" in any case right after a line end, blanks (spaces, tabs) and the colon,
 * blanks, then "<", a SIP or SIPS URI of the usual shape (headers._USUAL_URI: a user part of
 * printable ASCII without '@', ':', ';', '?', '<', '>', '"', '[' or ']' or none; a host name
 * or IPv4 address, or a bracketed IPv6 address; a port that _PORT reads or none; URI
 * parameters of printable ASCII without '@', '?', '<', '>', '"', '[' or ']' or none), ">",
 * and anything up to a line end not followed by a folded line (or the end of the bytes): the
 * text between "<" and ">" (what _USUAL_NAME_ADDR's third group holds whatever follows the
 * ">"). None where an empty line ("\n\n" or "\n\r\n") comes before any Contact line or there
 * is none; False for anything else (the Python road decides).
 *
 * plain_sip_target(text): routing.plain_sip_target_py(text): (host lower-cased, port) where
 * the text is "sip:" or "sips:", a user part of one or more characters other than '@', ':',
 * ';', '?', '<', '>', '"' and whitespace then '@', or none, a host of ASCII letters, digits,
 * '.' and '-', and a port of one to five digits up to 65535 (else the scheme's default), and
 * nothing else; None for any other text. (normal_host of such a host is the host
 * lower-cased: an IPv4 address stays as it is, and no other IP address is written with these
 * characters.)
 * tests/sip/test_routescan.py checks all four against the Python road on any input.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#include "../_uriscan.h"

/* Whether ``c`` lower-cased (A-Z to a-z only) is the lower-case letter ``letter``. */
#define IS_LETTER(c, letter) (((c) | 0x20) == (letter))

static const char ROUTE[] = "route";
static const char MAX_FORWARDS[] = "max-forwards";

/* Where ``name`` (ROUTE or MAX_FORWARDS: lower-case letters and '-', not empty) first
 * stands in ``raw`` lower-cased, or -1. Horspool's search: after a window that does not hold the name, it
 * moves on by how far its last byte is from that byte's last place in the name (before its
 * end; the whole length where the name has none of it), any case. */
static Py_ssize_t find_lowered(const unsigned char *raw, Py_ssize_t n, const char *name,
                               Py_ssize_t length)
{
    Py_ssize_t shift[256];
    Py_ssize_t i, j;
    for (i = 0; i < 256; i++)
        shift[i] = length;
    for (j = 0; j + 1 < length; j++) {
        unsigned char want = (unsigned char)name[j];
        shift[want] = length - 1 - j;
        if (want >= 'a' && want <= 'z')
            shift[want - 0x20] = length - 1 - j;
    }
    for (i = 0; i + length <= n; i += shift[raw[i + length - 1]]) {
        for (j = length - 1; j >= 0; j--) {
            unsigned char c = raw[i + j];
            unsigned char want = (unsigned char)name[j];
            if (want == '-' ? c != '-' : !IS_LETTER(c, want))
                break;
        }
        if (j < 0)
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

/* What routing._BLANKISH takes: blanks, line-end-like bytes, the separators 0x1c-0x1f, any
 * byte of a character outside ASCII. */
static int is_blankish(unsigned char c)
{
    return c == '\t' || c == 0x0b || c == 0x0c || c == '\r' || (c >= 0x1c && c <= 0x20) ||
           c >= 0x80;
}

/* The URI text of the usual Contact value starting at ``start`` (after the colon) on a line
 * ending at ``stop``; False when not of that shape. */
static PyObject *usual_contact_value(const unsigned char *raw, Py_ssize_t n, Py_ssize_t start)
{
    Py_ssize_t stop, v, p;
    for (stop = start; stop < n && raw[stop] != '\n'; stop++)
        ;
    if (stop + 1 < n && (raw[stop + 1] == ' ' || raw[stop + 1] == '\t'))
        Py_RETURN_FALSE; /* folded onto the next line */
    v = start;
    while (v < stop && (raw[v] == ' ' || raw[v] == '\t'))
        v++;
    if (v >= stop || raw[v] != '<')
        Py_RETURN_FALSE;
    p = uriscan_usual_uri(raw, stop, v + 1);
    if (p < 0)
        Py_RETURN_FALSE;
    return PyUnicode_DecodeASCII((const char *)raw + v + 1, p - (v + 1), NULL);
}

static PyObject *usual_contact_text(PyObject *self, PyObject *arg)
{
    const unsigned char *raw;
    Py_ssize_t n, i, j, k;
    int other;
    if (!bytes_of(arg, &raw, &n))
        return NULL;
    if (n > 0 && (raw[0] == '\r' || raw[0] == '\n'))
        Py_RETURN_FALSE;
    for (i = 0; i < n; i++) {
        if (raw[i] != '\n')
            continue;
        /* the header lines end at an empty line: no Contact line before it */
        if (i + 1 < n && (raw[i + 1] == '\n' || (raw[i + 1] == '\r' && i + 2 < n &&
                                                  raw[i + 2] == '\n')))
            Py_RETURN_NONE;
        /* _CONTACT_LINE: \n, blankish, "contact" or "m", blankish, the colon */
        for (j = i + 1; j < n && is_blankish(raw[j]); j++)
            ;
        if (j + 7 <= n && IS_LETTER(raw[j], 'c') && IS_LETTER(raw[j + 1], 'o') &&
            IS_LETTER(raw[j + 2], 'n') && IS_LETTER(raw[j + 3], 't') &&
            IS_LETTER(raw[j + 4], 'a') && IS_LETTER(raw[j + 5], 'c') &&
            IS_LETTER(raw[j + 6], 't'))
            k = j + 7;
        else if (j < n && IS_LETTER(raw[j], 'm'))
            k = j + 1;
        else
            continue;
        other = 0;
        for (; k < n && is_blankish(raw[k]); k++)
            other |= raw[k] != ' ' && raw[k] != '\t';
        if (k >= n || raw[k] != ':')
            continue;
        if (j > i + 1 || other)
            Py_RETURN_FALSE; /* a name with more than blanks around it */
        return usual_contact_value(raw, n, k + 1);
    }
    Py_RETURN_NONE;
}

/* A character of _PLAIN_SIP_URI's user part: [^@:;?\s<>"] (\s of a str pattern: what
 * str.isspace takes, Py_UNICODE_ISSPACE, as the regex engine reads it). */
static int is_plain_user_char(Py_UCS4 c)
{
    return c != '@' && c != ':' && c != ';' && c != '?' && c != '<' && c != '>' && c != '"' &&
           !Py_UNICODE_ISSPACE(c);
}

static int is_plain_host_char(Py_UCS4 c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '-';
}

static PyObject *plain_sip_target(PyObject *self, PyObject *arg)
{
    int kind;
    const void *data;
    Py_ssize_t n, p, q, host_start, host_end;
    long port;
    PyObject *host, *number, *result;
    Py_UCS1 *out;
    if (!PyUnicode_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "a URI's text (str) expected");
        return NULL;
    }
    if (PyUnicode_READY(arg) < 0)
        return NULL;
    kind = PyUnicode_KIND(arg);
    data = PyUnicode_DATA(arg);
    n = PyUnicode_GET_LENGTH(arg);
#define AT(i) PyUnicode_READ(kind, data, (i))
    /* (sips?): */
    if (n < 4 || AT(0) != 's' || AT(1) != 'i' || AT(2) != 'p')
        Py_RETURN_NONE;
    p = 3;
    port = 5060;
    if (AT(p) == 's') {
        port = 5061;
        p++;
    }
    if (p >= n || AT(p) != ':')
        Py_RETURN_NONE;
    p++;
    /* (?:[^@:;?\s<>"]+@)? */
    for (q = p; q < n && is_plain_user_char(AT(q)); q++)
        ;
    if (q > p && q < n && AT(q) == '@')
        p = q + 1;
    /* ([A-Za-z0-9.-]+) */
    for (q = p; q < n && is_plain_host_char(AT(q)); q++)
        ;
    if (q == p)
        Py_RETURN_NONE;
    host_start = p;
    host_end = q;
    /* (?::([0-9]{1,5}))? then the end */
    if (q < n) {
        if (AT(q) != ':')
            Py_RETURN_NONE;
        port = 0;
        for (p = q + 1; p < n && AT(p) >= '0' && AT(p) <= '9'; p++) {
            if (p - q > 5)
                Py_RETURN_NONE;
            port = port * 10 + (long)(AT(p) - '0');
        }
        if (p == q + 1 || p < n || port > 65535)
            Py_RETURN_NONE;
    }
    /* normal_host: the host lower-cased (ASCII letters, digits, '.' and '-') */
    host = PyUnicode_New(host_end - host_start, 127);
    if (host == NULL)
        return NULL;
    out = PyUnicode_1BYTE_DATA(host);
    for (p = host_start; p < host_end; p++) {
        Py_UCS4 c = AT(p);
        out[p - host_start] = (Py_UCS1)((c >= 'A' && c <= 'Z') ? c | 0x20 : c);
    }
#undef AT
    number = PyLong_FromLong(port);
    if (number == NULL) {
        Py_DECREF(host);
        return NULL;
    }
    result = PyTuple_Pack(2, host, number);
    Py_DECREF(host);
    Py_DECREF(number);
    return result;
}

static PyMethodDef methods[] = {
    {"may_hold_route", may_hold_route, METH_O,
     "may_hold_route(raw): \"route\" in raw.lower() (routing.may_hold_route)"},
    {"usual_max_forwards", usual_max_forwards, METH_O,
     "usual_max_forwards(raw): the plainly written Max-Forwards number, None without the "
     "name, False when the Python road decides"},
    {"usual_contact_text", usual_contact_text, METH_O,
     "usual_contact_text(raw): the first Contact value's URI text where written the usual "
     "way, None without a Contact line, False when the Python road decides"},
    {"plain_sip_target", plain_sip_target, METH_O,
     "plain_sip_target(text): (host, port) of the plainest SIP URI, None for any other "
     "text"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_routescan",
    "rtcscope.sip.routing's reads in C: may_hold_route, usual_max_forwards and "
    "usual_contact_text on a message's bytes as they are, plain_sip_target on a URI's text",
    -1,
    methods,
};

PyMODINIT_FUNC PyInit__routescan(void)
{
    return PyModule_Create(&module);
}
