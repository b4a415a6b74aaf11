# kinesis-keeper: a plain, non-recursive Makefile.
#   make            build/kinesis-keeper build/kinesis-keeper-worker
#   make deps       the Debian packages of tests/packages.txt (as root)
#   make check      every test (unit tests under ASan/UBSan, config, end to end)
#   make install    PREFIX=/usr DESTDIR=...
#   make deb        the Debian package into build/
#   make demo       run the keeper against a local emulator and show the result
#   make bench      the performance benchmark
#   make check-crash  power loss at every step (also part of check)
#   make mutants    the mutation run (not part of check)

PREFIX	?= /usr/local
SBINDIR	?= $(PREFIX)/sbin
LIBEXECDIR ?= $(PREFIX)/lib/kinesis-keeper
MANDIR	?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc

CC	?= cc
PKGS	= libcurl json-c libconfig zlib libcrypto libdeflate libzstd libisal
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm
# the supervisor makes no network call: no libcurl, no compression engines
SUP_PKGS = json-c libconfig libcrypto
SUP_LIBS   := $(shell pkg-config --libs $(SUP_PKGS) 2>/dev/null) -lm

WARN	= -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	  -Wmissing-declarations -Wpointer-arith -Wcast-qual -Wwrite-strings \
	  -Wformat=2 -Wundef -Wvla -Wnull-dereference -Wimplicit-fallthrough \
	  -Wno-unused-parameter
CSTD	= -std=c11 -D_GNU_SOURCE
OPT	?= -O2 -g
CPPFLAGS += -Icommon -Iworker -Isupervisor \
	    -DLIBEXECDIR='"$(LIBEXECDIR)"' -DSYSCONFDIR='"$(SYSCONFDIR)"'
ALL_CFLAGS = $(CSTD) $(OPT) $(WARN) $(PKG_CFLAGS) $(CFLAGS)

SAN	= -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	  -fno-omit-frame-pointer

# common/ is one static library; each program names its own sources and
# takes from the library only the objects it calls (STYLE: each program
# links what it uses).
COMMON_SRCS = common/archive.c common/log.c common/util.c common/cfg.c common/cfg_check.c \
	      common/cfg_dump.c common/cfg_file.c common/cfg_units.c \
	      common/jsonscan.c common/sigv4.c common/msg.c common/http.c \
	      common/http_parse.c \
	      common/aws.c common/aws_error.c common/creds.c common/pos.c \
	      common/ckpt.c \
	      common/outbox.c common/kinesis.c common/kinesis_parse.c \
	      common/s3.c common/sns.c common/sts.c common/health.c \
	      common/cloudwatch.c common/ddb.c common/lease.c
SUP_SRCS    = supervisor/keeper.c supervisor/slot.c supervisor/status.c
# the supervisor's network helpers (helper.c, metrics.c) and its network
# commands ("check", "verify": check.c, verify.c, chain.c) are modes of the
# worker program, which the supervisor execs for them: they need libcurl,
# the supervisor does not, and does not link it (its peak RSS would double
# with libcurl's dependencies mapped)
WORKER_SRCS = worker/worker.c worker/batch.c worker/record.c worker/kpl.c \
	      worker/jsonpath.c worker/compress.c worker/localcopy.c \
	      supervisor/helper.c supervisor/metrics.c supervisor/check.c \
	      supervisor/chain.c supervisor/verify.c supervisor/leases.c
# the worker's modules the unit tests call (its main() left out)
WORKER_LIB_SRCS = $(filter-out worker/worker.c,$(WORKER_SRCS))
# likewise the supervisor's (the slot table, verify's chain checks)
SUP_LIB_SRCS = $(filter-out supervisor/keeper.c,$(SUP_SRCS))

UNIT_TESTS  = test_util test_cfg test_sigv4 test_msg test_record test_kpl \
	      test_batch test_ckpt test_kinesis test_health test_compress \
	      test_jsonpath test_slot test_archive test_localcopy test_http \
	      test_http_parse test_lease

COMMON_OBJS = $(COMMON_SRCS:%.c=build/obj/%.o)
SUP_OBJS    = $(SUP_SRCS:%.c=build/obj/%.o)
WORKER_OBJS = $(WORKER_SRCS:%.c=build/obj/%.o)

all: build/kinesis-keeper build/kinesis-keeper-worker

build/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

build/asan/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CSTD) -O1 -g $(WARN) $(PKG_CFLAGS) $(SAN) $(CFLAGS) -MMD -MP -c -o $@ $<

build/obj/libcommon.a: $(COMMON_OBJS)
	rm -f $@
	$(AR) rcs $@ $^

build/asan/libcommon.a: $(COMMON_SRCS:%.c=build/asan/%.o)
	rm -f $@
	$(AR) rcs $@ $^

build/asan/libworker.a: $(WORKER_LIB_SRCS:%.c=build/asan/%.o)
	rm -f $@
	$(AR) rcs $@ $^

build/asan/libsup.a: $(SUP_LIB_SRCS:%.c=build/asan/%.o)
	rm -f $@
	$(AR) rcs $@ $^

build/kinesis-keeper: $(SUP_OBJS) build/obj/libcommon.a
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(SUP_LIBS)

build/kinesis-keeper-worker: $(WORKER_OBJS) build/obj/libcommon.a
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# The same programs under AddressSanitizer/UBSan, for the end-to-end tests.
build/asan/kinesis-keeper: $(SUP_SRCS:%.c=build/asan/%.o) build/asan/libcommon.a
	$(CC) $(SAN) $(LDFLAGS) -o $@ $^ $(SUP_LIBS)

build/asan/kinesis-keeper-worker: $(WORKER_SRCS:%.c=build/asan/%.o) \
	    build/asan/libcommon.a
	$(CC) $(SAN) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# A unit test takes what it calls from the worker's and the supervisor's
# modules and common/.
build/asan/tests/%: tests/unit/%.c tests/unit/t.h tests/unit/unpack.h \
	    build/asan/libworker.a build/asan/libsup.a build/asan/libcommon.a
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Itests/unit $(CSTD) -O1 -g $(WARN) $(PKG_CFLAGS) $(SAN) $(CFLAGS) \
	    -o $@ $< build/asan/libworker.a build/asan/libsup.a \
	    build/asan/libcommon.a $(PKG_LIBS)

unit: $(UNIT_TESTS:%=build/asan/tests/%)

sanitize: build/asan/kinesis-keeper build/asan/kinesis-keeper-worker

# The Debian packages first (tests/deps.sh, tests/packages.txt), then the
# build: on a fresh machine the -dev packages are missing, and pkg-config
# is read when make starts, so the build runs in a make started after them.
deps:
	@sh tests/deps.sh build

check:
	@sh tests/deps.sh check
	@$(MAKE) --no-print-directory all unit sanitize crashlib
	@sh tests/run.sh

# The crash recorder (tests/crash/recorder.c): an LD_PRELOAD shim for the
# power-loss suite only, never linked into the programs.
build/tests/librecorder.so: tests/crash/recorder.c
	@mkdir -p $(@D)
	$(CC) $(CSTD) -O2 -g $(WARN) $(CFLAGS) -fPIC -shared -o $@ $< -ldl

crashlib: build/tests/librecorder.so

check-crash: all crashlib
	@KK_SUITES=crash sh tests/run.sh

# Named bugs on the path that keeps records safe, each built in a copy and
# run against the suite meant to kill it (tests/mutants/mutants.py); not
# part of check.
mutants: all crashlib
	@python3 tests/mutants/mutants.py

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(LIBEXECDIR) \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8
	install -m 755 build/kinesis-keeper $(DESTDIR)$(SBINDIR)/
	install -m 755 build/kinesis-keeper-worker $(DESTDIR)$(LIBEXECDIR)/
	install -m 644 man/kinesis-keeper.8 man/kinesis-keeper-worker.8 \
	    $(DESTDIR)$(MANDIR)/man8/
	install -m 644 man/kinesis-keeper.conf.5 $(DESTDIR)$(MANDIR)/man5/

demo:
	@sh tests/deps.sh demo
	@$(MAKE) --no-print-directory all
	@sh tests/demo.sh

clean:
	rm -rf build

.PHONY: all deps check check-crash mutants crashlib unit sanitize install demo clean

-include $(shell find build -name '*.d' 2>/dev/null)

deb:
	@sh deb/build.sh
.PHONY: deb

bench:
	@sh tests/deps.sh bench
	@$(MAKE) --no-print-directory all
	@sh bench/run.sh
.PHONY: bench
