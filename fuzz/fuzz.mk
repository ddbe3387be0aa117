# fuzz.mk - libFuzzer targets (clang), included from the top Makefile.
#
#   make fuzz-bins             build build/fuzz/fuzz_image, fuzz_json and fuzz_vdso
#   tests/fuzz.sh SECONDS      seed from the fixtures and run each target

FUZZ_CC		?= clang
FUZZ_CFLAGS	:= -g -O1 -std=gnu11 -D_GNU_SOURCE -fno-omit-frame-pointer \
		   -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_LIB_SRC	:= images/image.c images/imgdesc.c images/pbopts.c src/log.c \
		   crit/json.c crit/pbjson.c crit/textenc.c crit/imgjson.c

FUZZ_BINS	:= $(B)/fuzz/fuzz_image $(B)/fuzz/fuzz_json $(B)/fuzz/fuzz_vdso

# The vDSO reader needs none of the image layer.
$(B)/fuzz/fuzz_vdso: fuzz/fuzz_vdso.c src/vdso-elf.c src/log.c src/vdso.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -o $@ fuzz/fuzz_vdso.c src/vdso-elf.c src/log.c

$(B)/fuzz/%: fuzz/%.c $(FUZZ_LIB_SRC) $(GEN)/.stamp $(B)/gen/pbopts-table.inc
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_LIB_SRC) $(PB_SRC) $(LDLIBS)

fuzz-bins: $(FUZZ_BINS)

.PHONY: fuzz-bins
