# stasis - checkpoint/restore in userspace, CRIU-compatible.
#
#   make            build build/stasis and build/crit
#   make test       build and run the whole suite (ends with "N passed, N failed")
#   make demo       the README's demo
#   make install    PREFIX=/usr/local DESTDIR=

CC	?= gcc
PREFIX	?= /usr/local
BINDIR	?= $(PREFIX)/bin

CFLAGS	?= -O2 -g
CFLAGS	+= -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE
CPPFLAGS += -Isrc -Irestorer -Iimages -Icrit -Iinclude -Ibuild/gen/images -Ibuild/gen
LDLIBS	+= -lprotobuf-c

# --tls needs GnuTLS (libgnutls28-dev), as CRIU's; without it stasis is built
# all the same and refuses --tls.  GNUTLS=0 builds without it on purpose.
# The library is loaded on the first --tls (src/tls.c), not linked.
GNUTLS	?= $(shell pkg-config --exists gnutls 2>/dev/null && echo 1 || echo 0)
ifeq ($(GNUTLS),1)
CPPFLAGS += -DCONFIG_GNUTLS
GNUTLS_CFLAGS := $(shell pkg-config --cflags gnutls)
endif

.DEFAULT_GOAL := all

B	:= build
GEN	:= $(B)/gen/images

$(B)/obj/src/tls.o: CPPFLAGS += $(GNUTLS_CFLAGS)

PROTOS	:= $(sort $(wildcard images/*.proto))
# opts.proto extends protobuf's own descriptor.proto, so its code is needed too.
PB_SRC	:= $(patsubst images/%.proto,$(GEN)/%.pb-c.c,$(PROTOS)) \
	   $(GEN)/google/protobuf/descriptor.pb-c.c
PB_OBJ	:= $(patsubst $(GEN)/%.c,$(B)/obj/pb/%.o,$(PB_SRC))

# The image layer: schemas, image files, field options.
IMG_OBJ	:= $(B)/obj/images/image.o $(B)/obj/images/imgdesc.o \
	   $(B)/obj/images/pbopts.o $(B)/obj/src/log.o $(PB_OBJ)

CRIT_LIB_OBJ := $(B)/obj/crit/json.o $(B)/obj/crit/pbjson.o $(B)/obj/crit/textenc.o \
		$(B)/obj/crit/imgjson.o
CRIT_OBJ := $(B)/obj/crit/crit.o $(B)/obj/crit/explore.o $(CRIT_LIB_OBJ)

# The tool: every C file under src/ except log.c, which the image library carries.
STASIS_SRC := $(filter-out src/log.c,$(sort $(wildcard src/*.c src/files/*.c src/ns/*.c src/arch/x86/*.c)))
STASIS_OBJ := $(patsubst %.c,$(B)/obj/%.o,$(STASIS_SRC))

include compel/compel.mk
include soccr/soccr.mk
include restorer/restorer.mk

all: $(B)/stasis $(B)/crit $(COMPEL_LIBS) $(SOCCR_LIBS)

# protoc-c writes every .pb-c.c/.h at once; one stamp stands for all of them.
$(GEN)/.stamp: $(PROTOS)
	@mkdir -p $(GEN)
	protoc-c --proto_path=images --proto_path=/usr/include --c_out=$(GEN) \
		$(notdir $(PROTOS)) google/protobuf/descriptor.proto
	@touch $@
$(PB_SRC): $(GEN)/.stamp

$(B)/gen/pbopts-table.inc: images/gen-opts.awk $(PROTOS)
	@mkdir -p $(dir $@)
	awk -f images/gen-opts.awk $(PROTOS) | LC_ALL=C sort | cut -f2 > $@.tmp
	mv $@.tmp $@

$(B)/obj/images/pbopts.o: $(B)/gen/pbopts-table.inc

# Generated code is built without -Werror: its warnings are not ours to fix.
$(B)/obj/pb/%.o: $(GEN)/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(filter-out -Werror,$(CFLAGS)) -Wno-unused-parameter -c -o $@ $<

$(B)/obj/%.o: %.c $(GEN)/.stamp
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

$(B)/libstasis-images.a: $(IMG_OBJ)
	rm -f $@ && ar rcs $@ $^

$(B)/crit: $(CRIT_OBJ) $(B)/libstasis-images.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/stasis: $(STASIS_OBJ) $(RESTORER_OBJ) $(B)/libstasis-images.a $(B)/libcompel.a \
		$(B)/libsoccr.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

-include $(shell find $(B)/obj $(B)/pic -name '*.d' 2>/dev/null)


include fuzz/fuzz.mk
include tests/tests.mk
include bench/bench.mk

demo: all $(B)/tests/spawn
	bash scripts/demo.sh

install: all install-compel install-soccr
	install -d $(DESTDIR)$(BINDIR)
	install -m 0755 $(B)/stasis $(DESTDIR)$(BINDIR)/stasis
	install -m 0755 $(B)/crit $(DESTDIR)$(BINDIR)/stasis-crit

clean:
	rm -rf $(B)

.PHONY: all demo install clean
