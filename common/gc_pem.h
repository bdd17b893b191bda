/*  gc_pem.h: a certificate or key file, checked before libwebsockets is
    given its name.

    libwebsockets takes file names and reads them deep inside context
    creation: a certificate file that is missing is silently skipped (a
    TLS port without a certificate), and a CA file it cannot read only
    fails each handshake later. Checking the files first turns both into
    one clear message at start. */
#ifndef GC_PEM_H_INCLUDED
#define GC_PEM_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

//  What a file must hold: a PEM block whose label ends with this
#define GC_PEM_CERTIFICATE  "CERTIFICATE"
#define GC_PEM_PRIVATE_KEY  "PRIVATE KEY"       //  PKCS#8, RSA, EC, ...

//  Checks that path can be read and holds a PEM block labelled ...label
//  ("-----BEGIN EC PRIVATE KEY-----" is a PRIVATE KEY), and for a key
//  that it is not encrypted. Returns 0, or -1 with why (e.g. "cannot
//  read it: No such file or directory") in why.
int gc_pem_check (const char *path, const char *label, char *why, size_t why_size);

//  Self test of this class.
void gc_pem_test (bool verbose);

#endif
