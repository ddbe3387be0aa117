#!/usr/bin/env python3
"""aio-alter.py MODE IMGDIR - break the AIO rings of a dump of
tests/conformance/aio on purpose, as a corrupted image would have them
(tests/restore/aio.sh expects each restore to be refused clearly):

  no-entry   the first ring's aios entry is dropped from mm-PID.img
  length     the first ring's aios entry says a page more than its area
  stray      an aios entry more, for an address where no ring is
  header     the magic of the first ring's header, in the pages image, broken
  no-pages   the first ring's pages left out of the pagemap and pages image
"""
import json
import os
import subprocess
import sys

CRIT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../build/crit")
PAGE = 4096
MAGIC_OFF = 16		# id, nr, head, tail, then the magic


def decode(path):
    return json.loads(subprocess.check_output([CRIT, "decode", "-i", path]))


def encode(path, img):
    subprocess.run([CRIT, "encode", "-o", path], input=json.dumps(img).encode(), check=True)


def images(d):
    pid = decode(os.path.join(d, "pstree.img"))["entries"][0]["pid"]
    return os.path.join(d, "mm-%d.img" % pid), os.path.join(d, "pagemap-%d.img" % pid)


def ring_offset(pm, addr):
    """Where the page at addr lies in the pages image, and its entry's index."""
    off = 0
    for i, e in enumerate(pm["entries"][1:], 1):
        n = e["nr_pages"]
        if e["vaddr"] <= addr < e["vaddr"] + n * PAGE:
            return off + addr - e["vaddr"], i
        off += n * PAGE
    sys.exit("no pages of the ring at %#x" % addr)


def main():
    mode, d = sys.argv[1], sys.argv[2]
    mm_path, pm_path = images(d)
    mm = decode(mm_path)
    aios = mm["entries"][0]["aios"]
    ring = aios[0]
    if mode == "no-entry":
        del aios[0]
    elif mode == "length":
        ring["ring_len"] += PAGE
    elif mode == "stray":
        aios.append({"id": PAGE * 16, "nr_req": ring["nr_req"], "ring_len": ring["ring_len"]})
    elif mode in ("header", "no-pages"):
        pm = decode(pm_path)
        off, idx = ring_offset(pm, ring["id"])
        pages = os.path.join(d, "pages-%d.img" % pm["entries"][0]["pages_id"])
        with open(pages, "r+b") as f:
            data = bytearray(f.read())
            if mode == "header":
                data[off + MAGIC_OFF] ^= 0xff
            else:
                e = pm["entries"][idx]
                if e["nr_pages"] * PAGE != ring["ring_len"]:
                    sys.exit("the ring's pagemap entry holds more than the ring")
                del data[off:off + ring["ring_len"]]
                del pm["entries"][idx]
                encode(pm_path, pm)
            f.seek(0)
            f.write(data)
            f.truncate()
        return
    else:
        sys.exit("unknown mode " + mode)
    encode(mm_path, mm)


if __name__ == "__main__":
    main()
