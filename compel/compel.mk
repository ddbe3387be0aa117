# compel.mk - libcompel and its parasite (included from the top Makefile).
#
#   build/libcompel.a, build/libcompel.so.1, build/compel.pc
#
# The parasite is C built to run with no libc at any address: -fpie with
# hidden symbols, no stack protector, no vector registers, linked flat at 0
# and checked to carry no relocations.  The blob is then embedded with
# .incbin in parasite-blob.S.

PARASITE_CFLAGS := -O2 -std=gnu11 -Wall -Wextra -Werror -fpie -nostdlib -ffreestanding \
		   -fno-stack-protector -fno-asynchronous-unwind-tables -fno-unwind-tables \
		   -mgeneral-regs-only -fvisibility=hidden -fno-builtin -Icompel -Iinclude -Inolibc

$(B)/parasite/parasite.o: parasite/parasite.c compel/parasite-proto.h include/stasis/compel.h \
			   nolibc/nolibc.h
	@mkdir -p $(dir $@)
	$(CC) $(PARASITE_CFLAGS) -c -o $@ $<

$(B)/parasite/head.o: parasite/head-x86.S
	@mkdir -p $(dir $@)
	$(CC) -c -o $@ $<

$(B)/parasite/parasite.bin: $(B)/parasite/head.o $(B)/parasite/parasite.o parasite/parasite.lds
	$(LD) -T parasite/parasite.lds -o $(B)/parasite/parasite.elf \
		$(B)/parasite/head.o $(B)/parasite/parasite.o
	@if readelf -r $(B)/parasite/parasite.elf | grep -q 'Relocation section'; then \
		echo "parasite: relocations left in the blob" >&2; exit 1; fi
	objcopy -O binary $(B)/parasite/parasite.elf $@

COMPEL_SRC := compel/seize.c compel/infect.c compel/guard.c compel/stub.c compel/ptrace.c compel/proc-stat.c compel/regs-x86.c compel/log.c
COMPEL_OBJ := $(patsubst %.c,$(B)/obj/%.o,$(COMPEL_SRC)) $(B)/obj/compel/parasite-blob.o
COMPEL_PIC := $(patsubst %.c,$(B)/pic/%.o,$(COMPEL_SRC)) $(B)/pic/compel/parasite-blob.o

$(B)/obj/compel/parasite-blob.o $(B)/pic/compel/parasite-blob.o: compel/parasite-blob.S $(B)/parasite/parasite.bin
	@mkdir -p $(dir $@)
	$(CC) -I$(B)/parasite -c -o $@ $<

$(B)/pic/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -fPIC -MMD -MP -c -o $@ $<

$(B)/libcompel.a: $(COMPEL_OBJ)
	rm -f $@ && ar rcs $@ $^

$(B)/libcompel.so.1: $(COMPEL_PIC) compel/libcompel.map
	$(CC) -shared -Wl,-soname,libcompel.so.1 -Wl,-z,noexecstack \
		-Wl,--version-script=compel/libcompel.map -o $@ $(COMPEL_PIC)

$(B)/compel.pc: compel/compel.pc.in
	sed -e 's|@PREFIX@|$(PREFIX)|' $< > $@

COMPEL_LIBS := $(B)/libcompel.a $(B)/libcompel.so.1 $(B)/compel.pc

install-compel: $(COMPEL_LIBS)
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/lib/pkgconfig \
		$(DESTDIR)$(PREFIX)/include/stasis
	install -m 0644 $(B)/libcompel.a $(DESTDIR)$(PREFIX)/lib/
	install -m 0755 $(B)/libcompel.so.1 $(DESTDIR)$(PREFIX)/lib/
	ln -sf libcompel.so.1 $(DESTDIR)$(PREFIX)/lib/libcompel.so
	install -m 0644 include/stasis/compel.h $(DESTDIR)$(PREFIX)/include/stasis/
	sed -e 's|@PREFIX@|$(PREFIX)|' compel/compel.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/compel.pc

.PHONY: install-compel
