/* Reading the slots of objects of one exact class by offset, for the C accelerators of the
 * diagnosis's output and of a call's dialogs (rtcscope.sip._pathdict, rtcscope.sip._dialogs).
 * Included by both sources (static functions: each extension has its own copy). */

#ifndef RTCSCOPE_SLOTREAD_H
#define RTCSCOPE_SLOTREAD_H

#include <Python.h>
#include <structmember.h>
#include <string.h>

#define SLOTS_MAX 16 /* the most slots one Slots reads */

typedef struct {
    PyTypeObject *type; /* exactly this class is read through its slots (NULL: not set up) */
    Py_ssize_t offsets[SLOTS_MAX];
} Slots;

/* slots->offsets of the names in type (each an object slot of it or of a base class): 0,
 * or -1 with an exception (slots unchanged). */
static int slots_setup(Slots *slots, PyObject *type, const char *const *names, int count)
{
    Py_ssize_t offsets[SLOTS_MAX];
    int i;
    if (!PyType_Check(type) || count > SLOTS_MAX) {
        PyErr_SetString(PyExc_TypeError, "setup(): not a class");
        return -1;
    }
    for (i = 0; i < count; i++) {
        PyObject *descriptor = PyObject_GetAttrString(type, names[i]);
        PyMemberDef *member;
        if (descriptor == NULL)
            return -1;
        if (!Py_IS_TYPE(descriptor, &PyMemberDescr_Type) ||
            !PyType_IsSubtype((PyTypeObject *)type,
                              ((PyMemberDescrObject *)descriptor)->d_common.d_type) ||
            ((PyMemberDescrObject *)descriptor)->d_member->type != T_OBJECT_EX) {
            Py_DECREF(descriptor);
            PyErr_Format(PyExc_TypeError, "setup(): %s is not an object slot of %R", names[i],
                         type);
            return -1;
        }
        member = ((PyMemberDescrObject *)descriptor)->d_member;
        offsets[i] = member->offset;
        Py_DECREF(descriptor);
    }
    memcpy(slots->offsets, offsets, sizeof(Py_ssize_t) * (size_t)count);
    Py_INCREF(type);
    Py_XSETREF(slots->type, (PyTypeObject *)type);
    return 0;
}

/* obj's slot i (borrowed; NULL when unset); obj of exactly slots.type. */
#define SLOT(obj, slots, i) (*(PyObject **)((char *)(obj) + (slots).offsets[i]))

#endif
