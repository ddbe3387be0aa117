#!/usr/bin/env python3
"""vdso-move.py IMGDIR | --probe | --break IMGDIR

Make the dumped vDSO in IMGDIR one of another layout than this kernel's, as
a dump made on another kernel build has it, while keeping it a vDSO whose
code works: clock_getres (all its names) moves to a new entry, a 16-byte function
(`jmp` to the old one, int3 after it), written in the room after the ELF's
last byte, and
the PT_LOAD segment grows to cover it.  The code of the other functions
stays where it was, so the program's own pointers (glibc's) still point at
exported entries.  The images' one task must be the only one.

--probe: exit 0 if this kernel's vDSO (read from this process) can be
altered so, 3 if not (no clock_getres, or no room), saying why.

--break: overwrite the ELF magic of the dumped vDSO instead.
"""
import glob
import json
import os
import struct
import subprocess
import sys

PAGE = 4096
MOVED = ("clock_getres", "__vdso_clock_getres")
VDSO_STATUS = 1 << 3
PE_PRESENT = 1 << 2
CRIT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../build/crit")


def elf_tables(b):
    """(load_vaddr, load_off, PT_LOAD's header offset, symtab offset, nr syms, file end)"""
    (phoff, shoff) = struct.unpack_from("<QQ", b, 0x20)
    (phentsize, phnum, shentsize, shnum) = struct.unpack_from("<HHHH", b, 0x36)
    load = dyn = None
    for i in range(phnum):
        at = phoff + i * phentsize
        (ptype, _, off, vaddr, _, filesz, memsz) = struct.unpack_from("<IIQQQQQ", b, at)
        if ptype == 1 and load is None:
            load = (vaddr, off, at, filesz)
        elif ptype == 2:
            dyn = (off, filesz)
    tags = {}
    for i in range(dyn[1] // 16):
        (tag, val) = struct.unpack_from("<qQ", b, dyn[0] + 16 * i)
        if tag == 0:
            break
        tags[tag] = val
    to_off = lambda va: va - load[0] + load[1]
    nsyms = struct.unpack_from("<I", b, to_off(tags[4]) + 4)[0]   # DT_HASH nchain
    end = max(load[1] + load[3], shoff + shnum * shentsize)
    for i in range(shnum):
        (_, stype, _, _, off, size) = struct.unpack_from("<IIQQQQ", b, shoff + i * shentsize)
        if stype != 8:   # SHT_NOBITS takes no room
            end = max(end, off + size)
    return load, to_off(tags[6]), to_off(tags[5]), nsyms, end


def symbols(b, symtab, strtab, nsyms):
    for i in range(1, nsyms):
        at = symtab + 24 * i
        (name, info, _, shndx, value, size) = struct.unpack_from("<IBBHQQ", b, at)
        n = b[strtab + name:b.index(b"\0", strtab + name)].decode()
        yield at, n, info & 0xf, shndx, value


def plan(b):
    """Where the new entry goes and the symbols to move; raises ValueError."""
    load, symtab, strtab, nsyms, end = elf_tables(b)
    moved = [(at, v) for at, n, typ, shndx, v in symbols(b, symtab, strtab, nsyms)
             if n in MOVED and typ == 2 and shndx]
    if not moved:
        raise ValueError("this kernel's vDSO exports no clock_getres")
    tramp = (end + 15) & ~15
    if tramp + 16 > len(b):
        tramp = (load[1] + load[3] + 15) & ~15
    if tramp + 16 > len(b):
        raise ValueError("no room after the vDSO's ELF for a new entry")
    return load, moved, tramp


def alter(b):
    load, moved, tramp = plan(b)
    (vaddr, off, phdr_at, _) = load
    target = moved[0][1] - vaddr + off
    b[tramp:tramp + 16] = b"\xe9" + struct.pack("<i", target - (tramp + 5)) + b"\xcc" * 11
    for at, _ in moved:
        struct.pack_into("<QQ", b, at + 8, tramp - off + vaddr, 16)
    grown = tramp + 16 - off
    struct.pack_into("<QQ", b, phdr_at + 32, grown, grown)   # p_filesz, p_memsz
    return moved[0][1], tramp


def own_vdso():
    with open("/proc/self/maps") as f:
        for line in f:
            if line.rstrip().endswith("[vdso]"):
                s, e = (int(x, 16) for x in line.split()[0].split("-"))
    with open("/proc/self/mem", "rb") as m:
        m.seek(s)
        return bytearray(m.read(e - s))


def crit(path):
    return json.loads(subprocess.check_output([CRIT, "decode", "-i", path]))


def image_vdso(d):
    """The pages image and the file offsets of the vDSO's pages in it."""
    (mm,) = glob.glob(os.path.join(d, "mm-*.img"))
    pid = mm.rsplit("-", 1)[1][:-4]
    (vma,) = [v for v in crit(mm)["entries"][0]["vmas"] if v["status"] & VDSO_STATUS]
    pm = crit(os.path.join(d, "pagemap-%s.img" % pid))["entries"]
    pos, offs = 0, {}
    for e in pm[1:]:
        if not e.get("flags", PE_PRESENT) & PE_PRESENT:
            continue
        for p in range(e["nr_pages"]):
            a = e["vaddr"] + p * PAGE
            if vma["start"] <= a < vma["end"]:
                offs[a - vma["start"]] = pos + p * PAGE
        pos += e["nr_pages"] * PAGE
    size = vma["end"] - vma["start"]
    if sorted(offs) != list(range(0, size, PAGE)):
        sys.exit("vdso-move: the image lacks vDSO pages")
    return os.path.join(d, "pages-%d.img" % pm[0]["pages_id"]), offs, size


def main():
    if sys.argv[1:] == ["--probe"]:
        try:
            plan(own_vdso())
        except ValueError as e:
            print(e)
            sys.exit(3)
        return
    if sys.argv[1] == "--break":
        pages, offs, size = image_vdso(sys.argv[2])
        with open(pages, "r+b") as f:
            f.seek(offs[0])
            f.write(b"\0BAD")
        return
    pages, offs, size = image_vdso(sys.argv[1])
    with open(pages, "r+b") as f:
        b = bytearray()
        for o in range(0, size, PAGE):
            f.seek(offs[o])
            b += f.read(PAGE)
        old, new = alter(b)
        for o in range(0, size, PAGE):
            f.seek(offs[o])
            f.write(b[o:o + PAGE])
    print("vdso-move: clock_getres moved from %#x to %#x" % (old, new))


main()
