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
 *
 * usual_call(call, icmp): the diagnosis of the usual answered call in one step, with these
 * reads (below, where it is defined; tests/sip/test_diagnosis_usual_c.py).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <stdint.h>
#include <string.h>

#include "../_endpoint.h"
#include "../_slotread.h"
#include "../_uriscan.h"

/* Whether ``c`` lower-cased (A-Z to a-z only) is the lower-case letter ``letter``. */
#define IS_LETTER(c, letter) (((c) | 0x20) == (letter))

/* The names searched for in a message's bytes, any case: lower-case letters and '-',
 * starting with a letter. */
static const char ROUTE[] = "route";
static const char MAX_FORWARDS[] = "max-forwards";

/* Whether ``name`` (``length`` long) stands at ``raw`` lower-cased (bytes.lower changes A-Z
 * only). */
static int names_at_lowered(const unsigned char *raw, const char *name, Py_ssize_t length)
{
    Py_ssize_t j;
    for (j = 0; j < length; j++) {
        unsigned char c = raw[j], want = (unsigned char)name[j];
        if (want == '-' ? c != '-' : !IS_LETTER(c, want))
            return 0;
    }
    return 1;
}

/* Where ``name`` (``length`` long) first stands in ``raw`` lower-cased, or -1. Eight bytes
 * at a time: a byte whose value with 0x20 set is the name's first letter is one of its two
 * cases (a letter has 0x20 set in lower case); a word holding none is passed at once (the
 * zero-byte test on the word xor the letter eight times: never misses one, and each byte of
 * a word that may hold one is looked at), every other place is compared. */
static Py_ssize_t find_lowered(const unsigned char *raw, Py_ssize_t n, const char *name,
                               Py_ssize_t length)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    const uint64_t first = ones * (unsigned char)name[0];
    Py_ssize_t i = 0, k, last = n - length;
    while (i <= last) {
        if (i + 8 <= n) {
            uint64_t word, x;
            memcpy(&word, raw + i, 8);
            x = (word | (ones * 0x20)) ^ first;
            if (((x - ones) & ~x & highs) != 0)
                for (k = i; k < i + 8 && k <= last; k++)
                    if (IS_LETTER(raw[k], (unsigned char)name[0]) &&
                        names_at_lowered(raw + k, name, length))
                        return k;
            i += 8;
            continue;
        }
        if (names_at_lowered(raw + i, name, length))
            return i;
        i++;
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

/* usual_max_forwards of the ``n`` bytes at ``raw`` (a new reference, NULL on error). */
static PyObject *usual_max_forwards_of(const unsigned char *raw, Py_ssize_t n)
{
    Py_ssize_t at, i;
    long long value = 0;
    int digits = 0, zeros = 0;
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

static PyObject *usual_max_forwards(PyObject *self, PyObject *arg)
{
    const unsigned char *raw;
    Py_ssize_t n;
    if (!bytes_of(arg, &raw, &n))
        return NULL;
    return usual_max_forwards_of(raw, n);
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
/* Where the URI text of the usual Contact value starting at ``start`` (after the colon)
 * stands (*text_start, *text_end: printable ASCII): 1, or 0 when not of that shape. */
static int usual_contact_value(const unsigned char *raw, Py_ssize_t n, Py_ssize_t start,
                               Py_ssize_t *text_start, Py_ssize_t *text_end)
{
    Py_ssize_t stop, v, p;
    for (stop = start; stop < n && raw[stop] != '\n'; stop++)
        ;
    if (stop + 1 < n && (raw[stop + 1] == ' ' || raw[stop + 1] == '\t'))
        return 0; /* folded onto the next line */
    v = start;
    while (v < stop && (raw[v] == ' ' || raw[v] == '\t'))
        v++;
    if (v >= stop || raw[v] != '<')
        return 0;
    p = uriscan_usual_uri(raw, stop, v + 1);
    if (p < 0)
        return 0;
    *text_start = v + 1;
    *text_end = p;
    return 1;
}

/* usual_contact_text's reading of ``raw``: 1 with the URI text's place (*text_start,
 * *text_end: printable ASCII), 0 for None (no Contact line), -1 for False (the Python road
 * decides). */
static int usual_contact_span(const unsigned char *raw, Py_ssize_t n, Py_ssize_t *text_start,
                              Py_ssize_t *text_end)
{
    Py_ssize_t i, j, k;
    int other;
    if (n > 0 && (raw[0] == '\r' || raw[0] == '\n'))
        return -1;
    for (i = 0; i < n; i++) {
        if (raw[i] != '\n')
            continue;
        /* the header lines end at an empty line: no Contact line before it */
        if (i + 1 < n && (raw[i + 1] == '\n' || (raw[i + 1] == '\r' && i + 2 < n &&
                                                  raw[i + 2] == '\n')))
            return 0;
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
            return -1; /* a name with more than blanks around it */
        return usual_contact_value(raw, n, k + 1, text_start, text_end) ? 1 : -1;
    }
    return 0;
}

static PyObject *usual_contact_text(PyObject *self, PyObject *arg)
{
    const unsigned char *raw;
    Py_ssize_t n, start = 0, end = 0;
    int found;
    if (!bytes_of(arg, &raw, &n))
        return NULL;
    found = usual_contact_span(raw, n, &start, &end);
    if (found < 0)
        Py_RETURN_FALSE;
    if (found == 0)
        Py_RETURN_NONE;
    return PyUnicode_DecodeASCII((const char *)raw + start, end - start, NULL);
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

/* _PLAIN_SIP_URI's reading of the text of ``n`` characters of ``kind`` at ``data``: 1 with
 * the host's place (*host_start, *host_end) and the port (the scheme's default without
 * one), 0 for any other text. */
static int plain_scan(int kind, const void *data, Py_ssize_t n, Py_ssize_t *host_start,
                      Py_ssize_t *host_end, long *port_out)
{
    Py_ssize_t p, q;
    long port;
#define AT(i) PyUnicode_READ(kind, data, (i))
    /* (sips?): */
    if (n < 4 || AT(0) != 's' || AT(1) != 'i' || AT(2) != 'p')
        return 0;
    p = 3;
    port = 5060;
    if (AT(p) == 's') {
        port = 5061;
        p++;
    }
    if (p >= n || AT(p) != ':')
        return 0;
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
        return 0;
    *host_start = p;
    *host_end = q;
    /* (?::([0-9]{1,5}))? then the end */
    if (q < n) {
        if (AT(q) != ':')
            return 0;
        port = 0;
        for (p = q + 1; p < n && AT(p) >= '0' && AT(p) <= '9'; p++) {
            if (p - q > 5)
                return 0;
            port = port * 10 + (long)(AT(p) - '0');
        }
        if (p == q + 1 || p < n || port > 65535)
            return 0;
    }
#undef AT
    *port_out = port;
    return 1;
}

static PyObject *plain_sip_target(PyObject *self, PyObject *arg)
{
    int kind;
    const void *data;
    Py_ssize_t p, host_start, host_end;
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
    if (!plain_scan(kind, data, PyUnicode_GET_LENGTH(arg), &host_start, &host_end, &port))
        Py_RETURN_NONE;
    /* normal_host: the host lower-cased (ASCII letters, digits, '.' and '-') */
    host = PyUnicode_New(host_end - host_start, 127);
    if (host == NULL)
        return NULL;
    out = PyUnicode_1BYTE_DATA(host);
    for (p = host_start; p < host_end; p++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, p);
        out[p - host_start] = (Py_UCS1)((c >= 'A' && c <= 'Z') ? c | 0x20 : c);
    }
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

/* ---- usual_call: the diagnosis of the usual answered call in one step ----------------
 *
 * Its specification is rtcscope.sip.diagnosis.CallChecker.run_direct (with
 * PathChecks.trace_dialog_direct and _direct_in_dialog): for a call of the classes given
 * to setup_usual_call whose facts are the usual ones, the DeliveredPath of each in-dialog
 * request, in the order those make them (run_direct then finds nothing); None for any other
 * call, before anything is made (the Python checks run). The usual facts, each read from
 * the objects' slots (a captured message, its message, ... of another class: None):
 * one INVITE transaction (the initial one: without a To tag), no UPDATE, no CANCEL; of
 * its responses above 100 none refused, one 2xx status (maybe resent: its copies the
 * dialog's answers), and every response from 101 to 299 with a To tag carrying the 2xx's
 * (one dialog); where a status came twice or the 2xx was resent, every response above 100
 * of one Via value (kept unparsed, as below), the 2xx's copies all with a sent-by or all
 * without; an ACK of the INVITE's CSeq in the dialog reaching the UAS (where the first
 * 2xx came from: also its host over TCP/TLS) no earlier than the last copy of the 2xx
 * was seen; no "route" in the 2xx or any copy of the INVITE
 * (no Record-Route: may_hold_route); the 2xx's Contact read by usual_contact_text, of the
 * plainest shape (plain_sip_target), naming the 2xx's source address; no ICMP error in the
 * capture; and each in-dialog request sent once (one copy, its method and CSeq nobody
 * else's), with a sent-by and one Via value (the Via line kept unparsed, no comma, one
 * line), no "route" in it, to where _far_origin says (the 2xx's source for the callee's
 * tag, the INVITE's for the caller's, address and port), based on the 2xx the caller
 * received before sending it (with its To tag) or on the one copy of the INVITE the
 * callee received, whose Contact (read as above) is the request's Request-URI text, of
 * the plainest shape, naming where it was sent (host as written, port).
 * tests/sip/test_diagnosis_usual_c.py checks this road against the Python one. */

/* The classes whose objects' slots are read (setup_usual_call's second to ninth). */
enum {
    CLASS_CALL, CLASS_TXN, CLASS_CAPTURED, CLASS_MESSAGE, CLASS_CSEQ, CLASS_STREAM, CLASS_KEY,
    CLASS_INDEX, CLASS_COUNT
};
/* The slots read, by class (the enums' order is the names' below): each slot's number holds
 * its class (its reader in readers, above SLOT_BITS) and its place among the names read of
 * that class (below: slot_of reads it at readers[class].offsets[place]). */
#define SLOT_BITS 4
#define SLOT_PLACE(slot) ((slot) & ((1 << SLOT_BITS) - 1))
enum { K_CALL_ID = CLASS_CALL << SLOT_BITS, K_TRANSACTIONS, K_MESSAGES, K_END };
enum { T_METHOD = CLASS_TXN << SLOT_BITS, T_CSEQ, T_REQUESTS, T_RESPONSES, T_ACKS, T_END };
enum {
    C_MESSAGE = CLASS_CAPTURED << SLOT_BITS, C_TS_NS, C_SRC, C_SPORT, C_DST, C_DPORT,
    C_TRANSPORT, C_END
};
enum {
    M_RAW = CLASS_MESSAGE << SLOT_BITS, M_STATUS, M_TO_TAG, M_FROM_TAG, M_CSEQ, M_SENT_BY,
    M_URI_TEXT, M_VIAS, M_END
};
enum { Q_NUMBER = CLASS_CSEQ << SLOT_BITS, Q_END };
enum { S_KEY = CLASS_STREAM << SLOT_BITS, S_END };
enum { Y_SRC = CLASS_KEY << SLOT_BITS, Y_SRC_PORT, Y_DST, Y_DST_PORT, Y_END };
enum { I_BY_CALL = CLASS_INDEX << SLOT_BITS, I_LOOSE, I_END };
#define SLOT_COUNT(end) SLOT_PLACE(end)
static const char *const CALL_NAMES[SLOT_COUNT(K_END)] = {"call_id", "transactions", "messages"};
static const char *const TXN_NAMES[SLOT_COUNT(T_END)] = {
    "method", "cseq", "requests", "responses", "acks",
};
static const char *const CAPTURED_NAMES[SLOT_COUNT(C_END)] = {
    "message", "ts_ns", "src", "sport", "dst", "dport", "transport",
};
static const char *const MESSAGE_NAMES[SLOT_COUNT(M_END)] = {
    "raw", "status_code", "to_tag", "from_tag", "cseq", "sent_by", "request_uri_text", "_vias",
};
static const char *const CSEQ_NAMES[SLOT_COUNT(Q_END)] = {"number"};
static const char *const STREAM_NAMES[SLOT_COUNT(S_END)] = {"key"};
static const char *const KEY_NAMES[SLOT_COUNT(Y_END)] = {"src", "src_port", "dst", "dst_port"};
static const char *const INDEX_NAMES[SLOT_COUNT(I_END)] = {"_by_call", "_loose"};
static const char *const *const READ_NAMES[CLASS_COUNT] = {
    CALL_NAMES, TXN_NAMES, CAPTURED_NAMES, MESSAGE_NAMES,
    CSEQ_NAMES, STREAM_NAMES, KEY_NAMES, INDEX_NAMES,
};
static PyObject *read_names[CLASS_COUNT][1 << SLOT_BITS];
static Py_ssize_t read_offsets[CLASS_COUNT][1 << SLOT_BITS];
/* Fixed readers (_slotread.h): only the class given to setup_usual_call is read. */
#define READER(class, end) {NULL, SLOT_COUNT(end), read_names[class], read_offsets[class], NULL, 1}
static SlotReader readers[CLASS_COUNT] = {
    READER(CLASS_CALL, K_END),   READER(CLASS_TXN, T_END),  READER(CLASS_CAPTURED, C_END),
    READER(CLASS_MESSAGE, M_END), READER(CLASS_CSEQ, Q_END), READER(CLASS_STREAM, S_END),
    READER(CLASS_KEY, Y_END),    READER(CLASS_INDEX, I_END),
};
#undef READER
/* The fields of a MediaAnnouncement read by usual_media, by name (their places: setup). */
enum { A_SIDE, A_ROLE, A_MEDIA_INDEX, A_MEDIA, A_ADDRESS, A_PORT, A_DIRECTION, A_COUNT };
static const char *const ANN_FIELDS[A_COUNT] = {
    "side", "role", "media_index", "media", "address", "port", "direction",
};
static Py_ssize_t ann_at[A_COUNT], ann_length;
static PyTypeObject *announcement_class;
static PyObject *media_window; /* media.MEDIA_WINDOW_NS: check_media's window after a call */
static PyObject *text_answer, *text_audio, *text_video, *text_caller, *text_sendrecv;
static PyObject *text_recvonly, *text_sendonly, *name_for_call;
static PyObject *delivered_path; /* diagnosis.model.DeliveredPath */
static PyObject *text_invite, *text_update, *text_cancel, *text_ack, *text_udp;

/* setup_usual_call(DeliveredPath, Call, Transaction, CapturedSip, SipMessage, CSeq,
 * RtpStream, StreamKey, StreamIndex, MediaAnnouncement, MEDIA_WINDOW_NS): the class made,
 * the classes whose slots are read, the named tuple read by field and check_media's window
 * after a call (an int, ns). */
static PyObject *setup_usual_call(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    int i;
    Py_ssize_t fields_at[A_COUNT], n_fields;
    PyObject *fields;
    if (nargs != 3 + CLASS_COUNT || !PyLong_CheckExact(args[2 + CLASS_COUNT])) {
        PyErr_SetString(PyExc_TypeError,
                        "setup_usual_call() takes ten classes and the media window (an int)");
        return NULL;
    }
    for (i = 0; i < CLASS_COUNT + 1; i++)
        if (!PyType_Check(args[1 + i])) {
            PyErr_SetString(PyExc_TypeError, "setup_usual_call(): not a class");
            return NULL;
        }
    if (!PyType_IsSubtype((PyTypeObject *)args[1 + CLASS_COUNT], &PyTuple_Type)) {
        PyErr_SetString(PyExc_TypeError, "setup_usual_call(): not a named tuple");
        return NULL;
    }
    fields = PyObject_GetAttrString(args[1 + CLASS_COUNT], "_fields");
    if (fields == NULL)
        return NULL;
    if (!PyTuple_Check(fields)) {
        Py_DECREF(fields);
        PyErr_SetString(PyExc_TypeError, "setup_usual_call(): not a named tuple");
        return NULL;
    }
    n_fields = PyTuple_GET_SIZE(fields);
    for (i = 0; i < A_COUNT; i++) {
        Py_ssize_t k;
        fields_at[i] = -1;
        for (k = 0; k < n_fields; k++)
            if (PyUnicode_Check(PyTuple_GET_ITEM(fields, k)) &&
                PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(fields, k), ANN_FIELDS[i]) ==
                    0) {
                fields_at[i] = k;
                break;
            }
        if (fields_at[i] < 0) {
            Py_DECREF(fields);
            PyErr_Format(PyExc_TypeError, "setup_usual_call(): no field %s", ANN_FIELDS[i]);
            return NULL;
        }
    }
    Py_DECREF(fields);
    /* (a failed setup leaves no class read: every call declined, the Python road) */
    for (i = 0; i < CLASS_COUNT; i++)
        if (slot_reader_setup(&readers[i], args[1 + i], READ_NAMES[i]) < 0) {
            for (i = 0; i < CLASS_COUNT; i++)
                Py_CLEAR(readers[i].type);
            return NULL;
        }
#define INTERN(var, text)                                                                     \
    if (var == NULL && (var = PyUnicode_InternFromString(text)) == NULL)                      \
        return NULL;
    INTERN(text_invite, "INVITE");
    INTERN(text_update, "UPDATE");
    INTERN(text_cancel, "CANCEL");
    INTERN(text_ack, "ACK");
    INTERN(text_udp, "udp");
    INTERN(text_answer, "answer");
    INTERN(text_audio, "audio");
    INTERN(text_video, "video");
    INTERN(text_caller, "caller");
    INTERN(text_sendrecv, "sendrecv");
    INTERN(text_recvonly, "recvonly");
    INTERN(text_sendonly, "sendonly");
    INTERN(name_for_call, "for_call");
#undef INTERN
    Py_INCREF(args[2 + CLASS_COUNT]);
    Py_XSETREF(media_window, args[2 + CLASS_COUNT]);
    memcpy(ann_at, fields_at, sizeof fields_at);
    ann_length = n_fields;
    Py_INCREF(args[1 + CLASS_COUNT]);
    Py_XSETREF(announcement_class, (PyTypeObject *)args[1 + CLASS_COUNT]);
    Py_INCREF(args[0]);
    Py_XSETREF(delivered_path, args[0]);
    Py_RETURN_NONE;
}

/* The slot ``slot`` of ``obj`` (borrowed: its owner holds it), or NULL when ``obj`` is not
 * of exactly the slot's class (setup_usual_call's), the class no longer holds that slot
 * (changed since: its reader relearns it) or the slot is empty (no error set: the call is
 * declined). No Python code runs here. */
static inline Py_ALWAYS_INLINE PyObject *slot_of(PyObject *obj, int slot)
{
    return slot_read_borrowed(&readers[slot >> SLOT_BITS], obj, SLOT_PLACE(slot));
}

/* endpoint_exact_text of a captured message's source (a new reference), or NULL (with an
 * error set, or without one for an empty slot or another value: declined). */
static PyObject *source_text(PyObject *captured)
{
    PyObject *address = slot_of(captured, C_SRC), *port = slot_of(captured, C_SPORT);
    if (address == NULL || port == NULL)
        return NULL;
    return endpoint_exact_text(address, port);
}

/* A captured message's message's slot (borrowed), or NULL. */
static PyObject *message_slot(PyObject *captured, int slot)
{
    return slot_of(slot_of(captured, C_MESSAGE), slot);
}

/* Whether two values are equal as Python's == says, for exact str, int or None (both):
 * 1 or 0; -1 for any other (the call is declined: no Python code runs here). */
static int equal(PyObject *a, PyObject *b)
{
    if (a == NULL || b == NULL)
        return -1;
    if (a == b)
        return 1;
    if (PyUnicode_CheckExact(a) && PyUnicode_CheckExact(b))
        return PyUnicode_GET_LENGTH(a) == PyUnicode_GET_LENGTH(b) &&
               PyUnicode_KIND(a) == PyUnicode_KIND(b) &&
               memcmp(PyUnicode_DATA(a), PyUnicode_DATA(b),
                      (size_t)(PyUnicode_GET_LENGTH(a) * PyUnicode_KIND(a))) == 0;
    if (PyLong_CheckExact(a) && PyLong_CheckExact(b))
        return PyObject_RichCompareBool(a, b, Py_EQ); /* (ints: no Python code) */
    if ((a == Py_None && (PyUnicode_CheckExact(b) || PyLong_CheckExact(b))) ||
        (b == Py_None && (PyUnicode_CheckExact(a) || PyLong_CheckExact(a))))
        return 0;
    return -1;
}

/* An exact int of 64 bits: 1 with *out, else 0 (declined; no error left). */
static int int_of(PyObject *value, long long *out)
{
    int overflow = 0;
    if (value == NULL || !PyLong_CheckExact(value))
        return 0;
    *out = PyLong_AsLongLongAndOverflow(value, &overflow);
    if (overflow || (*out == -1 && PyErr_Occurred())) {
        PyErr_Clear();
        return 0;
    }
    return 1;
}

/* A tag's truth (``not tag``: None or ""): 1 true, 0 false, -1 neither str nor None. */
static int tag_truth(PyObject *tag)
{
    if (tag == Py_None)
        return 0;
    if (tag == NULL || !PyUnicode_CheckExact(tag))
        return -1;
    return PyUnicode_GET_LENGTH(tag) > 0;
}

/* The usual Contact of a captured message: 1 with the host's place and the port of its
 * plainest URI text (printable ASCII in ``raw``: *text_start, *text_end the whole text),
 * else 0 (declined). */
static int usual_contact(PyObject *captured, const unsigned char **raw, Py_ssize_t *text_start,
                         Py_ssize_t *text_end, Py_ssize_t *host_start, Py_ssize_t *host_end,
                         long *port)
{
    PyObject *bytes = message_slot(captured, M_RAW);
    Py_ssize_t n;
    if (bytes == NULL || !PyBytes_CheckExact(bytes))
        return 0;
    *raw = (const unsigned char *)PyBytes_AS_STRING(bytes);
    n = PyBytes_GET_SIZE(bytes);
    if (usual_contact_span(*raw, n, text_start, text_end) != 1)
        return 0;
    if (!plain_scan(PyUnicode_1BYTE_KIND, *raw + *text_start, *text_end - *text_start,
                    host_start, host_end, port))
        return 0;
    *host_start += *text_start;
    *host_end += *text_start;
    return 1;
}

/* Whether an exact str is the host at raw[start:end] lower-cased (normal_host of a plain
 * host: see plain_sip_target); -1 for another value. */
static int names_host(PyObject *address, const unsigned char *raw, Py_ssize_t start,
                      Py_ssize_t end)
{
    Py_ssize_t i;
    const Py_UCS1 *text;
    if (address == NULL || !PyUnicode_CheckExact(address))
        return -1;
    if (!PyUnicode_IS_ASCII(address) || PyUnicode_GET_LENGTH(address) != end - start)
        return 0;
    text = PyUnicode_1BYTE_DATA(address);
    for (i = start; i < end; i++) {
        unsigned char c = raw[i];
        if (((c >= 'A' && c <= 'Z') ? c | 0x20 : c) != text[i - start])
            return 0;
    }
    return 1;
}

/* A message's bytes may hold a Route line (may_hold_route): 1, 0, or -1 (not bytes). */
static int routed(PyObject *captured)
{
    PyObject *bytes = message_slot(captured, M_RAW);
    if (bytes == NULL || !PyBytes_CheckExact(bytes))
        return -1;
    return find_lowered((const unsigned char *)PyBytes_AS_STRING(bytes),
                        PyBytes_GET_SIZE(bytes), ROUTE, 5) >= 0;
}

/* SipMessage.via_value_count() == 1 where the Via line is kept as written (a str without a
 * comma or a CRLF: one line, its value after the colon not blank): 1; else 0 (declined). */
static int one_via(PyObject *message)
{
    PyObject *vias = slot_of(message, M_VIAS);
    Py_ssize_t n, i, colon;
    const Py_UCS1 *s;
    if (vias == NULL || !PyUnicode_CheckExact(vias) || !PyUnicode_IS_ASCII(vias))
        return 0;
    s = PyUnicode_1BYTE_DATA(vias);
    n = PyUnicode_GET_LENGTH(vias);
    colon = -1;
    for (i = 0; i < n; i++) {
        if (s[i] == ',' || (s[i] == '\r' && i + 1 < n && s[i + 1] == '\n'))
            return 0;
        if (s[i] == ':' && colon < 0)
            colon = i;
    }
    if (colon < 0)
        return 0;
    for (i = colon + 1; i < n; i++)
        if (!Py_UNICODE_ISSPACE(s[i]))
            return 1;
    return 0;
}

#define USUAL_REQUESTS 8 /* the most in-dialog requests followed here (the usual: ACK, BYE) */

/* usual_call(call, icmp): the DeliveredPaths of the usual call's in-dialog requests, or
 * None (see above); ``icmp``: whether the capture holds any ICMP error. */
static PyObject *usual_call(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *call, *transactions, *invite = NULL, *invite_requests, *responses, *answer = NULL;
    PyObject *callee_tag = NULL, *caller_tag, *invite_cseq, *ack = NULL, *first_request;
    PyObject *sent_list[USUAL_REQUESTS], *ends[2] = {NULL, NULL}, *result = NULL;
    int sides[USUAL_REQUESTS];
    PyObject *txn_list[USUAL_REQUESTS];
    Py_ssize_t n_txn, i, j, n_sent = 0, seen_n = 0;
    long long seen_codes[16], answer_ts, ts = 0, answer_code = 0, last_answer_ts = 0;
    int repeated = 0;
    Py_ssize_t n_answers = 0;
    const unsigned char *raw;
    Py_ssize_t text_start, text_end, host_start, host_end;
    long port;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "usual_call(call, icmp)");
        return NULL;
    }
    if (delivered_path == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "usual_call(): setup_usual_call() first");
        return NULL;
    }
    call = args[0];
    if (PyObject_IsTrue(args[1]) != 0) /* ICMP errors (or an error): the Python road */
        goto decline;
    transactions = slot_of(call, K_TRANSACTIONS);
    if (transactions == NULL || !PyList_CheckExact(transactions) ||
        slot_of(call, K_CALL_ID) == NULL) /* (the paths' Call-ID, read when they are made) */
        goto decline;
    n_txn = PyList_GET_SIZE(transactions);
    if (n_txn < 2) /* (one: run_refused_direct's, or no ACK) */
        goto decline;
    /* One INVITE transaction, the initial one; no UPDATE, no CANCEL. */
    for (i = 0; i < n_txn; i++) {
        PyObject *txn = PyList_GET_ITEM(transactions, i), *method = slot_of(txn, T_METHOD);
        if (method == NULL || !PyUnicode_CheckExact(method))
            goto decline;
        if (equal(method, text_update) || equal(method, text_cancel))
            goto decline;
        if (equal(method, text_invite)) {
            if (invite != NULL)
                goto decline;
            invite = txn;
        }
    }
    if (invite == NULL)
        goto decline;
    invite_requests = slot_of(invite, T_REQUESTS);
    responses = slot_of(invite, T_RESPONSES);
    if (invite_requests == NULL || responses == NULL || !PyList_CheckExact(invite_requests) ||
        !PyList_CheckExact(responses) || PyList_GET_SIZE(invite_requests) == 0)
        goto decline;
    first_request = PyList_GET_ITEM(invite_requests, 0);
    if (tag_truth(message_slot(first_request, M_TO_TAG)) != 0)
        goto decline; /* not an initial INVITE: a target refresh */
    caller_tag = message_slot(first_request, M_FROM_TAG);
    if (caller_tag == NULL || tag_truth(caller_tag) < 0)
        goto decline;
    /* Its responses: none refused, one 2xx status (its copies: the dialog's answers), one
     * dialog (the 2xx's tag on every response from 101 to 299 that has one). */
    for (i = 0; i < PyList_GET_SIZE(responses); i++) {
        PyObject *response = PyList_GET_ITEM(responses, i), *status, *tag;
        long long code = 0;
        int truth;
        status = message_slot(response, M_STATUS);
        if (status == NULL || (status != Py_None && !int_of(status, &code)))
            goto decline;
        if (code <= 100)
            continue;
        if (code >= 300)
            goto decline;
        for (j = 0; j < seen_n; j++)
            if (seen_codes[j] == code)
                break;
        if (j < seen_n)
            repeated = 1;
        else if (seen_n == 16)
            goto decline;
        else
            seen_codes[seen_n++] = code;
        tag = message_slot(response, M_TO_TAG);
        truth = tag_truth(tag);
        if (truth < 0)
            goto decline;
        if (code >= 200) {
            if (!truth || !int_of(slot_of(response, C_TS_NS), &ts))
                goto decline;
            if (answer == NULL) {
                answer = response;
                answer_code = code;
            }
            else if (code != answer_code)
                goto decline; /* another 2xx status */
            if (n_answers == 0 || ts > last_answer_ts)
                last_answer_ts = ts;
            n_answers++;
        }
        if (truth) {
            if (callee_tag == NULL)
                callee_tag = tag;
            else if (equal(tag, callee_tag) != 1)
                goto decline; /* another dialog (forked) */
        }
    }
    if (answer == NULL) /* (its tag is callee_tag: the first tag met above 100) */
        goto decline;
    if (repeated) { /* (two 2xx copies: a 2xx status repeated) */
        /* check_response_tags compares no two copies (each of one Via value at most:
         * header_via_branches counts one with a sent-by, none without), and the 2xx's
         * copies have as many Vias as the first */
        int depth = -1;
        for (i = 0; i < PyList_GET_SIZE(responses); i++) {
            PyObject *response = PyList_GET_ITEM(responses, i), *message, *sent_by;
            long long code = 0;
            int vias;
            message = slot_of(response, C_MESSAGE);
            if (!int_of(slot_of(message, M_STATUS), &code) || code <= 100)
                continue; /* (None: read above as 0) */
            sent_by = slot_of(message, M_SENT_BY);
            if (!one_via(message) || sent_by == NULL)
                goto decline;
            vias = sent_by != Py_None;
            if (code >= 200) {
                if (depth < 0)
                    depth = vias;
                else if (vias != depth)
                    goto decline;
            }
        }
    }
    {
        PyObject *cseq = message_slot(answer, M_CSEQ);
        if (cseq == NULL || cseq == Py_None)
            goto decline;
        invite_cseq = slot_of(cseq, Q_NUMBER);
        if (invite_cseq == NULL || !PyLong_CheckExact(invite_cseq))
            goto decline;
    }
    if (!int_of(slot_of(answer, C_TS_NS), &answer_ts))
        goto decline;
    /* No Record-Route on the 2xx or on any copy of the INVITE. */
    if (routed(answer) != 0)
        goto decline;
    for (i = 0; i < PyList_GET_SIZE(invite_requests); i++)
        if (routed(PyList_GET_ITEM(invite_requests, i)) != 0)
            goto decline;
    /* The 2xx's Contact, plainest, naming where the 2xx came from. */
    if (!usual_contact(answer, &raw, &text_start, &text_end, &host_start, &host_end, &port) ||
        names_host(slot_of(answer, C_SRC), raw, host_start, host_end) != 1)
        goto decline;
    /* The dialog's requests (_build_dialogs' filing: both tags, the callee's naming it). */
    for (i = 0; i < n_txn; i++) {
        PyObject *txn = PyList_GET_ITEM(transactions, i), *requests = slot_of(txn, T_REQUESTS);
        PyObject *sent, *message, *to_tag, *from_tag, *names, *origin, *method, *cseq;
        int truth, by_callee, side;
        if (requests == NULL || !PyList_CheckExact(requests))
            goto decline;
        if (PyList_GET_SIZE(requests) == 0)
            continue;
        sent = PyList_GET_ITEM(requests, 0);
        message = slot_of(sent, C_MESSAGE);
        to_tag = slot_of(message, M_TO_TAG);
        truth = tag_truth(to_tag);
        if (truth < 0)
            goto decline;
        if (!truth)
            continue;
        from_tag = slot_of(message, M_FROM_TAG);
        truth = equal(to_tag, caller_tag);
        if (truth < 0 || tag_truth(from_tag) < 0)
            goto decline;
        names = truth ? from_tag : to_tag;
        if (equal(names, callee_tag) != 1) /* (None: 0) */
            continue; /* (a request of no dialog, or of another: not this call's usual) */
        /* In the dialog: sent once, its (method, CSeq) its own. */
        method = slot_of(txn, T_METHOD);
        cseq = slot_of(txn, T_CSEQ);
        if (PyList_GET_SIZE(requests) != 1 || n_sent == USUAL_REQUESTS || cseq == NULL ||
            !PyLong_CheckExact(cseq))
            goto decline;
        for (j = 0; j < i; j++) {
            PyObject *before = PyList_GET_ITEM(transactions, j);
            if (equal(slot_of(before, T_METHOD), method) == 1 &&
                equal(slot_of(before, T_CSEQ), cseq) == 1) {
                PyObject *earlier = slot_of(before, T_REQUESTS);
                /* (an earlier transaction of the same key in the dialog: one group) */
                if (earlier != NULL && PyList_CheckExact(earlier) &&
                    PyList_GET_SIZE(earlier) > 0)
                    goto decline;
            }
        }
        /* The ACK of the INVITE's CSeq reaching the UAS (the first, in this order). */
        if (ack == NULL && equal(method, text_ack) == 1 && equal(cseq, invite_cseq) == 1) {
            PyObject *transport = slot_of(sent, C_TRANSPORT);
            int same_dst = equal(slot_of(sent, C_DST), slot_of(answer, C_SRC));
            int same_port = equal(slot_of(sent, C_DPORT), slot_of(answer, C_SPORT));
            int udp = equal(transport, text_udp);
            if (same_dst < 0 || same_port < 0 || udp < 0)
                goto decline;
            if (same_dst && (same_port || !udp)) {
                if (!int_of(slot_of(sent, C_TS_NS), &ts) || last_answer_ts > ts)
                    goto decline; /* a 2xx sent after the ACK reached the UAS */
                ack = sent;
            }
        }
        /* _direct_in_dialog: a sent-by, one Via, no Route ... */
        {
            PyObject *sent_by = slot_of(message, M_SENT_BY);
            if (!one_via(message) || sent_by == NULL || sent_by == Py_None || routed(sent) != 0)
                goto decline;
        }
        /* ... sent where _far_origin says ... */
        if (equal(to_tag, callee_tag) == 1) {
            origin = answer;
            side = 0;
        }
        else if (equal(from_tag, callee_tag) == 1) {
            origin = first_request;
            side = 1;
        }
        else
            goto decline;
        if (equal(slot_of(sent, C_DST), slot_of(origin, C_SRC)) != 1 ||
            equal(slot_of(sent, C_DPORT), slot_of(origin, C_SPORT)) != 1)
            goto decline;
        if (ends[side] == NULL) { /* (source(origin), written once per side) */
            ends[side] = source_text(origin);
            if (ends[side] == NULL)
                goto decline;
        }
        /* ... based on the 2xx (the caller's) or the one INVITE the callee received ... */
        by_callee = !(from_tag != Py_None && equal(from_tag, caller_tag) == 1);
        {
            PyObject *src = slot_of(sent, C_SRC), *basis = NULL, *uri_text;
            if (!by_callee) {
                if (!int_of(slot_of(sent, C_TS_NS), &ts) ||
                    equal(slot_of(answer, C_DST), src) != 1 || !(answer_ts < ts) ||
                    equal(message_slot(answer, M_TO_TAG), to_tag) != 1)
                    goto decline;
                basis = answer;
            }
            else {
                for (j = 0; j < PyList_GET_SIZE(invite_requests); j++) {
                    PyObject *copy = PyList_GET_ITEM(invite_requests, j);
                    int here = equal(slot_of(copy, C_DST), src);
                    if (here < 0)
                        goto decline;
                    if (here) {
                        if (basis != NULL)
                            goto decline;
                        basis = copy;
                    }
                }
                if (basis == NULL)
                    goto decline;
            }
            /* ... whose Contact is its Request-URI, naming where it went. */
            if (!usual_contact(basis, &raw, &text_start, &text_end, &host_start, &host_end,
                               &port))
                goto decline;
            uri_text = slot_of(message, M_URI_TEXT);
            if (uri_text == NULL || !PyUnicode_CheckExact(uri_text) ||
                !PyUnicode_IS_ASCII(uri_text) ||
                PyUnicode_GET_LENGTH(uri_text) != text_end - text_start ||
                memcmp(PyUnicode_1BYTE_DATA(uri_text), raw + text_start,
                       (size_t)(text_end - text_start)) != 0)
                goto decline;
            {
                long long dport;
                if (!int_of(slot_of(sent, C_DPORT), &dport) || dport != port ||
                    names_host(slot_of(sent, C_DST), raw, host_start, host_end) != 1)
                    goto decline;
            }
        }
        sent_list[n_sent] = sent;
        txn_list[n_sent] = txn;
        sides[n_sent] = side;
        n_sent++;
    }
    if (ack == NULL)
        goto decline;
    /* Every fact known: the paths (Python code runs from here on: strong references). */
    for (i = 0; i < n_sent; i++) {
        Py_INCREF(sent_list[i]);
        Py_INCREF(txn_list[i]);
    }
    Py_INCREF(call);
    result = PyList_New(n_sent);
    for (i = 0; result != NULL && i < n_sent; i++) {
        PyObject *path_args[5];
        PyObject *path;
        int k;
        path_args[0] = slot_of(call, K_CALL_ID);
        path_args[1] = slot_of(txn_list[i], T_METHOD);
        path_args[2] = slot_of(txn_list[i], T_CSEQ);
        path_args[3] = sent_list[i];
        path_args[4] = ends[sides[i]];
        if (path_args[0] == NULL || path_args[1] == NULL || path_args[2] == NULL) {
            PyErr_SetString(PyExc_SystemError, "usual_call(): a slot emptied");
            Py_CLEAR(result);
            break;
        }
        for (k = 0; k < 5; k++)
            Py_INCREF(path_args[k]);
        path = PyObject_Vectorcall(delivered_path, path_args, 5, NULL);
        for (k = 0; k < 5; k++)
            Py_DECREF(path_args[k]);
        if (path == NULL) {
            Py_CLEAR(result);
            break;
        }
        PyList_SET_ITEM(result, i, path);
    }
    for (i = 0; i < n_sent; i++) {
        Py_DECREF(sent_list[i]);
        Py_DECREF(txn_list[i]);
    }
    Py_DECREF(call);
    Py_XDECREF(ends[0]);
    Py_XDECREF(ends[1]);
    return result;
decline:
    Py_XDECREF(ends[0]);
    Py_XDECREF(ends[1]);
    if (PyErr_Occurred())
        return NULL;
    Py_RETURN_NONE;
}


/* usual_media(call, announcements, stream_index): True where MediaChecks.check_media (its
 * specification) finds nothing by its usual answer alone: no answer among the call's
 * announcements (no media expected), or for each m-line both sides announced with an
 * address and a port, where one side receives what the other sends, exactly one of the
 * call's streams (``stream_index.for_call(call_id, first, last + 5 s)``; with no stream
 * outside a call in the index, the call's own list read from it here, as for_call reads
 * it) arrives where the receiver listens, from where the sender announced; False for
 * anything else (check_media runs: its other checks decide). */
/* Whether an exact int is 0. */
static int is_zero(PyObject *value)
{
    long long number;
    return int_of(value, &number) && number == 0;
}

#define USUAL_MEDIA 16 /* the most (role, m-line) pairs read here */
static PyObject *usual_media(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *call, *announced, *fast, *messages, *streams = NULL, *result = Py_False;
    PyObject *latest[USUAL_MEDIA];
    Py_ssize_t n, i, j, n_latest = 0;
    int answered = 0;
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "usual_media(call, announcements, stream_index)");
        return NULL;
    }
    if (announcement_class == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "usual_media(): setup_usual_call() first");
        return NULL;
    }
    call = args[0];
    announced = args[1];
    if (!PyList_CheckExact(announced) && !PyTuple_CheckExact(announced))
        Py_RETURN_FALSE;
    fast = announced; /* (a list or a tuple: read in place, no Python code runs below) */
    n = PySequence_Fast_GET_SIZE(fast);
    /* Each side's latest audio or video announcement per m-line, and whether an answer
     * came. */
    for (i = 0; i < n; i++) {
        PyObject *a = PySequence_Fast_GET_ITEM(fast, i), *media, *side;
        int is_answer, audio, video;
        if (Py_TYPE(a) != announcement_class || PyTuple_GET_SIZE(a) != ann_length)
            Py_RETURN_FALSE;
        side = PyTuple_GET_ITEM(a, ann_at[A_SIDE]);
        media = PyTuple_GET_ITEM(a, ann_at[A_MEDIA]);
        is_answer = equal(side, text_answer);
        audio = equal(media, text_audio);
        video = equal(media, text_video);
        if (is_answer < 0 || audio < 0 || video < 0)
            Py_RETURN_FALSE;
        answered |= is_answer;
        if (!audio && !video)
            continue;
        for (j = 0; j < n_latest; j++) {
            int same_role = equal(PyTuple_GET_ITEM(latest[j], ann_at[A_ROLE]),
                                  PyTuple_GET_ITEM(a, ann_at[A_ROLE]));
            int same_index = equal(PyTuple_GET_ITEM(latest[j], ann_at[A_MEDIA_INDEX]),
                                   PyTuple_GET_ITEM(a, ann_at[A_MEDIA_INDEX]));
            if (same_role < 0 || same_index < 0)
                Py_RETURN_FALSE;
            if (same_role && same_index)
                break;
        }
        if (j == n_latest) {
            if (n_latest == USUAL_MEDIA)
                Py_RETURN_FALSE;
            n_latest++;
        }
        latest[j] = a;
    }
    if (!answered)
        Py_RETURN_TRUE;
    /* The call's streams (StreamIndex.for_call over check_media's window). */
    messages = slot_of(call, K_MESSAGES);
    if (messages == NULL || !PyList_CheckExact(messages) || PyList_GET_SIZE(messages) == 0)
        Py_RETURN_FALSE;
    {
        PyObject *first = slot_of(PyList_GET_ITEM(messages, 0), C_TS_NS);
        PyObject *last = slot_of(PyList_GET_ITEM(messages, PyList_GET_SIZE(messages) - 1),
                                 C_TS_NS);
        PyObject *call_id = slot_of(call, K_CALL_ID), *by_call, *loose;
        /* (an exact str: its look-up in by_call runs no Python code) */
        if (first == NULL || last == NULL || !PyLong_CheckExact(first) ||
            !PyLong_CheckExact(last) || call_id == NULL || !PyUnicode_CheckExact(call_id))
            Py_RETURN_FALSE;
        /* (the announcements are kept alive by the caller's list: held here as well) */
        Py_INCREF(announced);
        for (i = 0; i < n_latest; i++)
            Py_INCREF(latest[i]);
        by_call = slot_of(args[2], I_BY_CALL);
        loose = slot_of(args[2], I_LOOSE);
        if (by_call != NULL && loose != NULL && PyDict_Check(by_call) &&
            PyList_CheckExact(loose) && PyList_GET_SIZE(loose) == 0) {
            /* for_call without a stream outside a call: the call's own list, or none */
            streams = PyDict_GetItemWithError(by_call, call_id);
            if (streams != NULL)
                Py_INCREF(streams);
            else if (PyErr_Occurred()) {
                result = NULL;
                goto done;
            }
            else if ((streams = PyList_New(0)) == NULL) {
                result = NULL;
                goto done;
            }
        }
        else {
            PyObject *window[4], *end = PyNumber_Add(last, media_window);
            if (end == NULL) {
                result = NULL;
                goto done;
            }
            window[0] = args[2];
            window[1] = call_id;
            window[2] = first;
            window[3] = end;
            Py_INCREF(call_id);
            Py_INCREF(first);
            streams = PyObject_VectorcallMethod(name_for_call, window,
                                                4 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
            Py_DECREF(call_id);
            Py_DECREF(first);
            Py_DECREF(end);
            if (streams == NULL) {
                result = NULL;
                goto done;
            }
        }
    }
    if (!PyList_CheckExact(streams))
        goto done;
    for (i = 0; i < n_latest; i++) {
        PyObject *mine = latest[i], *other = NULL, *role, *address, *port, *found = NULL;
        PyObject *other_address, *other_port;
        int caller, receives, sent_to_me, d1, d2, k;
        role = PyTuple_GET_ITEM(mine, ann_at[A_ROLE]);
        caller = equal(role, text_caller);
        if (caller < 0)
            goto done;
        /* other = latest[("callee" if role == "caller" else "caller", index)] */
        for (j = 0; j < n_latest; j++) {
            PyObject *theirs = PyTuple_GET_ITEM(latest[j], ann_at[A_ROLE]);
            int is_caller = equal(theirs, text_caller);
            int same_index = equal(PyTuple_GET_ITEM(latest[j], ann_at[A_MEDIA_INDEX]),
                                   PyTuple_GET_ITEM(mine, ann_at[A_MEDIA_INDEX]));
            int is_callee = PyUnicode_CheckExact(theirs) &&
                            PyUnicode_CompareWithASCIIString(theirs, "callee") == 0;
            if (is_caller < 0 || same_index < 0)
                goto done;
            if (same_index && (caller ? is_callee : is_caller)) {
                other = latest[j];
                break;
            }
        }
        address = PyTuple_GET_ITEM(mine, ann_at[A_ADDRESS]);
        if (other == NULL || address == Py_None)
            continue;
        other_address = PyTuple_GET_ITEM(other, ann_at[A_ADDRESS]);
        if (other_address == Py_None)
            continue;
        port = PyTuple_GET_ITEM(mine, ann_at[A_PORT]);
        other_port = PyTuple_GET_ITEM(other, ann_at[A_PORT]);
        if (!PyLong_CheckExact(port) || !PyLong_CheckExact(other_port))
            goto done;
        if (is_zero(port) || is_zero(other_port))
            continue; /* a rejected or removed stream */
        d1 = equal(PyTuple_GET_ITEM(mine, ann_at[A_DIRECTION]), text_sendrecv);
        d2 = equal(PyTuple_GET_ITEM(mine, ann_at[A_DIRECTION]), text_recvonly);
        if (d1 < 0 || d2 < 0)
            goto done;
        receives = d1 || d2;
        d1 = equal(PyTuple_GET_ITEM(other, ann_at[A_DIRECTION]), text_sendrecv);
        d2 = equal(PyTuple_GET_ITEM(other, ann_at[A_DIRECTION]), text_sendonly);
        if (d1 < 0 || d2 < 0)
            goto done;
        sent_to_me = d1 || d2;
        if (!receives || !sent_to_me)
            continue;
        /* exactly one stream arriving where ``mine`` listens, from where ``other`` sends */
        for (j = 0; j < PyList_GET_SIZE(streams); j++) {
            PyObject *key = slot_of(PyList_GET_ITEM(streams, j), S_KEY);
            int here, at_port;
            here = equal(slot_of(key, Y_DST), address);
            at_port = equal(slot_of(key, Y_DST_PORT), port);
            if (here < 0 || at_port < 0)
                goto done;
            if (here && at_port) {
                if (found != NULL)
                    goto done;
                found = key;
            }
        }
        if (found == NULL)
            goto done;
        k = equal(slot_of(found, Y_SRC), other_address);
        if (k != 1 || equal(slot_of(found, Y_SRC_PORT), other_port) != 1)
            goto done;
    }
    result = Py_True;
done:
    Py_XDECREF(streams);
    for (i = 0; i < n_latest; i++)
        Py_DECREF(latest[i]);
    Py_DECREF(announced);
    Py_XINCREF(result);
    return result;
}

/* ---- usual_refused: the facts of the usual refused call in one step --------------------
 *
 * Its specification is rtcscope.sip.diagnosis.CallChecker.run_refused_direct (with
 * check_final_answers, check_status and check_non_2xx_acks): for a call whose one
 * transaction is its initial INVITE (of the classes given to setup_usual_call), whose
 * responses above 100 each came once, none a 2xx, one of them final: a refusal other than
 * 401, 407, 481, 483 and 487, ACKed (17.1.1.3) on the INVITE's hop with the INVITE's
 * Request-URI text, the first ACK without "route" in it, of one Via value (kept unparsed,
 * without a comma) and a Max-Forwards that usual_max_forwards reads: the facts the checks
 * would find, (transaction, refusal, its first ACK's Max-Forwards and Via count), from which
 * rtcscope.sip.diagnosis makes the finding and the path as the checks make them; None for
 * any other call. Nothing is made here but the tuple, and no Python code runs before it. */

/* usual_refused(call): (Transaction, refusal, max_forwards, vias) of the usual refused
 * call, or None (see above). */
static PyObject *usual_refused(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *call, *transactions, *txn, *requests, *responses, *acks, *invite, *ack;
    PyObject *final = NULL, *message, *raw_bytes, *max_forwards, *sent_by, *result;
    Py_ssize_t i, j, seen_n = 0;
    long long seen_codes[16], final_code = 0;
    if (nargs != 1) {
        PyErr_SetString(PyExc_TypeError, "usual_refused(call)");
        return NULL;
    }
    if (delivered_path == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "usual_refused(): setup_usual_call() first");
        return NULL;
    }
    call = args[0];
    transactions = slot_of(call, K_TRANSACTIONS);
    if (transactions == NULL || !PyList_CheckExact(transactions) ||
        PyList_GET_SIZE(transactions) != 1)
        Py_RETURN_NONE;
    txn = PyList_GET_ITEM(transactions, 0);
    requests = slot_of(txn, T_REQUESTS);
    responses = slot_of(txn, T_RESPONSES);
    acks = slot_of(txn, T_ACKS);
    {
        PyObject *cseq = slot_of(txn, T_CSEQ);
        if (requests == NULL || responses == NULL || acks == NULL ||
            !PyList_CheckExact(requests) || !PyList_CheckExact(responses) ||
            !PyList_CheckExact(acks) || PyList_GET_SIZE(requests) == 0 ||
            PyList_GET_SIZE(acks) == 0 || equal(slot_of(txn, T_METHOD), text_invite) != 1 ||
            cseq == NULL || !PyLong_CheckExact(cseq))
            Py_RETURN_NONE;
    }
    invite = PyList_GET_ITEM(requests, 0);
    if (tag_truth(message_slot(invite, M_TO_TAG)) != 0)
        Py_RETURN_NONE; /* (not an initial INVITE) */
    /* Each status above 100 once (check_response_tags compares nothing), no 2xx, one final:
     * the refusal. */
    for (i = 0; i < PyList_GET_SIZE(responses); i++) {
        PyObject *response = PyList_GET_ITEM(responses, i), *status;
        long long code = 0;
        status = message_slot(response, M_STATUS);
        if (status == NULL || (status != Py_None && !int_of(status, &code)))
            Py_RETURN_NONE;
        if (code <= 100)
            continue;
        if (code < 300 && code >= 200)
            Py_RETURN_NONE;
        for (j = 0; j < seen_n; j++)
            if (seen_codes[j] == code)
                Py_RETURN_NONE;
        if (seen_n == 16)
            Py_RETURN_NONE;
        seen_codes[seen_n++] = code;
        if (code >= 300) {
            if (final != NULL)
                Py_RETURN_NONE;
            final = response;
            final_code = code;
        }
    }
    if (final == NULL || final_code == 401 || final_code == 407 || final_code == 481 ||
        final_code == 483 || final_code == 487)
        Py_RETURN_NONE;
    /* The ACK: to the INVITE's hop, its Request-URI, no Route, one Via value, a plain
     * Max-Forwards. */
    ack = PyList_GET_ITEM(acks, 0);
    message = slot_of(ack, C_MESSAGE);
    if (equal(slot_of(ack, C_DST), slot_of(invite, C_DST)) != 1 ||
        equal(slot_of(ack, C_DPORT), slot_of(invite, C_DPORT)) != 1 || routed(ack) != 0 ||
        !one_via(message))
        Py_RETURN_NONE;
    {
        PyObject *a = slot_of(message, M_URI_TEXT), *b = message_slot(invite, M_URI_TEXT);
        if (a == NULL || !PyUnicode_CheckExact(a) || equal(a, b) != 1)
            Py_RETURN_NONE;
    }
    sent_by = slot_of(message, M_SENT_BY);
    raw_bytes = slot_of(message, M_RAW);
    if (sent_by == NULL || raw_bytes == NULL || !PyBytes_CheckExact(raw_bytes))
        Py_RETURN_NONE;
    max_forwards = usual_max_forwards_of((const unsigned char *)PyBytes_AS_STRING(raw_bytes),
                                         PyBytes_GET_SIZE(raw_bytes));
    if (max_forwards == NULL)
        return NULL;
    if (max_forwards == Py_False) {
        Py_DECREF(max_forwards);
        Py_RETURN_NONE;
    }
    /* (Py_BuildValue runs no Python code: every object read above is still held by the
     * call's lists) */
    result = Py_BuildValue("(OONi)", txn, final, max_forwards, sent_by != Py_None);
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
    {"setup_usual_call", (PyCFunction)(void (*)(void))setup_usual_call, METH_FASTCALL,
     "setup_usual_call(DeliveredPath, Call, Transaction, CapturedSip, SipMessage, CSeq, "
     "RtpStream, StreamKey, StreamIndex, MediaAnnouncement, MEDIA_WINDOW_NS): the classes "
     "usual_call, usual_refused and usual_media read and make, and check_media's window"},
    {"usual_call", (PyCFunction)(void (*)(void))usual_call, METH_FASTCALL,
     "usual_call(call, icmp): the DeliveredPaths of the usual answered call's in-dialog "
     "requests (CallChecker.run_direct's), or None for any other call"},
    {"usual_refused", (PyCFunction)(void (*)(void))usual_refused, METH_FASTCALL,
     "usual_refused(call): (transaction, refusal, max_forwards, vias) of the usual "
     "refused call (the facts CallChecker.run_refused_direct's finding and path are made "
     "of), or None for any other call"},
    {"usual_media", (PyCFunction)(void (*)(void))usual_media, METH_FASTCALL,
     "usual_media(call, announcements, stream_index): True where check_media finds nothing by "
     "its usual answer alone, else False"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_routescan",
    "rtcscope.sip.routing's reads in C: may_hold_route, usual_max_forwards and "
    "usual_contact_text on a message's bytes as they are, plain_sip_target on a URI's text; "
    "and rtcscope.sip.diagnosis's usual calls: usual_call (the answered call's paths), "
    "usual_refused (the refused call's facts) and usual_media (check_media finds nothing), "
    "after setup_usual_call",
    -1,
    methods,
};

PyMODINIT_FUNC PyInit__routescan(void)
{
    return PyModule_Create(&module);
}
