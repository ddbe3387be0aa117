# restorer.mk - the restorer blob (included from the top Makefile).
#
# Built like the parasite (compel/compel.mk): freestanding C at any
# address, linked flat at 0, refused if any relocation is left, then
# embedded with .incbin in restorer-blob.S and linked into stasis.

RESTORER_CFLAGS := $(PARASITE_CFLAGS) -Irestorer

$(B)/restorer/restorer.o: restorer/restorer.c restorer/restorer.h nolibc/nolibc.h
	@mkdir -p $(dir $@)
	$(CC) $(RESTORER_CFLAGS) -c -o $@ $<

$(B)/restorer/head.o: restorer/head-x86.S
	@mkdir -p $(dir $@)
	$(CC) -c -o $@ $<

$(B)/restorer/restorer.bin: $(B)/restorer/head.o $(B)/restorer/restorer.o restorer/restorer.lds
	$(LD) -T restorer/restorer.lds -o $(B)/restorer/restorer.elf \
		$(B)/restorer/head.o $(B)/restorer/restorer.o
	@if readelf -r $(B)/restorer/restorer.elf | grep -q 'Relocation section'; then \
		echo "restorer: relocations left in the blob" >&2; exit 1; fi
	objcopy -O binary $(B)/restorer/restorer.elf $@

$(B)/obj/restorer/restorer-blob.o: restorer/restorer-blob.S $(B)/restorer/restorer.bin
	@mkdir -p $(dir $@)
	$(CC) -I$(B)/restorer -c -o $@ $<

RESTORER_OBJ := $(B)/obj/restorer/restorer-blob.o
