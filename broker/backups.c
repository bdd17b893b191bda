/*  backups.c: backups written under the backup directory, and only there.

    A backup's name comes from whoever reached the broker's request port.
    It is resolved from the directory's descriptor one component at a
    time, each opened with O_NOFOLLOW, so neither ".." (refused anyway)
    nor a symbolic link inside the directory leads out of it. SQLite
    writes its copy by path, so it writes into a partial file of our own
    making at the top of the directory (a name nobody chose); the whole
    copy is then linked under its name with linkat, which never replaces
    anything, and the partial name removed. A backup that exists under
    its name is therefore always complete, and never overwrote a file. */
#include <czmq.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include "backups.h"
#include "rig.h"
#include "gc_alloc.h"
#include "gc_log.h"

struct gc_backups_t {
    int dir_fd;                 //  the directory: every name resolves from it
    char *dir_path;             //  its real path, for SQLite, which opens by path
};

gc_backups_t *
gc_backups_new (const char *dir)
{
    if (mkdir (dir, 0700) && errno != EEXIST) {
        gc_error ("cannot create the backup directory dir=%s: %s", dir, strerror (errno));
        return NULL;
    }
    gc_backups_t *self = gc_calloc (1, sizeof *self);
    self->dir_fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    self->dir_path = self->dir_fd >= 0? realpath (dir, NULL): NULL;
    if (!self->dir_path) {
        gc_error ("cannot open the backup directory dir=%s: %s", dir, strerror (errno));
        gc_backups_destroy (&self);
    }
    return self;
}

void
gc_backups_destroy (gc_backups_t **self_p)
{
    gc_backups_t *self = *self_p;
    if (!self)
        return;
    if (self->dir_fd >= 0)
        close (self->dir_fd);
    free (self->dir_path);
    free (self);
    *self_p = NULL;
}

//  True when name is a relative path of plain components: none empty
//  (no leading, doubled or trailing slash), none "." or ".."
static bool
s_name_is_plain (const char *name)
{
    if (strlen (name) >= PATH_MAX)
        return false;
    const char *at = name;
    while (true) {
        size_t length = strcspn (at, "/");
        if (length == 0 || (length <= 2 && strncmp (at, "..", length) == 0))
            return false;
        if (!at [length])
            return true;
        at += length + 1;
    }
}

//  Opens the folder that holds name's last component, walking from the
//  directory without following links; *last gets that component.
//  Returns a descriptor to close, or -1.
static int
s_open_folder (gc_backups_t *self, const char *name, const char **last)
{
    int folder = fcntl (self->dir_fd, F_DUPFD_CLOEXEC, 0);
    const char *at = name;
    size_t length;
    while (folder >= 0 && at [length = strcspn (at, "/")]) {
        char part [NAME_MAX + 1];
        int next = -1;
        if (length <= NAME_MAX) {
            memcpy (part, at, length);
            part [length] = 0;
            next = openat (folder, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
        close (folder);
        folder = next;
        at += length + 1;
    }
    *last = at;
    return folder;
}

//  Makes an empty partial file at the top of the directory; its path
//  into path [PATH_MAX]. 0 or -1.
static int
s_partial_new (gc_backups_t *self, char *path)
{
    int size = snprintf (path, PATH_MAX, "%s/.partial-backup-XXXXXX", self->dir_path);
    int fd = size < PATH_MAX? mkstemp (path): -1;
    if (fd < 0) {
        gc_error ("cannot make a partial backup in dir=%s: %s", self->dir_path, strerror (errno));
        return -1;
    }
    close (fd);
    return 0;
}

//  Copies the store into a partial file, then links it as last in folder
static gc_error_t
s_write_into (gc_backups_t *self, gc_store_t *store, int folder, const char *last,
              const char **why)
{
    struct stat status;
    if (fstatat (folder, last, &status, AT_SYMLINK_NOFOLLOW) == 0) {
        *why = "it exists already";
        return GC_BAD_REQUEST;
    }
    char partial [PATH_MAX];
    if (s_partial_new (self, partial))
        return GC_INTERNAL;
    const char *partial_name = partial + strlen (self->dir_path) + 1;
    gc_error_t code = GC_OK;
    if (gc_store_backup (store, partial))
        code = GC_INTERNAL;
    else
    if (linkat (self->dir_fd, partial_name, folder, last, 0)) {
        code = errno == EEXIST? GC_BAD_REQUEST: GC_INTERNAL;
        *why = errno == EEXIST? "it exists already": NULL;
        if (code == GC_INTERNAL)
            gc_error ("cannot name the backup name=%s: %s", last, strerror (errno));
    }
    gc_rig_unlink (partial);
    //  The new name is on disk too, not only the copy's data
    fsync (folder);
    return code;
}

gc_error_t
gc_backups_write (gc_backups_t *self, gc_store_t *store, const char *name, const char **why)
{
    *why = NULL;
    if (!s_name_is_plain (name)) {
        *why = "a backup is named by a path relative to the backup directory, "
               "without '.' or '..' parts";
        return GC_BAD_REQUEST;
    }
    const char *last;
    int folder = s_open_folder (self, name, &last);
    if (folder < 0) {
        *why = "no such folder in the backup directory (links are not followed)";
        return GC_BAD_REQUEST;
    }
    gc_error_t code = s_write_into (self, store, folder, last, why);
    close (folder);
    return code;
}

//  --------------------------------------------------------------------------
//  Self test

//  Writes the rig's store as name: the code, and why when refused
static gc_error_t
s_test_write (gc_backups_t *self, gc_store_t *store, const char *name)
{
    const char *why;
    gc_error_t code = gc_backups_write (self, store, name, &why);
    assert ((code == GC_BAD_REQUEST) == (why != NULL));
    return code;
}

//  True when path is a database with the rig's rooms in it
static bool
s_test_is_copy (const char *path)
{
    gc_store_t *copy = gc_store_new (path, GC_SEED_NONE);
    bool found = copy && gc_store_room (copy, "Taskmaster", NULL);
    gc_store_destroy (&copy);
    return found;
}

static void
s_test_names (gc_backups_t *self, gc_store_t *store)
{
    const char *bad [] = {
        "", "/tmp/copy.db", "../copy.db", "sub/../../copy.db", "./copy.db", "sub/./copy.db",
        "sub//copy.db", "sub/", "..", ".", "copy.db/"
    };
    for (size_t index = 0; index < sizeof bad / sizeof bad [0]; index++)
        assert (s_test_write (self, store, bad [index]) == GC_BAD_REQUEST);
    char long_name [PATH_MAX + 2];
    memset (long_name, 'x', sizeof long_name - 1);
    long_name [sizeof long_name - 1] = 0;
    assert (s_test_write (self, store, long_name) == GC_BAD_REQUEST);
    memset (long_name, 'x', NAME_MAX + 1);
    strcpy (long_name + NAME_MAX + 1, "/copy.db");
    assert (s_test_write (self, store, long_name) == GC_BAD_REQUEST);
}

//  Links in the directory lead nowhere: neither a folder link nor a
//  dangling file link is followed, and nothing is written outside
static void
s_test_links (gc_backups_t *self, gc_store_t *store, const char *dir)
{
    char outside [] = "/tmp/gc_backups_outside_XXXXXX";
    assert (mkdtemp (outside));
    char link [128], target [128];
    snprintf (link, sizeof link, "%.64s/away", dir);
    assert (symlink (outside, link) == 0);
    assert (s_test_write (self, store, "away/copy.db") == GC_BAD_REQUEST);
    snprintf (link, sizeof link, "%.64s/dangling.db", dir);
    snprintf (target, sizeof target, "%s/target.db", outside);
    assert (symlink (target, link) == 0);
    assert (s_test_write (self, store, "dangling.db") == GC_BAD_REQUEST);
    struct stat status;
    assert (stat (target, &status) < 0 && errno == ENOENT);
    assert (rmdir (outside) == 0);
}

void
gc_backups_test (bool verbose)
{
    if (verbose)
        printf (" * gc_backups: ");
    gc_rig_t *rig = gc_rig_new ();
    char parent [] = "/tmp/gc_backups_test_XXXXXX";
    assert (mkdtemp (parent));
    char dir [64], path [128];
    snprintf (dir, sizeof dir, "%s/backups", parent);
    //  A missing directory is made, private; one whose parent is missing
    //  cannot be, and a file is no directory
    gc_backups_t *self = gc_backups_new (dir);
    struct stat status;
    assert (self && stat (dir, &status) == 0 && (status.st_mode & 0777) == 0700);
    snprintf (path, sizeof path, "%s/missing/backups", parent);
    assert (gc_backups_new (path) == NULL);

    assert (s_test_write (self, rig->store, "copy.db") == GC_OK);
    snprintf (path, sizeof path, "%s/copy.db", dir);
    assert (s_test_is_copy (path));
    assert (gc_backups_new (path) == NULL);
    assert (s_test_write (self, rig->store, "copy.db") == GC_BAD_REQUEST);
    assert (s_test_write (self, rig->store, "sub/copy.db") == GC_BAD_REQUEST);
    snprintf (path, sizeof path, "%s/sub", dir);
    assert (mkdir (path, 0700) == 0);
    assert (s_test_write (self, rig->store, "sub/copy.db") == GC_OK);
    assert (s_test_write (self, rig->store, "copy.db/x.db") == GC_BAD_REQUEST);
    s_test_names (self, rig->store);
    s_test_links (self, rig->store, dir);

    //  Only what was made is left: no partial file, no journal
    const char *made [] = { "copy.db", "sub/copy.db", "sub", "away", "dangling.db" };
    for (size_t index = 0; index < sizeof made / sizeof made [0]; index++) {
        snprintf (path, sizeof path, "%s/%s", dir, made [index]);
        assert (remove (path) == 0);
    }
    assert (rmdir (dir) == 0 && rmdir (parent) == 0);
    //  The directory gone under the broker: the backup fails inside
    assert (s_test_write (self, rig->store, "late.db") == GC_INTERNAL);
    gc_backups_destroy (&self);
    gc_backups_destroy (&self);
    gc_rig_destroy (&rig);
    if (verbose)
        printf ("OK\n");
}
