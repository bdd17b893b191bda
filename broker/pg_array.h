/*  pg_array.h: a one-dimensional PostgreSQL array, built element by
    element in the server's binary form (array_recv's) and sent as one
    parameter. A batch of rows then travels as one array per column, for
    one statement that unnests them, instead of a statement per row: one
    execution on the server, whatever the batch's size. Binary, so that
    no text ever needs quoting. */
#ifndef GC_PG_ARRAY_H_INCLUDED
#define GC_PG_ARRAY_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  Element types, by their PostgreSQL type OIDs; the statement's cast
//  ($1::bigint[]) must name the same type, or the server refuses it
#define GC_PG_BYTEA 17
#define GC_PG_INT8  20
#define GC_PG_TEXT  25

typedef struct gc_pg_array_t gc_pg_array_t;

//  An empty array of element_type (one of the GC_PG_ types)
gc_pg_array_t *gc_pg_array_new (uint32_t element_type);
void gc_pg_array_destroy (gc_pg_array_t **self_p);

//  Appends an element: bytes for text (UTF-8, no terminator) and
//  bytea, a number for int8, NULL (SQL's) for any type
void gc_pg_array_bytes (gc_pg_array_t *self, const void *bytes, size_t size);
void gc_pg_array_number (gc_pg_array_t *self, int64_t number);
void gc_pg_array_null (gc_pg_array_t *self);

//  The parameter's bytes and their size, valid until the next append
const char *gc_pg_array_data (gc_pg_array_t *self);
size_t gc_pg_array_size (gc_pg_array_t *self);

void gc_pg_array_test (bool verbose);

#endif
