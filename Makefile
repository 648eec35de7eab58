# cvol — one non-recursive Makefile.  `make`, `make check`, `make format`.
CC ?= cc
PKG_CONFIG ?= pkg-config
PKGS := mount jansson libmicrohttpd libarchive libseccomp libcrypto grpc libprotobuf-c
VERSION := 0.1.0

# What each binary links (pkg-config names): only what it uses, so that a plain mount does not
# load libarchive and its dozen dependencies. Objects are built with a section per function and
# linked with --gc-sections --as-needed, so a binary keeps only the library code it calls, and
# references from the parts it does not call (cvol-mount reaches layers/store.o, whose import
# calls libarchive) go too. A link error naming a library's symbol means a binary now uses it:
# add the package to its list. PKGS (everything) gives the compile flags and the unit tests.
CVOL_MOUNT_PKGS := mount jansson libseccomp
CVOL_PKGS := mount jansson libarchive libcrypto
CVOL_PLUGIN_PKGS := mount jansson libmicrohttpd
CVOL_SNAPSHOTTER_PKGS := mount jansson grpc libprotobuf-c
UNIT_PKGS := $(PKGS)
pkg_libs = $(shell $(PKG_CONFIG) --libs $(1))

WERROR ?= -Werror
CFLAGS ?= -O2 -g
override CFLAGS += -std=gnu11 -Wall -Wextra $(WERROR) -Wshadow -Wno-missing-field-initializers \
	  -D_GNU_SOURCE -DCVOL_VERSION='"$(VERSION)"' -fno-strict-aliasing \
	  -ffunction-sections -fdata-sections $(shell $(PKG_CONFIG) --cflags $(PKGS))
override LDFLAGS += -Wl,--as-needed -Wl,--gc-sections
LDLIBS += -lpthread

BUILD ?= build
# What needs root (apt-get, the default store, the integration tests) runs through sudo when make
# is not run as root, so the README's commands work either way.
AS_ROOT ?= $(if $(filter 0,$(shell id -u 2>/dev/null)),,sudo)
COMMON_SRC := common/error.c common/log.c common/fs.c common/strv.c common/sha256.c common/mountinfo.c common/socket.c \
	      common/staging.c common/walk.c common/mount-opts.c common/system.c
OVERLAY_SRC := overlay/probe.c overlay/probe-cache.c overlay/options.c overlay/plan.c overlay/mount.c overlay/whiteout.c
LAYERS_SRC := layers/chain.c layers/store.c layers/refs.c layers/mount.c layers/tar-import.c layers/tar-export.c layers/diff.c layers/paths.c
IMAGE_SRC := image/image.c
VOLUMES_SRC := volumes/options.c volumes/record.c volumes/backend.c volumes/backend-shared.c volumes/sshfs.c volumes/probe.c volumes/publish.c volumes/store.c volumes/json.c
RUNTIME_SRC := runtime/seccomp.c runtime/exec.c
# The messages of containerd's snapshot API: C made by protoc-c from proto/ at build time.
PROTO := proto/containerd/types/mount.proto proto/containerd/services/snapshots/v1/snapshots.proto \
	 proto/google/protobuf/empty.proto proto/google/protobuf/field_mask.proto proto/google/protobuf/timestamp.proto
PROTO_SRC := $(PROTO:proto/%.proto=$(BUILD)/proto/%.pb-c.c)
PROTO_HDR := $(PROTO_SRC:.c=.h)
override CFLAGS += -I$(BUILD)/proto
LIB_SRC := $(COMMON_SRC) $(OVERLAY_SRC) $(LAYERS_SRC) $(IMAGE_SRC) $(VOLUMES_SRC) $(RUNTIME_SRC)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)

CVOL_MOUNT_SRC := cmd/cvol-mount.c cmd/mount-args.c cmd/output.c cmd/cli.c
CVOL_SRC := cmd/cvol.c cmd/cvol-info.c cmd/cvol-layer.c cmd/cvol-volume.c cmd/cvol-image.c cmd/output.c cmd/cli.c
PLUGIN_SRC := plugin/handlers.c plugin/server.c
# The gRPC server (rpc/rpc.h); the proto objects are linked by whoever serves them.
RPC_SRC := rpc/server.c
RPC_OBJ := $(RPC_SRC:%.c=$(BUILD)/%.o)
PROTO_OBJ := $(PROTO_SRC:%.c=%.o)
CVOL_PLUGIN_SRC := cmd/cvol-plugin.c cmd/cli.c $(PLUGIN_SRC)
SNAPSHOTTER_SRC := snapshotter/labels.c snapshotter/index.c snapshotter/filter.c snapshotter/mounts.c \
		   snapshotter/snapshots.c snapshotter/service.c
SNAPSHOTTER_OBJ := $(SNAPSHOTTER_SRC:%.c=$(BUILD)/%.o)
CVOL_SNAPSHOTTER_SRC := cmd/cvol-snapshotter.c cmd/cli.c
BINS := cvol-mount cvol cvol-plugin cvol-snapshotter
OUT ?= .# where the binaries go (check-asan puts its own in build-asan/bin)
OUT_BINS := $(BINS:%=$(OUT)/%)

UNIT_TESTS := test-error test-strv test-options test-chain test-plan test-mount-args test-fs \
	      test-probe test-layer-store test-volume-options test-volume-backend test-plugin-handlers test-whiteout \
	      test-layer-tar test-layer-diff test-seccomp test-sha256 test-image test-rpc test-snapshotter
UNIT_BINS := $(UNIT_TESTS:%=$(BUILD)/tests/%)

LIB := $(BUILD)/libcvol.a

all: $(OUT_BINS) libcvol.a

$(LIB): $(LIB_OBJ)
	rm -f $@ && $(AR) rcs $@ $^

libcvol.a: $(LIB)
	cp $< $@

$(OUT)/cvol-mount: $(CVOL_MOUNT_SRC:%.c=$(BUILD)/%.o) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(call pkg_libs,$(CVOL_MOUNT_PKGS)) $(LDLIBS)

$(OUT)/cvol: $(CVOL_SRC:%.c=$(BUILD)/%.o) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(call pkg_libs,$(CVOL_PKGS)) $(LDLIBS)

$(OUT)/cvol-plugin: $(CVOL_PLUGIN_SRC:%.c=$(BUILD)/%.o) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(call pkg_libs,$(CVOL_PLUGIN_PKGS)) $(LDLIBS)

$(BUILD)/proto/%.pb-c.c $(BUILD)/proto/%.pb-c.h: proto/%.proto
	@mkdir -p $(BUILD)/proto
	protoc-c --proto_path=proto --c_out=$(BUILD)/proto $<

# Generated objects are compiled without -Werror's extra warnings: the code is protoc-c's.
$(BUILD)/proto/%.pb-c.o: $(BUILD)/proto/%.pb-c.c
	$(CC) $(CFLAGS) -Wno-unused-parameter -MMD -MP -c -o $@ $<

# What includes the generated headers waits for them.
$(SNAPSHOTTER_SRC:%.c=$(BUILD)/%.o) $(BUILD)/cmd/cvol-snapshotter.o: | $(PROTO_HDR)

$(OUT)/cvol-snapshotter: $(CVOL_SNAPSHOTTER_SRC:%.c=$(BUILD)/%.o) $(SNAPSHOTTER_OBJ) $(RPC_OBJ) $(PROTO_OBJ) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(call pkg_libs,$(CVOL_SNAPSHOTTER_PKGS)) $(LDLIBS)

# Objects are rebuilt when the Makefile (their flags) changes.
$(BUILD)/%.o: %.c Makefile
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

# ---- tests ------------------------------------------------------------------
$(BUILD)/tests/test-mount-args: $(BUILD)/tests/unit/test-mount-args.o $(BUILD)/cmd/mount-args.o $(LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(call pkg_libs,$(UNIT_PKGS)) $(LDLIBS) -lcmocka

$(BUILD)/tests/test-plugin-handlers: $(BUILD)/tests/unit/test-plugin-handlers.o $(PLUGIN_SRC:%.c=$(BUILD)/%.o) $(LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(call pkg_libs,$(UNIT_PKGS)) $(LDLIBS) -lcmocka

$(BUILD)/tests/unit/test-snapshotter.o: | $(PROTO_HDR)
$(BUILD)/tests/test-snapshotter: $(BUILD)/tests/unit/test-snapshotter.o $(SNAPSHOTTER_OBJ) $(RPC_OBJ) $(PROTO_OBJ) $(LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(call pkg_libs,$(UNIT_PKGS)) $(LDLIBS) -lcmocka

# The gRPC server against the snapshot service's messages, driven by the gRPC C core's client.
$(BUILD)/tests/unit/test-rpc.o $(BUILD)/tests/common/rpc-client.o: | $(PROTO_HDR)
$(BUILD)/tests/test-rpc: $(BUILD)/tests/unit/test-rpc.o $(BUILD)/tests/common/rpc-client.o $(RPC_OBJ) $(PROTO_OBJ) $(LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(call pkg_libs,$(UNIT_PKGS)) $(LDLIBS) -lcmocka

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(call pkg_libs,$(UNIT_PKGS)) $(LDLIBS) -lcmocka

unit: $(UNIT_BINS)
	@fail=0; for t in $(UNIT_BINS); do echo "== $$t"; $$t || fail=1; done; exit $$fail

integration: $(OUT_BINS)
	$(AS_ROOT) env CVOL_BIN_DIR=$(OUT) tests/integration/run-all.sh

# The README's first job: what cvol finds on the default store (/var/lib/cvol, made when missing).
info: $(OUT)/cvol
	$(AS_ROOT) $(OUT)/cvol info

# No file-level loops and no upward arrows between folders, read off the objects.
lint-deps: $(LIB)
	tests/lint/deps.sh $(BUILD)

check: unit lint-deps integration

# The unit tests, then the integration tests against binaries built with AddressSanitizer and
# UBSan, in a build dir of their own (leaks are the fuzzers' and the unit tests' to find: a
# command's exit report would change what the integration tests see).
check-asan:
	$(MAKE) BUILD=build-asan OUT=build-asan/bin \
		CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
		LDFLAGS="-fsanitize=address,undefined" unit-asan integration-asan

integration-asan: $(OUT_BINS)
	$(AS_ROOT) env ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1 CVOL_BIN_DIR=$(OUT) \
		tests/integration/run-all.sh

unit-asan: $(UNIT_BINS)
	@fail=0; for t in $(UNIT_BINS); do echo "== $$t (asan)"; $$t || fail=1; done; exit $$fail

# ---- fuzzing (libFuzzer, clang) ----------------------------------------------------------
# `make fuzz` builds the harnesses of tests/fuzz/ with ASan and UBSan in build-fuzz/ and runs
# each for FUZZ_SECONDS, from the seeds in tests/fuzz/corpus/<target>/; a crash, a leak or an
# oracle's abort() fails it and leaves the input in build-fuzz/ (crash-*, leak-*).
FUZZ_TARGETS := fuzz-volume-options fuzz-mount-args fuzz-seccomp-profile fuzz-overlay-options \
		fuzz-tar-import fuzz-plugin-handlers fuzz-image fuzz-snapshot-filter
FUZZ_SECONDS ?= 60

fuzz:
	$(MAKE) BUILD=build-fuzz CC=clang WERROR= \
		CFLAGS="-O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
		LDFLAGS="-fsanitize=fuzzer,address,undefined" fuzz-run

fuzz-run: $(FUZZ_TARGETS:%=$(BUILD)/fuzz/%)
	@fail=0; for t in $(FUZZ_TARGETS); do \
		echo "== $$t ($(FUZZ_SECONDS) s)"; mkdir -p $(BUILD)/fuzz/corpus-$$t; \
		(cd $(BUILD)/fuzz && ./$$t -max_total_time=$(FUZZ_SECONDS) -timeout=20 -rss_limit_mb=2048 \
			-print_final_stats=1 corpus-$$t $(CURDIR)/tests/fuzz/corpus/$$t >$$t.log 2>&1); rc=$$?; \
		grep -E 'ERROR|SUMMARY|Done|number_of_executed_units|peak_rss_mb' $(BUILD)/fuzz/$$t.log; \
		test $$rc = 0 || { tail -40 $(BUILD)/fuzz/$$t.log; echo "FUZZ FAILED: $$t"; fail=1; }; \
	done; exit $$fail

$(BUILD)/fuzz/fuzz-mount-args: $(BUILD)/tests/fuzz/fuzz-mount-args.o $(BUILD)/cmd/mount-args.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(call pkg_libs,$(UNIT_PKGS)) $(LDLIBS)

$(BUILD)/fuzz/fuzz-snapshot-filter: $(BUILD)/tests/fuzz/fuzz-snapshot-filter.o $(BUILD)/snapshotter/filter.o $(BUILD)/snapshotter/labels.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(call pkg_libs,$(UNIT_PKGS)) $(LDLIBS)

$(BUILD)/fuzz/fuzz-plugin-handlers: $(BUILD)/tests/fuzz/fuzz-plugin-handlers.o $(PLUGIN_SRC:%.c=$(BUILD)/%.o) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(call pkg_libs,$(UNIT_PKGS)) $(LDLIBS)

$(BUILD)/fuzz/%: $(BUILD)/tests/fuzz/%.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(call pkg_libs,$(UNIT_PKGS)) $(LDLIBS)

deps:
	$(AS_ROOT) apt-get update
	$(AS_ROOT) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
		build-essential pkg-config libmount-dev libjansson-dev libcmocka-dev libmicrohttpd-dev libarchive-dev libseccomp-dev libssl-dev \
		libgrpc-dev libprotobuf-c-dev protobuf-c-compiler containerd runc \
		util-linux mount e2fsprogs xfsprogs strace man-db groff-base bash-completion debhelper lintian dpkg-dev clang-format curl jq docker.io busybox-static systemd zstd attr python3 time clang libclang-rt-14-dev sshfs openssh-server

# containerd's own API .proto files, for tests/integration/test-snapshotter-proto.sh: Debian's
# golang-github-containerd-containerd-dev fetched with apt-get download and unpacked with
# dpkg-deb -x (not installed); its api/ dir lands in $(CONTAINERD_API), where the test looks
# (or wherever CVOL_CONTAINERD_API_DIR says).
CONTAINERD_API := $(BUILD)/containerd-api/api
containerd-api: $(CONTAINERD_API)/services/snapshots/v1/snapshots.proto
$(CONTAINERD_API)/services/snapshots/v1/snapshots.proto:
	rm -rf $(BUILD)/containerd-api.tmp && mkdir -p $(BUILD)/containerd-api.tmp
	cd $(BUILD)/containerd-api.tmp && apt-get download golang-github-containerd-containerd-dev
	dpkg-deb -x $(BUILD)/containerd-api.tmp/golang-github-containerd-containerd-dev_*.deb $(BUILD)/containerd-api.tmp/x
	rm -rf $(BUILD)/containerd-api && mkdir -p $(BUILD)/containerd-api
	cp -r $(BUILD)/containerd-api.tmp/x/usr/share/gocode/src/github.com/containerd/containerd/api $(CONTAINERD_API)
	rm -rf $(BUILD)/containerd-api.tmp

# The plugin load client of tests/bench/plugin.sh.
$(BUILD)/bench/plugin-load: tests/bench/plugin-load.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< -lpthread

# The snapshotter load client of tests/bench/snapshotter.sh: gRPC on the tests' client.
$(BUILD)/tests/bench/snapshotter-load.o: | $(PROTO_HDR)
$(BUILD)/bench/snapshotter-load: $(BUILD)/tests/bench/snapshotter-load.o $(BUILD)/tests/common/rpc-client.o $(PROTO_OBJ)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(call pkg_libs,grpc libprotobuf-c) $(LDLIBS)

bench: $(OUT_BINS) $(BUILD)/bench/plugin-load $(BUILD)/bench/snapshotter-load
	tests/bench/mount-layers.sh
	tests/bench/plugin.sh
	tests/bench/import.sh
	tests/bench/remove.sh
	tests/bench/snapshotter.sh
	tests/bench/sshfs.sh

# ---- managed Docker plugin -----------------------------------------------------------------
# `make plugin`: $(PLUGIN_DIR) (config.json + rootfs/) from the built binaries, offline, for
# `docker plugin create cvol/cvol $(PLUGIN_DIR)` (docs/managed-plugin.md). Not $(BUILD)/plugin:
# that dir holds the objects of plugin/.
PLUGIN_DIR ?= $(BUILD)/docker-plugin
.PHONY: plugin
plugin: $(PLUGIN_DIR)/config.json

$(PLUGIN_DIR)/config.json: $(OUT)/cvol-plugin contrib/plugin/config.json contrib/plugin/make-rootfs.sh
	contrib/plugin/make-rootfs.sh $(OUT) $(PLUGIN_DIR)

# ---- Debian package ---------------------------------------------------------------------
# `make deb` builds cvol_$(VERSION)_<arch>.deb with debhelper (debian/) in a copy of the tracked
# files under $(BUILD)/deb/ (so the tree's own build/ and binaries are not the package's), and
# leaves it in DEBDIR (the top of the tree: `sudo apt install ./cvol_*.deb`); .changes and
# .buildinfo stay in $(BUILD)/deb. No root needed (Rules-Requires-Root: no). None of this make's
# variables reach the package's build (a parent's BUILD, OUT or CFLAGS, in MAKEFLAGS): debian/rules
# sets its own.
DEBDIR ?= .
DEB_SRC := $(BUILD)/deb/cvol-$(VERSION)
# What is copied: the tracked files (git ls-files), or outside a git checkout these.
DEB_DIRS := $(wildcard Makefile README.md .clang-format cmd common completion contrib debian docs image layers \
		       man overlay plugin proto rpc runtime snapshotter tests volumes)

deb:
	@command -v dpkg-buildpackage >/dev/null || { echo "make deb: dpkg-buildpackage not found: apt-get install dpkg-dev debhelper (make deps)" >&2; exit 1; }
	@v=$$(dpkg-parsechangelog -l debian/changelog -S Version); test "$$v" = "$(VERSION)" || \
		{ echo "make deb: debian/changelog is at $$v, the Makefile at $(VERSION)" >&2; exit 1; }
	rm -rf $(BUILD)/deb && mkdir -p $(DEB_SRC)
	if [ -e .git ]; then git ls-files; else printf '%s\n' $(DEB_DIRS); fi >$(BUILD)/deb/files
	tar -cf - -T $(BUILD)/deb/files | tar -xf - -C $(DEB_SRC)
	cd $(DEB_SRC) && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u BUILD -u OUT -u CFLAGS -u LDFLAGS \
		-u LDLIBS -u WERROR -u PREFIX -u DESTDIR dpkg-buildpackage -b -us -uc -j2
	cp $(BUILD)/deb/cvol_$(VERSION)_*.deb $(DEBDIR)/

# ---- install ----------------------------------------------------------------------------
# `make && make install` (PREFIX=/usr/local by default; DESTDIR for packagers), `make uninstall`
# with the same variables removes what it put. The binaries are the build's ($(OUT)): install
# builds nothing after `make`. The daemons go to sbin. The units are templates
# (contrib/systemd/*.service.in): sed fills in the installed paths as they are written.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
DATADIR ?= $(PREFIX)/share
MANDIR ?= $(DATADIR)/man
DOCDIR ?= $(DATADIR)/doc/cvol
PKGDATADIR ?= $(DATADIR)/cvol
# systemd's own unit dir (/lib/systemd/system on Debian 12), or under PREFIX without systemd.pc.
ifndef SYSTEMDUNITDIR
SYSTEMDUNITDIR := $(or $(shell $(PKG_CONFIG) --variable=systemdsystemunitdir systemd 2>/dev/null),$(PREFIX)/lib/systemd/system)
endif
INSTALL ?= install
USER_BINS := cvol cvol-mount
DAEMON_BINS := cvol-plugin cvol-snapshotter
UNITS_IN := $(wildcard contrib/systemd/*.service.in)
UNITS := $(notdir $(UNITS_IN:.in=)) $(notdir $(wildcard contrib/systemd/*.socket))
# README.md links docs/*.md: they keep that layout under DOCDIR.
DOCS := $(wildcard docs/*.md)
# What the templates name, and the sed that fills it in.
UNIT_SED := -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SBINDIR@|$(SBINDIR)|g'

# Each part of the package installs and uninstalls its own files (install-PART, uninstall-PART)
# and adds itself to INSTALL_PARTS where it is defined; `install` and `uninstall`, at the end of
# this file, run every part.
INSTALL_PARTS := core

install-core: $(USER_BINS:%=$(OUT)/%) $(DAEMON_BINS:%=$(OUT)/%)
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(SYSTEMDUNITDIR) \
		$(DESTDIR)$(DOCDIR)/docs $(DESTDIR)$(PKGDATADIR)/containerd $(DESTDIR)$(PKGDATADIR)/docker
	$(INSTALL) -m 0755 $(USER_BINS:%=$(OUT)/%) $(DESTDIR)$(BINDIR)/
	$(INSTALL) -m 0755 $(DAEMON_BINS:%=$(OUT)/%) $(DESTDIR)$(SBINDIR)/
	@set -e; for u in $(UNITS_IN); do \
		d=$(DESTDIR)$(SYSTEMDUNITDIR)/$$(basename $$u .in); \
		echo "sed $(UNIT_SED) $$u >$$d"; \
		rm -f $$d; sed $(UNIT_SED) $$u >$$d; chmod 0644 $$d; \
		if grep -n '@[A-Z_]*@' $$d; then echo "$$u: a placeholder left in $$d" >&2; rm -f $$d; exit 1; fi; \
	done
	$(INSTALL) -m 0644 contrib/systemd/*.socket $(DESTDIR)$(SYSTEMDUNITDIR)/
	$(INSTALL) -m 0644 contrib/containerd/config.toml $(DESTDIR)$(PKGDATADIR)/containerd/
	$(INSTALL) -m 0644 contrib/docker/cvol.spec $(DESTDIR)$(PKGDATADIR)/docker/
	$(INSTALL) -m 0644 README.md $(DESTDIR)$(DOCDIR)/
	$(INSTALL) -m 0644 $(DOCS) $(DESTDIR)$(DOCDIR)/docs/

# Only what install put, and the dirs that are cvol's own once they are empty.
uninstall-core:
	rm -f $(USER_BINS:%=$(DESTDIR)$(BINDIR)/%) $(DAEMON_BINS:%=$(DESTDIR)$(SBINDIR)/%) \
		$(UNITS:%=$(DESTDIR)$(SYSTEMDUNITDIR)/%) \
		$(DESTDIR)$(PKGDATADIR)/containerd/config.toml $(DESTDIR)$(PKGDATADIR)/docker/cvol.spec \
		$(DESTDIR)$(DOCDIR)/README.md $(DOCS:%=$(DESTDIR)$(DOCDIR)/%)
	rmdir $(DESTDIR)$(PKGDATADIR)/containerd $(DESTDIR)$(PKGDATADIR)/docker $(DESTDIR)$(PKGDATADIR) \
		$(DESTDIR)$(DOCDIR)/docs $(DESTDIR)$(DOCDIR) 2>/dev/null || true

# Bash completion: contrib/completion/cvol.bash, as `cvol` and as `cvol-mount` (bash-completion
# loads completions/<command> on the first TAB; either copy completes both), in bash-completion's
# own dir (/usr/share/bash-completion/completions on Debian 12; absolute, as SYSTEMDUNITDIR), or
# under DATADIR without bash-completion.pc.
ifndef BASHCOMPLETIONDIR
BASHCOMPLETIONDIR := $(or $(shell $(PKG_CONFIG) --variable=completionsdir bash-completion 2>/dev/null),$(DATADIR)/bash-completion/completions)
endif
INSTALL_PARTS += completion

install-completion:
	$(INSTALL) -d $(DESTDIR)$(BASHCOMPLETIONDIR)
	$(INSTALL) -m 0644 contrib/completion/cvol.bash $(DESTDIR)$(BASHCOMPLETIONDIR)/cvol
	$(INSTALL) -m 0644 contrib/completion/cvol.bash $(DESTDIR)$(BASHCOMPLETIONDIR)/cvol-mount

uninstall-completion:
	rm -f $(DESTDIR)$(BASHCOMPLETIONDIR)/cvol $(DESTDIR)$(BASHCOMPLETIONDIR)/cvol-mount
# The man pages: hand-written roff (man(7)) in man/, installed as they are. Their .TH line carries
# VERSION as written, not filled in here, so that man/ holds complete pages that man -l,
# dh_installman and lintian take as they are; tests/integration/test-man.sh fails when it is not
# VERSION.
MAN8 := $(wildcard man/*.8)
MAN5 := $(wildcard man/*.5)
INSTALL_PARTS += man

install-man:
	$(INSTALL) -d $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man5
	$(INSTALL) -m 0644 $(MAN8) $(DESTDIR)$(MANDIR)/man8/
	$(INSTALL) -m 0644 $(MAN5) $(DESTDIR)$(MANDIR)/man5/

# The pages, and man8 and man5 once empty; MANDIR itself is shared and stays.
uninstall-man:
	rm -f $(MAN8:man/%=$(DESTDIR)$(MANDIR)/man8/%) $(MAN5:man/%=$(DESTDIR)$(MANDIR)/man5/%)
	rmdir $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man5 2>/dev/null || true


format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan build-fuzz $(BINS) libcvol.a cvol_*.deb

install: $(INSTALL_PARTS:%=install-%)
uninstall: $(INSTALL_PARTS:%=uninstall-%)

.SECONDARY:
.PHONY: deb info install uninstall install-core uninstall-core install-completion uninstall-completion install-man uninstall-man fuzz fuzz-run all unit lint-deps integration integration-asan check check-asan unit-asan deps containerd-api bench format clean
-include $(shell find $(BUILD) -path $(BUILD)/deb -prune -o -name '*.d' -print 2>/dev/null)
