/* rtcscope._slots: many instances of a class with __slots__ made from columns, in C (the
 * stream scanner's finish makes a StreamKey and an RtpStream for each of thousands of short
 * streams: rtcscope.rtp.streams).
 *
 * The specification is the pure-Python road, rtcscope.slotted.objects_py: for a class
 * ``cls`` and ``fields`` (member descriptors of ``cls``'s slots, e.g. ``vars(cls)[name]``)
 * and as many ``columns`` (lists or tuples, all of one length n), n new instances made by
 * ``object.__new__(cls)`` (no __init__), instance i's field k set to columns[k][i] as
 * ``fields[k].__set__`` sets it; a list of them. Only a class whose instances object.__new__
 * makes (no __new__ of its own, not abstract), member descriptors of that class (or a
 * base) and exact lists or tuples are taken: anything else is a TypeError; columns of other
 * lengths, or a field given twice, a ValueError (the Python road fails alike). A writable
 * object slot is stored directly; any other member is set by its descriptor.
 *
 * items(rows, positions, defaults): the columns of a list of tuples (finish reads a few
 * fields of each stream's SDP announcement, a NamedTuple, and of each stream key), in one
 * pass; the specification is rtcscope.slotted.items_py. ``rows`` an exact list whose
 * items are tuples (subclasses too: their storage is read, as tuple.__getitem__ reads it)
 * or None; ``positions`` an exact tuple of ints >= 0, ``defaults`` an exact tuple as long: column k is
 * [tuple.__getitem__(row, positions[k]) if row is not None else defaults[k] for row in
 * rows]; a tuple of lists. Anything else is a TypeError, a position beyond a row an
 * IndexError, a negative position or defaults of another length a ValueError.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

static PyObject *objects(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *cls_obj, *fields, *columns, *made = NULL;
    PyObject **column_seqs = NULL;
    Py_ssize_t *offsets = NULL;
    Py_ssize_t nfields, count = 0, i, k;
    PyTypeObject *cls;

    (void)module;
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "objects(cls, fields, columns)");
        return NULL;
    }
    cls_obj = args[0];
    fields = args[1];
    columns = args[2];
    if (!PyType_Check(cls_obj)) {
        PyErr_SetString(PyExc_TypeError, "objects: cls must be a class");
        return NULL;
    }
    cls = (PyTypeObject *)cls_obj;
    if (cls->tp_new != PyBaseObject_Type.tp_new || cls->tp_alloc == NULL) {
        PyErr_SetString(PyExc_TypeError, "objects: cls must be made by object.__new__");
        return NULL;
    }
    /* object.__new__ refuses an abstract class (abc): so does the Python road, at once */
    if (PyType_HasFeature(cls, Py_TPFLAGS_IS_ABSTRACT)) {
        PyErr_SetString(PyExc_TypeError, "objects: cls is abstract");
        return NULL;
    }
    if (!PyTuple_Check(fields) || !PyTuple_Check(columns)) {
        PyErr_SetString(PyExc_TypeError, "objects: fields and columns must be tuples");
        return NULL;
    }
    nfields = PyTuple_GET_SIZE(fields);
    if (PyTuple_GET_SIZE(columns) != nfields) {
        PyErr_SetString(PyExc_ValueError, "objects: a column per field");
        return NULL;
    }
    offsets = PyMem_New(Py_ssize_t, nfields > 0 ? nfields : 1);
    column_seqs = PyMem_New(PyObject *, nfields > 0 ? nfields : 1);
    if (offsets == NULL || column_seqs == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (k = 0; k < nfields; k++) {
        PyObject *field = PyTuple_GET_ITEM(fields, k);
        PyObject *column = PyTuple_GET_ITEM(columns, k);
        PyMemberDef *member;
        PyTypeObject *owner;

        if (!Py_IS_TYPE(field, &PyMemberDescr_Type)) {
            PyErr_SetString(PyExc_TypeError, "objects: each field must be a slot's member descriptor");
            goto done;
        }
        member = ((PyMemberDescrObject *)field)->d_member;
        owner = ((PyDescrObject *)field)->d_type;
        if (!PyType_IsSubtype(cls, owner)) {
            PyErr_SetString(PyExc_TypeError, "objects: a field is no writable object slot of cls");
            goto done;
        }
        /* Only an exact list or tuple is read by its storage: a subclass may iterate its
         * own way, and the Python road refuses it alike. */
        if (!PyList_CheckExact(column) && !PyTuple_CheckExact(column)) {
            PyErr_SetString(PyExc_TypeError, "objects: each column must be a list or a tuple");
            goto done;
        }
        if (k == 0)
            count = PySequence_Fast_GET_SIZE(column);
        else if (PySequence_Fast_GET_SIZE(column) != count) {
            PyErr_SetString(PyExc_ValueError, "objects: the columns differ in length");
            goto done;
        }
        for (i = 0; i < k; i++) {
            if (PyTuple_GET_ITEM(fields, i) == field) {
                PyErr_SetString(PyExc_ValueError, "objects: a field given twice");
                goto done;
            }
        }
        /* A writable object slot (another field's than any before: each store below finds
         * NULL) is stored directly; any other member (a C type's, read-only, of another
         * type) is set by its descriptor, as the Python road sets every field. */
        offsets[k] = member->offset;
        if (member->type != T_OBJECT_EX || (member->flags & READONLY) ||
            member->offset < (Py_ssize_t)sizeof(PyObject) ||
            member->offset + (Py_ssize_t)sizeof(PyObject *) > cls->tp_basicsize)
            offsets[k] = -1;
        for (i = 0; offsets[k] >= 0 && i < k; i++)
            if (offsets[i] == offsets[k])
                offsets[k] = -1;
        column_seqs[k] = column;
    }
    made = PyList_New(count);
    if (made == NULL)
        goto done;
    /* Its items are NULL until made: a collection the allocations below run must not find
     * it (gc.get_objects() would hand it out); it is tracked again once full. */
    PyObject_GC_UnTrack(made);
    for (i = 0; i < count; i++) {
        /* A collection the allocation runs may run code that changes a column: the
         * lengths are checked after it, before the items are read. */
        PyObject *instance = cls->tp_alloc(cls, 0);

        if (instance == NULL) {
            Py_CLEAR(made);
            goto done;
        }
        for (k = 0; k < nfields; k++) {
            if (PySequence_Fast_GET_SIZE(column_seqs[k]) != count) {
                PyErr_SetString(PyExc_ValueError, "objects: a column changed length");
                Py_DECREF(instance);
                Py_CLEAR(made);
                goto done;
            }
        }
        PyList_SET_ITEM(made, i, instance);
        /* Each directly stored slot is NULL (a new instance, no offset twice): nothing is
         * released here. */
        for (k = 0; k < nfields; k++) {
            PyObject *value = PySequence_Fast_GET_ITEM(column_seqs[k], i);

            if (offsets[k] >= 0) {
                Py_INCREF(value);
                *(PyObject **)((char *)instance + offsets[k]) = value;
            }
        }
    }
    if (made != NULL)
        PyObject_GC_Track(made);
    /* The fields set by their descriptors (which may run code), column by column as the
     * Python road sets them, from the instances made. */
    for (k = 0; made != NULL && k < nfields; k++) {
        PyObject *field = PyTuple_GET_ITEM(fields, k);

        if (offsets[k] >= 0)
            continue;
        for (i = 0; i < count; i++) {
            PyObject *value;
            int failed;

            if (PySequence_Fast_GET_SIZE(column_seqs[k]) <= i) {
                PyErr_SetString(PyExc_ValueError, "objects: a column changed length");
                Py_CLEAR(made);
                break;
            }
            value = PySequence_Fast_GET_ITEM(column_seqs[k], i);
            Py_INCREF(value);
            failed = Py_TYPE(field)->tp_descr_set(field, PyList_GET_ITEM(made, i), value) < 0;
            Py_DECREF(value);
            if (failed) {
                Py_CLEAR(made);
                break;
            }
        }
    }
done:
    PyMem_Free(offsets);
    PyMem_Free(column_seqs);
    return made;
}

static PyObject *items(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *rows, *positions, *defaults, *columns = NULL;
    PyObject **made = NULL;
    Py_ssize_t *at = NULL;
    Py_ssize_t width, row_width, count, i, k;

    (void)module;
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "items(rows, positions, defaults, width)");
        return NULL;
    }
    rows = args[0];
    positions = args[1];
    defaults = args[2];
    if (!PyList_CheckExact(rows) || !PyTuple_CheckExact(positions) ||
        !PyTuple_CheckExact(defaults)) {
        PyErr_SetString(PyExc_TypeError, "items: rows must be a list, positions and defaults tuples");
        return NULL;
    }
    if (!PyLong_CheckExact(args[3])) {
        PyErr_SetString(PyExc_TypeError, "items: the width must be an int");
        return NULL;
    }
    {
        int overflow = 0;
        long long value = PyLong_AsLongLongAndOverflow(args[3], &overflow);

        if (value == -1 && PyErr_Occurred())
            return NULL;
        /* too large or too small for an index: the width of no row (any position fits
         * within the one, none within the other) */
        if (overflow > 0 || value > (long long)PY_SSIZE_T_MAX)
            value = (long long)PY_SSIZE_T_MAX;
        row_width = overflow < 0 || value < 0 ? -1 : (Py_ssize_t)value;
    }
    width = PyTuple_GET_SIZE(positions);
    if (PyTuple_GET_SIZE(defaults) != width) {
        PyErr_SetString(PyExc_ValueError, "items: a default per position");
        return NULL;
    }
    at = PyMem_New(Py_ssize_t, width > 0 ? width : 1);
    made = PyMem_New(PyObject *, width > 0 ? width : 1);
    if (at == NULL || made == NULL) {
        PyErr_NoMemory();
        goto fail;
    }
    for (k = 0; k < width; k++)
        made[k] = NULL;
    for (k = 0; k < width; k++) {
        PyObject *position = PyTuple_GET_ITEM(positions, k);

        if (!PyLong_CheckExact(position)) {
            PyErr_SetString(PyExc_TypeError, "items: each position must be an int");
            goto fail;
        }
        {
            int overflow = 0;
            long long value = PyLong_AsLongLongAndOverflow(position, &overflow);

            int beyond;

            if (value == -1 && PyErr_Occurred())
                goto fail;
            /* (exact ints compared: no Python code runs) */
            beyond = PyObject_RichCompareBool(position, args[3], Py_GE);
            if (beyond < 0)
                goto fail;
            if (overflow < 0 || (overflow == 0 && value < 0) || beyond) {
                PyErr_SetString(PyExc_ValueError, "items: a position must be within the width");
                goto fail;
            }
            /* too large for an index: past the end of any tuple (only None rows are read) */
            if (overflow > 0 || value > (long long)PY_SSIZE_T_MAX)
                value = (long long)PY_SSIZE_T_MAX;
            at[k] = (Py_ssize_t)value;
        }
    }
    /* The columns are made, untracked (their items are NULL until filled: a collection
     * must not hand them out), before the rows are read, as the Python road makes its
     * columns before reading: a collection the allocations ran may have run code that
     * changed the list; if its length changed, the columns are made again for it. */
    for (;;) {
        count = PyList_GET_SIZE(rows);
        for (k = 0; k < width; k++) {
            made[k] = PyList_New(count);
            if (made[k] == NULL)
                goto fail;
            PyObject_GC_UnTrack(made[k]);
        }
        columns = PyTuple_New(width);
        if (columns == NULL)
            goto fail;
        if (width > 0)
            PyObject_GC_UnTrack(columns);
        if (PyList_GET_SIZE(rows) == count)
            break;
        Py_CLEAR(columns);
        for (k = 0; k < width; k++)
            Py_CLEAR(made[k]);
    }
    /* Nothing below runs Python code until the columns are full (no call, no allocation,
     * no release of a last reference): the list keeps its length and items while read.
     * Every row is checked before any is read. */
    for (i = 0; i < count; i++) {
        PyObject *row = PyList_GET_ITEM(rows, i);

        if (row == Py_None)
            continue;
        if (!PyTuple_Check(row)) {
            PyErr_SetString(PyExc_TypeError, "items: each row must be a tuple or None");
            goto fail;
        }
        if (PyTuple_GET_SIZE(row) != row_width) {
            PyErr_SetString(PyExc_ValueError, "items: a row of another width");
            goto fail;
        }
    }
    for (k = 0; k < width; k++) {
        PyObject *column = made[k];
        PyObject *fallback = PyTuple_GET_ITEM(defaults, k);
        Py_ssize_t position = at[k];

        for (i = 0; i < count; i++) {
            PyObject *row = PyList_GET_ITEM(rows, i);
            PyObject *value = row == Py_None ? fallback : PyTuple_GET_ITEM(row, position);

            Py_INCREF(value);
            PyList_SET_ITEM(column, i, value);
        }
    }
    for (k = 0; k < width; k++) {
        PyObject_GC_Track(made[k]);
        PyTuple_SET_ITEM(columns, k, made[k]);
        made[k] = NULL;
    }
    if (width > 0)
        PyObject_GC_Track(columns);
    PyMem_Free(at);
    PyMem_Free(made);
    return columns;
fail:
    /* (an untracked list's unset items are NULL: its release skips them; the columns
     * tuple holds none of them until all are full) */
    Py_XDECREF(columns);
    for (k = 0; made != NULL && k < width; k++)
        Py_XDECREF(made[k]);
    PyMem_Free(at);
    PyMem_Free(made);
    return NULL;
}

static PyMethodDef methods[] = {
    {"objects", (PyCFunction)(void (*)(void))objects, METH_FASTCALL,
     "objects(cls, fields, columns) -> list: instances of cls, field k of instance i set to "
     "columns[k][i] (rtcscope.slotted.objects_py in C)."},
    {"items", (PyCFunction)(void (*)(void))items, METH_FASTCALL,
     "items(rows, positions, defaults, width) -> tuple of lists: the columns of a list of "
     "tuples of width items "
     "(rtcscope.slotted.items_py in C)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "rtcscope._slots",
    "Instances of a slotted class made from columns, and columns of tuples (rtcscope.slotted in C).", -1, methods,
};

PyMODINIT_FUNC PyInit__slots(void)
{
    return PyModule_Create(&module_def);
}
