/*  gc_pem.c: is this file a PEM certificate or key we can read?

    Only the shape is checked (a BEGIN line with the right label): whether
    the certificate and key are valid and match is for OpenSSL to say,
    through libwebsockets, when the context is made. */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "gc_alloc.h"
#include "gc_pem.h"

//  Certificate chains and keys are a few KiB; a bundle of CAs a few
//  hundred: reading this much finds a first block in any of them
#define S_READ_MAX      (4 << 20)

//  True when text has a line "-----BEGIN <...label>-----"
static bool
s_has_block (const char *text, const char *label)
{
    static const char begin [] = "-----BEGIN ";
    size_t label_size = strlen (label);
    for (const char *at = strstr (text, begin); at; at = strstr (at + 1, begin)) {
        const char *name = at + sizeof begin - 1;
        const char *end = strstr (name, "-----");
        const char *newline = strchr (name, '\n');
        if (end && (!newline || end < newline) && (size_t) (end - name) >= label_size
        &&  memcmp (end - label_size, label, label_size) == 0)
            return true;
    }
    return false;
}

//  Reads up to S_READ_MAX bytes of the file as a string; NULL with errno
static char *
s_read (const char *path)
{
    FILE *file = fopen (path, "r");
    if (!file)
        return NULL;
    char *text = gc_malloc (S_READ_MAX + 1);
    size_t size = fread (text, 1, S_READ_MAX, file);
    int failed = ferror (file)? errno: 0;
    fclose (file);
    if (failed) {
        free (text);
        errno = failed;
        return NULL;
    }
    text [size] = 0;
    return text;
}

int
gc_pem_check (const char *path, const char *label, char *why, size_t why_size)
{
    char *text = s_read (path);
    if (!text) {
        snprintf (why, why_size, "cannot read it: %s", strerror (errno));
        return -1;
    }
    bool found = s_has_block (text, label);
    //  OpenSSL would ask for the passphrase on the terminal, if any, and
    //  a gateway would wait there: a key must come unencrypted
    bool encrypted = found && strcmp (label, GC_PEM_PRIVATE_KEY) == 0
                  && (s_has_block (text, "ENCRYPTED PRIVATE KEY")
                      || strstr (text, "Proc-Type: 4,ENCRYPTED"));
    free (text);
    if (!found)
        snprintf (why, why_size, "it holds no PEM %s (-----BEGIN ...%s-----)", label, label);
    else
    if (encrypted)
        snprintf (why, why_size, "the key is encrypted; give it unencrypted "
                  "(openssl pkey -in KEY -out PLAIN_KEY), readable by this user alone");
    return found && !encrypted? 0: -1;
}

//  --------------------------------------------------------------------------
//  Self test

//  Writes text to a new temporary file; returns its name (free it)
static char *
s_test_file (const char *text)
{
    char *path = gc_strdup ("/tmp/gc_pem_test.XXXXXX");
    int fd = mkstemp (path);
    assert (fd >= 0);
    assert (write (fd, text, strlen (text)) == (ssize_t) strlen (text));
    close (fd);
    return path;
}

void
gc_pem_test (bool verbose)
{
    printf (" * gc_pem: ");
    char why [256];
    const char *cert = "junk\n-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    const char *key = "-----BEGIN EC PRIVATE KEY-----\nMHcC\n-----END EC PRIVATE KEY-----\n";
    const char *other = "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n"
                        "CERTIFICATE-----\n";
    const char *encrypted = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIH0\n"
                            "-----END ENCRYPTED PRIVATE KEY-----\n";
    const char *traditional = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n"
                              "DEK-Info: AES-128-CBC,00\n\nMIIE\n-----END RSA PRIVATE KEY-----\n";
    char *paths [] = {
        s_test_file (cert), s_test_file (key), s_test_file (other),
        s_test_file (encrypted), s_test_file (traditional)
    };

    assert (gc_pem_check (paths [0], GC_PEM_CERTIFICATE, why, sizeof why) == 0);
    assert (gc_pem_check (paths [1], GC_PEM_PRIVATE_KEY, why, sizeof why) == 0);
    //  The right file for the wrong part, a block of another kind, no file
    assert (gc_pem_check (paths [0], GC_PEM_PRIVATE_KEY, why, sizeof why) == -1);
    assert (strstr (why, "no PEM PRIVATE KEY"));
    assert (gc_pem_check (paths [2], GC_PEM_CERTIFICATE, why, sizeof why) == -1);
    assert (gc_pem_check ("/nonexistent/cert.pem", GC_PEM_CERTIFICATE, why, sizeof why) == -1);
    assert (strstr (why, "cannot read it: No such file"));
    assert (gc_pem_check ("/tmp", GC_PEM_CERTIFICATE, why, sizeof why) == -1);
    assert (strstr (why, "cannot read it"));
    //  Encrypted keys, PKCS#8 and traditional, are refused
    for (size_t index = 3; index < 5; index++) {
        assert (gc_pem_check (paths [index], GC_PEM_PRIVATE_KEY, why, sizeof why) == -1);
        assert (strstr (why, "the key is encrypted"));
    }

    for (size_t index = 0; index < sizeof paths / sizeof paths [0]; index++) {
        unlink (paths [index]);
        free (paths [index]);
    }
    if (verbose)
        printf ("(certificate, key, wrong kind, missing, folder, encrypted key) ");
    printf ("OK\n");
}
