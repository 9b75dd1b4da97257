/*
 * Marvin32, compiled: the optional speedup of vhdfix/registry/marvin32.py, which documents the algorithm
 * and stays the reference (the tests compare the two). Written from Microsoft's MIT-licensed description
 * (dotnet/runtime System.Private.CoreLib/src/System/Marvin.cs, 64-bit ComputeHash).
 *
 * marvin32(data, seed=0x82EF4D887A4E55C5) -> int: data is any C-contiguous buffer; the seed is taken
 * modulo 2**64, as the Python version does; the result is (hi << 32) | lo.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>
#include <stdint.h>

#define HIVE_LOG_SEED 0x82EF4D887A4E55C5ULL

/* Below this size, releasing and retaking the GIL costs more than the hash. */
#define RELEASE_GIL_FROM 4096

static uint32_t rotl32(uint32_t x, unsigned r) { return (x << r) | (x >> (32U - r)); }

/* Byte assembly instead of a pointer cast: no alignment or byte-order assumption; compilers emit one load. */
static uint32_t read_le32(const unsigned char *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static void mix(uint32_t *lo, uint32_t *hi, uint32_t word) {
    uint32_t p0 = *lo + word;
    uint32_t p1 = *hi ^ p0;
    p0 = rotl32(p0, 20) + p1;
    p1 = rotl32(p1, 9) ^ p0;
    p0 = rotl32(p0, 27) + p1;
    p1 = rotl32(p1, 19);
    *lo = p0;
    *hi = p1;
}

static uint64_t marvin32_hash(const unsigned char *data, size_t length, uint64_t seed) {
    uint32_t lo = (uint32_t)seed;
    uint32_t hi = (uint32_t)(seed >> 32);
    size_t words = length / 4;
    size_t i;
    uint32_t final = 0x80;
    for (i = 0; i < words; i++) {
        mix(&lo, &hi, read_le32(data + 4 * i));
    }
    /* The last word is the 0-3 remaining bytes followed by 0x80; a word of 0 gives the closing extra mix. */
    for (i = length; i > 4 * words; i--) {
        final = (final << 8) | data[i - 1];
    }
    mix(&lo, &hi, final);
    mix(&lo, &hi, 0);
    return ((uint64_t)hi << 32) | lo;
}

static PyObject *marvin32(PyObject *module, PyObject *args, PyObject *kwargs) {
    static char *keywords[] = {"data", "seed", NULL};
    Py_buffer buffer;
    unsigned long long seed = HIVE_LOG_SEED;
    uint64_t result;
    (void)module;
    /* y*: any C-contiguous buffer (bytes, bytearray, memoryview...); K: an int modulo 2**64. */
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "y*|K:marvin32", keywords, &buffer, &seed)) {
        return NULL;
    }
    if (buffer.len >= RELEASE_GIL_FROM) {
        Py_BEGIN_ALLOW_THREADS
        result = marvin32_hash((const unsigned char *)buffer.buf, (size_t)buffer.len, seed);
        Py_END_ALLOW_THREADS
    } else {
        result = marvin32_hash((const unsigned char *)buffer.buf, (size_t)buffer.len, seed);
    }
    PyBuffer_Release(&buffer);
    return PyLong_FromUnsignedLongLong(result);
}

static PyMethodDef methods[] = {
    {"marvin32", (PyCFunction)(void (*)(void))marvin32, METH_VARARGS | METH_KEYWORDS,
     "marvin32(data, seed=0x82EF4D887A4E55C5)\n--\n\n"
     "Return the 64-bit Marvin32 hash of the buffer data as (hi << 32) | lo."},
    {NULL, NULL, 0, NULL},
};

static PyModuleDef_Slot slots[] = {
#ifdef Py_mod_multiple_interpreters
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
#endif
#ifdef Py_mod_gil
    {Py_mod_gil, Py_MOD_GIL_NOT_USED},
#endif
    {0, NULL},
};

static struct PyModuleDef module_definition = {
    PyModuleDef_HEAD_INIT,
    "vhdfix.registry._marvin32",
    "Compiled Marvin32 (see vhdfix.registry.marvin32).",
    0,
    methods,
    slots,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC PyInit__marvin32(void) { return PyModuleDef_Init(&module_definition); }
