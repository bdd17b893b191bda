#!/bin/sh
# web-files.sh: writes on its standard output the C file that builds the
# browser client's files (web/) into groupchat-gateway, as the table
# gateway/page.h declares. Each file's bytes come in through the
# assembler's .incbin, so building needs nothing but the compiler, and
# the gateway opens no file at run time: there is no path to look up,
# and none a request could lead out of web/.
#
# Fails, naming the file, when:
#   - it is not a plain file (web/ is served flat, without folders);
#   - its name is not letters, digits, '.', '_' and '-' (the name becomes
#     a URL path, and a string in C and in assembler);
#   - its extension has no content type below. A file served under a
#     guessed type fails in the browser alone, later (with nosniff a
#     script or stylesheet of another type is not run), where the build
#     can say at once what to add;
#   - there is no index.html, what GET / serves.
#   scripts/web-files.sh web/index.html web/app.js ...
set -eu

s_fail () {
    echo "web-files: $1" >&2
    exit 1
}

#  The Content-Type of a file by its extension
s_type () {
    case "$1" in
        *.html) echo "text/html; charset=utf-8" ;;
        *.js)   echo "text/javascript; charset=utf-8" ;;
        *.css)  echo "text/css; charset=utf-8" ;;
        *.svg)  echo "image/svg+xml" ;;
        *.png)  echo "image/png" ;;
        *.ico)  echo "image/x-icon" ;;
        *)      s_fail "$1: no content type for its extension; add one to scripts/web-files.sh" ;;
    esac
}

index=no
for path in "$@"; do
    name=${path##*/}
    [ -f "$path" ] || s_fail "$path: not a file (web/ is served without folders)"
    case "$name" in
        .*|*[!A-Za-z0-9._-]*) s_fail "$path: a name of letters, digits, '.', '_' and '-' only" ;;
    esac
    s_type "$path" > /dev/null
    [ "$name" = index.html ] && index=yes
done
[ $index = yes ] || s_fail "no web/index.html: GET / would have nothing to serve"

cat <<EOF
/*  web_files.c: the files of web/ inside groupchat-gateway, as the table
    gateway/page.h declares. Made by scripts/web-files.sh at each build;
    edit web/, not this. */
#include "page.h"

EOF
number=0
for path in "$@"; do
    printf '__asm__ (".pushsection .rodata\\n"\n'
    printf '         "gc_web_%d: .incbin \\"%s\\"\\n"\n' $number "$path"
    printf '         "gc_web_%d_end:\\n"\n' $number
    printf '         ".popsection\\n");\n'
    printf 'extern const unsigned char gc_web_%d [], gc_web_%d_end [];\n\n' $number $number
    number=$((number + 1))
done
printf 'const gc_web_file_t gc_web_files [] = {\n'
number=0
for path in "$@"; do
    printf '    { "%s", "%s", gc_web_%d, gc_web_%d_end },\n' \
           "${path##*/}" "$(s_type "$path")" $number $number
    number=$((number + 1))
done
printf '    { NULL, NULL, NULL, NULL }\n};\n'
