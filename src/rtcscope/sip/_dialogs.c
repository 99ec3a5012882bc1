/* rtcscope.sip._dialogs: a call's dialogs (Call.dialogs) in one C call.
 *
 * The specification is rtcscope/sip/dialogs.py's _build_dialogs (with Call.initial_invites
 * and Call.caller_tag, whose kept look-ups are kept here as they keep them): dialogs(call)
 * returns the same Dialog objects, made as Dialog(id, state, created_by) makes them, with
 * the same answers and transactions, in the same order. It declines with None (the Python
 * road runs) where a value is not of the exact classes and types read here: a Call, its
 * Transactions, CapturedSip, SipMessage, texts that are exact str or None, status codes
 * that are exact int or None; so every comparison here is one Python would make the same.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "../_slotread.h"

enum { C_CALL_ID, C_TRANSACTIONS, C_INITIAL, C_CALLER_TAG, C_COUNT };
enum { T_METHOD, T_REQUESTS, T_RESPONSES, T_COUNT };
enum { S_MESSAGE, S_COUNT };
enum { M_STATUS, M_TO_TAG, M_FROM_TAG, M_COUNT };
enum { D_ID, D_STATE, D_CREATED_BY, D_ANSWERS, D_TRANSACTIONS, D_COUNT };
static const char *const CALL_SLOTS[C_COUNT] = {
    "call_id", "transactions", "_initial", "_caller_tag",
};
static const char *const TRANSACTION_SLOTS[T_COUNT] = {"method", "requests", "responses"};
static const char *const CAPTURED_SLOTS[S_COUNT] = {"message"};
static const char *const MESSAGE_SLOTS[M_COUNT] = {"status_code", "to_tag", "from_tag"};
static const char *const DIALOG_SLOTS[D_COUNT] = {
    "id", "state", "created_by", "answers", "transactions",
};

static Slots call_slots, txn_slots, captured_slots, message_slots, dialog_slots;
static PyTypeObject *dialog_id_type;
static PyObject *early, *confirmed, *terminated; /* the DialogStates */
static PyObject *text_invite, *text_bye, *text_empty;

/* Declined (the Python road): a value not read here. */
#define DECLINED 1

static PyObject *setup(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 9 || !PyType_Check(args[5]) ||
        !PyType_IsSubtype((PyTypeObject *)args[5], &PyTuple_Type)) {
        PyErr_SetString(PyExc_TypeError,
                        "setup(call_class, transaction_class, captured_class, message_class, "
                        "dialog_class, dialog_id_class, early, confirmed, terminated)");
        return NULL;
    }
    if (text_invite == NULL && (text_invite = PyUnicode_InternFromString("INVITE")) == NULL)
        return NULL;
    if (text_bye == NULL && (text_bye = PyUnicode_InternFromString("BYE")) == NULL)
        return NULL;
    if (text_empty == NULL && (text_empty = PyUnicode_InternFromString("")) == NULL)
        return NULL;
    if (slots_setup(&call_slots, args[0], CALL_SLOTS, C_COUNT) < 0 ||
        slots_setup(&txn_slots, args[1], TRANSACTION_SLOTS, T_COUNT) < 0 ||
        slots_setup(&captured_slots, args[2], CAPTURED_SLOTS, S_COUNT) < 0 ||
        slots_setup(&message_slots, args[3], MESSAGE_SLOTS, M_COUNT) < 0 ||
        slots_setup(&dialog_slots, args[4], DIALOG_SLOTS, D_COUNT) < 0)
        return NULL;
    Py_XSETREF(dialog_id_type, (PyTypeObject *)Py_NewRef(args[5]));
    Py_XSETREF(early, Py_NewRef(args[6]));
    Py_XSETREF(confirmed, Py_NewRef(args[7]));
    Py_XSETREF(terminated, Py_NewRef(args[8]));
    Py_RETURN_NONE;
}

/* The message (borrowed) of a captured message of the exact class, or NULL (declined). */
static PyObject *message_of(PyObject *captured)
{
    PyObject *message;
    if (Py_TYPE(captured) != captured_slots.type)
        return NULL;
    message = SLOT(captured, captured_slots, S_MESSAGE);
    if (message == NULL || Py_TYPE(message) != message_slots.type)
        return NULL;
    return message;
}

/* A message's text slot (borrowed): an exact str or None, else NULL (declined). */
static PyObject *text_of(PyObject *message, int slot)
{
    PyObject *value = SLOT(message, message_slots, slot);
    if (value == NULL || !(value == Py_None || PyUnicode_CheckExact(value)))
        return NULL;
    return value;
}

/* Whether a text read by text_of is truthy (a non-empty str). */
#define FILLED(text) ((text) != Py_None && PyUnicode_GET_LENGTH(text) > 0)

/* A message's ``status_code or 0`` into *code: 0, or DECLINED. */
static int code_of(PyObject *message, long *code)
{
    PyObject *value = SLOT(message, message_slots, M_STATUS);
    int overflow = 0;
    if (value == Py_None) {
        *code = 0;
        return 0;
    }
    if (value == NULL || !PyLong_CheckExact(value))
        return DECLINED;
    *code = PyLong_AsLongAndOverflow(value, &overflow);
    if (overflow)
        *code = overflow > 0 ? LONG_MAX : LONG_MIN; /* (compared as Python compares it) */
    return 0;
}

/* A transaction's slot list (borrowed), or NULL (declined: not a list, or not exactly a
 * Transaction). */
static PyObject *txn_list(PyObject *txn, int slot)
{
    PyObject *list;
    if (Py_TYPE(txn) != txn_slots.type)
        return NULL;
    list = SLOT(txn, txn_slots, slot);
    return list != NULL && PyList_CheckExact(list) ? list : NULL;
}

/* Whether an exact str equals the text ("==" of two exact str). */
static int same_text(PyObject *text, PyObject *other)
{
    return PyUnicode_CheckExact(text) && PyUnicode_Compare(text, other) == 0;
}

/* Call.initial_invites (a new reference), kept in call._initial as it keeps it; NULL with an
 * error, or NULL without one (declined). */
static PyObject *initial_invites(PyObject *call, PyObject *transactions)
{
    PyObject *kept = SLOT(call, call_slots, C_INITIAL), *out, *pair;
    Py_ssize_t i;
    if (kept != NULL && PyTuple_CheckExact(kept) && PyTuple_GET_SIZE(kept) == 2 &&
        PyTuple_GET_ITEM(kept, 0) == transactions && PyList_CheckExact(PyTuple_GET_ITEM(kept, 1)))
        return Py_NewRef(PyTuple_GET_ITEM(kept, 1));
    out = PyList_New(0);
    if (out == NULL)
        return NULL;
    for (i = 0; i < PyList_GET_SIZE(transactions); i++) {
        PyObject *txn = PyList_GET_ITEM(transactions, i), *requests, *method, *message, *tag;
        requests = txn_list(txn, T_REQUESTS);
        method = requests == NULL ? NULL : SLOT(txn, txn_slots, T_METHOD);
        if (method == NULL || !PyUnicode_CheckExact(method)) {
            Py_DECREF(out);
            return NULL;
        }
        if (!same_text(method, text_invite) || PyList_GET_SIZE(requests) == 0)
            continue;
        message = message_of(PyList_GET_ITEM(requests, 0));
        tag = message == NULL ? NULL : text_of(message, M_TO_TAG);
        if (tag == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        if (!FILLED(tag) && PyList_Append(out, txn) < 0) {
            Py_DECREF(out);
            return NULL;
        }
    }
    pair = PyTuple_Pack(2, transactions, out);
    if (pair == NULL) {
        Py_DECREF(out);
        return NULL;
    }
    Py_XSETREF(SLOT(call, call_slots, C_INITIAL), pair);
    return out;
}

/* Call.caller_tag (a new reference) for its initial INVITEs, kept in call._caller_tag as it
 * keeps it; NULL with an error, or NULL without one (declined). */
static PyObject *caller_tag(PyObject *call, PyObject *invites)
{
    PyObject *kept = SLOT(call, call_slots, C_CALLER_TAG), *tag = Py_None, *pair;
    if (kept != NULL && PyTuple_CheckExact(kept) && PyTuple_GET_SIZE(kept) == 2 &&
        PyTuple_GET_ITEM(kept, 0) == invites)
        return Py_NewRef(PyTuple_GET_ITEM(kept, 1));
    if (PyList_GET_SIZE(invites) > 0) { /* (an initial INVITE has its request) */
        PyObject *requests = txn_list(PyList_GET_ITEM(invites, 0), T_REQUESTS), *message;
        if (requests == NULL || PyList_GET_SIZE(requests) == 0 ||
            (message = message_of(PyList_GET_ITEM(requests, 0))) == NULL ||
            (tag = text_of(message, M_FROM_TAG)) == NULL)
            return NULL;
    }
    Py_INCREF(tag); /* (held: making the pair, or the slot's old pair going, may run a
                     * finalizer) */
    pair = PyTuple_Pack(2, invites, tag);
    if (pair == NULL) {
        Py_DECREF(tag);
        return NULL;
    }
    Py_XSETREF(SLOT(call, call_slots, C_CALLER_TAG), pair);
    return tag;
}

/* A new Dialog(DialogId(call_id, caller, tag), EARLY, response), or NULL. */
static PyObject *new_dialog(PyObject *call_id, PyObject *caller, PyObject *tag,
                            PyObject *response)
{
    PyObject *made, *id = dialog_id_type->tp_alloc(dialog_id_type, 3);
    if (id == NULL)
        return NULL;
    PyTuple_SET_ITEM(id, 0, Py_NewRef(call_id));
    PyTuple_SET_ITEM(id, 1, Py_NewRef(caller));
    PyTuple_SET_ITEM(id, 2, Py_NewRef(tag));
    made = dialog_slots.type->tp_alloc(dialog_slots.type, 0);
    if (made == NULL) {
        Py_DECREF(id);
        return NULL;
    }
    SLOT(made, dialog_slots, D_ID) = id;
    SLOT(made, dialog_slots, D_STATE) = Py_NewRef(early);
    SLOT(made, dialog_slots, D_CREATED_BY) = Py_NewRef(response);
    if ((SLOT(made, dialog_slots, D_ANSWERS) = PyList_New(0)) == NULL ||
        (SLOT(made, dialog_slots, D_TRANSACTIONS) = PyList_New(0)) == NULL) {
        Py_DECREF(made);
        return NULL;
    }
    return made;
}

/* One response of an initial INVITE into dialogs and by_tag (the first loop's body, every
 * value it reads held: new_dialog's allocations may run a finalizer, which may change the
 * lists and slots they came from): 0, -1 failed, DECLINED. */
static int created_by(PyObject *call_id, PyObject *response, PyObject *caller,
                      PyObject *dialogs, PyObject *by_tag)
{
    PyObject *message, *tag, *from, *dialog;
    long code;
    int done = 0;
    message = message_of(response);
    if (message == NULL || code_of(message, &code) == DECLINED)
        return DECLINED;
    if (code < 101)
        return 0;
    if ((tag = text_of(message, M_TO_TAG)) == NULL ||
        (from = text_of(message, M_FROM_TAG)) == NULL)
        return DECLINED;
    if (!FILLED(tag))
        return 0;
    Py_INCREF(tag);
    Py_INCREF(from);
    dialog = PyDict_GetItemWithError(by_tag, tag); /* (exact str keys: no Python) */
    if (dialog == NULL && PyErr_Occurred())
        done = -1;
    else if (code >= 300) {
        if (dialog != NULL)
            Py_SETREF(SLOT(dialog, dialog_slots, D_STATE), Py_NewRef(terminated));
    }
    else {
        if (dialog == NULL) {
            dialog = new_dialog(call_id,
                                FILLED(from) ? from
                                : caller != Py_None && PyUnicode_GET_LENGTH(caller) > 0
                                    ? caller
                                    : text_empty,
                                tag, response);
            if (dialog == NULL || PyDict_SetItem(by_tag, tag, dialog) < 0 ||
                PyList_Append(dialogs, dialog) < 0)
                done = -1;
            Py_XDECREF(dialog); /* (held by by_tag and dialogs) */
        }
        if (done == 0 && code >= 200) {
            if (PyList_Append(SLOT(dialog, dialog_slots, D_ANSWERS), response) < 0)
                done = -1;
            else if (SLOT(dialog, dialog_slots, D_STATE) == early)
                Py_SETREF(SLOT(dialog, dialog_slots, D_STATE), Py_NewRef(confirmed));
        }
    }
    Py_DECREF(tag);
    Py_DECREF(from);
    return done;
}

/* The dialogs the initial INVITEs' responses made (the first loop of _build_dialogs) into
 * dialogs and by_tag: 0, -1 failed, DECLINED. */
static int created(PyObject *call_id, PyObject *invites, PyObject *caller, PyObject *dialogs,
                   PyObject *by_tag)
{
    Py_ssize_t i, k;
    for (i = 0; i < PyList_GET_SIZE(invites); i++) {
        PyObject *responses = txn_list(PyList_GET_ITEM(invites, i), T_RESPONSES);
        int done = 0;
        if (responses == NULL)
            return DECLINED;
        Py_INCREF(responses);
        for (k = 0; k < PyList_GET_SIZE(responses) && done == 0; k++) {
            PyObject *response = Py_NewRef(PyList_GET_ITEM(responses, k));
            done = created_by(call_id, response, caller, dialogs, by_tag);
            Py_DECREF(response);
        }
        Py_DECREF(responses);
        if (done != 0)
            return done;
    }
    return 0;
}

/* Transaction.final_status's 2xx test: whether its first final response (>= 200) is a 2xx
 * (0 no, 1 yes, DECLINED as 2). */
static int answered_2xx(PyObject *txn)
{
    PyObject *responses = txn_list(txn, T_RESPONSES);
    Py_ssize_t i;
    if (responses == NULL)
        return 2;
    for (i = 0; i < PyList_GET_SIZE(responses); i++) {
        PyObject *message = message_of(PyList_GET_ITEM(responses, i));
        long code;
        if (message == NULL || code_of(message, &code) == DECLINED)
            return 2;
        if (code >= 200)
            return code < 300 && SLOT(message, message_slots, M_STATUS) != Py_None;
    }
    return 0;
}

/* The in-dialog transactions filed under their dialogs (the second loop): 0, -1, DECLINED. */
static int filed(PyObject *transactions, PyObject *caller, PyObject *by_tag)
{
    Py_ssize_t i;
    for (i = 0; i < PyList_GET_SIZE(transactions); i++) {
        PyObject *txn = PyList_GET_ITEM(transactions, i), *requests, *message, *to, *from;
        PyObject *dialog, *method;
        int is_caller;
        requests = txn_list(txn, T_REQUESTS);
        if (requests == NULL)
            return DECLINED;
        if (PyList_GET_SIZE(requests) == 0)
            continue;
        message = message_of(PyList_GET_ITEM(requests, 0));
        if (message == NULL || (to = text_of(message, M_TO_TAG)) == NULL ||
            (from = text_of(message, M_FROM_TAG)) == NULL)
            return DECLINED;
        if (!FILLED(to))
            continue;
        /* Sent by the callee when its To tag is the caller's: its From tag names the dialog. */
        is_caller = caller != Py_None && PyUnicode_Compare(to, caller) == 0;
        dialog = PyDict_GetItemWithError(by_tag, is_caller ? (from == Py_None ? text_empty : from)
                                                           : to);
        if (dialog == NULL) {
            if (PyErr_Occurred())
                return -1;
            continue;
        }
        if (PyList_Append(SLOT(dialog, dialog_slots, D_TRANSACTIONS), txn) < 0)
            return -1;
        method = SLOT(txn, txn_slots, T_METHOD);
        if (method == NULL || !PyUnicode_CheckExact(method))
            return DECLINED;
        if (same_text(method, text_bye)) {
            int answered = answered_2xx(txn);
            if (answered == 2)
                return DECLINED;
            if (answered)
                Py_SETREF(SLOT(dialog, dialog_slots, D_STATE), Py_NewRef(terminated));
        }
    }
    return 0;
}

static PyObject *dialogs(PyObject *module, PyObject *call)
{
    PyObject *call_id, *transactions, *invites = NULL, *caller = NULL, *out = NULL;
    PyObject *by_tag = NULL;
    int done;
    (void)module;
    if (call_slots.type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "dialogs() before setup()");
        return NULL;
    }
    if (Py_TYPE(call) != call_slots.type)
        Py_RETURN_NONE;
    call_id = SLOT(call, call_slots, C_CALL_ID);
    transactions = SLOT(call, call_slots, C_TRANSACTIONS);
    if (call_id == NULL || !PyUnicode_CheckExact(call_id) || transactions == NULL ||
        !PyList_CheckExact(transactions))
        Py_RETURN_NONE;
    /* Held: making objects may run a collection (and finalizers) meanwhile. */
    Py_INCREF(call_id);
    Py_INCREF(transactions);
    invites = initial_invites(call, transactions);
    if (invites != NULL)
        caller = caller_tag(call, invites);
    if (caller == NULL || !(caller == Py_None || PyUnicode_CheckExact(caller))) {
        done = PyErr_Occurred() ? -1 : DECLINED; /* (a kept tag of another type: declined) */
        goto done;
    }
    out = PyList_New(0);
    by_tag = PyDict_New();
    done = out == NULL || by_tag == NULL ? -1 : created(call_id, invites, caller, out, by_tag);
    if (done == 0 && PyDict_GET_SIZE(by_tag) > 0) /* (no dialog: nothing filed under one) */
        done = filed(transactions, caller, by_tag);
done:
    Py_XDECREF(by_tag);
    Py_XDECREF(caller);
    Py_XDECREF(invites);
    Py_DECREF(transactions);
    Py_DECREF(call_id);
    if (done == 0)
        return out;
    Py_XDECREF(out);
    if (done < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"setup", (PyCFunction)(void (*)(void))setup, METH_FASTCALL,
     "setup(call_class, transaction_class, captured_class, message_class, dialog_class, "
     "dialog_id_class, early, confirmed, terminated): the classes read and made."},
    {"dialogs", dialogs, METH_O,
     "dialogs(call): the call's dialogs as dialogs._build_dialogs makes them, or None where "
     "a value is not one read here (the Python road)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_dialogs",
    "A call's dialogs in C (optional accelerator).", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__dialogs(void)
{
    return PyModule_Create(&module);
}
