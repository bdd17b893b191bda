/*  pg_array.c: a PostgreSQL array parameter in binary form (pg_array.h).

    The form, every integer in network order: the number of dimensions
    (1, or 0 for an empty array), whether any element is NULL, the
    element type's OID, then per dimension its length and lower bound
    (1); then each element as its length (-1 for NULL) and its bytes.
    The header is written as the array is made and its length filled in
    when the bytes are asked for, so elements are appended in place. */
#include <assert.h>
#include <limits.h>
#include <stdio.h>
#include "pg_array.h"
#include "gc_alloc.h"

#define S_HEADER 20             //  dimensions, NULL flag, type, length, lower bound
#define S_HEADER_EMPTY 12       //  no dimension, so no length nor lower bound

struct gc_pg_array_t {
    char *data;                 //  the header, then the elements
    size_t size, max;
    uint32_t count;             //  elements appended
    bool has_null;
};

static void
s_put32 (char *at, uint32_t value)
{
    for (int index = 0; index < 4; index++)
        at [index] = (char) (value >> (24 - 8 * index));
}

//  Room for size more bytes at the end: their address
static char *
s_grow (gc_pg_array_t *self, size_t size)
{
    if (self->size + size > self->max) {
        while (self->size + size > self->max)
            self->max *= 2;
        self->data = gc_realloc (self->data, self->max);
    }
    char *at = self->data + self->size;
    self->size += size;
    return at;
}

gc_pg_array_t *
gc_pg_array_new (uint32_t element_type)
{
    gc_pg_array_t *self = gc_calloc (1, sizeof *self);
    self->max = 256;
    self->data = gc_malloc (self->max);
    self->size = S_HEADER;
    s_put32 (self->data + 8, element_type);
    s_put32 (self->data + 16, 1);
    return self;
}

void
gc_pg_array_destroy (gc_pg_array_t **self_p)
{
    gc_pg_array_t *self = *self_p;
    if (!self)
        return;
    free (self->data);
    free (self);
    *self_p = NULL;
}

void
gc_pg_array_bytes (gc_pg_array_t *self, const void *bytes, size_t size)
{
    assert (size <= INT32_MAX);
    char *at = s_grow (self, 4 + size);
    s_put32 (at, (uint32_t) size);
    memcpy (at + 4, bytes, size);
    self->count++;
}

void
gc_pg_array_number (gc_pg_array_t *self, int64_t number)
{
    char *at = s_grow (self, 4 + 8);
    s_put32 (at, 8);
    s_put32 (at + 4, (uint32_t) ((uint64_t) number >> 32));
    s_put32 (at + 8, (uint32_t) number);
    self->count++;
}

void
gc_pg_array_null (gc_pg_array_t *self)
{
    s_put32 (s_grow (self, 4), UINT32_MAX);     //  -1
    self->has_null = true;
    self->count++;
}

const char *
gc_pg_array_data (gc_pg_array_t *self)
{
    s_put32 (self->data, self->count? 1: 0);
    s_put32 (self->data + 4, self->has_null);
    s_put32 (self->data + 12, self->count);
    return self->data;
}

size_t
gc_pg_array_size (gc_pg_array_t *self)
{
    return self->count? self->size: S_HEADER_EMPTY;
}

//  --------------------------------------------------------------------------
//  Self test

void
gc_pg_array_test (bool verbose)
{
    if (verbose)
        printf (" * gc_pg_array: ");
    gc_pg_array_t *array = gc_pg_array_new (GC_PG_INT8);
    assert (gc_pg_array_size (array) == S_HEADER_EMPTY);
    assert (memcmp (gc_pg_array_data (array), "\0\0\0\0" "\0\0\0\0" "\0\0\0\x14", 12) == 0);
    gc_pg_array_number (array, -2);
    gc_pg_array_number (array, 0x0102030405060708);
    const char int8s [] = "\0\0\0\1" "\0\0\0\0" "\0\0\0\x14" "\0\0\0\2" "\0\0\0\1"
                          "\0\0\0\x08" "\xff\xff\xff\xff\xff\xff\xff\xfe"
                          "\0\0\0\x08" "\1\2\3\4\5\6\7\x08";
    assert (gc_pg_array_size (array) == sizeof int8s - 1);
    assert (memcmp (gc_pg_array_data (array), int8s, sizeof int8s - 1) == 0);
    gc_pg_array_destroy (&array);
    gc_pg_array_destroy (&array);

    //  A NULL among texts sets the flag; the buffer grows past its start
    array = gc_pg_array_new (GC_PG_TEXT);
    gc_pg_array_bytes (array, "hé", 3);
    gc_pg_array_null (array);
    gc_pg_array_bytes (array, "", 0);
    const char texts [] = "\0\0\0\1" "\0\0\0\1" "\0\0\0\x19" "\0\0\0\3" "\0\0\0\1"
                          "\0\0\0\3" "h\xc3\xa9" "\xff\xff\xff\xff" "\0\0\0\0";
    assert (gc_pg_array_size (array) == sizeof texts - 1);
    assert (memcmp (gc_pg_array_data (array), texts, sizeof texts - 1) == 0);
    char big [1000];
    memset (big, 'x', sizeof big);
    gc_pg_array_bytes (array, big, sizeof big);
    assert (gc_pg_array_size (array) == sizeof texts - 1 + 4 + sizeof big);
    assert (memcmp (gc_pg_array_data (array) + 12, "\0\0\0\4", 4) == 0);
    assert (memcmp (gc_pg_array_data (array) + sizeof texts - 1 + 4, big, sizeof big) == 0);
    gc_pg_array_destroy (&array);
    if (verbose)
        printf ("OK\n");
}
