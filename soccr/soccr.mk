# soccr.mk - libsoccr (included from the top Makefile).
#
#   build/libsoccr.a, build/libsoccr.so.1, build/soccr.pc
#
# Plain C against libc only; the PIC objects come from compel.mk's
# $(B)/pic/%.o rule.

SOCCR_SRC := soccr/soccr.c soccr/restore.c soccr/inject.c
SOCCR_OBJ := $(patsubst %.c,$(B)/obj/%.o,$(SOCCR_SRC))
SOCCR_PIC := $(patsubst %.c,$(B)/pic/%.o,$(SOCCR_SRC))

$(B)/libsoccr.a: $(SOCCR_OBJ)
	rm -f $@ && ar rcs $@ $^

$(B)/libsoccr.so.1: $(SOCCR_PIC) soccr/libsoccr.map
	$(CC) -shared -Wl,-soname,libsoccr.so.1 -Wl,-z,noexecstack \
		-Wl,--version-script=soccr/libsoccr.map -o $@ $(SOCCR_PIC)

$(B)/soccr.pc: soccr/soccr.pc.in
	sed -e 's|@PREFIX@|$(PREFIX)|' $< > $@

SOCCR_LIBS := $(B)/libsoccr.a $(B)/libsoccr.so.1 $(B)/soccr.pc

install-soccr: $(SOCCR_LIBS)
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/lib/pkgconfig \
		$(DESTDIR)$(PREFIX)/include/stasis
	install -m 0644 $(B)/libsoccr.a $(DESTDIR)$(PREFIX)/lib/
	install -m 0755 $(B)/libsoccr.so.1 $(DESTDIR)$(PREFIX)/lib/
	ln -sf libsoccr.so.1 $(DESTDIR)$(PREFIX)/lib/libsoccr.so
	install -m 0644 include/stasis/soccr.h $(DESTDIR)$(PREFIX)/include/stasis/
	sed -e 's|@PREFIX@|$(PREFIX)|' soccr/soccr.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/soccr.pc

.PHONY: install-soccr
