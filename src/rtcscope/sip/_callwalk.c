/* rtcscope.sip._callwalk: the call list's look at each message of a call, in C.
 *
 * The specification is the pure-Python road in rtcscope/sip/calls.py (_walk_py): walk()
 * here returns exactly what it returns, for the same messages and tracker state, and
 * leaves the state as it leaves it. Every comparison is Python's (==, <=, truth), so values
 * of any type compare as they do there; a captured message, its SipMessage and its CSeq of
 * exactly the classes given to setup() are read through their slots, anything else through
 * getattr.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

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

typedef struct {
    PyTypeObject *type;     /* the class whose slots are read directly (NULL: none yet) */
    int count;
    PyObject **names;       /* interned attribute names */
    Py_ssize_t *offsets;    /* each slot's offset in an object of exactly that class */
} Reader;

static PyObject *captured_names[C_COUNT], *message_names[M_COUNT], *cseq_names[Q_COUNT];
static Py_ssize_t captured_offsets[C_COUNT], message_offsets[M_COUNT], cseq_offsets[Q_COUNT];
static Reader captured_reader = {NULL, C_COUNT, captured_names, captured_offsets};
static Reader message_reader = {NULL, M_COUNT, message_names, message_offsets};
static Reader cseq_reader = {NULL, Q_COUNT, cseq_names, cseq_offsets};

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

static int reader_setup(Reader *reader, PyObject *type_object, const char *const *names)
{
    PyTypeObject *type;
    Py_ssize_t offsets[C_COUNT];
    int i;
    if (!PyType_Check(type_object)) {
        PyErr_SetString(PyExc_TypeError, "setup(): not a class");
        return -1;
    }
    type = (PyTypeObject *)type_object;
    for (i = 0; i < reader->count; i++) {
        PyObject *descriptor;
        PyMemberDef *member;
        if (reader->names[i] == NULL) {
            reader->names[i] = PyUnicode_InternFromString(names[i]);
            if (reader->names[i] == NULL)
                return -1;
        }
        descriptor = PyObject_GetAttr(type_object, reader->names[i]);
        if (descriptor == NULL)
            return -1;
        if (!Py_IS_TYPE(descriptor, &PyMemberDescr_Type) ||
            ((PyMemberDescrObject *)descriptor)->d_common.d_type != type) {
            Py_DECREF(descriptor);
            PyErr_Format(PyExc_TypeError, "setup(): %R is not a slot of %R", reader->names[i],
                         type_object);
            return -1;
        }
        member = ((PyMemberDescrObject *)descriptor)->d_member;
        Py_DECREF(descriptor);
        if (member->type != T_OBJECT_EX) {
            PyErr_Format(PyExc_TypeError, "setup(): %R is not an object slot", reader->names[i]);
            return -1;
        }
        offsets[i] = member->offset;
    }
    for (i = 0; i < reader->count; i++)
        reader->offsets[i] = offsets[i];
    Py_INCREF(type);
    Py_XSETREF(reader->type, type);
    return 0;
}

/* obj's attributes of reader, as new references into values (0), or -1 with an exception
 * (and no reference left) when one is missing. */
static int read_all(const Reader *reader, PyObject *obj, PyObject **values)
{
    int i;
    if (Py_TYPE(obj) == reader->type) {
        for (i = 0; i < reader->count; i++) {
            PyObject *value = *(PyObject **)((char *)obj + reader->offsets[i]);
            if (value == NULL) {
                while (--i >= 0)
                    Py_CLEAR(values[i]);
                PyErr_SetObject(PyExc_AttributeError, reader->names[i]);
                return -1;
            }
            Py_INCREF(value);
            values[i] = value;
        }
        return 0;
    }
    for (i = 0; i < reader->count; i++) {
        values[i] = PyObject_GetAttr(obj, reader->names[i]);
        if (values[i] == NULL) {
            while (--i >= 0)
                Py_CLEAR(values[i]);
            return -1;
        }
    }
    return 0;
}

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
    if (reader_setup(&captured_reader, args[0], CAPTURED_NAMES) < 0 ||
        reader_setup(&message_reader, args[1], MESSAGE_NAMES) < 0 ||
        reader_setup(&cseq_reader, args[2], CSEQ_NAMES) < 0)
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

/* counter[key] = counter.get(key, 0) + 1 */
static int count(PyObject *counter, PyObject *key)
{
    PyObject *sum, *found = PyDict_GetItemWithError(counter, key);
    int result;
    if (found == NULL) {
        if (PyErr_Occurred())
            return -1;
        return PyDict_SetItem(counter, key, int_1);
    }
    sum = PyNumber_Add(found, int_1);
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

/* a == b as Python says it, or -1 with an exception */
static int same(PyObject *a, PyObject *b)
{
    return PyObject_RichCompareBool(a, b, Py_EQ);
}

/* The tracker's part for one UDP message with a CSeq (calls._walk_py). *resent_of and
 * *setup_ms get new references. */
static int track(PyObject *state, PyObject **c, PyObject **m, PyObject **q, PyObject *code,
                 int is_request, int is_response, PyObject **resent_of, PyObject **setup_ms)
{
    PyObject *call_id, *key, *entry, *compare = NULL;
    int truth, test, result = -1;

    *setup_ms = Py_NewRef(Py_None);
    *resent_of = Py_NewRef(int_0);
    truth = PyObject_IsTrue(m[M_CALL_ID]);
    if (truth < 0)
        return -1;
    call_id = truth ? m[M_CALL_ID] : text_empty;
    key = PyTuple_Pack(5, call_id, c[C_SRC], c[C_SPORT], c[C_DST], c[C_DPORT]);
    if (key == NULL)
        return -1;
    entry = PyDict_GetItemWithError(state, key);
    if (entry == NULL) {
        if (PyErr_Occurred())
            goto done;
        entry = PyList_New(E_COUNT);
        if (entry == NULL)
            goto done;
        PyList_SET_ITEM(entry, E_CSEQ, Py_NewRef(q[Q_NUMBER]));
        PyList_SET_ITEM(entry, E_METHOD, Py_NewRef(q[Q_METHOD]));
        PyList_SET_ITEM(entry, E_STATE, Py_NewRef(states[S_NOTHING]));
        PyList_SET_ITEM(entry, E_CODE, Py_NewRef(int_0));
        PyList_SET_ITEM(entry, E_FRAME_AT, Py_NewRef(int_0));
        PyList_SET_ITEM(entry, E_REQUEST_NS, Py_NewRef(is_request ? c[C_TS_NS] : int_0));
        if (PyDict_SetItem(state, key, entry) < 0) {
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
    Py_DECREF(key);
    if (result < 0) {
        Py_CLEAR(*setup_ms);
        Py_CLEAR(*resent_of);
    }
    return result;
}

static PyObject *walk(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *seq, *state, *found = NULL, *methods = NULL, *statuses = NULL, *acks = NULL;
    PyObject *infos = NULL, *bye = Py_None, *previous_ns, *result = NULL;
    PyObject *c[C_COUNT], *m[M_COUNT], *q[Q_COUNT];
    Py_ssize_t i, n, resent = 0;
    int cancelled = 0, responded = 0, in_order = 1;
    (void)module;

    if (nargs != 2 || !PyDict_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "walk(messages, state: dict)");
        return NULL;
    }
    if (walked_type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "walk() before setup()");
        return NULL;
    }
    state = args[1];
    seq = PySequence_Fast(args[0], "walk(): messages are not iterable");
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

        if (read_all(&captured_reader, captured, c) < 0)
            goto fail;
        if (read_all(&message_reader, c[C_MESSAGE], m) < 0) {
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
            if (count(methods, m[M_METHOD]) < 0)
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
                    if (count(statuses, m[M_STATUS]) < 0)
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
        if (read_all(&cseq_reader, m[M_CSEQ], q) < 0)
            goto fail_message;
        if (track(state, c, m, q, code, is_request, is_response, &resent_of, &setup_ms) < 0)
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

static PyMethodDef methods[] = {
    {"setup", (PyCFunction)(void (*)(void))setup, METH_FASTCALL,
     "setup(captured_class, message_class, cseq_class, marks_class, walked_class,\n"
     "counter_class, whole_ms): the classes whose slots walk() reads directly, the named\n"
     "tuples and the Counter it makes, and calls._whole_ms (times beyond 64 bits)."},
    {"walk", (PyCFunction)(void (*)(void))walk, METH_FASTCALL,
     "walk(messages, state) -> _Walked: rtcscope.sip.calls._walk_py's look at the messages,\n"
     "the tracker's state (a dict, updated) kept between calls."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_callwalk",
    "The call list's walk over a call's messages in C (optional accelerator).", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__callwalk(void)
{
    return PyModule_Create(&module);
}
