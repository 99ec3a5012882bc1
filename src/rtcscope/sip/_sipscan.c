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
#include <string.h>

/* The keys of message.py's _FIRST_KEYS in order, then "via". */
enum { K_CALL_ID, K_CSEQ, K_FROM, K_TO, K_TYPE, K_LENGTH, K_VIA, K_OTHER, K_EMPTY };

/* str.strip()'s whitespace among ASCII characters. */
static int is_py_space(unsigned char c)
{
    return c == ' ' || (c >= 9 && c <= 13) || (c >= 28 && c <= 31);
}

static int same_lower(const unsigned char *s, Py_ssize_t n, const char *word)
{
    Py_ssize_t i;
    if ((Py_ssize_t)strlen(word) != n)
        return 0;
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
    if (same_lower(s, n, "call-id")) return K_CALL_ID;
    if (same_lower(s, n, "cseq")) return K_CSEQ;
    if (same_lower(s, n, "from")) return K_FROM;
    if (same_lower(s, n, "to")) return K_TO;
    if (same_lower(s, n, "content-type")) return K_TYPE;
    if (same_lower(s, n, "content-length")) return K_LENGTH;
    if (same_lower(s, n, "via")) return K_VIA;
    return K_OTHER;
}

static PyObject *decode(const unsigned char *s, Py_ssize_t n)
{
    Py_ssize_t i;
    PyObject *text;
    for (i = 0; i < n; i++)
        if (s[i] >= 0x80)
            return PyUnicode_DecodeUTF8((const char *)s, n, "surrogateescape");
    /* ASCII: what the decoder gives, made directly */
    text = PyUnicode_New(n, 127);
    if (text != NULL)
        memcpy(PyUnicode_DATA(text), s, (size_t)n);
    return text;
}

/* The first CRLFCRLF at or after pos, or -1. */
static Py_ssize_t find_blank_line(const unsigned char *s, Py_ssize_t n, Py_ssize_t pos)
{
    while (pos + 4 <= n) {
        const unsigned char *cr = memchr(s + pos, '\r', (size_t)(n - 3 - pos));
        if (cr == NULL)
            return -1;
        pos = cr - s;
        if (s[pos + 1] == '\n' && s[pos + 2] == '\r' && s[pos + 3] == '\n')
            return pos;
        pos++;
    }
    return -1;
}

/* The line starting at ``line`` in a block ending at ``end``: where it ends (before its CRLF,
 * or at ``end``) and where the next starts; 0 when its LF has no CR before it. */
static int line_at(const unsigned char *s, Py_ssize_t line, Py_ssize_t end, Py_ssize_t *line_end,
                   Py_ssize_t *next)
{
    const unsigned char *nl = memchr(s + line, '\n', (size_t)(end - line));
    Py_ssize_t at;
    *line_end = *next = end;
    if (nl == NULL)
        return 1;
    at = nl - s;
    if (at == line || s[at - 1] != '\r')
        return 0;
    *line_end = at - 1;
    *next = at + 1;
    return 1;
}

#define MAX_VIAS 64

static PyObject *plain_fields(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    const unsigned char *s;
    Py_ssize_t n, pos, end, line, start_end, first[K_VIA];
    Py_ssize_t via_start[MAX_VIAS], via_end[MAX_VIAS];
    Py_ssize_t first_end[K_VIA];
    int vias = 0, non_ascii = 0, k, i;
    PyObject *out = NULL, *item;

    (void)module;
    if (nargs != 2 || !PyBytes_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "plain_fields(raw: bytes, pos: int)");
        return NULL;
    }
    pos = PyLong_AsSsize_t(args[1]);
    if (pos == -1 && PyErr_Occurred())
        return NULL;
    s = (const unsigned char *)PyBytes_AS_STRING(args[0]);
    n = PyBytes_GET_SIZE(args[0]);
    if (pos < 0)
        Py_RETURN_FALSE; /* bytes.find reads a negative start from the end: not ours */
    end = find_blank_line(s, n, pos);
    if (end < 0)
        Py_RETURN_NONE;
    for (k = 0; k < K_VIA; k++)
        first[k] = -1;

    /* The start line: up to the first CRLF (the block's end when it is the only line). A LF
     * without a CR before it, anywhere in the block, is not the common shape. */
    if (!line_at(s, pos, end, &start_end, &line))
        Py_RETURN_NONE;
    {
        /* the header lines */
        while (line < end) {
            Py_ssize_t j, colon, line_end, next;
            const unsigned char *found;
            if (!line_at(s, line, end, &line_end, &next))
                Py_RETURN_NONE;
            found = memchr(s + line, ':', (size_t)(line_end - line));
            if (found == NULL)
                Py_RETURN_NONE; /* no colon */
            colon = found - s;
            if (colon == line || s[line] == ' ' || s[line] == '\t')
                Py_RETURN_NONE; /* no name, or a folded line (RFC 3261 7.3.1) */
            for (j = line; j < colon; j++)
                if (s[j] >= 0x80)
                    break;
            if (j < colon) {
                non_ascii = 1;
            } else {
                k = key_of(s + line, colon - line);
                if (k == K_EMPTY)
                    Py_RETURN_NONE;
                if (k == K_VIA) {
                    if (vias == MAX_VIAS) {
                        non_ascii = 1; /* more Via lines than kept here: the Python road */
                    } else {
                        via_start[vias] = line;
                        via_end[vias] = line_end;
                        vias++;
                    }
                } else if (k < K_VIA && first[k] < 0) {
                    first[k] = line;
                    first_end[k] = line_end;
                }
            }
            line = next;
        }
        if (non_ascii)
            Py_RETURN_FALSE;
        out = PyTuple_New(9);
        if (out == NULL)
            return NULL;
        item = PyLong_FromSsize_t(end);
        if (item == NULL)
            goto fail;
        PyTuple_SET_ITEM(out, 0, item);
        item = decode(s + pos, start_end - pos);
        if (item == NULL)
            goto fail;
        PyTuple_SET_ITEM(out, 1, item);
    }
    {
        /* the tuple's order: Content-Type, Content-Length, Call-ID, CSeq, From, To lines */
        static const int order[6] = {K_TYPE, K_LENGTH, K_CALL_ID, K_CSEQ, K_FROM, K_TO};
        for (i = 0; i < 6; i++) {
            k = order[i];
            if (first[k] < 0) {
                item = Py_None;
                Py_INCREF(item);
            } else {
                item = decode(s + first[k], first_end[k] - first[k]);
                if (item == NULL)
                    goto fail;
            }
            PyTuple_SET_ITEM(out, 2 + i, item);
        }
    }
    if (vias == 0) {
        item = Py_None;
        Py_INCREF(item);
    } else if (vias == 1) {
        item = decode(s + via_start[0], via_end[0] - via_start[0]);
        if (item == NULL)
            goto fail;
    } else {
        /* the Via lines joined by CRLF, as message.py keys them */
        Py_ssize_t size = 2 * (vias - 1), at = 0;
        char *buffer;
        for (i = 0; i < vias; i++)
            size += via_end[i] - via_start[i];
        buffer = PyMem_Malloc((size_t)size + 1);
        if (buffer == NULL) {
            PyErr_NoMemory();
            goto fail;
        }
        for (i = 0; i < vias; i++) {
            if (i) {
                buffer[at++] = '\r';
                buffer[at++] = '\n';
            }
            memcpy(buffer + at, s + via_start[i], (size_t)(via_end[i] - via_start[i]));
            at += via_end[i] - via_start[i];
        }
        item = decode((const unsigned char *)buffer, at);
        PyMem_Free(buffer);
        if (item == NULL)
            goto fail;
    }
    PyTuple_SET_ITEM(out, 8, item);
    return out;
fail:
    Py_DECREF(out);
    return NULL;
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

static PyMethodDef methods[] = {
    {"plain_fields", (PyCFunction)(void (*)(void))plain_fields, METH_FASTCALL,
     "plain_fields(raw, pos) -> (end, start line, Content-Type, Content-Length, Call-ID, CSeq,\n"
     "From, To lines, Via lines joined by CRLF) | None (not the common shape) | False (ask\n"
     "the Python road): see rtcscope.sip.message._plain_fields_py."},
    {"looks_like_sip", looks_like_sip, METH_O,
     "looks_like_sip(data) -> bool: rtcscope.sip.message.looks_like_sip's test."},
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
