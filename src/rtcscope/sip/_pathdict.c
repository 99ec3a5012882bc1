/* rtcscope.sip._pathdict: the JSON text of the diagnosis's request paths, in one call.
 *
 * The specification is rtcscope/sip/diagnosis/model.py's _paths_json_py: paths_json(paths,
 * level) returns the bytes orjson writes for [path.as_dict() for path in paths] with
 * OPT_INDENT_2, every line after the first indented by ``level`` more levels (where the
 * list stands in the whole text), or None where it declines (then the caller writes the
 * objects: a value of a type or range not written here, a str that is not UTF-8). A
 * DeliveredPath whose step was never written out (the usual ACK and BYE: most paths of a
 * capture) is written from its slots and its request's, no object made
 * (DeliveredPath.as_dict's values); any other path is asked its as_dict() and that is
 * written.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include "../_endpoint.h"
#include "../_jsonbuf.h"
#include "../_slotread.h"

/* The slots read: a DeliveredPath's, its captured request's, that request's SipMessage's. */
enum { P_CALL_ID, P_METHOD, P_CSEQ, P_OUTCOME, P_SENT, P_FAR, P_STEP_LIST, P_HOP, P_COUNT };
enum { S_FRAME, S_SRC, S_SPORT, S_MESSAGE, S_COUNT };
enum { R_URI, R_COUNT };
static const char *const PATH_SLOTS[P_COUNT] = {
    "call_id", "method", "cseq", "outcome", "_sent", "_far", "_step_list", "_hop",
};
static const char *const SENT_SLOTS[S_COUNT] = {"frame", "src", "sport", "message"};
static const char *const MESSAGE_SLOTS[R_COUNT] = {"request_uri_text"};

static PyObject *path_names[P_COUNT], *sent_names[S_COUNT], *message_names[R_COUNT];
static Py_ssize_t path_offsets[P_COUNT], sent_offsets[S_COUNT], message_offsets[R_COUNT];
/* Fixed readers (_slotread.h): only the classes given to setup are read at their slots. */
static SlotReader path_slots = {NULL, P_COUNT, path_names, path_offsets, NULL, 1, 0, 0};
static SlotReader sent_slots = {NULL, S_COUNT, sent_names, sent_offsets, NULL, 1, 0, 0};
static SlotReader message_slots = {NULL, R_COUNT, message_names, message_offsets, NULL, 1, 0, 0};
/* A slot of an object of exactly its reader's class (borrowed), or NULL (another class, an
 * empty slot: declined). */
#define SLOT(obj, reader, i) slot_read_borrowed(&(reader), (obj), (i))

/* The Max-Forwards read (routing.message_max_forwards: the usual line's in C where
 * rtcscope.sip.routing has it, else the whole one). */
static PyObject *message_max_forwards;

/* The objects' keys, in as_dict()'s order. */
enum { K_CALL_ID, K_METHOD, K_CSEQ, K_OUTCOME, K_LAST_HOP, K_STEPS, K_PATH_COUNT };
enum { J_FRAME, J_SRC, J_DST, J_REQUEST_URI, J_ROUTES, J_MAX_FORWARDS, J_VIAS, J_COPIES,
       J_PROBLEMS, J_COUNT };
static const char *const PATH_KEYS[K_PATH_COUNT] = {
    "call_id", "method", "cseq", "outcome", "last_hop", "steps",
};
static const char *const STEP_KEYS[J_COUNT] = {
    "frame", "src", "dst", "request_uri", "routes", "max_forwards", "vias", "copies", "problems",
};
static PyObject *text_empty, *name_as_dict;

static PyObject *setup(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 4 || !PyCallable_Check(args[3])) {
        PyErr_SetString(PyExc_TypeError,
                        "setup(delivered_class, captured_class, message_class, "
                        "message_max_forwards)");
        return NULL;
    }
    if (text_empty == NULL && (text_empty = PyUnicode_InternFromString("")) == NULL)
        return NULL;
    if (name_as_dict == NULL && (name_as_dict = PyUnicode_InternFromString("as_dict")) == NULL)
        return NULL;
    /* (a failed setup leaves no class read: every path written from its as_dict()) */
    if (slot_reader_setup(&path_slots, args[0], PATH_SLOTS) < 0 ||
        slot_reader_setup(&sent_slots, args[1], SENT_SLOTS) < 0 ||
        slot_reader_setup(&message_slots, args[2], MESSAGE_SLOTS) < 0) {
        Py_CLEAR(path_slots.type);
        Py_CLEAR(sent_slots.type);
        Py_CLEAR(message_slots.type);
        return NULL;
    }
    Py_XSETREF(message_max_forwards, Py_NewRef(args[3]));
    Py_RETURN_NONE;
}

/* -- paths_json: the text of the paths' list, written without the objects ------------- */

/* A dict (a path's as_dict(), or with ``step`` one of its steps') at depth: its str keys in
 * order, its values put_value's or (a path's only) a list of steps' dicts (put_str's
 * returns); any other shape (a dict in it) declined. */
static int put_dict(Text *text, PyObject *dict, int depth, int step)
{
    Py_ssize_t at = 0;
    PyObject *key, *value;
    int done, first = 1;
    if (!PyDict_CheckExact(dict))
        return 0;
    if (PyDict_GET_SIZE(dict) == 0)
        return PUT_LITERAL(text, "{}") < 0 ? -1 : 1;
    if (PUT_LITERAL(text, "{") < 0)
        return -1;
    /* (no Python code runs meanwhile: the dict does not change) */
    while (PyDict_Next(dict, &at, &key, &value)) {
        if ((!first && PUT_LITERAL(text, ",") < 0) || new_line(text, depth + 1) < 0)
            return -1;
        first = 0;
        done = put_str(text, key);
        if (done <= 0)
            return done;
        if (PUT_LITERAL(text, ": ") < 0)
            return -1;
        if (PyDict_Check(value))
            return 0;
        if (PyList_CheckExact(value) && PyList_GET_SIZE(value) > 0 &&
            PyDict_CheckExact(PyList_GET_ITEM(value, 0))) {
            if (step)
                return 0;
            /* a list of dicts (a path's steps) */
            Py_ssize_t i, n = PyList_GET_SIZE(value);
            done = PUT_LITERAL(text, "[") < 0 ? -1 : 1;
            for (i = 0; i < n && done > 0; i++) {
                if ((i && PUT_LITERAL(text, ",") < 0) || new_line(text, depth + 2) < 0)
                    return -1;
                done = put_dict(text, PyList_GET_ITEM(value, i), depth + 2, 1);
            }
            if (done > 0 && (new_line(text, depth + 1) < 0 || PUT_LITERAL(text, "]") < 0))
                return -1;
        }
        else
            done = put_value(text, value, depth + 1, 0);
        if (done <= 0)
            return done;
    }
    return new_line(text, depth) < 0 || PUT_LITERAL(text, "}") < 0 ? -1 : 1;
}

/* The text between the values of the usual DeliveredPath's object at one depth, made once
 * a call: what stands before each value (the keys, the indents, the step's constant
 * values), then what closes the object. */
enum { F_CALL_ID, F_METHOD, F_CSEQ, F_OUTCOME, F_LAST_HOP, F_FRAME, F_SRC, F_DST,
       F_REQUEST_URI, F_MAX_FORWARDS, F_END, F_COUNT };

typedef struct {
    Text text;
    Py_ssize_t at[F_COUNT + 1]; /* where each piece starts in text (and where the last ends) */
} Template;

/* The keys in order: the piece that starts with the key (-1: none), whether a step's
 * (else the path's), the key, and the constant value written after it ("": the piece's
 * value follows it; NULL: the steps' list and its one object open). */
static const struct {
    int piece, in_step, key;
    const char *value;
} TEMPLATE_KEYS[] = {
    {F_CALL_ID, 0, K_CALL_ID, ""},
    {F_METHOD, 0, K_METHOD, ""},
    {F_CSEQ, 0, K_CSEQ, ""},
    {F_OUTCOME, 0, K_OUTCOME, ""},
    {F_LAST_HOP, 0, K_LAST_HOP, ""},
    {F_FRAME, 0, K_STEPS, NULL},
    {-1, 1, J_FRAME, ""},
    {F_SRC, 1, J_SRC, ""},
    {F_DST, 1, J_DST, ""},
    {F_REQUEST_URI, 1, J_REQUEST_URI, ""},
    {F_MAX_FORWARDS, 1, J_ROUTES, "[]"},
    {-1, 1, J_MAX_FORWARDS, ""},
    {F_END, 1, J_VIAS, "1"},
    {-1, 1, J_COPIES, "1"},
    {-1, 1, J_PROBLEMS, "[]"},
};

static int template_setup(Template *t, int depth)
{
    Text *text = &t->text;
    size_t i;
    int first = 1;
    for (i = 0; i < sizeof TEMPLATE_KEYS / sizeof TEMPLATE_KEYS[0]; i++) {
        const char *value = TEMPLATE_KEYS[i].value;
        int in_step = TEMPLATE_KEYS[i].in_step;
        if (TEMPLATE_KEYS[i].piece >= 0)
            t->at[TEMPLATE_KEYS[i].piece] = text->used;
        if (i == 0 && PUT_LITERAL(text, "{") < 0) /* (the path's object opens) */
            return -1;
        if (put_key(text, (in_step ? STEP_KEYS : PATH_KEYS)[TEMPLATE_KEYS[i].key],
                    depth + (in_step ? 3 : 1), first) < 0)
            return -1;
        first = value == NULL; /* (the step's first key follows) */
        if (value == NULL ? PUT_LITERAL(text, "[") < 0 || new_line(text, depth + 2) < 0 ||
                                PUT_LITERAL(text, "{") < 0
                          : put(text, value, (Py_ssize_t)strlen(value)) < 0)
            return -1;
    }
    if (new_line(text, depth + 2) < 0 || PUT_LITERAL(text, "}") < 0 ||
        new_line(text, depth + 1) < 0 || PUT_LITERAL(text, "]") < 0 ||
        new_line(text, depth) < 0 || PUT_LITERAL(text, "}") < 0)
        return -1;
    t->at[F_COUNT] = text->used;
    return 0;
}

static int put_piece(Text *text, const Template *t, int piece)
{
    return put(text, t->text.data + t->at[piece], t->at[piece + 1] - t->at[piece]);
}

/* The last hop as DeliveredPath._hop_text writes it, "{src} -> {far} (frame {frame})",
 * quoted (put_str's returns; the frame an exact int). */
static int put_hop(Text *text, PyObject *src, PyObject *far, PyObject *frame)
{
    const char *a, *b;
    Py_ssize_t na, nb;
    int declined;
    int overflow = 0;
    long long number = PyLong_AsLongLongAndOverflow(frame, &overflow);
    if (number == -1 && PyErr_Occurred())
        return -1;
    if (overflow)
        return 0;
    if ((a = utf8_of(src, &na, &declined)) == NULL || (b = utf8_of(far, &nb, &declined)) == NULL)
        return declined ? 0 : -1;
    return put(text, "\"", 1) < 0 || put_escaped(text, a, na) < 0 ||
                   PUT_LITERAL(text, " -> ") < 0 || put_escaped(text, b, nb) < 0 ||
                   PUT_LITERAL(text, " (frame ") < 0 || put_number(text, number) < 0 ||
                   PUT_LITERAL(text, ")\"") < 0
               ? -1
               : 1;
}

/* The usual DeliveredPath (DeliveredPath.as_dict's object, never made) from the template
 * of its depth; 0 where it is not one read here, or a value is not one put_value writes (no
 * error left; the text may hold part of it). */
static int put_delivered(Text *text, const Template *t, PyObject *path)
{
    PyObject *p[P_COUNT], *sent, *message, *frame, *uri, *src, *max_forwards;
    int i, done;
    for (i = 0; i < P_COUNT; i++)
        if ((p[i] = SLOT(path, path_slots, i)) == NULL)
            return 0; /* (another class, or unset: as_dict() says what is missing) */
    sent = p[P_SENT];
    /* (a list's lines would be indented as the template does not know: a list-valued CSeq
     * or Max-Forwards declined before anything is written) */
    if (p[P_STEP_LIST] != Py_None || PyList_Check(p[P_CSEQ]) || PyTuple_Check(p[P_CSEQ]) ||
        !PyUnicode_CheckExact(p[P_FAR]) || !(p[P_HOP] == Py_None || PyUnicode_CheckExact(p[P_HOP])))
        return 0;
    message = SLOT(sent, sent_slots, S_MESSAGE);
    frame = SLOT(sent, sent_slots, S_FRAME);
    if (message == NULL || frame == NULL || !PyLong_CheckExact(frame) ||
        SLOT(sent, sent_slots, S_SRC) == NULL ||
        SLOT(sent, sent_slots, S_SPORT) == NULL)
        return 0;
    uri = SLOT(message, message_slots, R_URI);
    if (uri == NULL || !(uri == Py_None || PyUnicode_CheckExact(uri)))
        return 0;
    src = endpoint_exact_text(SLOT(sent, sent_slots, S_SRC), SLOT(sent, sent_slots, S_SPORT));
    if (src == NULL)
        return PyErr_Occurred() ? -1 : 0;
    /* Every value held over the Max-Forwards read, which may run Python code. */
    for (i = 0; i < P_COUNT; i++)
        Py_INCREF(p[i]);
    Py_INCREF(message);
    Py_INCREF(frame);
    Py_INCREF(uri);
    max_forwards = PyObject_CallOneArg(message_max_forwards, message);
    done = max_forwards == NULL                                            ? -1
           : PyList_Check(max_forwards) || PyTuple_Check(max_forwards) ? 0
                                                                       : 1;
#define THEN(piece, write) \
    if (done > 0) \
        done = put_piece(text, t, (piece)) < 0 ? -1 : (write)
    THEN(F_CALL_ID, put_str(text, p[P_CALL_ID]));
    THEN(F_METHOD, put_str(text, p[P_METHOD]));
    THEN(F_CSEQ, put_value(text, p[P_CSEQ], 0, 1));
    THEN(F_OUTCOME, put_str(text, p[P_OUTCOME]));
    THEN(F_LAST_HOP, p[P_HOP] == Py_None ? put_hop(text, src, p[P_FAR], frame)
                                         : put_str(text, p[P_HOP]));
    THEN(F_FRAME, put_value(text, frame, 0, 1));
    THEN(F_SRC, put_str(text, src));
    THEN(F_DST, put_str(text, p[P_FAR]));
    THEN(F_REQUEST_URI, put_str(text, uri == Py_None ? text_empty : uri));
    THEN(F_MAX_FORWARDS, put_value(text, max_forwards, 0, 1));
    THEN(F_END, 1);
#undef THEN
    Py_XDECREF(max_forwards);
    for (i = 0; i < P_COUNT; i++)
        Py_DECREF(p[i]);
    Py_DECREF(message);
    Py_DECREF(frame);
    Py_DECREF(uri);
    Py_DECREF(src);
    return done;
}

static PyObject *paths_json(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *seq, *made = NULL;
    Py_ssize_t i, n;
    long level;
    Text text = {NULL, NULL, 0, 0};
    Template usual = {{NULL, NULL, 0, 0}, {0}};
    (void)module;
    if (nargs != 2 || !PyLong_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "paths_json(paths, level)");
        return NULL;
    }
    if (path_slots.type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "paths_json() before setup()");
        return NULL;
    }
    level = PyLong_AsLong(args[1]);
    if (level == -1 && PyErr_Occurred())
        return NULL;
    if (level < 0 || level > 1000) {
        PyErr_SetString(PyExc_ValueError, "paths_json(): level out of 0..1000");
        return NULL;
    }
    seq = PySequence_Fast(args[0], "paths_json(): paths are not iterable");
    if (seq == NULL)
        return NULL;
    n = PySequence_Fast_GET_SIZE(seq);
    if (n == 0) {
        Py_DECREF(seq);
        return PyBytes_FromStringAndSize("[]", 2);
    }
    if (template_setup(&usual, (int)level + 1) < 0 || PUT_LITERAL(&text, "[") < 0)
        goto done;
    /* (a path's Max-Forwards read or as_dict() may run Python code: the sequence is held,
     * each path too while it is written) */
    for (i = 0; i < PySequence_Fast_GET_SIZE(seq); i++) {
        PyObject *path = PySequence_Fast_GET_ITEM(seq, i);
        Py_ssize_t at;
        int done;
        Py_INCREF(path);
        done = (i && PUT_LITERAL(&text, ",") < 0) || new_line(&text, (int)level + 1) < 0 ? -1 : 1;
        at = text.used;
        if (done > 0)
            done = put_delivered(&text, &usual, path);
        if (done == 0) { /* (what it wrote of the path, if anything, goes) */
            text.used = at;
            PyObject *dict = PyObject_CallMethodNoArgs(path, name_as_dict);
            done = dict == NULL ? -1 : put_dict(&text, dict, (int)level + 1, 0);
            Py_XDECREF(dict);
        }
        Py_DECREF(path);
        if (done < 0)
            goto done;
        if (done == 0) { /* a value orjson would write otherwise, or refuse: the Python road */
            made = Py_NewRef(Py_None);
            goto done;
        }
    }
    if (new_line(&text, (int)level) < 0 || PUT_LITERAL(&text, "]") < 0)
        goto done;
    made = text_bytes(&text);
done:
    Py_XDECREF(text.bytes);
    Py_XDECREF(usual.text.bytes);
    Py_DECREF(seq);
    return made;
}

static PyMethodDef methods[] = {
    {"setup", (PyCFunction)(void (*)(void))setup, METH_FASTCALL,
     "setup(delivered_class, captured_class, message_class, message_max_forwards): the "
     "classes read through their slots and the Max-Forwards read."},
    {"paths_json", (PyCFunction)(void (*)(void))paths_json, METH_FASTCALL,
     "paths_json(paths, level): the JSON text of [path.as_dict() for path in paths] as "
     "format_json writes it at that indentation level, or None (diagnosis.model._paths_json_py)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_pathdict",
    "The JSON text of the diagnosis's request paths in C (optional accelerator).", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__pathdict(void)
{
    return PyModule_Create(&module);
}
