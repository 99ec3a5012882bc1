/* rtcscope.sip._callwalk: the call list's look at each message of a call, in C.
 *
 * The specifications are the pure-Python roads: rtcscope/sip/calls.py's _walk_py (walk()
 * here returns exactly what it returns, for the same messages and tracker state, and
 * leaves the state as it leaves it) and rtcscope/sip/transactions.py's
 * _group_transactions_py (group() makes the same transactions, in the same order). Every comparison is Python's (==, <=, truth), so values
 * of any type compare as they do there; a captured message, its SipMessage and its CSeq of
 * exactly the classes given to setup() are read through their slots, anything else through
 * getattr. The other functions name their specifications where they start (find_calls,
 * sdp_exchanges, the link-header probes and frames_rise, the usual call's summary, the call
 * counts). A call's few
 * transactions (group()) and tracker directions (summarize_one()'s walk) are kept in a
 * SmallMap: compared where their values lie, a dict of tuples past its size.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <string.h>

#include "../_endpoint.h"
#include "../_slotread.h"
#include "../_uriscan.h"

/* The attributes read, by object: the captured message's, its message's, its CSeq's. */
enum { C_MESSAGE, C_TS_NS, C_TRANSPORT, C_SRC, C_SPORT, C_DST, C_DPORT, C_FRAME, C_COUNT };
enum { M_CSEQ, M_METHOD, M_IS_RESPONSE, M_STATUS, M_CALL_ID, M_COUNT };
enum { Q_NUMBER, Q_METHOD, Q_COUNT };
static const char *const CAPTURED_NAMES[C_COUNT] = {
    "message", "ts_ns", "transport", "src", "sport", "dst", "dport", "frame",
};
static const char *const MESSAGE_NAMES[M_COUNT] = {
    "cseq", "request_method", "is_response", "status_code", "call_id",
};
static const char *const CSEQ_NAMES[Q_COUNT] = {"number", "method"};


static PyObject *captured_names[C_COUNT], *message_names[M_COUNT], *cseq_names[Q_COUNT];
static Py_ssize_t captured_offsets[C_COUNT], message_offsets[M_COUNT], cseq_offsets[Q_COUNT];
static SlotReader captured_reader = {NULL, C_COUNT, captured_names, captured_offsets};
static SlotReader message_reader = {NULL, M_COUNT, message_names, message_offsets};
static SlotReader cseq_reader = {NULL, Q_COUNT, cseq_names, cseq_offsets};

/* What walk() makes and compares with (setup()). */
static PyTypeObject *marks_type, *walked_type, *counter_type;
static PyObject *whole_ms; /* calls._whole_ms, for times outside 64-bit integers */
static PyObject *text_bye, *text_cancel, *text_ack, *text_info, *text_udp, *text_empty;
static PyObject *int_0, *int_1, *int_200, *minus_1, *empty_tuple;
/* The tracker's states (calls._NOTHING, _REQUEST, _PROVISIONAL, _FINAL) and an entry's
 * fields (calls._CSEQ ... _REQUEST_NS). */
enum { S_NOTHING, S_REQUEST, S_PROVISIONAL, S_FINAL, S_COUNT };
static PyObject *states[S_COUNT];
enum { E_CSEQ, E_METHOD, E_STATE, E_CODE, E_FRAME_AT, E_REQUEST_NS, E_COUNT };

static void clear_all(PyObject **values, int count)
{
    int i;
    for (i = 0; i < count; i++)
        Py_CLEAR(values[i]);
}

static PyObject *setup(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    int i;
    (void)module;
    if (nargs != 7 || !PyType_Check(args[3]) || !PyType_Check(args[4]) ||
        !PyType_Check(args[5]) || !PyCallable_Check(args[6])) {
        PyErr_SetString(PyExc_TypeError,
                        "setup(captured_class, message_class, cseq_class, marks_class, "
                        "walked_class, counter_class, whole_ms)");
        return NULL;
    }
    if (!PyType_IsSubtype((PyTypeObject *)args[3], &PyTuple_Type) ||
        !PyType_IsSubtype((PyTypeObject *)args[4], &PyTuple_Type) ||
        !PyType_IsSubtype((PyTypeObject *)args[5], &PyDict_Type)) {
        PyErr_SetString(PyExc_TypeError, "setup(): marks and walked are tuples, counter a dict");
        return NULL;
    }
    if (text_bye == NULL) {
        static const char *const texts[6] = {"BYE", "CANCEL", "ACK", "INFO", "udp", ""};
        PyObject **slots[6] = {&text_bye, &text_cancel, &text_ack, &text_info, &text_udp,
                               &text_empty};
        for (i = 0; i < 6; i++) {
            *slots[i] = PyUnicode_InternFromString(texts[i]);
            if (*slots[i] == NULL)
                return NULL;
        }
        int_0 = PyLong_FromLong(0);
        int_1 = PyLong_FromLong(1);
        int_200 = PyLong_FromLong(200);
        minus_1 = PyLong_FromLong(-1);
        empty_tuple = PyTuple_New(0);
        if (int_0 == NULL || int_1 == NULL || int_200 == NULL || minus_1 == NULL ||
            empty_tuple == NULL)
            return NULL;
        for (i = 0; i < S_COUNT; i++) {
            states[i] = PyLong_FromLong(i);
            if (states[i] == NULL)
                return NULL;
        }
    }
    if (slot_reader_setup(&captured_reader, args[0], CAPTURED_NAMES) < 0 ||
        slot_reader_setup(&message_reader, args[1], MESSAGE_NAMES) < 0 ||
        slot_reader_setup(&cseq_reader, args[2], CSEQ_NAMES) < 0)
        return NULL;
    for (i = 3; i < 6; i++)
        Py_INCREF(args[i]);
    Py_XSETREF(marks_type, (PyTypeObject *)args[3]);
    Py_XSETREF(walked_type, (PyTypeObject *)args[4]);
    Py_XSETREF(counter_type, (PyTypeObject *)args[5]);
    Py_INCREF(args[6]);
    Py_XSETREF(whole_ms, args[6]);
    Py_RETURN_NONE;
}

/* A tuple of ``type`` (a tuple subclass) holding the n values (references stolen, all
 * non-NULL; on failure they are released). */
static PyObject *tuple_of(PyTypeObject *type, PyObject **values, Py_ssize_t n)
{
    Py_ssize_t i;
    PyObject *made = type->tp_alloc(type, n);
    if (made == NULL) {
        for (i = 0; i < n; i++)
            Py_DECREF(values[i]);
        return NULL;
    }
    for (i = 0; i < n; i++)
        PyTuple_SET_ITEM(made, i, values[i]);
    return made;
}

/* Python's divmod(ns, 10**9) for a C integer. */
static void split_ns(long long ns, long long *s, long long *frac)
{
    *s = ns / 1000000000LL;
    *frac = ns % 1000000000LL;
    if (*frac < 0) {
        *frac += 1000000000LL;
        *s -= 1;
    }
}

/* calls._whole_ms(later, earlier): in C when both fit in 64 bits, else the Python function. */
static PyObject *milliseconds(PyObject *later, PyObject *earlier)
{
    int overflow_a = 0, overflow_b = 0;
    long long a = 0, b = 0, a_s, a_frac, b_s, b_frac, nanos, millis;
    if (PyLong_CheckExact(later) && PyLong_CheckExact(earlier)) {
        a = PyLong_AsLongLongAndOverflow(later, &overflow_a);
        b = PyLong_AsLongLongAndOverflow(earlier, &overflow_b);
        if ((a == -1 || b == -1) && PyErr_Occurred())
            return NULL;
    }
    if (!PyLong_CheckExact(later) || !PyLong_CheckExact(earlier) || overflow_a || overflow_b)
        return PyObject_CallFunctionObjArgs(whole_ms, later, earlier, NULL);
    split_ns(a, &a_s, &a_frac);
    split_ns(b, &b_s, &b_frac);
    nanos = a_frac - b_frac;
    millis = (nanos < 0 ? -nanos : nanos) / 1000000LL;
    return PyLong_FromLongLong((a_s - b_s) * 1000LL + (nanos >= 0 ? millis : -millis));
}

/* counter[key] = counter.get(key, 0) + amount (an exact int: 0 + amount is amount) */
static int count(PyObject *counter, PyObject *key, PyObject *amount)
{
    PyObject *sum, *found = PyDict_GetItemWithError(counter, key);
    int result;
    if (found == NULL) {
        if (PyErr_Occurred())
            return -1;
        return PyDict_SetItem(counter, key, amount);
    }
    sum = PyNumber_Add(found, amount);
    if (sum == NULL)
        return -1;
    result = PyDict_SetItem(counter, key, sum);
    Py_DECREF(sum);
    return result;
}

/* entry[i] = value (a new reference taken). */
static void put(PyObject *entry, Py_ssize_t i, PyObject *value)
{
    Py_INCREF(value);
    Py_SETREF(PyList_GET_ITEM(entry, i), value);
}

/* a == b as Python says it, or -1 with an exception (two exact str compared here: equal
 * texts have the same length and, in CPython's canonical form, the same kind). */
static int same(PyObject *a, PyObject *b)
{
    if (a != b && PyUnicode_CheckExact(a) && PyUnicode_CheckExact(b)) {
        Py_ssize_t n = PyUnicode_GET_LENGTH(a);
        int kind = PyUnicode_KIND(a);
        if (n != PyUnicode_GET_LENGTH(b) || kind != (int)PyUnicode_KIND(b))
            return 0;
        return memcmp(PyUnicode_DATA(a), PyUnicode_DATA(b), (size_t)n * (size_t)kind) == 0;
    }
    return PyObject_RichCompareBool(a, b, Py_EQ);
}

/* A small map for the few keys of one call (the tracker's directions, the grouping's
 * transactions): each key's values compared where they lie, in a table here, instead of
 * a tuple made and hashed per message. A key of a value the table does not compare so (not
 * an exact str, an exact int or None: their == runs no Python code, and is what a dict of
 * tuples compares) or one key too many moves the table into a dict of tuples: the same
 * map from there on. A map may also start as a dict given by its caller (not owned). */
#define SMALL_MAP_KEYS 8
#define SMALL_MAP_WIDTH 5
typedef struct {
    PyObject *dict;                                    /* the dict, or NULL: the table */
    int owned;                                         /* 1: dict was made here */
    int width;                                         /* the values of a key */
    int n;                                             /* the table's keys */
    PyObject *keys[SMALL_MAP_KEYS][SMALL_MAP_WIDTH];   /* (owned) */
    PyObject *values[SMALL_MAP_KEYS];                  /* (owned) */
} SmallMap;

/* An empty map of keys of ``width`` values: its table, or ``dict`` (the caller's). */
static void small_map_init(SmallMap *map, int width, PyObject *dict)
{
    map->dict = dict;
    map->owned = 0;
    map->width = width;
    map->n = 0;
}

static void small_map_clear(SmallMap *map)
{
    int i, j;
    for (i = 0; i < map->n; i++) {
        for (j = 0; j < map->width; j++)
            Py_CLEAR(map->keys[i][j]);
        Py_CLEAR(map->values[i]);
    }
    map->n = 0;
    if (map->owned)
        Py_CLEAR(map->dict);
    map->owned = 0;
}

/* A key as the dict keeps it: the tuple of its values (a new reference), or NULL. */
static PyObject *small_map_tuple(const SmallMap *map, PyObject **key)
{
    PyObject *tuple = PyTuple_New(map->width);
    int i;
    if (tuple == NULL)
        return NULL;
    for (i = 0; i < map->width; i++)
        PyTuple_SET_ITEM(tuple, i, Py_NewRef(key[i]));
    return tuple;
}

/* Moves the table into a new dict: 0, or -1 with an exception. */
static int small_map_to_dict(SmallMap *map)
{
    PyObject *dict = PyDict_New();
    int i;
    if (dict == NULL)
        return -1;
    for (i = 0; i < map->n; i++) {
        PyObject *key = small_map_tuple(map, map->keys[i]);
        if (key == NULL || PyDict_SetItem(dict, key, map->values[i]) < 0) {
            Py_XDECREF(key);
            Py_DECREF(dict);
            return -1;
        }
        Py_DECREF(key);
    }
    small_map_clear(map);
    map->dict = dict;
    map->owned = 1;
    return 0;
}

/* Whether the table compares the value where it lies. */
static int small_map_comparable(PyObject *value)
{
    return value == Py_None || PyUnicode_CheckExact(value) || PyLong_CheckExact(value);
}

/* a == b for two values the table compares (no Python code runs, nothing fails). */
static int small_map_same(PyObject *a, PyObject *b)
{
    if (a == b)
        return 1;
    if (PyUnicode_CheckExact(a) && PyUnicode_CheckExact(b))
        return same(a, b);
    if (PyLong_CheckExact(a) && PyLong_CheckExact(b))
        return PyObject_RichCompareBool(a, b, Py_EQ) == 1;
    return 0; /* (None and another, a str and an int) */
}

/* The value of ``key`` (borrowed: the map holds it), or NULL: none (*failed 0) or an
 * exception (*failed 1). */
static PyObject *small_map_find(SmallMap *map, PyObject **key, int *failed)
{
    PyObject *tuple, *value;
    int i, j;
    *failed = 0;
    if (map->dict == NULL) {
        for (j = 0; j < map->width && small_map_comparable(key[j]); j++)
            ;
        if (j < map->width && small_map_to_dict(map) < 0) {
            *failed = 1;
            return NULL;
        }
    }
    if (map->dict == NULL) {
        /* (the last values first: a call's keys share their first, its Call-ID) */
        for (i = 0; i < map->n; i++) {
            for (j = map->width - 1; j >= 0 && small_map_same(map->keys[i][j], key[j]); j--)
                ;
            if (j < 0)
                return map->values[i];
        }
        return NULL;
    }
    tuple = small_map_tuple(map, key);
    if (tuple == NULL) {
        *failed = 1;
        return NULL;
    }
    value = PyDict_GetItemWithError(map->dict, tuple);
    Py_DECREF(tuple);
    if (value == NULL && PyErr_Occurred())
        *failed = 1;
    return value;
}

/* Files ``value`` (a reference taken) under ``key``, a key small_map_find() did not find:
 * 0, or -1 with an exception. */
static int small_map_add(SmallMap *map, PyObject **key, PyObject *value)
{
    PyObject *tuple;
    int i, result;
    if (map->dict == NULL && map->n == SMALL_MAP_KEYS && small_map_to_dict(map) < 0)
        return -1;
    if (map->dict == NULL) {
        for (i = 0; i < map->width; i++)
            map->keys[map->n][i] = Py_NewRef(key[i]);
        map->values[map->n++] = Py_NewRef(value);
        return 0;
    }
    tuple = small_map_tuple(map, key);
    if (tuple == NULL)
        return -1;
    result = PyDict_SetItem(map->dict, tuple, value);
    Py_DECREF(tuple);
    return result;
}

/* The tracker's part for one UDP message with a CSeq (calls._walk_py). *resent_of and
 * *setup_ms get new references. */
static int track(SmallMap *tracker, PyObject **c, PyObject **m, PyObject **q, PyObject *code,
                 int is_request, int is_response, PyObject **resent_of, PyObject **setup_ms)
{
    PyObject *key[5], *entry, *compare = NULL;
    int truth, test, failed, result = -1;

    *setup_ms = Py_NewRef(Py_None);
    *resent_of = Py_NewRef(int_0);
    truth = PyObject_IsTrue(m[M_CALL_ID]);
    if (truth < 0)
        goto done;
    key[0] = truth ? m[M_CALL_ID] : text_empty;
    key[1] = c[C_SRC];
    key[2] = c[C_SPORT];
    key[3] = c[C_DST];
    key[4] = c[C_DPORT];
    entry = small_map_find(tracker, key, &failed);
    if (failed)
        goto done;
    if (entry == NULL) {
        entry = PyList_New(E_COUNT);
        if (entry == NULL)
            goto done;
        PyList_SET_ITEM(entry, E_CSEQ, Py_NewRef(q[Q_NUMBER]));
        PyList_SET_ITEM(entry, E_METHOD, Py_NewRef(q[Q_METHOD]));
        PyList_SET_ITEM(entry, E_STATE, Py_NewRef(states[S_NOTHING]));
        PyList_SET_ITEM(entry, E_CODE, Py_NewRef(int_0));
        PyList_SET_ITEM(entry, E_FRAME_AT, Py_NewRef(int_0));
        PyList_SET_ITEM(entry, E_REQUEST_NS, Py_NewRef(is_request ? c[C_TS_NS] : int_0));
        if (small_map_add(tracker, key, entry) < 0) {
            Py_DECREF(entry);
            goto done;
        }
        compare = Py_NewRef(int_0);
    }
    else {
        Py_INCREF(entry);
        if (!PyList_CheckExact(entry) || PyList_GET_SIZE(entry) != E_COUNT) {
            PyErr_SetString(PyExc_TypeError, "a tracker state entry is not a list of 6");
            goto done_entry;
        }
        if (is_request) {
            test = same(q[Q_METHOD], text_ack);
            if (test < 0)
                goto done_entry;
            if (test) {
                Py_SETREF(*setup_ms, milliseconds(c[C_TS_NS], PyList_GET_ITEM(entry, E_REQUEST_NS)));
                if (*setup_ms == NULL)
                    goto done_entry;
            }
        }
        compare = Py_NewRef(PyList_GET_ITEM(entry, E_CSEQ));
        test = PyObject_RichCompareBool(q[Q_NUMBER], compare, Py_NE);
        if (test < 0)
            goto done_entry;
        if (test) {
            put(entry, E_CSEQ, q[Q_NUMBER]);
            put(entry, E_METHOD, q[Q_METHOD]);
            put(entry, E_STATE, states[S_NOTHING]);
            put(entry, E_FRAME_AT, int_0);
            if (is_request)
                put(entry, E_REQUEST_NS, c[C_TS_NS]);
        }
    }
    if (is_request) {
        /* cseq_number == compare and state == _REQUEST and cseq_method == entry's method
         * and cseq_method not in ("ACK", "CANCEL") */
        test = same(q[Q_NUMBER], compare);
        if (test > 0)
            test = same(PyList_GET_ITEM(entry, E_STATE), states[S_REQUEST]);
        if (test > 0)
            test = same(q[Q_METHOD], PyList_GET_ITEM(entry, E_METHOD));
        if (test > 0) {
            test = same(q[Q_METHOD], text_ack);
            if (test == 0)
                test = same(q[Q_METHOD], text_cancel);
            test = test < 0 ? -1 : !test;
        }
        if (test < 0)
            goto done_entry;
        if (test)
            Py_SETREF(*resent_of, Py_NewRef(PyList_GET_ITEM(entry, E_FRAME_AT)));
        put(entry, E_STATE, states[S_REQUEST]);
        truth = PyObject_IsTrue(*resent_of);
        if (truth < 0)
            goto done_entry;
        if (!truth) {
            put(entry, E_FRAME_AT, c[C_FRAME]);
            put(entry, E_REQUEST_NS, c[C_TS_NS]);
        }
    }
    else if (is_response) {
        test = PyObject_RichCompareBool(code, int_200, Py_GE);
        if (test < 0)
            goto done_entry;
        if (test) {
            test = same(q[Q_NUMBER], compare);
            if (test > 0)
                test = same(PyList_GET_ITEM(entry, E_STATE), states[S_FINAL]);
            if (test > 0)
                test = same(q[Q_METHOD], PyList_GET_ITEM(entry, E_METHOD));
            if (test > 0)
                test = same(code, PyList_GET_ITEM(entry, E_CODE));
            if (test < 0)
                goto done_entry;
            if (test)
                Py_SETREF(*resent_of, Py_NewRef(PyList_GET_ITEM(entry, E_FRAME_AT)));
            put(entry, E_CODE, code);
            put(entry, E_STATE, states[S_FINAL]);
            truth = PyObject_IsTrue(*resent_of);
            if (truth < 0)
                goto done_entry;
            if (!truth)
                put(entry, E_FRAME_AT, c[C_FRAME]);
        }
        else
            put(entry, E_STATE, states[S_PROVISIONAL]);
    }
    result = 0;
done_entry:
    Py_DECREF(entry);
done:
    Py_XDECREF(compare);
    if (result < 0) {
        Py_CLEAR(*setup_ms);
        Py_CLEAR(*resent_of);
    }
    return result;
}

/* walk()'s work, the tracker's state in ``tracker`` (per (Call-ID, source address and
 * port, destination address and port)). */
static PyObject *walk_tracked(PyObject *messages, SmallMap *tracker)
{
    PyObject *seq, *found = NULL, *methods = NULL, *statuses = NULL, *acks = NULL;
    PyObject *infos = NULL, *bye = Py_None, *previous_ns, *result = NULL;
    PyObject *c[C_COUNT], *m[M_COUNT], *q[Q_COUNT];
    Py_ssize_t i, n, resent = 0;
    int cancelled = 0, responded = 0, in_order = 1;

    seq = PySequence_Fast(messages, "walk(): messages are not iterable");
    if (seq == NULL)
        return NULL;
    previous_ns = Py_NewRef(minus_1);
    Py_INCREF(bye);
    found = PyDict_New();
    methods = PyDict_Type.tp_new(counter_type, empty_tuple, NULL);
    statuses = PyDict_Type.tp_new(counter_type, empty_tuple, NULL);
    acks = PyList_New(0);
    infos = PyList_New(0);
    if (found == NULL || methods == NULL || statuses == NULL || acks == NULL || infos == NULL)
        goto fail;
    n = PySequence_Fast_GET_SIZE(seq);
    for (i = 0; i < n; i++) {
        PyObject *captured = PySequence_Fast_GET_ITEM(seq, i);
        PyObject *code, *resent_of, *setup_ms;
        int is_request, is_response = 0, test, failed = 0;

        if (slot_read_all(&captured_reader, captured, c) < 0)
            goto fail;
        if (slot_read_all(&message_reader, c[C_MESSAGE], m) < 0) {
            clear_all(c, C_COUNT);
            goto fail;
        }
        q[0] = q[1] = NULL;
        code = int_0;
        test = PyObject_RichCompareBool(c[C_TS_NS], previous_ns, Py_LE);
        if (test < 0)
            goto fail_message;
        if (test)
            in_order = 0;
        Py_SETREF(previous_ns, Py_NewRef(c[C_TS_NS]));
        is_request = m[M_METHOD] != Py_None;
        if (is_request) {
            if (count(methods, m[M_METHOD], int_1) < 0)
                goto fail_message;
            if ((test = same(m[M_METHOD], text_bye)) != 0) {
                if (test > 0 && bye == Py_None)
                    Py_SETREF(bye, Py_NewRef(captured));
            }
            else if ((test = same(m[M_METHOD], text_cancel)) != 0) {
                if (test > 0)
                    cancelled = 1;
            }
            else if ((test = same(m[M_METHOD], text_ack)) != 0) {
                if (test > 0 && PyList_Append(acks, captured) < 0)
                    goto fail_message;
            }
            else if ((test = same(m[M_METHOD], text_info)) != 0) {
                if (test > 0 && m[M_CSEQ] != Py_None && PyList_Append(infos, captured) < 0)
                    goto fail_message;
            }
            if (test < 0)
                goto fail_message;
        }
        else {
            is_response = PyObject_IsTrue(m[M_IS_RESPONSE]);
            if (is_response < 0)
                goto fail_message;
            if (is_response) {
                responded = 1;
                if (m[M_STATUS] != Py_None) {
                    if (count(statuses, m[M_STATUS], int_1) < 0)
                        goto fail_message;
                    code = m[M_STATUS];
                }
            }
        }
        if (m[M_CSEQ] == Py_None)
            goto next;
        test = same(c[C_TRANSPORT], text_udp);
        if (test < 0)
            goto fail_message;
        if (!test)
            goto next;
        if (slot_read_all(&cseq_reader, m[M_CSEQ], q) < 0)
            goto fail_message;
        if (track(tracker, c, m, q, code, is_request, is_response, &resent_of, &setup_ms) < 0)
            goto fail_message;
        test = PyObject_IsTrue(resent_of);
        if (test < 0) {
            failed = 1;
        }
        else if (test || setup_ms != Py_None) {
            PyObject *pair[2] = {resent_of, setup_ms};
            PyObject *marks;
            Py_INCREF(resent_of);
            Py_INCREF(setup_ms);
            marks = tuple_of(marks_type, pair, 2);
            if (marks == NULL || PyDict_SetItem(found, c[C_FRAME], marks) < 0)
                failed = 1;
            Py_XDECREF(marks);
            if (test)
                resent++;
        }
        Py_DECREF(resent_of);
        Py_DECREF(setup_ms);
        if (failed)
            goto fail_message;
    next:
        clear_all(q, Q_COUNT);
        clear_all(m, M_COUNT);
        clear_all(c, C_COUNT);
        continue;
    fail_message:
        clear_all(q, Q_COUNT);
        clear_all(m, M_COUNT);
        clear_all(c, C_COUNT);
        goto fail;
    }
    {
        PyObject *values[10];
        values[0] = found;
        values[1] = PyLong_FromSsize_t(resent);
        values[2] = methods;
        values[3] = statuses;
        values[4] = bye;
        values[5] = PyBool_FromLong(cancelled);
        values[6] = PyBool_FromLong(responded);
        values[7] = acks;
        values[8] = infos;
        values[9] = PyBool_FromLong(in_order);
        if (values[1] == NULL) {
            Py_DECREF(found);
            Py_DECREF(methods);
            Py_DECREF(statuses);
            Py_DECREF(bye);
            Py_DECREF(acks);
            Py_DECREF(infos);
            Py_DECREF(values[5]);
            Py_DECREF(values[6]);
            Py_DECREF(values[9]);
        }
        else
            result = tuple_of(walked_type, values, 10);
    }
    Py_DECREF(previous_ns);
    Py_DECREF(seq);
    return result;
fail:
    Py_XDECREF(found);
    Py_XDECREF(methods);
    Py_XDECREF(statuses);
    Py_XDECREF(acks);
    Py_XDECREF(infos);
    Py_DECREF(bye);
    Py_DECREF(previous_ns);
    Py_DECREF(seq);
    return NULL;
}

static PyObject *walk(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    SmallMap tracker;
    (void)module;
    if (nargs != 2 || !PyDict_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "walk(messages, state: dict)");
        return NULL;
    }
    if (walked_type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "walk() before setup()");
        return NULL;
    }
    small_map_init(&tracker, 5, args[1]); /* (the caller's dict: kept between calls) */
    return walk_tracked(args[0], &tracker);
}


/* -- transactions.group_transactions (its specification: _group_transactions_py) ---------- */

enum { G_CSEQ, G_CALL_ID, G_SENT_BY, G_BRANCH, G_METHOD, G_IS_RESPONSE, G_TO_TAG, G_COUNT };
static const char *const GROUP_CAPTURED_NAMES[1] = {"message"};
static const char *const GROUP_MESSAGE_NAMES[G_COUNT] = {
    "cseq", "call_id", "sent_by", "branch", "request_method", "is_response", "to_tag",
};
static PyObject *g_captured_names[1], *g_message_names[G_COUNT], *g_cseq_names[Q_COUNT];
static Py_ssize_t g_captured_offsets[1], g_message_offsets[G_COUNT], g_cseq_offsets[Q_COUNT];
static SlotReader g_captured_reader = {NULL, 1, g_captured_names, g_captured_offsets};
static SlotReader g_message_reader = {NULL, G_COUNT, g_message_names, g_message_offsets};
static SlotReader g_cseq_reader = {NULL, Q_COUNT, g_cseq_names, g_cseq_offsets};
/* What group() makes and calls (setup_group()). */
static PyObject *rfc2543_key, *answered_2xx;
/* A Transaction's slots, in the order of its fields: made as its dataclass __init__ makes
 * it (three new lists), their lists appended to in place. */
enum { T_KEY, T_METHOD, T_CSEQ, T_REQUESTS, T_RESPONSES, T_ACKS, T_COUNT };
static const char *const TRANSACTION_NAMES[T_COUNT] = {
    "key", "method", "cseq", "requests", "responses", "acks",
};
static PyObject *t_names[T_COUNT];
static Py_ssize_t t_offsets[T_COUNT];
static SlotReader t_reader = {NULL, T_COUNT, t_names, t_offsets};
static PyTypeObject *key_type;
static PyObject *text_invite, *text_branch_magic, *name_lower, *name_upper, *name_startswith;
static PyObject *name_append;

static PyObject *setup_group(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 7 || !PyType_Check(args[3]) || !PyType_Check(args[4]) ||
        !PyType_IsSubtype((PyTypeObject *)args[4], &PyTuple_Type) ||
        !PyCallable_Check(args[5]) || !PyCallable_Check(args[6])) {
        PyErr_SetString(PyExc_TypeError,
                        "setup_group(captured_class, message_class, cseq_class, "
                        "transaction_class, key_class, rfc2543_key, answered_2xx)");
        return NULL;
    }
    if (text_invite == NULL) {
        static const char *const texts[6] = {
            "INVITE", "z9hG4bK", "lower", "upper", "startswith", "append",
        };
        PyObject **slots[6] = {&text_invite, &text_branch_magic, &name_lower,
                               &name_upper, &name_startswith, &name_append};
        int i;
        for (i = 0; i < 6; i++) {
            *slots[i] = PyUnicode_InternFromString(texts[i]);
            if (*slots[i] == NULL)
                return NULL;
        }
    }
    if (text_ack == NULL) {
        text_ack = PyUnicode_InternFromString("ACK");
        if (text_ack == NULL)
            return NULL;
    }
    if (slot_reader_setup(&g_captured_reader, args[0], GROUP_CAPTURED_NAMES) < 0 ||
        slot_reader_setup(&g_message_reader, args[1], GROUP_MESSAGE_NAMES) < 0 ||
        slot_reader_setup(&g_cseq_reader, args[2], CSEQ_NAMES) < 0 ||
        slot_reader_setup(&t_reader, args[3], TRANSACTION_NAMES) < 0)
        return NULL;
    Py_INCREF(args[4]);
    Py_XSETREF(key_type, (PyTypeObject *)args[4]);
    Py_INCREF(args[5]);
    Py_XSETREF(rfc2543_key, args[5]);
    Py_INCREF(args[6]);
    Py_XSETREF(answered_2xx, args[6]);
    Py_RETURN_NONE;
}

/* text.lower() (upper: text.upper()): the text itself when it is an exact ASCII str with
 * nothing to change (equal to what the method returns), else what the method returns. */
static PyObject *cased(PyObject *text, int upper)
{
    if (PyUnicode_CheckExact(text) && PyUnicode_IS_ASCII(text)) {
        const Py_UCS1 *s = PyUnicode_1BYTE_DATA(text);
        Py_ssize_t i, n = PyUnicode_GET_LENGTH(text);
        char lo = upper ? 'a' : 'A', hi = upper ? 'z' : 'Z';
        for (i = 0; i < n; i++)
            if (s[i] >= lo && s[i] <= hi)
                break;
        if (i == n)
            return Py_NewRef(text);
    }
    return PyObject_CallMethodNoArgs(text, upper ? name_upper : name_lower);
}

/* f"{branch}|{sent}": built at once for two exact str, else formatted. */
static PyObject *joined(PyObject *branch, PyObject *sent)
{
    Py_ssize_t a, b;
    Py_UCS4 widest;
    PyObject *text;
    if (!PyUnicode_CheckExact(branch) || !PyUnicode_CheckExact(sent))
        return PyUnicode_FromFormat("%S|%S", branch, sent);
    a = PyUnicode_GET_LENGTH(branch);
    b = PyUnicode_GET_LENGTH(sent);
    widest = PyUnicode_MAX_CHAR_VALUE(branch);
    if (PyUnicode_MAX_CHAR_VALUE(sent) > widest)
        widest = PyUnicode_MAX_CHAR_VALUE(sent);
    text = PyUnicode_New(a + 1 + b, widest);
    if (text == NULL)
        return NULL;
    if (PyUnicode_CopyCharacters(text, 0, branch, 0, a) < 0 ||
        PyUnicode_WriteChar(text, a, '|') < 0 ||
        PyUnicode_CopyCharacters(text, a + 1, sent, 0, b) < 0) {
        Py_DECREF(text);
        return NULL;
    }
    return text;
}

/* A new object of reader's class made as its dataclass __init__ makes it, its slots in
 * order: the given values (new references taken), then new empty lists, then None. */
static PyObject *new_made(const SlotReader *reader, PyObject **given, int n_given, int n_lists)
{
    PyTypeObject *type = reader->type;
    PyObject *made = type->tp_alloc(type, 0);
    int i;
    if (made == NULL)
        return NULL;
    for (i = 0; i < reader->count; i++) {
        PyObject *value = i < n_given                ? Py_NewRef(given[i])
                          : i < n_given + n_lists ? PyList_New(0)
                                                   : Py_NewRef(Py_None);
        if (value == NULL) {
            Py_DECREF(made);
            return NULL;
        }
        *(PyObject **)((char *)made + reader->offsets[i]) = value;
    }
    return made;
}

/* A new Transaction(key, method, cseq) (its lists empty), or NULL. */
static PyObject *new_transaction(PyObject *key, PyObject *method, PyObject *cseq)
{
    PyObject *given[3] = {key, method, cseq};
    return new_made(&t_reader, given, 3, T_COUNT - 3);
}

/* owner.<name>.append(item), the list read through its slot (owner: a Transaction). */
static int append_to(PyObject *owner, PyObject *name, PyObject *item)
{
    int result, i;
    PyObject *list;
    for (i = T_REQUESTS; i < T_COUNT; i++)
        if (name == t_names[i] && slot_reader_direct(&t_reader, owner)) {
            list = *(PyObject **)((char *)owner + t_offsets[i]);
            if (list != NULL && PyList_CheckExact(list))
                return PyList_Append(list, item);
        }
    list = PyObject_GetAttr(owner, name);
    if (list == NULL)
        return -1;
    if (PyList_CheckExact(list))
        result = PyList_Append(list, item);
    else {
        PyObject *done = PyObject_CallMethodOneArg(list, name_append, item);
        result = done == NULL ? -1 : 0;
        Py_XDECREF(done);
    }
    Py_DECREF(list);
    return result;
}

/* What group() does with one message: 0 done (or passed over), -1 failed. */
static int group_one(PyObject *captured, SmallMap *by_key, PyObject *order)
{
    PyObject *message = NULL, *g[G_COUNT] = {NULL}, *q[Q_COUNT] = {NULL};
    PyObject *branch = NULL, *sent = NULL, *method = NULL, *key[4], *txn;
    int result = -1, is_request, test = 0, failed;

    if (slot_read_all(&g_captured_reader, captured, &message) < 0)
        return -1;
    if (slot_read_all(&g_message_reader, message, g) < 0)
        goto done;
    if (g[G_CSEQ] == Py_None || g[G_CALL_ID] == Py_None) {
        result = 0;
        goto done;
    }
    branch = Py_NewRef(g[G_BRANCH]);
    if (g[G_SENT_BY] != Py_None) {
        test = PyObject_IsTrue(branch);
        if (test > 0) {
            if (PyUnicode_Check(branch))
                test = (int)PyUnicode_Tailmatch(branch, text_branch_magic, 0, PY_SSIZE_T_MAX, -1);
            else {
                PyObject *starts =
                    PyObject_CallMethodOneArg(branch, name_startswith, text_branch_magic);
                test = starts == NULL ? -1 : PyObject_IsTrue(starts);
                Py_XDECREF(starts);
            }
        }
        if (test < 0)
            goto done;
    }
    if (test)
        sent = cased(g[G_SENT_BY], 0);
    else {
        Py_SETREF(branch, PyObject_CallFunctionObjArgs(rfc2543_key, message, g[G_SENT_BY],
                                                       branch, NULL));
        if (branch == NULL)
            goto done;
        sent = Py_NewRef(Py_None);
    }
    if (sent == NULL || slot_read_all(&g_cseq_reader, g[G_CSEQ], q) < 0)
        goto done;
    method = cased(q[Q_METHOD], 1);
    if (method == NULL)
        goto done;
    is_request = g[G_METHOD] != Py_None;
    if (is_request) {
        test = same(method, text_ack);
        if (test < 0)
            goto done;
        if (test) {
            PyObject *invite, *answered, *invite_key[4] = {g[G_CALL_ID], branch, sent, text_invite};
            invite = small_map_find(by_key, invite_key, &failed);
            if (failed)
                goto done;
            if (invite != NULL) {
                Py_INCREF(invite);
                answered = PyObject_CallFunctionObjArgs(answered_2xx, invite, g[G_TO_TAG], NULL);
                test = answered == NULL ? -1 : PyObject_IsTrue(answered);
                Py_XDECREF(answered);
                if (test == 0)
                    test = append_to(invite, t_names[T_ACKS], captured) < 0 ? -1 : 2;
                Py_DECREF(invite);
                if (test < 0)
                    goto done;
                if (test == 2) { /* an ACK to a non-2xx: the INVITE's (17.1.1.3) */
                    result = 0;
                    goto done;
                }
            }
        }
    }
    else {
        test = PyObject_IsTrue(g[G_IS_RESPONSE]);
        if (test <= 0) {
            result = test;
            goto done;
        }
    }
    key[0] = g[G_CALL_ID];
    key[1] = branch;
    key[2] = sent;
    key[3] = method;
    txn = small_map_find(by_key, key, &failed);
    if (failed)
        goto done;
    if (txn != NULL)
        Py_INCREF(txn);
    else {
        PyObject *values[3], *name_key;
        /* A response whose request was not captured still names a transaction. */
        values[1] = sent == Py_None ? Py_NewRef(branch) : joined(branch, sent);
        if (values[1] == NULL)
            goto done;
        values[0] = Py_NewRef(g[G_CALL_ID]);
        values[2] = Py_NewRef(method);
        name_key = tuple_of(key_type, values, 3);
        if (name_key == NULL)
            goto done;
        txn = new_transaction(name_key, method, q[Q_NUMBER]);
        Py_DECREF(name_key);
        if (txn == NULL)
            goto done;
        if (small_map_add(by_key, key, txn) < 0 || PyList_Append(order, txn) < 0) {
            Py_DECREF(txn);
            goto done;
        }
    }
    result = append_to(txn, is_request ? t_names[T_REQUESTS] : t_names[T_RESPONSES], captured);
    Py_DECREF(txn);
done:
    Py_XDECREF(method);
    Py_XDECREF(sent);
    Py_XDECREF(branch);
    clear_all(q, Q_COUNT);
    clear_all(g, G_COUNT);
    Py_XDECREF(message);
    return result;
}

static PyObject *group(PyObject *module, PyObject *messages)
{
    PyObject *seq, *order;
    SmallMap by_key; /* (Call-ID, branch, sent-by or None, method) -> its transaction */
    Py_ssize_t i;
    (void)module;
    if (key_type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "group() before setup_group()");
        return NULL;
    }
    seq = PySequence_Fast(messages, "group(): messages are not iterable");
    if (seq == NULL)
        return NULL;
    small_map_init(&by_key, 4, NULL);
    order = PyList_New(0);
    if (order == NULL)
        goto fail;
    for (i = 0; i < PySequence_Fast_GET_SIZE(seq); i++)
        if (group_one(PySequence_Fast_GET_ITEM(seq, i), &by_key, order) < 0)
            goto fail;
    small_map_clear(&by_key);
    Py_DECREF(seq);
    return order;
fail:
    small_map_clear(&by_key);
    Py_XDECREF(order);
    Py_DECREF(seq);
    return NULL;
}

/* -- dialogs.find_calls (its specification: _find_calls_py) ------------------------------ */

/* A Call's slots, in the order of its fields. */
enum { K_CALL_ID, K_MESSAGES, K_TRANSACTIONS, K_DIALOGS, K_INITIAL, K_CALLER_TAG, K_COUNT };
static const char *const CALL_NAMES[K_COUNT] = {
    "call_id", "messages", "transactions", "_dialogs", "_initial", "_caller_tag",
};
static PyObject *k_names[K_COUNT];
static Py_ssize_t k_offsets[K_COUNT];
static SlotReader k_reader = {NULL, K_COUNT, k_names, k_offsets};

static PyObject *setup_calls(PyObject *module, PyObject *call_class)
{
    (void)module;
    if (slot_reader_setup(&k_reader, call_class, CALL_NAMES) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* A new Call(call_id) (its messages empty, its kept look-ups None), or NULL. Its
 * transactions are None until find_calls() sets group()'s list (no empty list made to be
 * replaced); a call is seen by no one before that. */
static PyObject *new_call(PyObject *call_id)
{
    return new_made(&k_reader, &call_id, 1, 1);
}

/* The message's Call-ID (a new reference), read as group_one() reads them (the classes
 * given to setup_group()). */
static PyObject *call_id_of(PyObject *captured)
{
    PyObject *message, *call_id;
    if (slot_read_all(&g_captured_reader, captured, &message) < 0)
        return NULL;
    call_id = slot_read(&g_message_reader, message, G_CALL_ID);
    Py_DECREF(message);
    return call_id;
}

/* dialogs.Call.initial_invites of a call whose transactions group() just made: the INVITE
 * transactions whose first request has no To tag, in order (a new list), read while the
 * call's messages are fresh in the cache. NULL without an exception declines (nothing is
 * kept: the property finds them when asked): a transaction, captured message or message
 * of another class, or a method or To tag that is not an exact str or None (their truth or
 * == could run Python code). NULL with an exception: no memory. */
static PyObject *initial_invites_of(PyObject *transactions)
{
    PyObject *out = PyList_New(0);
    Py_ssize_t i;
    if (out == NULL)
        return NULL;
    for (i = 0; i < PyList_GET_SIZE(transactions); i++) {
        PyObject *txn = PyList_GET_ITEM(transactions, i);
        PyObject *method = slot_read_borrowed(&t_reader, txn, T_METHOD);
        PyObject *requests = slot_read_borrowed(&t_reader, txn, T_REQUESTS);
        PyObject *message, *to_tag;
        if (method == NULL || !PyUnicode_CheckExact(method) || requests == NULL ||
            !PyList_CheckExact(requests))
            goto decline;
        /* (same() of two exact str runs no Python code) */
        if (!same(method, text_invite) || PyList_GET_SIZE(requests) == 0)
            continue;
        message = slot_read_borrowed(&g_captured_reader, PyList_GET_ITEM(requests, 0), 0);
        to_tag = slot_read_borrowed(&g_message_reader, message, G_TO_TAG);
        if (to_tag == NULL || (to_tag != Py_None && !PyUnicode_CheckExact(to_tag)))
            goto decline;
        if ((to_tag == Py_None || PyUnicode_GET_LENGTH(to_tag) == 0) &&
            PyList_Append(out, txn) < 0) {
            Py_DECREF(out);
            return NULL;
        }
    }
    return out;
decline:
    Py_DECREF(out);
    return NULL;
}

static PyObject *find_calls(PyObject *module, PyObject *messages)
{
    PyObject *seq, *calls = NULL, *found = NULL, *call, *transactions, *initial;
    Py_ssize_t i, n;
    (void)module;
    if (k_reader.type == NULL || key_type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "find_calls() before setup_calls() and setup_group()");
        return NULL;
    }
    seq = PySequence_Fast(messages, "find_calls(): messages are not iterable");
    if (seq == NULL)
        return NULL;
    calls = PyDict_New();
    if (calls == NULL)
        goto done;
    for (i = 0; i < PySequence_Fast_GET_SIZE(seq); i++) {
        PyObject *captured = PySequence_Fast_GET_ITEM(seq, i), *call_id, *list;
        int failed;
        call_id = call_id_of(captured);
        if (call_id == NULL)
            goto done;
        if (call_id == Py_None) {
            Py_DECREF(call_id);
            continue;
        }
        call = PyDict_GetItemWithError(calls, call_id);
        if (call != NULL)
            Py_INCREF(call);
        else if (PyErr_Occurred() || (call = new_call(call_id)) == NULL ||
                 PyDict_SetItem(calls, call_id, call) < 0) {
            Py_XDECREF(call);
            Py_DECREF(call_id);
            goto done;
        }
        Py_DECREF(call_id);
        list = *(PyObject **)((char *)call + k_offsets[K_MESSAGES]);
        failed = PyList_Append(list, captured) < 0;
        Py_DECREF(call);
        if (failed)
            goto done;
    }
    found = PyDict_Values(calls);
    if (found == NULL)
        goto done;
    n = PyList_GET_SIZE(found);
    for (i = 0; i < n; i++) {
        call = PyList_GET_ITEM(found, i);
        transactions = group(NULL, *(PyObject **)((char *)call + k_offsets[K_MESSAGES]));
        if (transactions == NULL) {
            Py_CLEAR(found);
            goto done;
        }
        Py_SETREF(*(PyObject **)((char *)call + k_offsets[K_TRANSACTIONS]), transactions);
        /* Its initial INVITEs, kept as the property keeps them (the call list, the dialogs
         * and the diagnosis ask for them): (transactions, their count, found). */
        initial = initial_invites_of(transactions);
        if (initial != NULL) {
            PyObject *count = PyLong_FromSsize_t(PyList_GET_SIZE(transactions)), *pair = NULL;
            if (count != NULL)
                pair = PyTuple_Pack(3, transactions, count, initial);
            Py_XDECREF(count);
            Py_DECREF(initial);
            if (pair == NULL) {
                Py_CLEAR(found);
                goto done;
            }
            Py_SETREF(*(PyObject **)((char *)call + k_offsets[K_INITIAL]), pair);
        }
        else if (PyErr_Occurred()) {
            Py_CLEAR(found);
            goto done;
        }
    }
done:
    Py_XDECREF(calls);
    Py_DECREF(seq);
    return found;
}

/* -- calls._sdp_exchanges (its specification: _sdp_exchanges_py) --------------------------- */

/* What it reads of an announcement (_sdp_exchanges_py's reads, by name). */
enum { A_FRAME, A_TS_NS, A_SIDE, A_ROLE, A_SIP, A_CSEQ, A_MEDIA_INDEX, A_MEDIA, A_ADDRESS,
       A_PORT, A_DIRECTION, A_ON_HOLD, A_CODECS, A_PAYLOAD_TYPES, A_COUNT };
static const char *const ANN_NAMES[A_COUNT] = {
    "frame", "ts_ns", "side", "role", "sip_summary", "cseq", "media_index", "media", "address",
    "port", "direction", "on_hold", "codecs", "payload_types",
};
static PyObject *ann_names[A_COUNT];
static Py_ssize_t ann_index[A_COUNT], ann_size; /* each field's place in the named tuple */
static PyTypeObject *ann_type, *exchange_type;
static PyObject *codec_names; /* calls._codec_names */

static PyObject *setup_sdp(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *fields;
    Py_ssize_t i, j, index[A_COUNT];
    (void)module;
    if (nargs != 3 || !PyType_Check(args[0]) ||
        !PyType_IsSubtype((PyTypeObject *)args[0], &PyTuple_Type) || !PyType_Check(args[1]) ||
        !PyType_IsSubtype((PyTypeObject *)args[1], &PyTuple_Type) || !PyCallable_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError,
                        "setup_sdp(announcement_class, exchange_class, codec_names)");
        return NULL;
    }
    fields = PyObject_GetAttrString(args[0], "_fields");
    if (fields == NULL)
        return NULL;
    if (!PyTuple_Check(fields)) {
        Py_DECREF(fields);
        PyErr_SetString(PyExc_TypeError, "setup_sdp(): the announcement class has no _fields");
        return NULL;
    }
    /* Every field's place first: a refused class leaves the last setup as it was. */
    for (i = 0; i < A_COUNT; i++) {
        if (ann_names[i] == NULL) {
            ann_names[i] = PyUnicode_InternFromString(ANN_NAMES[i]);
            if (ann_names[i] == NULL) {
                Py_DECREF(fields);
                return NULL;
            }
        }
        for (j = 0; j < PyTuple_GET_SIZE(fields); j++)
            if (PyUnicode_Check(PyTuple_GET_ITEM(fields, j)) &&
                PyUnicode_Compare(PyTuple_GET_ITEM(fields, j), ann_names[i]) == 0)
                break;
        if (j == PyTuple_GET_SIZE(fields)) {
            Py_DECREF(fields);
            PyErr_Format(PyExc_TypeError, "setup_sdp(): no field %R", ann_names[i]);
            return NULL;
        }
        index[i] = j;
    }
    for (i = 0; i < A_COUNT; i++)
        ann_index[i] = index[i];
    ann_size = PyTuple_GET_SIZE(fields);
    Py_DECREF(fields);
    Py_INCREF(args[0]);
    Py_XSETREF(ann_type, (PyTypeObject *)args[0]);
    Py_INCREF(args[1]);
    Py_XSETREF(exchange_type, (PyTypeObject *)args[1]);
    Py_INCREF(args[2]);
    Py_XSETREF(codec_names, args[2]);
    Py_RETURN_NONE;
}

/* The fields of an announcement (new references): by place in an announcement of exactly
 * the class given to setup_sdp() and of its size, else through getattr. */
static int read_announcement(PyObject *ann, PyObject **v)
{
    int i;
    if (Py_TYPE(ann) == ann_type && PyTuple_GET_SIZE(ann) == ann_size) {
        for (i = 0; i < A_COUNT; i++)
            v[i] = Py_NewRef(PyTuple_GET_ITEM(ann, ann_index[i]));
        return 0;
    }
    for (i = 0; i < A_COUNT; i++) {
        v[i] = PyObject_GetAttr(ann, ann_names[i]);
        if (v[i] == NULL) {
            while (--i >= 0)
                Py_CLEAR(v[i]);
            return -1;
        }
    }
    return 0;
}

/* What _sdp_exchanges_py does with one announcement: 0 done, -1 failed. */
static int exchange_one(PyObject *ann, PyObject *names, PyObject *seen, PyObject *sdp,
                        PyObject *endpoints)
{
    PyObject *v[A_COUNT], *names_key = NULL, *codecs = NULL, *key = NULL, *id;
    int result = -1, test;
    Py_ssize_t size;
    if (read_announcement(ann, v) < 0)
        return -1;
    test = PyObject_IsTrue(v[A_ADDRESS]);
    if (test > 0)
        test = PyObject_IsTrue(v[A_PORT]);
    if (test < 0)
        goto done;
    if (test) { /* endpoints.setdefault((address, port), ts_ns) */
        PyObject *end = PyTuple_Pack(2, v[A_ADDRESS], v[A_PORT]);
        if (end == NULL)
            goto done;
        test = PyDict_SetDefault(endpoints, end, v[A_TS_NS]) == NULL ? -1 : 0;
        Py_DECREF(end);
        if (test < 0)
            goto done;
    }
    id = PyLong_FromVoidPtr(v[A_CODECS]); /* id(known) */
    if (id == NULL)
        goto done;
    names_key = PyTuple_Pack(2, id, v[A_PAYLOAD_TYPES]);
    Py_DECREF(id);
    if (names_key == NULL)
        goto done;
    codecs = PyDict_GetItemWithError(names, names_key);
    if (codecs != NULL)
        Py_INCREF(codecs);
    else {
        if (PyErr_Occurred())
            goto done;
        codecs = PyObject_CallFunctionObjArgs(codec_names, v[A_CODECS], v[A_PAYLOAD_TYPES], NULL);
        if (codecs == NULL || PyDict_SetItem(names, names_key, codecs) < 0)
            goto done;
    }
    key = PyTuple_Pack(7, v[A_SIDE], v[A_ROLE], v[A_CSEQ], v[A_MEDIA_INDEX], v[A_ADDRESS],
                       v[A_PORT], codecs);
    if (key == NULL)
        goto done;
    size = PySet_GET_SIZE(seen); /* (one hash of the key: added, or already there) */
    if (PySet_Add(seen, key) < 0)
        goto done;
    if (PySet_GET_SIZE(seen) == size) { /* a proxy's copy: listed once */
        result = 0;
        goto done;
    }
    {
        PyObject *fields[11] = {v[A_FRAME], v[A_TS_NS], v[A_SIDE], v[A_ROLE], v[A_SIP],
                                v[A_MEDIA], v[A_ADDRESS], v[A_PORT], v[A_DIRECTION], codecs,
                                v[A_ON_HOLD]};
        PyObject *exchange;
        int i;
        for (i = 0; i < 11; i++)
            Py_INCREF(fields[i]);
        exchange = tuple_of(exchange_type, fields, 11);
        if (exchange == NULL)
            goto done;
        result = PyList_Append(sdp, exchange);
        Py_DECREF(exchange);
    }
done:
    Py_XDECREF(key);
    Py_XDECREF(codecs);
    Py_XDECREF(names_key);
    clear_all(v, A_COUNT);
    return result;
}

static PyObject *sdp_exchanges(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *seq, *seen = NULL, *sdp = NULL, *endpoints = NULL, *result = NULL;
    Py_ssize_t i;
    (void)module;
    if (nargs != 2 || !PyDict_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "sdp_exchanges(announcements, names: dict)");
        return NULL;
    }
    if (exchange_type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "sdp_exchanges() before setup_sdp()");
        return NULL;
    }
    seq = PySequence_Fast(args[0], "sdp_exchanges(): announcements are not iterable");
    if (seq == NULL)
        return NULL;
    seen = PySet_New(NULL);
    sdp = PyList_New(0);
    endpoints = PyDict_New();
    if (seen == NULL || sdp == NULL || endpoints == NULL)
        goto done;
    for (i = 0; i < PySequence_Fast_GET_SIZE(seq); i++)
        if (exchange_one(PySequence_Fast_GET_ITEM(seq, i), args[1], seen, sdp, endpoints) < 0)
            goto done;
    result = PyTuple_Pack(2, sdp, endpoints);
done:
    Py_XDECREF(seen);
    Py_XDECREF(sdp);
    Py_XDECREF(endpoints);
    Py_DECREF(seq);
    return result;
}

/* -- calls._mention_link_headers' probe (its specification: _LINK_PROBE searched in each
 * text, calls._probe_py) -------------------------------------------------------------- */

/* Whether the len bytes at s, compared ASCII-case-insensitively, are the lower-case name. */
static int names_at(const unsigned char *s, Py_ssize_t len, const char *name, Py_ssize_t n)
{
    Py_ssize_t i;
    if (len < n)
        return 0;
    for (i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c + ('a' - 'A'));
        if (c != (unsigned char)name[i])
            return 0;
    }
    return 1;
}

/* Whether the bytes hold "-call-id" or "-charging-vector" in any ASCII case (what the
 * bytes pattern (?i)-(?:call-id|charging-vector) finds): each '-' found by memchr, the
 * bytes after it compared. */
static int mentions(const unsigned char *s, Py_ssize_t len)
{
    const unsigned char *end = s + len, *at = s;
    while (at < end && (at = memchr(at, '-', (size_t)(end - at))) != NULL) {
        at++;
        if (names_at(at, end - at, "call-id", 7) || names_at(at, end - at, "charging-vector", 15))
            return 1;
    }
    return 0;
}

/* Whether the bytes-like text mentions a name (1, 0), or -1 with TypeError for a str (as
 * the bytes pattern refuses one) or what holds no buffer. */
static int text_mentions(PyObject *text)
{
    Py_buffer view;
    int found;
    if (PyBytes_CheckExact(text))
        return mentions((const unsigned char *)PyBytes_AS_STRING(text), PyBytes_GET_SIZE(text));
    if (PyUnicode_Check(text) || PyObject_GetBuffer(text, &view, PyBUF_SIMPLE) < 0) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "cannot search a str with a bytes probe");
        return -1;
    }
    found = mentions((const unsigned char *)view.buf, view.len);
    PyBuffer_Release(&view);
    return found;
}

static PyObject *mention_link_headers(PyObject *module, PyObject *texts)
{
    PyObject *seq;
    Py_ssize_t i;
    int found = 0;
    (void)module;
    seq = PySequence_Fast(texts, "mention_link_headers(): texts are not iterable");
    if (seq == NULL)
        return NULL;
    for (i = 0; i < PySequence_Fast_GET_SIZE(seq) && found == 0; i++)
        found = text_mentions(PySequence_Fast_GET_ITEM(seq, i));
    Py_DECREF(seq);
    return found < 0 ? NULL : PyBool_FromLong(found);
}

/* -- calls._mention_link_headers (its specification: _mention_link_headers_py, the probe
 * of each captured message's bytes) and calls._frames_rise (_frames_rise_py): what
 * summarize_calls asks of the capture's messages, each read where it lies ---------------- */

/* (the captured message's "message" and "frame" read by captured_reader, walk()'s) */
static const char *const PROBE_MESSAGE_NAMES[1] = {"raw"};
static PyObject *p_message_names[1];
static Py_ssize_t p_message_offsets[1];
static SlotReader p_message_reader = {NULL, 1, p_message_names, p_message_offsets};

static PyObject *setup_probe(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "setup_probe(captured_class, message_class)");
        return NULL;
    }
    if (slot_reader_setup(&captured_reader, args[0], CAPTURED_NAMES) < 0 ||
        slot_reader_setup(&p_message_reader, args[1], PROBE_MESSAGE_NAMES) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* messages_mention_link_headers(messages) -> bool: whether any captured message's bytes
 * (``.message.raw``) mention a name; the classes given to setup_probe() read where their
 * slots lie, any other by name. */
static PyObject *messages_mention_link_headers(PyObject *module, PyObject *messages)
{
    PyObject *seq;
    Py_ssize_t i;
    int found = 0;
    (void)module;
    if (p_message_reader.type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "messages_mention_link_headers() before setup_probe()");
        return NULL;
    }
    seq = PySequence_Fast(messages, "messages_mention_link_headers(): messages are not iterable");
    if (seq == NULL)
        return NULL;
    for (i = 0; i < PySequence_Fast_GET_SIZE(seq) && found == 0; i++) {
        PyObject *captured = PySequence_Fast_GET_ITEM(seq, i);
        PyObject *raw = slot_read_borrowed(
            &p_message_reader, slot_read_borrowed(&captured_reader, captured, C_MESSAGE), 0);
        if (raw != NULL) /* (held by its message, which the list holds: no code runs) */
            found = text_mentions(raw);
        else {
            PyObject *message = PyObject_GetAttr(captured, captured_names[C_MESSAGE]);
            if (message == NULL)
                found = -1;
            else {
                raw = PyObject_GetAttr(message, p_message_names[0]);
                Py_DECREF(message);
                found = raw == NULL ? -1 : text_mentions(raw);
                Py_XDECREF(raw);
            }
        }
    }
    Py_DECREF(seq);
    return found < 0 ? NULL : PyBool_FromLong(found);
}

/* frames_rise(messages) -> bool: whether every message's frame is an int above the one
 * before (so no two share a frame); False when not known so (a frame that is not an exact
 * int: the caller counts them). The class given to setup_probe() is read where its slot
 * lies, any other by name. */
static PyObject *frames_rise(PyObject *module, PyObject *messages)
{
    PyObject *seq, *previous = NULL;
    Py_ssize_t i;
    int rise = 1;
    (void)module;
    if (p_message_reader.type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "frames_rise() before setup_probe()");
        return NULL;
    }
    seq = PySequence_Fast(messages, "frames_rise(): messages are not iterable");
    if (seq == NULL)
        return NULL;
    for (i = 0; i < PySequence_Fast_GET_SIZE(seq); i++) {
        PyObject *captured = PySequence_Fast_GET_ITEM(seq, i);
        PyObject *frame = slot_read_borrowed(&captured_reader, captured, C_FRAME);
        if (frame != NULL)
            Py_INCREF(frame);
        else if ((frame = PyObject_GetAttr(captured, captured_names[C_FRAME])) == NULL) {
            Py_XDECREF(previous);
            Py_DECREF(seq);
            return NULL;
        }
        /* (two exact ints compared: no Python code runs, nothing fails) */
        if (rise && (!PyLong_CheckExact(frame) ||
                     (previous != NULL && PyObject_RichCompareBool(previous, frame, Py_LT) != 1)))
            rise = 0;
        Py_XSETREF(previous, frame);
    }
    Py_XDECREF(previous);
    Py_DECREF(seq);
    return PyBool_FromLong(rise);
}

/* -- calls._summarize for the usual call (its specification: _summarize) ------------------ */

/* summarize_one() builds the CallSummary of a call of one leg whose messages are in time
 * order, with initial INVITE(s) sent from one client: what _summarize builds for it (marks
 * found call by call: summarize_calls gives no capture-wide marks). Any other call, and any
 * value a parse never gives (a time or a status code that is not an int, a method that is
 * not a text), is declined: None, and _summarize does it. */
enum { R_METHOD, R_STATUS, R_FROM_TAG, R_REASON, R_FROM, R_TO, R_COUNT };
static const char *const SUMMARY_MESSAGE_NAMES[R_COUNT] = {
    "request_method", "status_code", "from_tag", "reason", "_from", "_to",
};
static PyObject *r_names[R_COUNT];
static Py_ssize_t r_offsets[R_COUNT];
static SlotReader r_reader = {NULL, R_COUNT, r_names, r_offsets};
/* The CallState members _summarize gives a call of an INVITE (setup_summary()'s order). */
enum { CS_RINGING, CS_IN_PROGRESS, CS_NO_RESPONSE, CS_ANSWERED, CS_ACK_MISSING, CS_CANCELLED,
       CS_BUSY, CS_REDIRECTED, CS_FAILED, CS_COUNT };
static PyObject *call_states[CS_COUNT];
static PyObject *info_digits, *endpoint_text;
/* A CallSummary's fields, in order: made as its dataclass __init__ makes it (the given
 * values, then a new list for ``streams``). */
#define SUMMARY_FIELDS 28
static const char *const SUMMARY_NAMES[SUMMARY_FIELDS] = {
    "index", "legs", "kind", "from_uri", "to_uri", "from_tag", "caller", "callee", "start_ns",
    "ring_ns", "answer_ns", "end_ns", "last_ns", "final_status", "final_reason", "state",
    "ended_by", "uas", "bye_source", "messages", "methods", "statuses", "resent", "marks",
    "sdp", "media_endpoints", "dtmf", "streams",
};
static PyObject *s_names[SUMMARY_FIELDS];
static Py_ssize_t s_offsets[SUMMARY_FIELDS];
static SlotReader s_reader = {NULL, SUMMARY_FIELDS, s_names, s_offsets};
static PyObject *name_initial_invites, *name_from_uri_text, *name_to_uri_text, *text_caller;
static PyObject *text_callee, *text_invite_kind;

static PyObject *setup_summary(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    int i;
    (void)module;
    if (nargs != 6 || !PyType_Check(args[0]) || !PyTuple_Check(args[1]) ||
        !PyTuple_Check(args[3]) || PyTuple_GET_SIZE(args[3]) != CS_COUNT ||
        !PyCallable_Check(args[4]) || !PyCallable_Check(args[5])) {
        PyErr_SetString(PyExc_TypeError,
                        "setup_summary(summary_class, field_names, message_class, states: "
                        "9-tuple, info_digits, endpoint)");
        return NULL;
    }
    /* The class's fields are the ones made here, in this order, none other. */
    if (PyTuple_GET_SIZE(args[1]) != SUMMARY_FIELDS) {
        PyErr_SetString(PyExc_TypeError, "setup_summary(): other CallSummary fields");
        return NULL;
    }
    for (i = 0; i < SUMMARY_FIELDS; i++) {
        PyObject *name = PyTuple_GET_ITEM(args[1], i);
        if (!PyUnicode_Check(name) || PyUnicode_CompareWithASCIIString(name, SUMMARY_NAMES[i])) {
            PyErr_SetString(PyExc_TypeError, "setup_summary(): other CallSummary fields");
            return NULL;
        }
    }
    /* (each made once: one that failed is made on the next setup, none made twice) */
    if (name_initial_invites == NULL)
        name_initial_invites = PyUnicode_InternFromString("initial_invites");
    if (name_from_uri_text == NULL)
        name_from_uri_text = PyUnicode_InternFromString("from_uri_text");
    if (name_to_uri_text == NULL)
        name_to_uri_text = PyUnicode_InternFromString("to_uri_text");
    if (text_callee == NULL)
        text_callee = PyUnicode_InternFromString("callee");
    if (text_invite_kind == NULL)
        text_invite_kind = PyUnicode_InternFromString("INVITE");
    if (text_caller == NULL)
        text_caller = PyUnicode_InternFromString("caller");
    if (name_initial_invites == NULL || name_from_uri_text == NULL || name_to_uri_text == NULL ||
        text_callee == NULL || text_invite_kind == NULL || text_caller == NULL)
        return NULL;
    if (slot_reader_setup(&r_reader, args[2], SUMMARY_MESSAGE_NAMES) < 0 ||
        slot_reader_setup(&s_reader, args[0], SUMMARY_NAMES) < 0)
        return NULL;
    for (i = 0; i < CS_COUNT; i++) {
        PyObject *state = PyTuple_GET_ITEM(args[3], i);
        Py_INCREF(state);
        Py_XSETREF(call_states[i], state);
    }
    Py_INCREF(args[4]);
    Py_XSETREF(info_digits, args[4]);
    Py_INCREF(args[5]);
    Py_XSETREF(endpoint_text, args[5]);
    Py_RETURN_NONE;
}

/* transactions.endpoint(address, port) (a new reference): formatted here for a str and an
 * int, else the Python function. */
static PyObject *endpoint_of(PyObject *address, PyObject *port)
{
    PyObject *text = endpoint_exact_text(address, port);
    if (text != NULL || PyErr_Occurred())
        return text;
    return PyObject_CallFunctionObjArgs(endpoint_text, address, port, NULL);
}

static int name_addr_cut(const Py_UCS1 *s, Py_ssize_t n, Py_ssize_t *start, Py_ssize_t *end);

/* The head message's from_uri_text (slot R_FROM) or to_uri_text (R_TO), a new reference:
 * message._address_uri_text cut here for the header line kept when name_addr_uri() cuts its
 * value (partitioned at the first ':' and stripped), else the property. */
static PyObject *address_uri_of(PyObject *message, int slot, PyObject *property)
{
    PyObject *line = slot_read(&r_reader, message, slot);
    if (line == NULL)
        return NULL;
    if (PyUnicode_CheckExact(line) && PyUnicode_IS_ASCII(line)) {
        const Py_UCS1 *s = PyUnicode_1BYTE_DATA(line);
        Py_ssize_t n = PyUnicode_GET_LENGTH(line), i, j, start, end;
        const Py_UCS1 *colon = memchr(s, ':', (size_t)n);
        if (colon != NULL) {
            for (i = colon - s + 1; i < n && Py_UNICODE_ISSPACE(s[i]); i++)
                ;
            for (j = n; j > i && Py_UNICODE_ISSPACE(s[j - 1]); j--)
                ;
            if (name_addr_cut(s + i, j - i, &start, &end)) {
                PyObject *uri = PyUnicode_Substring(line, i + start, i + end);
                Py_DECREF(line);
                return uri;
            }
        }
    }
    Py_DECREF(line);
    return PyObject_GetAttr(message, property);
}

/* source(captured) (from 1) or destination(captured) (from 0), a new reference. */
static PyObject *end_of(PyObject *captured, int from)
{
    PyObject *address, *port, *text;
    address = slot_read(&captured_reader, captured, from ? C_SRC : C_DST);
    if (address == NULL)
        return NULL;
    port = slot_read(&captured_reader, captured, from ? C_SPORT : C_DPORT);
    if (port == NULL) {
        Py_DECREF(address);
        return NULL;
    }
    text = endpoint_of(address, port);
    Py_DECREF(address);
    Py_DECREF(port);
    return text;
}

/* A C integer of an exact int (1), or 0: declined (not an int, or beyond 64 bits); -1 on
 * an error. */
static int exact_ll(PyObject *value, long long *out)
{
    int overflow = 0;
    if (!PyLong_CheckExact(value))
        return 0;
    *out = PyLong_AsLongLongAndOverflow(value, &overflow);
    if (*out == -1 && PyErr_Occurred())
        return -1;
    return overflow ? 0 : 1;
}

/* The captured message's time (1), 0: declined, -1: an error. */
static int time_of(PyObject *captured, long long *ns)
{
    PyObject *value = slot_read(&captured_reader, captured, C_TS_NS);
    int found;
    if (value == NULL)
        return -1;
    found = exact_ll(value, ns);
    Py_DECREF(value);
    return found;
}

/* ``status_code or 0`` of the captured message (1), 0: declined (a status code that is
 * not an int), -1: an error. */
static int code_of(PyObject *captured, long long *code)
{
    PyObject *message, *status;
    int found;
    message = slot_read(&captured_reader, captured, C_MESSAGE);
    if (message == NULL)
        return -1;
    status = slot_read(&r_reader, message, R_STATUS);
    Py_DECREF(message);
    if (status == NULL)
        return -1;
    if (status == Py_None) {
        *code = 0;
        found = 1;
    }
    else
        found = exact_ll(status, code);
    Py_DECREF(status);
    return found;
}

/* The list in slot i of a Transaction (a new reference), NULL with an exception or, when
 * it is not a list, NULL without one (declined). */
static PyObject *txn_list(PyObject *txn, int i)
{
    PyObject *list = slot_read(&t_reader, txn, i);
    if (list != NULL && !PyList_CheckExact(list))
        Py_CLEAR(list);
    return list;
}

/* end_of(captured, from), given as the text of the head's source (texts[0]) or destination
 * (texts[1]) where captured's address and port are the head's: an exact str and an exact
 * int each, equal (the same text; and one text kept for both, not two). */
static PyObject *end_as_head(PyObject *captured, int from, PyObject *head, PyObject **texts)
{
    PyObject *address = slot_read_borrowed(&captured_reader, captured, from ? C_SRC : C_DST);
    PyObject *port = slot_read_borrowed(&captured_reader, captured, from ? C_SPORT : C_DPORT);
    int side;
    if (address != NULL && port != NULL && PyUnicode_CheckExact(address) &&
        PyLong_CheckExact(port))
        for (side = 0; side < 2; side++) {
            PyObject *a = slot_read_borrowed(&captured_reader, head, side ? C_DST : C_SRC);
            PyObject *p = slot_read_borrowed(&captured_reader, head, side ? C_DPORT : C_SPORT);
            /* (exact str and int compared: no Python code runs, nothing fails) */
            if (a != NULL && p != NULL && PyUnicode_CheckExact(a) && PyLong_CheckExact(p) &&
                same(address, a) == 1 && PyObject_RichCompareBool(port, p, Py_EQ) == 1)
                return Py_NewRef(texts[side]);
        }
    return end_of(captured, from);
}

/* Whether (captured's dst, dport) == (address, port) (Python's tuple ==): 1, 0 or -1. */
static int sent_to(PyObject *captured, PyObject *address, PyObject *port)
{
    PyObject *dst, *dport;
    int test;
    dst = slot_read(&captured_reader, captured, C_DST);
    if (dst == NULL)
        return -1;
    test = PyObject_RichCompareBool(dst, address, Py_EQ);
    Py_DECREF(dst);
    if (test <= 0)
        return test;
    dport = slot_read(&captured_reader, captured, C_DPORT);
    if (dport == NULL)
        return -1;
    test = PyObject_RichCompareBool(dport, port, Py_EQ);
    Py_DECREF(dport);
    return test;
}

/* calls._reached(acks, answer, answer_txn): 1, 0 or -1. */
static int reached(PyObject *acks, PyObject *answer, PyObject *answer_txn)
{
    PyObject *ends[4] = {NULL, NULL, NULL, NULL}, *requests, *server;
    Py_ssize_t i;
    int test = -1, server_from;
    requests = txn_list(answer_txn, T_REQUESTS);
    if (requests == NULL)
        return PyErr_Occurred() ? -1 : 0; /* (no list: declined below as not reached) */
    if (PyList_GET_SIZE(requests) > 0) {
        server = PyList_GET_ITEM(requests, 0);
        server_from = 0;
    }
    else {
        PyObject *responses = txn_list(answer_txn, T_RESPONSES);
        Py_DECREF(requests);
        if (responses == NULL || PyList_GET_SIZE(responses) == 0) {
            Py_XDECREF(responses);
            return PyErr_Occurred() ? -1 : 0;
        }
        requests = responses;
        server = PyList_GET_ITEM(responses, 0);
        server_from = 1;
    }
    if ((ends[0] = slot_read(&captured_reader, answer, C_SRC)) == NULL ||
        (ends[1] = slot_read(&captured_reader, answer, C_SPORT)) == NULL ||
        (ends[2] = slot_read(&captured_reader, server, server_from ? C_SRC : C_DST)) == NULL ||
        (ends[3] = slot_read(&captured_reader, server, server_from ? C_SPORT : C_DPORT)) == NULL)
        goto done;
    test = 0;
    for (i = 0; i < PyList_GET_SIZE(acks) && !test; i++) {
        PyObject *ack = PyList_GET_ITEM(acks, i);
        test = sent_to(ack, ends[0], ends[1]);
        if (test == 0)
            test = sent_to(ack, ends[2], ends[3]);
    }
done:
    Py_DECREF(requests);
    clear_all(ends, 4);
    return test;
}

/* The CallState of an INVITE call (_summarize's and _invite_state's rules). */
static PyObject *invite_state(int answered, int has_final, long long final_status, int cancelled,
                              int ack_missing, int hung_up, int rang, int responded_to)
{
    if (!answered && !has_final && !cancelled) {
        if (rang)
            return call_states[CS_RINGING];
        return call_states[responded_to ? CS_IN_PROGRESS : CS_NO_RESPONSE];
    }
    if (answered) {
        if (ack_missing)
            return call_states[CS_ACK_MISSING];
        return call_states[hung_up ? CS_ANSWERED : CS_IN_PROGRESS];
    }
    if (!has_final)
        return call_states[cancelled ? CS_CANCELLED : CS_IN_PROGRESS];
    if (cancelled || final_status == 487)
        return call_states[CS_CANCELLED];
    if (final_status == 486 || final_status == 600)
        return call_states[CS_BUSY];
    if (300 <= final_status && final_status < 400)
        return call_states[CS_REDIRECTED];
    return call_states[CS_FAILED];
}

/* The initial INVITEs a Call keeps (its _initial, as find_calls() or the property kept
 * them: for the list in its transactions, of the length it has), a new reference; NULL (no
 * exception) when none are kept for that list as it is or the call is of another class:
 * the property finds them. */
static PyObject *kept_initial_invites(PyObject *call)
{
    PyObject *kept = slot_read_borrowed(&k_reader, call, K_INITIAL);
    PyObject *transactions = slot_read_borrowed(&k_reader, call, K_TRANSACTIONS), *count;
    if (kept == NULL || !PyTuple_CheckExact(kept) || PyTuple_GET_SIZE(kept) != 3 ||
        transactions == NULL || PyTuple_GET_ITEM(kept, 0) != transactions ||
        !PyList_CheckExact(transactions))
        return NULL;
    count = PyTuple_GET_ITEM(kept, 1);
    /* (an exact int compared: no Python code runs) */
    if (!PyLong_CheckExact(count) || PyLong_AsSsize_t(count) != PyList_GET_SIZE(transactions)) {
        PyErr_Clear(); /* (an int too large: not the length) */
        return NULL;
    }
    return Py_NewRef(PyTuple_GET_ITEM(kept, 2));
}

/* summarize_one(index, legs, announcements, names) -> CallSummary | None. */
static PyObject *summarize_one(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    enum { F_INDEX, F_LEGS, F_KIND, F_FROM_URI, F_TO_URI, F_FROM_TAG, F_CALLER, F_CALLEE,
           F_START, F_RING, F_ANSWER, F_END, F_LAST, F_STATUS, F_REASON, F_STATE, F_ENDED_BY,
           F_UAS, F_BYE_SOURCE, F_MESSAGES, F_METHODS, F_STATUSES, F_RESENT, F_MARKS, F_SDP,
           F_ENDPOINTS, F_DTMF, F_COUNT };
    PyObject *f[F_COUNT] = {NULL};
    PyObject *primary, *messages = NULL, *walked = NULL, *all = NULL;
    PyObject *invites = NULL, *head_message = NULL, *first_answer = NULL, *answer_txn = NULL;
    PyObject *final = NULL, *final_message = NULL, *acks = NULL, *bye, *result = NULL;
    PyObject *method, *head = NULL;
    SmallMap tracker;
    long long ring_ns = 0, answer_ns = 0, ns, code, final_status = 0;
    Py_ssize_t i, j, n_all;
    int rang = 0, responded_to = 0, ack_missing = 0, cancelled, found;
    (void)module;

    if (nargs != 4 || !PyLong_Check(args[0]) || !PyDict_Check(args[3])) {
        PyErr_SetString(PyExc_TypeError, "summarize_one(index, legs, announcements, names)");
        return NULL;
    }
    if (s_reader.type == NULL || walked_type == NULL || t_reader.type == NULL ||
        exchange_type == NULL || k_reader.type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "summarize_one() before its setups");
        return NULL;
    }
    if (!PyList_CheckExact(args[1]) || PyList_GET_SIZE(args[1]) != 1)
        Py_RETURN_NONE;
    /* (owned: walk() and the reads below may run Python code that could drop the list's) */
    primary = Py_NewRef(PyList_GET_ITEM(args[1], 0));
    messages = slot_read(&k_reader, primary, K_MESSAGES);
    if (messages == NULL) {
        Py_DECREF(primary);
        return NULL;
    }
    if (!PyList_CheckExact(messages) || PyList_GET_SIZE(messages) == 0)
        goto decline;
    /* The marks and counts in one walk; declined unless the messages are in time order. */
    /* (the tracker's state, fresh, is read by no one after: a table, see SmallMap) */
    small_map_init(&tracker, 5, NULL);
    walked = walk_tracked(messages, &tracker);
    small_map_clear(&tracker);
    if (walked == NULL)
        goto fail;
    if (PyTuple_GET_ITEM(walked, 9) != Py_True)
        goto decline;
    /* The caller's initial INVITEs: those sent from the first one's client. */
    all = kept_initial_invites(primary);
    if (all == NULL)
        all = PyObject_GetAttr(primary, name_initial_invites);
    if (all == NULL)
        goto fail;
    if (!PyList_CheckExact(all) || PyList_GET_SIZE(all) == 0)
        goto decline;
    n_all = PyList_GET_SIZE(all);
    invites = PyList_New(0);
    if (invites == NULL)
        goto fail;
    if (n_all == 1) { /* (_caller_invites: the usual call, no address compared) */
        if (PyList_Append(invites, PyList_GET_ITEM(all, 0)) < 0)
            goto fail;
    }
    else {
        PyObject *client = NULL;
        /* (items owned while read: a read or == may run Python code that changes `all`,
         * the leg's own cached list) */
        for (i = 0; i < n_all && i < PyList_GET_SIZE(all); i++) {
            PyObject *txn = Py_NewRef(PyList_GET_ITEM(all, i)), *requests, *first, *text;
            int test;
            requests = txn_list(txn, T_REQUESTS);
            if (requests == NULL || PyList_GET_SIZE(requests) == 0) {
                Py_XDECREF(requests);
                Py_XDECREF(client);
                Py_DECREF(txn);
                goto decline_or_fail;
            }
            first = Py_NewRef(PyList_GET_ITEM(requests, 0));
            Py_DECREF(requests);
            text = end_of(first, 1);
            Py_DECREF(first);
            if (text == NULL) {
                Py_XDECREF(client);
                Py_DECREF(txn);
                goto fail;
            }
            if (client == NULL)
                client = Py_NewRef(text);
            test = PyObject_RichCompareBool(text, client, Py_EQ);
            Py_DECREF(text);
            if (test < 0 || (test && PyList_Append(invites, txn) < 0)) {
                Py_DECREF(client);
                Py_DECREF(txn);
                goto fail;
            }
            Py_DECREF(txn);
        }
        Py_XDECREF(client);
    }
    /* The head: the first caller's INVITE request. */
    {
        PyObject *requests = txn_list(PyList_GET_ITEM(invites, 0), T_REQUESTS);
        /* (initial_invites is read from any object: an empty request list declines) */
        if (requests == NULL || PyList_GET_SIZE(requests) == 0) {
            Py_XDECREF(requests);
            goto decline_or_fail;
        }
        head = Py_NewRef(PyList_GET_ITEM(requests, 0));
        Py_DECREF(requests);
        head_message = slot_read(&captured_reader, head, C_MESSAGE);
        if (head_message == NULL ||
            (f[F_CALLER] = end_of(head, 1)) == NULL || (f[F_CALLEE] = end_of(head, 0)) == NULL)
            goto fail;
    }
    method = slot_read(&r_reader, head_message, R_METHOD);
    if (method == NULL)
        goto fail;
    if (!PyUnicode_CheckExact(method) || PyUnicode_GET_LENGTH(method) == 0) {
        Py_DECREF(method);
        goto decline;
    }
    f[F_KIND] = PyObject_CallMethodNoArgs(method, name_upper);
    Py_DECREF(method);
    if (f[F_KIND] == NULL)
        goto fail;
    found = same(f[F_KIND], text_invite_kind);
    if (found < 0)
        goto fail;
    if (!found)
        goto decline;
    f[F_FROM_TAG] = slot_read(&r_reader, head_message, R_FROM_TAG);
    if (f[F_FROM_TAG] == NULL)
        goto fail;
    /* Ring (first 101-199) and answer (first 2xx) among every initial INVITE's responses. */
    for (i = 0; i < n_all && i < PyList_GET_SIZE(all); i++) {
        PyObject *txn = Py_NewRef(PyList_GET_ITEM(all, i));
        PyObject *responses = txn_list(txn, T_RESPONSES);
        if (responses == NULL) {
            Py_DECREF(txn);
            goto decline_or_fail;
        }
        if (PyList_GET_SIZE(responses) > 0)
            responded_to = 1;
        for (j = 0; j < PyList_GET_SIZE(responses); j++) {
            PyObject *response = Py_NewRef(PyList_GET_ITEM(responses, j));
            int got = code_of(response, &code);
            if (got > 0 && ((100 < code && code < 200) || (200 <= code && code < 300)))
                got = time_of(response, &ns);
            if (got <= 0) {
                Py_DECREF(response);
                Py_DECREF(responses);
                Py_DECREF(txn);
                if (got < 0)
                    goto fail;
                goto decline;
            }
            if (100 < code && code < 200) {
                if (!rang || ns < ring_ns) {
                    rang = 1;
                    ring_ns = ns;
                }
            }
            else if (200 <= code && code < 300 && (first_answer == NULL || ns < answer_ns)) {
                Py_XSETREF(first_answer, Py_NewRef(response));
                Py_XSETREF(answer_txn, Py_NewRef(txn));
                answer_ns = ns;
            }
            Py_DECREF(response);
        }
        Py_DECREF(responses);
        Py_DECREF(txn);
    }
    /* The final response of the caller's last INVITE transaction that got one. */
    for (i = 0; i < PyList_GET_SIZE(invites); i++) {
        PyObject *responses = txn_list(PyList_GET_ITEM(invites, i), T_RESPONSES);
        if (responses == NULL)
            goto decline_or_fail;
        for (j = 0; j < PyList_GET_SIZE(responses); j++) {
            PyObject *response = Py_NewRef(PyList_GET_ITEM(responses, j));
            int got = code_of(response, &code);
            if (got <= 0) {
                Py_DECREF(response);
                Py_DECREF(responses);
                if (got < 0)
                    goto fail;
                goto decline;
            }
            if (code >= 200) { /* (an exact int: code_of checked it) */
                Py_XSETREF(final, response);
                final_status = code;
                break;
            }
            Py_DECREF(response);
        }
        Py_DECREF(responses);
    }
    if (final != NULL) {
        final_message = slot_read(&captured_reader, final, C_MESSAGE);
        if (final_message == NULL ||
            (f[F_STATUS] = slot_read(&r_reader, final_message, R_STATUS)) == NULL ||
            (f[F_REASON] = slot_read(&r_reader, final_message, R_REASON)) == NULL)
            goto fail;
    }
    else {
        f[F_STATUS] = Py_NewRef(Py_None);
        f[F_REASON] = Py_NewRef(Py_None);
    }
    bye = PyTuple_GET_ITEM(walked, 4);
    cancelled = PyTuple_GET_ITEM(walked, 5) == Py_True;
    /* The ACKs sent after the first 2xx, and whether one reached its UAS. */
    acks = Py_NewRef(PyTuple_GET_ITEM(walked, 7));
    assert(PyList_CheckExact(acks)); /* (walk() makes it) */
    if (first_answer != NULL) {
        PyObject *after = PyList_New(0);
        if (after == NULL)
            goto fail;
        for (i = 0; i < PyList_GET_SIZE(acks); i++) {
            PyObject *ack = PyList_GET_ITEM(acks, i);
            int got = time_of(ack, &ns);
            if (got <= 0) {
                Py_DECREF(after);
                goto decline_or_fail;
            }
            if (ns >= answer_ns && PyList_Append(after, ack) < 0) {
                Py_DECREF(after);
                goto fail;
            }
        }
        Py_SETREF(acks, after);
        f[F_UAS] = end_as_head(first_answer, 1, head, f + F_CALLER);
        if (f[F_UAS] == NULL)
            goto fail;
        if (PyList_GET_SIZE(acks) == 0)
            ack_missing = 1;
        else {
            found = reached(acks, first_answer, answer_txn);
            if (found < 0)
                goto fail;
            if (!found)
                goto decline; /* (the UAS's later 2xx copies decide: _summarize) */
        }
    }
    else
        f[F_UAS] = Py_NewRef(Py_None);
    if (bye != Py_None) {
        PyObject *bye_message = slot_read(&captured_reader, bye, C_MESSAGE), *tag;
        if (bye_message == NULL)
            goto fail;
        tag = slot_read(&r_reader, bye_message, R_FROM_TAG);
        Py_DECREF(bye_message);
        if (tag == NULL)
            goto fail;
        found = PyObject_RichCompareBool(tag, f[F_FROM_TAG], Py_EQ);
        Py_DECREF(tag);
        if (found < 0)
            goto fail;
        f[F_ENDED_BY] = Py_NewRef(found ? text_caller : text_callee);
        f[F_END] = slot_read(&captured_reader, bye, C_TS_NS);
        f[F_BYE_SOURCE] = end_as_head(bye, 1, head, f + F_CALLER);
        if (f[F_END] == NULL || f[F_BYE_SOURCE] == NULL)
            goto fail;
    }
    else {
        f[F_ENDED_BY] = Py_NewRef(Py_None);
        f[F_BYE_SOURCE] = Py_NewRef(Py_None);
        if (first_answer == NULL && final != NULL)
            f[F_END] = slot_read(&captured_reader, final, C_TS_NS);
        else
            f[F_END] = Py_NewRef(Py_None);
        if (f[F_END] == NULL)
            goto fail;
    }
    f[F_STATE] = Py_NewRef(invite_state(first_answer != NULL, final != NULL, final_status,
                                        cancelled, ack_missing, bye != Py_None, rang,
                                        responded_to));
    f[F_RING] = rang ? PyLong_FromLongLong(ring_ns) : Py_NewRef(Py_None);
    f[F_ANSWER] = first_answer != NULL ? slot_read(&captured_reader, first_answer, C_TS_NS)
                                       : Py_NewRef(Py_None);
    if (f[F_RING] == NULL || f[F_ANSWER] == NULL)
        goto fail;
    /* The SDPs and the INFO digits. */
    found = PyObject_IsTrue(args[2]);
    if (found < 0)
        goto fail;
    if (found) {
        PyObject *pair = sdp_exchanges(NULL, args + 2, 2);
        if (pair == NULL)
            goto fail;
        f[F_SDP] = Py_NewRef(PyTuple_GET_ITEM(pair, 0));
        f[F_ENDPOINTS] = Py_NewRef(PyTuple_GET_ITEM(pair, 1));
        Py_DECREF(pair);
    }
    else {
        f[F_SDP] = PyList_New(0);
        f[F_ENDPOINTS] = PyDict_New();
        if (f[F_SDP] == NULL || f[F_ENDPOINTS] == NULL)
            goto fail;
    }
    assert(PyList_CheckExact(PyTuple_GET_ITEM(walked, 8))); /* (walk() makes it) */
    if (PyList_GET_SIZE(PyTuple_GET_ITEM(walked, 8)) == 0)
        f[F_DTMF] = PyList_New(0);
    else
        f[F_DTMF] = PyObject_CallFunctionObjArgs(info_digits, PyTuple_GET_ITEM(walked, 8),
                                                 f[F_FROM_TAG], NULL);
    if (f[F_DTMF] == NULL)
        goto fail;
    f[F_FROM_URI] = address_uri_of(head_message, R_FROM, name_from_uri_text);
    if (f[F_FROM_URI] == NULL)
        goto fail;
    f[F_TO_URI] = address_uri_of(head_message, R_TO, name_to_uri_text);
    f[F_START] = slot_read(&captured_reader, PyList_GET_ITEM(messages, 0), C_TS_NS);
    f[F_LAST] = slot_read(&captured_reader,
                         PyList_GET_ITEM(messages, PyList_GET_SIZE(messages) - 1), C_TS_NS);
    if (f[F_TO_URI] == NULL || f[F_START] == NULL || f[F_LAST] == NULL)
        goto fail;
    f[F_INDEX] = Py_NewRef(args[0]);
    f[F_LEGS] = Py_NewRef(args[1]);
    f[F_MESSAGES] = Py_NewRef(messages);
    f[F_METHODS] = Py_NewRef(PyTuple_GET_ITEM(walked, 2));
    f[F_STATUSES] = Py_NewRef(PyTuple_GET_ITEM(walked, 3));
    f[F_RESENT] = Py_NewRef(PyTuple_GET_ITEM(walked, 1));
    f[F_MARKS] = Py_NewRef(PyTuple_GET_ITEM(walked, 0));
    result = new_made(&s_reader, f, F_COUNT, 1);
    goto done;
decline_or_fail:
    if (PyErr_Occurred())
        goto fail;
decline:
    result = Py_NewRef(Py_None);
    goto done;
fail:
    result = NULL;
done:
    clear_all(f, F_COUNT);
    Py_DECREF(primary);
    Py_XDECREF(messages);
    Py_XDECREF(walked);
    Py_XDECREF(all);
    Py_XDECREF(invites);
    Py_XDECREF(head);
    Py_XDECREF(head_message);
    Py_XDECREF(first_answer);
    Py_XDECREF(answer_txn);
    Py_XDECREF(final);
    Py_XDECREF(final_message);
    Py_XDECREF(acks);
    return result;
}

/* -- headers.usual_address_uri's usual name-addr, cut here (its specification: the
 * _USUAL_NAME_ADDR match's URI group) --------------------------------------------------- */

/* name_addr_uri(raw) -> str | None: the URI text (with its parameters) of a stripped
 * header value of the usual name-addr shape, ``"display" <sip:user@host:port;p>;params``
 * or ``display <...>...`` in ASCII, what _USUAL_NAME_ADDR's fullmatch cuts as its third
 * group; None where this cut is not sure (any other shape: the regex decides). */
static PyObject *name_addr_uri(PyObject *module, PyObject *raw)
{
    Py_ssize_t start, end;
    (void)module;
    if (!PyUnicode_CheckExact(raw) || !PyUnicode_IS_ASCII(raw))
        Py_RETURN_NONE;
    if (!name_addr_cut(PyUnicode_1BYTE_DATA(raw), PyUnicode_GET_LENGTH(raw), &start, &end))
        Py_RETURN_NONE;
    return PyUnicode_Substring(raw, start, end);
}

/* Where name_addr_uri() cuts the URI of the n ASCII characters at s: 1 and [*start, *end),
 * or 0 where it does not cut. */
static int name_addr_cut(const Py_UCS1 *s, Py_ssize_t n, Py_ssize_t *start, Py_ssize_t *end)
{
    Py_ssize_t i = 0;
    if (n > 0 && s[0] == '"') { /* "([^"\\]*)"[ \t]* */
        for (i = 1; i < n && s[i] != '"'; i++)
            if (s[i] == '\\')
                return 0;
        if (i == n)
            return 0;
        for (i++; i < n && (s[i] == ' ' || s[i] == '\t'); i++)
            ;
    }
    else { /* ([^"<\\]*) */
        for (; i < n && s[i] != '<'; i++)
            if (s[i] == '"' || s[i] == '\\')
                return 0;
    }
    if (i == n || s[i] != '<')
        return 0;
    *start = ++i;
    i = uriscan_usual_uri(s, n, i);
    if (i < 0)
        return 0;
    *end = i;
    return 1;
}

/* -- SipStatistics.add_calls' counts (its specification: calls._count_calls_py) --------- */

enum { U_MESSAGES, U_RESENT, U_STATUSES, U_METHODS, U_MARKS, U_COUNT };
static const char *const COUNT_NAMES[U_COUNT] = {
    "messages", "resent", "statuses", "methods", "marks",
};
static PyObject *u_names[U_COUNT];
static Py_ssize_t u_offsets[U_COUNT];
static SlotReader u_reader = {NULL, U_COUNT, u_names, u_offsets};
static PyObject *items_name, *dict_items_method, *two_32; /* "items", dict.items, 2**32 */

static PyObject *setup_counts(PyObject *module, PyObject *summary_class)
{
    (void)module;
    if (two_32 == NULL) {
        items_name = PyUnicode_InternFromString("items");
        if (items_name == NULL)
            return NULL;
        dict_items_method = _PyType_Lookup(&PyDict_Type, items_name); /* (borrowed) */
        two_32 = PyLong_FromLongLong(1LL << 32);
        if (dict_items_method == NULL || two_32 == NULL)
            return NULL;
    }
    if (slot_reader_setup(&u_reader, summary_class, COUNT_NAMES) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* Adds the (key, count) items of ``counts`` into ``into`` (into[key] = into.get(key, 0) +
 * count): 1; 0 for the Python road (not a dict that iterates and reads its items as dict
 * does, a key not of ``key_type`` exactly, a count not an int exactly: no Python code runs
 * here); -1 on error. */
static int add_counts(PyObject *into, PyObject *counts, PyTypeObject *key_type)
{
    PyObject *key, *amount;
    Py_ssize_t pos = 0;
    if (!PyDict_Check(counts) || _PyType_Lookup(Py_TYPE(counts), items_name) != dict_items_method)
        return 0;
    while (PyDict_Next(counts, &pos, &key, &amount)) {
        if (Py_TYPE(key) != key_type || !PyLong_CheckExact(amount))
            return 0;
        if (count(into, key, amount) < 0)
            return -1;
    }
    return 1;
}

/* The setup times of ``marks`` (an exact dict of (resent_of, setup_ms) tuples) appended to
 * ``setups`` (setup_ms % 2**32 for each true one): 1; 0 for the Python road; -1 on error. */
static int add_setups(PyObject *setups, PyObject *marks)
{
    PyObject *key, *mark;
    Py_ssize_t pos = 0;
    if (!PyDict_CheckExact(marks))
        return 0;
    while (PyDict_Next(marks, &pos, &key, &mark)) {
        PyObject *setup, *kept;
        int ok;
        /* (a tuple, or a named tuple, unpacked as tuples are: two items) */
        if (!PyTuple_Check(mark) || Py_TYPE(mark)->tp_iter != PyTuple_Type.tp_iter ||
            PyTuple_GET_SIZE(mark) != 2)
            return 0;
        setup = PyTuple_GET_ITEM(mark, 1);
        if (setup == Py_None)
            continue;
        if (!PyLong_CheckExact(setup))
            return 0;
        ok = PyObject_IsTrue(setup); /* (an int's: no Python code) */
        if (ok <= 0) {
            if (ok < 0)
                return -1;
            continue;
        }
        kept = PyNumber_Remainder(setup, two_32);
        if (kept == NULL)
            return -1;
        ok = PyList_Append(setups, kept);
        Py_DECREF(kept);
        if (ok < 0)
            return -1;
    }
    return 1;
}

/* count_calls(calls) -> (messages, resent, statuses, methods, setup times) as
 * calls._count_calls_py counts them, or None: the Python road (a value this code does not
 * read itself; an Exception raised here is left to the Python road to raise). */
static PyObject *count_calls(PyObject *module, PyObject *calls)
{
    PyObject *seq, *statuses = NULL, *methods = NULL, *setups = NULL, *out = NULL;
    PyObject *got[U_COUNT] = {NULL};
    long long messages = 0, resent = 0;
    Py_ssize_t i, n;
    int ok = 1;
    (void)module;
    if (u_reader.type == NULL)
        Py_RETURN_NONE;
    seq = PySequence_Fast(calls, "count_calls(): calls are not iterable");
    if (seq == NULL)
        goto done;
    statuses = PyDict_New();
    methods = PyDict_New();
    setups = PyList_New(0);
    if (statuses == NULL || methods == NULL || setups == NULL) {
        ok = -1;
        goto done;
    }
    n = PySequence_Fast_GET_SIZE(seq);
    for (i = 0; i < n && ok == 1; i++) {
        PyObject *call = PySequence_Fast_GET_ITEM(seq, i);
        int overflow = 0;
        long long value;
        /* only a CallSummary (its slots read: no property, no Python code) */
        if (!slot_reader_direct(&u_reader, call)) {
            ok = 0;
            break;
        }
        if (slot_read_all(&u_reader, call, got) < 0) {
            ok = -1;
            break;
        }
        if (!PyList_CheckExact(got[U_MESSAGES]) || !PyLong_CheckExact(got[U_RESENT]))
            ok = 0;
        else {
            messages += PyList_GET_SIZE(got[U_MESSAGES]);
            value = PyLong_AsLongLongAndOverflow(got[U_RESENT], &overflow);
            if (overflow || value > (1LL << 40) || value < -(1LL << 40) ||
                resent > (1LL << 62) || resent < -(1LL << 62))
                ok = 0; /* (a sum that could leave 64 bits: the Python road) */
            else
                resent += value;
        }
        if (ok == 1)
            ok = add_counts(statuses, got[U_STATUSES], &PyLong_Type);
        if (ok == 1)
            ok = add_counts(methods, got[U_METHODS], &PyUnicode_Type);
        if (ok == 1)
            ok = add_setups(setups, got[U_MARKS]);
        clear_all(got, U_COUNT);
    }
    if (ok == 1)
        out = Py_BuildValue("(LLOOO)", messages, resent, statuses, methods, setups);
done:
    Py_XDECREF(seq);
    Py_XDECREF(statuses);
    Py_XDECREF(methods);
    Py_XDECREF(setups);
    if (out != NULL)
        return out;
    /* An Exception is the Python road's to raise, or not; anything else goes on up. */
    if (PyErr_Occurred()) {
        if (!PyErr_ExceptionMatches(PyExc_Exception))
            return NULL;
        PyErr_Clear();
    }
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"setup", (PyCFunction)(void (*)(void))setup, METH_FASTCALL,
     "setup(captured_class, message_class, cseq_class, marks_class, walked_class,\n"
     "counter_class, whole_ms): the classes whose slots walk() reads directly, the named\n"
     "tuples and the Counter it makes, and calls._whole_ms (times beyond 64 bits)."},
    {"walk", (PyCFunction)(void (*)(void))walk, METH_FASTCALL,
     "walk(messages, state) -> _Walked: rtcscope.sip.calls._walk_py's look at the messages,\n"
     "the tracker's state (a dict, updated) kept between calls."},
    {"setup_group", (PyCFunction)(void (*)(void))setup_group, METH_FASTCALL,
     "setup_group(captured_class, message_class, cseq_class, transaction_class, key_class,\n"
     "rfc2543_key, answered_2xx): what group() reads directly, makes and calls."},
    {"group", group, METH_O,
     "group(messages) -> [Transaction]: rtcscope.sip.transactions._group_transactions_py's\n"
     "transactions, in order of first appearance."},
    {"setup_calls", setup_calls, METH_O,
     "setup_calls(call_class): the Call class made and filled through its slots."},
    {"find_calls", find_calls, METH_O,
     "find_calls(messages) -> [Call]: rtcscope.sip.dialogs._find_calls_py's calls, their\n"
     "transactions grouped by group() (setup_group() first)."},
    {"setup_sdp", (PyCFunction)(void (*)(void))setup_sdp, METH_FASTCALL,
     "setup_sdp(announcement_class, exchange_class, codec_names): the named tuple read by\n"
     "place, the one made and calls._codec_names."},
    {"sdp_exchanges", (PyCFunction)(void (*)(void))sdp_exchanges, METH_FASTCALL,
     "sdp_exchanges(announcements, names: dict) -> (sdp, endpoints): what\n"
     "rtcscope.sip.calls._sdp_exchanges_py returns, ``names`` filled as it fills it."},
    {"setup_counts", setup_counts, METH_O,
     "setup_counts(summary_class): the CallSummary whose slots count_calls() reads."},
    {"count_calls", count_calls, METH_O,
     "count_calls(calls) -> (messages, resent, statuses, methods, setup_times) | None:\n"
     "rtcscope.sip.calls._count_calls_py's counts; None for the Python road."},
    {"mention_link_headers", mention_link_headers, METH_O,
     "mention_link_headers(texts) -> bool: whether any of the bytes holds \"-call-id\" or\n"
     "\"-charging-vector\" in any ASCII case (rtcscope.sip.calls._probe_py)."},
    {"setup_probe", (PyCFunction)(void (*)(void))setup_probe, METH_FASTCALL,
     "setup_probe(captured_class, message_class): the classes read where their slots lie."},
    {"messages_mention_link_headers", messages_mention_link_headers, METH_O,
     "messages_mention_link_headers(messages) -> bool: mention_link_headers of each\n"
     "captured message's .message.raw."},
    {"frames_rise", frames_rise, METH_O,
     "frames_rise(messages) -> bool: every frame an int above the one before."},
    {"setup_summary", (PyCFunction)(void (*)(void))setup_summary, METH_FASTCALL,
     "setup_summary(summary_class, field_names, message_class, states, info_digits,\n"
     "endpoint): the CallSummary made (its fields checked), the message class read directly, the CallState members (RINGING,\n"
     "IN_PROGRESS, NO_RESPONSE, ANSWERED, ACK_MISSING, CANCELLED, BUSY, REDIRECTED, FAILED)\n"
     "and the two Python steps summarize_one() calls."},
    {"summarize_one", (PyCFunction)(void (*)(void))summarize_one, METH_FASTCALL,
     "summarize_one(index, legs, announcements, names) -> CallSummary | None: what\n"
     "rtcscope.sip.calls._summarize builds for a usual call (one leg in time order, its\n"
     "caller's initial INVITE), marks found call by call; None for any other call."},
    {"name_addr_uri", name_addr_uri, METH_O,
     "name_addr_uri(raw) -> str | None: the URI text _USUAL_NAME_ADDR's match cuts from a\n"
     "stripped header value of the usual name-addr shape (rtcscope.sip.headers.\n"
     "usual_address_uri); None where this cut is not sure."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_callwalk",
    "The call list's walk over a call's messages and its transaction grouping in C "
    "(optional accelerator).", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__callwalk(void)
{
    return PyModule_Create(&module);
}
