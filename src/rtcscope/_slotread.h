/* Reading an object's attributes at its class's slot offsets, for four C accelerators
 * (rtcscope._timetext's call and stream objects, rtcscope.sip._callwalk's walk, grouping,
 * summaries and counts, rtcscope.sip._routescan's usual calls and rtcscope.sip._pathdict's
 * request paths: slot_read_borrowed).
 * Included by each source (static functions: each extension has its own copy).
 *
 * A class is read at offsets when its attribute look-up is object's own
 * (PyObject_GenericGetAttr) and each name read finds, on the class, an object slot (a
 * member descriptor: a data descriptor, ahead of any instance dict) that belongs to the
 * class or a base (its d_type) and lies inside its objects: what PyObject_GetAttr gives,
 * without the look-up. Any other class is read by PyObject_GetAttr. What was learned of a
 * class is kept with its version tag (tp_version_tag, which a change of the class or of a
 * base clears) and learned again when the tag is not the same. */

#ifndef RTCSCOPE_SLOTREAD_H
#define RTCSCOPE_SLOTREAD_H

#include <Python.h>
#include <structmember.h>

#define SLOT_READER_MAX 32 /* the most attributes a SlotReader reads (a CallSummary's 28) */

typedef struct {
    PyTypeObject *type;    /* the class learned (a strong reference), or NULL */
    int count;             /* the names read */
    PyObject **names;      /* interned names */
    Py_ssize_t *offsets;   /* (count of them) each slot's offset in an object of ``type`` */
    const int *index;      /* the names read: their indexes in names (NULL: 0 .. count - 1) */
    int fixed;             /* 1: only ``type`` (given to slot_reader_setup) is learned */
    int slotted;           /* 1: objects of exactly ``type`` are read at offsets */
    unsigned int version;  /* type's tp_version_tag when learned */
} SlotReader;

static inline PyObject *slot_reader_name(const SlotReader *reader, int i)
{
    return reader->names[reader->index == NULL ? i : reader->index[i]];
}

/* Learns ``type``: whether its objects are read at offsets, and where. No Python code runs
 * until the reader holds the new class, its offsets and its tag; the old class is dropped
 * last (freeing it may run Python code, which may use the reader again: a caller checks
 * the reader's class again after this). */
static inline void slot_reader_learn(SlotReader *reader, PyTypeObject *type)
{
    PyTypeObject *old = reader->type;
    Py_ssize_t offsets[SLOT_READER_MAX];
    int i, slotted = reader->count <= SLOT_READER_MAX &&
                     type->tp_getattro == PyObject_GenericGetAttr;
    for (i = 0; slotted && i < reader->count; i++) {
        /* (borrowed; no error set when nothing is found) */
        PyObject *found = _PyType_Lookup(type, slot_reader_name(reader, i));
        PyMemberDescrObject *descriptor;
        PyMemberDef *member;
        if (found == NULL || !Py_IS_TYPE(found, &PyMemberDescr_Type)) {
            slotted = 0;
            break;
        }
        descriptor = (PyMemberDescrObject *)found;
        member = descriptor->d_member;
        if (!PyType_IsSubtype(type, descriptor->d_common.d_type) ||
            member->type != T_OBJECT_EX || (member->flags & READ_RESTRICTED) ||
            member->offset < (Py_ssize_t)sizeof(PyObject) ||
            member->offset > type->tp_basicsize - (Py_ssize_t)sizeof(PyObject *)) {
            slotted = 0;
            break;
        }
        offsets[i] = member->offset;
    }
    /* (the look-ups above give the class a tag when it has none; without one, nothing is
     * kept: it is learned again at each read) */
    if (!(type->tp_flags & Py_TPFLAGS_VALID_VERSION_TAG))
        slotted = 0;
    for (i = 0; slotted && i < reader->count; i++)
        reader->offsets[i] = offsets[i];
    reader->slotted = slotted;
    reader->version = type->tp_version_tag;
    Py_INCREF(type);
    reader->type = type;
    Py_XDECREF(old);
}

/* 1: obj is read at the reader's offsets; 0: by PyObject_GetAttr. */
static inline int slot_reader_direct(SlotReader *reader, PyObject *obj)
{
    PyTypeObject *type = Py_TYPE(obj);
    if (type != reader->type) {
        if (reader->fixed)
            return 0;
        slot_reader_learn(reader, type);
    }
    else if (!(type->tp_flags & Py_TPFLAGS_VALID_VERSION_TAG) ||
             type->tp_version_tag != reader->version)
        slot_reader_learn(reader, type);
    return reader->type == type && reader->slotted &&
           (type->tp_flags & Py_TPFLAGS_VALID_VERSION_TAG) &&
           type->tp_version_tag == reader->version;
}

/* obj's attribute ``i`` of the reader's names: a new reference, or NULL with an exception
 * set (AttributeError for an empty slot, as PyObject_GetAttr raises). */
static inline PyObject *slot_read(SlotReader *reader, PyObject *obj, int i)
{
    PyObject *value;
    if (!slot_reader_direct(reader, obj))
        return PyObject_GetAttr(obj, slot_reader_name(reader, i));
    value = *(PyObject **)((char *)obj + reader->offsets[i]);
    if (value == NULL) {
        PyErr_SetObject(PyExc_AttributeError, slot_reader_name(reader, i));
        return NULL;
    }
    Py_INCREF(value);
    return value;
}

/* slot_read_borrowed where obj's class is not the class as learned, as it was (below). */
Py_NO_INLINE static PyObject *slot_read_borrowed_relearning(SlotReader *reader, PyObject *obj,
                                                            int i)
{
    if (!reader->fixed || !slot_reader_direct(reader, obj))
        return NULL;
    return *(PyObject **)((char *)obj + reader->offsets[i]);
}

/* obj's attribute ``i`` of a fixed reader (slot_reader_setup's) where obj is of exactly its
 * class, read at the offsets: borrowed (obj holds it), or NULL, with no exception set, where
 * obj is NULL, of any other class, of a class no longer read at offsets, or the slot is
 * empty (the caller declines: nothing is looked up by name). No Python code runs here (a
 * fixed reader relearns only its own class, which it holds: nothing is freed), so a caller
 * may hold what it read while it reads on. The usual read, inlined: the class as learned,
 * its tag the same. */
static inline Py_ALWAYS_INLINE PyObject *slot_read_borrowed(SlotReader *reader, PyObject *obj,
                                                             int i)
{
    PyTypeObject *type;
    if (obj == NULL)
        return NULL;
    type = Py_TYPE(obj);
    /* (a slotted class was learned with a valid tag, never 0; a changed class's tag is 0:
     * the same tag is a valid one) */
    if (type != reader->type || !reader->slotted || type->tp_version_tag != reader->version)
        return slot_read_borrowed_relearning(reader, obj, i);
    return *(PyObject **)((char *)obj + reader->offsets[i]);
}

/* All of obj's attributes of the reader, as new references into values: 0; -1 with an
 * exception (and no reference left) when one is missing. */
static inline int slot_read_all(SlotReader *reader, PyObject *obj, PyObject **values)
{
    int i;
    if (slot_reader_direct(reader, obj)) {
        /* (no Python code runs while they are read) */
        for (i = 0; i < reader->count; i++) {
            PyObject *value = *(PyObject **)((char *)obj + reader->offsets[i]);
            if (value == NULL) {
                PyErr_SetObject(PyExc_AttributeError, slot_reader_name(reader, i));
                while (--i >= 0)
                    Py_CLEAR(values[i]);
                return -1;
            }
            Py_INCREF(value);
            values[i] = value;
        }
        return 0;
    }
    for (i = 0; i < reader->count; i++) {
        values[i] = PyObject_GetAttr(obj, slot_reader_name(reader, i));
        if (values[i] == NULL) {
            while (--i >= 0)
                Py_CLEAR(values[i]);
            return -1;
        }
    }
    return 0;
}

/* A fixed reader of the class ``type_object`` (only its objects read at offsets), its
 * names interned from ``texts`` when not yet: 0; -1 with TypeError (and no class kept)
 * when it is not a class whose every name read is an object slot. */
static inline int slot_reader_setup(SlotReader *reader, PyObject *type_object,
                                    const char *const *texts)
{
    int i;
    if (reader->count > SLOT_READER_MAX) {
        PyErr_SetString(PyExc_SystemError, "setup(): a reader of too many attributes");
        return -1;
    }
    if (!PyType_Check(type_object)) {
        PyErr_SetString(PyExc_TypeError, "setup(): not a class");
        return -1;
    }
    for (i = 0; i < reader->count; i++) {
        int at = reader->index == NULL ? i : reader->index[i];
        if (reader->names[at] == NULL) {
            reader->names[at] = PyUnicode_InternFromString(texts[at]);
            if (reader->names[at] == NULL)
                return -1;
        }
    }
    reader->fixed = 1;
    slot_reader_learn(reader, (PyTypeObject *)type_object);
    if (reader->type != (PyTypeObject *)type_object || !reader->slotted) {
        Py_CLEAR(reader->type); /* (no class: nothing read, or made, at offsets) */
        PyErr_Format(PyExc_TypeError, "setup(): the attributes read of %R are not all its "
                     "object slots", type_object);
        return -1;
    }
    return 0;
}

#endif
