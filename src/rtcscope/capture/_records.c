/* rtcscope.capture._records: the batch walk from record to record of a capture buffer in C.
 *
 * The specification is the pure-Python road of rtcscope.capture.reader: the record walk of
 * CaptureReader._pcap's batches (_walk_pcap_py) and _walk_epbs_py. Both only find where the
 * records that lie whole in the buffer start, from a given position, and where the walk
 * stopped; what a stop means (a refill, a truncated or corrupt record and its message) is
 * decided by the reader's general way, in Python, on both roads.
 *
 * - walk_pcap(buffer, pos, big_endian) -> (positions, stop): a pcap record is a 16-byte
 *   header (captured length at +8) and the captured bytes; every record from pos whose
 *   header and captured bytes end by the end of the buffer, in order, until the first that
 *   does not (its offset is the stop).
 * - walk_epbs(buffer, pos, big_endian, interfaces, max_block) -> (positions, stop): the run
 *   of Enhanced Packet Blocks (type 6) from pos that lie whole in the buffer and pass every
 *   check of the general walk (block length at least 32, a multiple of 4, at most
 *   max_block; the trailing length equal to it; captured length + 32 within it; interface
 *   id below interfaces); the stop is the first block that is not one.
 *
 * positions is bytes: the offsets as native 64-bit integers (array('q').frombytes reads
 * them). Lengths are read as unsigned 32-bit integers and added in 64 bits: lengths near
 * 2^32 cannot wrap. No byte past the buffer is read.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* The unsigned 32-bit integer at p, in the file's byte order. */
static inline uint32_t word(const unsigned char *p, int swap)
{
    uint32_t value;
    memcpy(&value, p, 4);
    if (swap)
        value = ((value & 0xFFu) << 24) | ((value & 0xFF00u) << 8) | ((value >> 8) & 0xFF00u) |
                (value >> 24);
    return value;
}

/* Whether the file's byte order (big_endian) differs from this machine's. */
static int swapped(int big_endian)
{
#if PY_BIG_ENDIAN
    return !big_endian;
#else
    return big_endian;
#endif
}

/* Each record's length says where the next one is: a chain of loads, each waiting for the
 * one before. The records lie in order, so the bytes AHEAD of the walk are asked for early
 * (a hint: it changes no result, and is never past the buffer). */
#ifndef AHEAD
#define AHEAD 2048
#endif
#if defined(__GNUC__) || defined(__clang__)
#define PREFETCH(p) __builtin_prefetch((p), 0, 0)
#else
#define PREFETCH(p) ((void)0)
#endif

/* One walk: the buffer (held in view until end_walk), the file's byte order and where the
 * walk starts. */
typedef struct {
    Py_buffer view;
    const unsigned char *buf;
    uint64_t size, start;
    int swap;
} Walk;

/* Reads the common arguments (buffer, pos, big_endian; want of them in all); -1 with an
 * error set. */
static int start_walk(PyObject *const *args, Py_ssize_t nargs, Py_ssize_t want,
                      const char *name, Walk *walk)
{
    Py_ssize_t pos;
    int big_endian;
    if (nargs != want) {
        PyErr_Format(PyExc_TypeError, "%s() takes %zd arguments (%zd given)", name, want, nargs);
        return -1;
    }
    pos = PyLong_AsSsize_t(args[1]);
    if (pos == -1 && PyErr_Occurred())
        return -1;
    if (pos < 0) {
        PyErr_Format(PyExc_ValueError, "%s(): negative position", name);
        return -1;
    }
    big_endian = PyObject_IsTrue(args[2]);
    if (big_endian < 0)
        return -1;
    if (PyObject_GetBuffer(args[0], &walk->view, PyBUF_SIMPLE) < 0)
        return -1;
    walk->buf = (const unsigned char *)walk->view.buf;
    walk->size = (uint64_t)walk->view.len;
    walk->start = (uint64_t)pos;
    walk->swap = swapped(big_endian);
    return 0;
}

/* The positions found by the last walk, kept from call to call and only ever grown (to the
 * most records one buffer held): a walk allocates nothing but its result. A large temporary
 * allocation freed at each call would raise glibc's mmap threshold and, with it, the memory
 * the rest of the command keeps. The GIL is held from a walk's start to its end. */
static int64_t *kept = NULL;
static Py_ssize_t kept_room = 0;

/* Room for at least need positions in kept; -1 with MemoryError set. */
static int grow(Py_ssize_t need)
{
    Py_ssize_t room = kept_room ? kept_room : 4096;
    int64_t *larger;
    while (room < need) {
        if (room > PY_SSIZE_T_MAX / 2 / (Py_ssize_t)sizeof(int64_t)) {
            PyErr_NoMemory();
            return -1;
        }
        room *= 2;
    }
    larger = PyMem_Realloc(kept, (size_t)room * sizeof(int64_t));
    if (larger == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    kept = larger;
    kept_room = room;
    return 0;
}

/* The walk's outcome, (positions: bytes of native int64, stop), the buffer released; NULL
 * with an error set. steps walks from the start (found: where to store, room: how many fit;
 * it stops early when full and returns how many it stored in count); again while kept
 * was too small. */
static PyObject *end_walk(Walk *walk, uint64_t (*steps)(const Walk *, uint64_t, int64_t *,
                                                        Py_ssize_t, Py_ssize_t *, Py_ssize_t,
                                                        Py_ssize_t),
                          Py_ssize_t a, Py_ssize_t b)
{
    Py_ssize_t count = 0, stored;
    uint64_t at = walk->start, next;
    PyObject *positions;
    if (kept == NULL && grow(1) < 0)
        goto fail;
    for (;;) {
        stored = 0;
        next = steps(walk, at, kept + count, kept_room - count, &stored, a, b);
        count += stored;
        if (next == at || count < kept_room) {
            at = next;
            break;
        }
        at = next;
        if (grow(kept_room + 1) < 0)
            goto fail;
    }
    PyBuffer_Release(&walk->view);
    positions = PyBytes_FromStringAndSize((const char *)kept, count * (Py_ssize_t)sizeof(int64_t));
    if (positions == NULL)
        return NULL;
    return Py_BuildValue("(NK)", positions, (unsigned long long)at);
fail:
    PyBuffer_Release(&walk->view);
    return NULL;
}

/* The pcap records from at (stored in found, at most room of them, counted in count);
 * returns where the walk stopped: the first record not whole in the buffer, or the one after
 * the last stored when found is full. */
static uint64_t pcap_steps(const Walk *w, uint64_t at, int64_t *found, Py_ssize_t room,
                           Py_ssize_t *count, Py_ssize_t unused_a, Py_ssize_t unused_b)
{
    (void)unused_a;
    (void)unused_b;
    while (*count < room && at + 16 <= w->size) {
        uint64_t end;
        if (at + AHEAD < w->size)
            PREFETCH(w->buf + at + AHEAD);
        end = at + 16 + word(w->buf + at + 8, w->swap);
        if (end > w->size)
            break;
        found[(*count)++] = (int64_t)at;
        at = end;
    }
    return at;
}

/* The run of Enhanced Packet Blocks from at, as pcap_steps. */
static uint64_t epb_steps(const Walk *w, uint64_t at, int64_t *found, Py_ssize_t room,
                          Py_ssize_t *count, Py_ssize_t interfaces, Py_ssize_t max_block)
{
    if (interfaces < 0 || max_block < 0)
        return at;
    while (*count < room && at + 32 <= w->size) {
        const unsigned char *block = w->buf + at;
        uint64_t blen;
        if (at + AHEAD < w->size)
            PREFETCH(block + AHEAD);
        blen = word(block + 4, w->swap);
        if (word(block, w->swap) != 6 || blen < 32 || (blen & 3) != 0 ||
            blen > (uint64_t)max_block || at + blen > w->size ||
            (uint64_t)word(block + 20, w->swap) + 32 > blen ||
            (uint64_t)word(block + 8, w->swap) >= (uint64_t)interfaces ||
            word(block + blen - 4, w->swap) != blen)
            break;
        found[(*count)++] = (int64_t)at;
        at += blen;
    }
    return at;
}

static PyObject *walk_pcap(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Walk w;
    (void)module;
    if (start_walk(args, nargs, 3, "walk_pcap", &w) < 0)
        return NULL;
    return end_walk(&w, pcap_steps, 0, 0);
}

static PyObject *walk_epbs(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Walk w;
    Py_ssize_t interfaces = 0, max_block = 0;
    (void)module;
    if (nargs == 5) {
        interfaces = PyLong_AsSsize_t(args[3]);
        if (interfaces == -1 && PyErr_Occurred())
            return NULL;
        max_block = PyLong_AsSsize_t(args[4]);
        if (max_block == -1 && PyErr_Occurred())
            return NULL;
    }
    if (start_walk(args, nargs, 5, "walk_epbs", &w) < 0)
        return NULL;
    return end_walk(&w, epb_steps, interfaces, max_block);
}

static PyMethodDef methods[] = {
    {"walk_pcap", (PyCFunction)(void (*)(void))walk_pcap, METH_FASTCALL,
     "walk_pcap(buffer, pos, big_endian) -> (positions, stop): the whole pcap records"},
    {"walk_epbs", (PyCFunction)(void (*)(void))walk_epbs, METH_FASTCALL,
     "walk_epbs(buffer, pos, big_endian, interfaces, max_block) -> (positions, stop): the "
     "run of whole, well-formed Enhanced Packet Blocks"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "rtcscope.capture._records", NULL, 0, methods,
};

PyMODINIT_FUNC PyInit__records(void)
{
    return PyModule_Create(&module);
}
