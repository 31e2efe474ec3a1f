# lua-autopilot: thin wrappers only; the logic lives in scripts/ and the sources.
LUA        ?= lua5.4
PKG_CONFIG ?= pkg-config
CC         ?= cc
BUILD      ?= build
OPT        ?= -O2 -g
SANITIZE   ?=
WARN        = -std=c11 -Wall -Wextra -pedantic -Wmissing-prototypes -Wshadow -Wstrict-prototypes \
              -Wformat=2 -Wno-unused-parameter
CPPFLAGS   += -D_GNU_SOURCE
CFLAGS_ALL  = $(OPT) $(WARN) $(SANITIZE) -fPIC -fvisibility=hidden $(CFLAGS)
LUA_CFLAGS := $(shell $(PKG_CONFIG) --cflags lua5.4)
CURL_FLAGS := $(shell $(PKG_CONFIG) --cflags libcurl)
MHD_FLAGS  := $(shell $(PKG_CONFIG) --cflags libmicrohttpd)
CORE_LIBS  := $(shell $(PKG_CONFIG) --libs libcurl libcrypto)
EMU_LIBS   := $(shell $(PKG_CONFIG) --libs libmicrohttpd libcrypto zlib) -lpthread

CORE_SRC = $(wildcard src/*.c)
# the emulator host shares the core's option reader, clock, buffer and base64url (one of each in the tree)
SHARED_SRC = src/options.c src/clock.c src/buf.c src/base64url.c
EMU_SRC  = $(wildcard src/emulator/*.c) $(SHARED_SRC)
CORE_SO  = $(BUILD)/autopilot/core.so
EMU_SO   = $(BUILD)/autopilot/emulator/host.so

.PHONY: all build test check lint asan valgrind bench demo doc examples clean install fuzz fuzz-build man
all build: $(CORE_SO) $(EMU_SO)

$(CORE_SO): $(CORE_SRC) $(wildcard src/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS_ALL) $(LUA_CFLAGS) $(CURL_FLAGS) -shared -o $@ $(CORE_SRC) $(CORE_LIBS) $(LDFLAGS)

$(EMU_SO): $(EMU_SRC) $(wildcard src/emulator/*.h) $(SHARED_SRC:.c=.h)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Isrc $(CFLAGS_ALL) $(LUA_CFLAGS) $(MHD_FLAGS) -shared -o $@ $(EMU_SRC) $(EMU_LIBS) $(LDFLAGS)

# The README's test command is scripts/test.sh; these targets are what it calls.
test: build
	sh scripts/busted.sh

lint:
	sh scripts/lint.sh

asan:
	$(MAKE) BUILD=build-asan OPT="-O1 -g -fno-omit-frame-pointer" SANITIZE="-fsanitize=address,undefined -fno-sanitize-recover=undefined" build
	sh scripts/busted.sh --asan

valgrind: build
	sh scripts/busted.sh --valgrind

check:
	sh scripts/test.sh

bench: build
	sh scripts/bench.sh

RUN_ENV = LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='$(BUILD)/?.so;;'

demo: build
	$(RUN_ENV) $(LUA) examples/demo.lua

# libFuzzer targets (fuzz/*.c), one per parser of server or file input, built with Debian's clang against
# the core's sources; `make fuzz` builds and runs each for FUZZ_SECONDS over its seed corpus.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_FLAGS    = -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_TARGETS  = $(patsubst fuzz/%.c,build-fuzz/%,$(wildcard fuzz/*.c))

fuzz-build: $(FUZZ_TARGETS)

build-fuzz/%: fuzz/%.c fuzz/fuzz.h $(CORE_SRC) $(wildcard src/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_FLAGS) $(WARN) $(LUA_CFLAGS) $(CURL_FLAGS) -o $@ $< $(CORE_SRC) $(CORE_LIBS) \
		$(shell $(PKG_CONFIG) --libs lua5.4) -lm

# targets named emulator_* drive the emulator's host and tenant app instead of the core
build-fuzz/emulator_%: fuzz/emulator_%.c fuzz/fuzz.h $(EMU_SRC) $(wildcard src/emulator/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) -Isrc $(FUZZ_FLAGS) $(WARN) $(LUA_CFLAGS) $(MHD_FLAGS) -o $@ $< $(EMU_SRC) $(EMU_LIBS) \
		$(shell $(PKG_CONFIG) --libs lua5.4) -lm

fuzz: fuzz-build
	FUZZ_SECONDS=$(FUZZ_SECONDS) sh scripts/fuzz.sh

# the man page is generated from the CLI's command table (spec/cli_help_spec.lua checks it is current)
man:
	$(RUN_ENV) $(LUA) bin/autopilot --man > doc/autopilot.1

# the API reference (LDoc, config.ld) into doc/api
doc:
	ldoc -q .

examples: build
	sh scripts/examples.sh

install:
	luarocks --lua-version=5.4 make --deps-mode=none lua-autopilot-scm-1.rockspec
	luarocks --lua-version=5.4 make --deps-mode=none lua-autopilot-emulator-scm-1.rockspec

clean:
	rm -rf build build-asan build-fuzz doc/api
