# groupchat: builds bin/groupchat-broker, bin/groupchat-gateway and
# bin/groupchat with plain make and pkg-config, and runs the tests.
#
#   make            build (release, into bin/)
#   make run        install missing dependencies, build, start a broker
#                   and two gateways on localhost
#   make test       unit self-tests and integration scenarios, the latter
#                   once with the broker on SQLite and once on PostgreSQL
#                   (TEST_DATABASES=sqlite: the first only)
#   make test SANITIZE=1   the same under AddressSanitizer and UBSan
#   make test VALGRIND=1   the same with every server under valgrind
#   make test-compose      docker-compose.yml up for real, tested (Docker)
#   make fuzz       libFuzzer harnesses (clang, into build/fuzz), each
#                   run FUZZ_SECONDS (60) after its kept regressions;
#                   FUZZ_NAMES=codec runs only that one
#   make deps       install missing Debian packages (as root)

PKGS     = libczmq libzmq libwebsockets msgpack jansson libsodium sqlite3 libpq
CC      ?= gcc
OPT     ?= -O2 -g
CFLAGS  += -std=gnu11 $(OPT) -Wall -Wextra -Werror -MMD -MP -Icommon -Iprotocol \
           $(shell pkg-config --cflags $(PKGS))
LDLIBS  += $(shell pkg-config --libs $(PKGS)) -lreadline -lpthread

#  Hardening (docs/dependencies.md#hardening): stack canaries, the GOT
#  read-only once loaded (full RELRO, every symbol bound at start), and
#  checked libc calls where sizes are known. Debian's gcc makes PIE by
#  default. _FORTIFY_SOURCE needs optimisation, and it fights ASan over
#  the same calls, so the SANITIZE build leaves it out.
CFLAGS  += -fstack-protector-strong
LDFLAGS += -Wl,-z,relro,-z,now
FORTIFY  = -U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=2

ifeq ($(FUZZ),1)
#  Everything the harnesses link is instrumented for coverage; only the
#  harness programs get libFuzzer's main
CC       = clang
BUILD    = build/fuzz
BIN      = build/fuzz/bin
OPT      = -O1 -g
CFLAGS  += -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer \
           -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=fuzzer,address,undefined
else ifeq ($(SANITIZE),1)
BUILD    = build/san
BIN      = build/san/bin
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
else
BUILD    = build/release
BIN      = bin
CFLAGS  += $(if $(filter -O1 -O2 -O3 -Os -Og -Ofast,$(OPT)),$(FORTIFY))
endif

COMMON   = $(wildcard common/*.c) $(wildcard protocol/*.c)
BROKER   = $(filter-out broker/main.c, $(wildcard broker/*.c))
GATEWAY  = $(filter-out gateway/main.c, $(wildcard gateway/*.c))
CLIENT   = $(filter-out client/main.c, $(wildcard client/*.c))
BENCH    = $(filter-out bench/main.c, $(wildcard bench/*.c))
obj      = $(patsubst %.c, $(BUILD)/%.o, $(1))

FUZZ_NAMES ?= request codec session store
FUZZERS  = $(addprefix $(BIN)/fuzz-, $(FUZZ_NAMES))
PROGRAMS = $(BIN)/groupchat-broker $(BIN)/groupchat-gateway $(BIN)/groupchat \
           $(BIN)/groupchat-admin $(BIN)/groupchat-selftest $(BIN)/groupchat-bench

.PHONY: all deps run test fuzz fuzzers clean FORCE
all: $(PROGRAMS)

#  Objects and programs are remade when the flags change (new hardening
#  flags, another OPT): the flags are kept in a file rewritten only then
FLAGS    = $(BUILD)/flags
$(FLAGS): FORCE
	@mkdir -p $(BUILD)
	@echo '$(CC) $(CFLAGS) $(LDFLAGS) $(LDLIBS)' | cmp -s - $@ \
	    || echo '$(CC) $(CFLAGS) $(LDFLAGS) $(LDLIBS)' > $@

$(BUILD)/%.o: %.c $(FLAGS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

#  The browser client's files (web/) are built into the gateway: a C file
#  that .incbin's each (scripts/web-files.sh, gateway/page.h), rewritten
#  only when the list of files changes, and compiled again when it does
#  or when any file does (the compiler's -MMD does not see .incbin)
WEB      = $(sort $(wildcard web/*))
WEB_O    = $(BUILD)/web_files.o
$(BUILD)/web_files.c: scripts/web-files.sh FORCE
	@mkdir -p $(dir $@)
	@sh scripts/web-files.sh $(WEB) > $@.new || { rm -f $@.new; exit 1; }
	@cmp -s $@.new $@ && rm $@.new || mv $@.new $@
$(WEB_O): $(BUILD)/web_files.c $(WEB) $(FLAGS)
	$(CC) $(CFLAGS) -Igateway -c $< -o $@

$(BIN)/groupchat-broker: $(call obj, broker/main.c $(BROKER) $(COMMON))
#  The gateway's self-tests start a broker in-process: its objects come along
$(BIN)/groupchat-gateway: $(call obj, gateway/main.c $(GATEWAY) $(COMMON)) $(WEB_O)
$(BIN)/groupchat: $(call obj, client/main.c $(CLIENT) $(COMMON))
$(BIN)/groupchat-admin: $(call obj, admin/main.c $(COMMON))
$(BIN)/groupchat-selftest: $(call obj, tests/selftest.c $(BROKER) $(GATEWAY) $(CLIENT) $(BENCH) $(COMMON)) \
                          $(WEB_O)
$(BIN)/groupchat-bench: $(call obj, bench/main.c $(BENCH) $(COMMON))
$(BIN)/fuzz-request: $(call obj, fuzz/request.c $(COMMON))
$(BIN)/fuzz-codec: $(call obj, fuzz/codec.c $(COMMON))
$(BIN)/fuzz-session: $(call obj, fuzz/session.c $(CLIENT) $(COMMON))
$(BIN)/fuzz-store: $(call obj, fuzz/store.c $(BROKER) $(COMMON))
$(PROGRAMS) $(FUZZERS): $(FLAGS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $(filter %.o,$^) $(LDLIBS) -o $@

deps:
	sh scripts/deps.sh

run:
	@sh scripts/deps.sh build
	@$(MAKE) --no-print-directory all
	@sh scripts/run.sh

TEST_DATABASES ?= sqlite postgresql
comma := ,
space := $(subst ,, )

ifeq ($(VALGRIND),1)
TEST_WRAP = valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
            --suppressions=$(CURDIR)/tests/valgrind.supp
endif

test:
	@sh scripts/deps.sh
	@$(MAKE) --no-print-directory all
	@GROUPCHAT_TEST_WRAP="$(TEST_WRAP)" /usr/bin/python3 tests/run.py --bin $(BIN) \
	    --databases $(subst $(space),$(comma),$(strip $(TEST_DATABASES)))

#  The harnesses are built by a make of their own (FUZZ=1: clang, another
#  build folder), then each replays fuzz/regressions/ and runs
FUZZ_SECONDS ?= 60
fuzz:
	@sh scripts/deps.sh fuzz
	@$(MAKE) --no-print-directory FUZZ=1 fuzzers
	@sh scripts/fuzz.sh build/fuzz/bin $(FUZZ_SECONDS) $(FUZZ_NAMES)

fuzzers: $(FUZZERS)

#  docker-compose.yml up for real on this machine's Docker engine
test-compose:
	@bash scripts/test-compose.sh

.PHONY: bench test-compose
bench: all
	sh scripts/bench.sh

clean:
	rm -rf build bin

-include $(shell find build -name '*.d' 2>/dev/null)
