#!/usr/bin/env python3
"""cgroup-alter.py MODE IMGDIR - break the cgroups of a dump of
tests/conformance/cgroups on purpose, as a corrupted or hostile image would
have them (tests/restore/cgroup.sh expects each restore to be refused
clearly, before anything is made):

  escape     the named hierarchy's path of every set leaves it (/a/../../x)
  no-ctl     a set names a controller no hierarchy of the image has
  dir-escape a dumped directory's name leaves its hierarchy (..)
  no-set     the root's main thread names a set cgroup.img does not have
"""
import json
import os
import subprocess
import sys

CRIT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../build/crit")


def decode(path):
    return json.loads(subprocess.check_output([CRIT, "decode", "-i", path]))


def encode(path, img):
    subprocess.run([CRIT, "encode", "-o", path], input=json.dumps(img).encode(), check=True)


def members(cg):
    for s in cg["entries"][0]["sets"]:
        for m in s["ctls"]:
            yield m


def main():
    mode, d = sys.argv[1], sys.argv[2]
    cgp = os.path.join(d, "cgroup.img")
    cg = decode(cgp)
    if mode == "escape":
        for m in members(cg):
            if m["name"] == "name=stasis_cgtest":
                m["path"] = "/a/../../x"
    elif mode == "no-ctl":
        next(members(cg))["name"] = "nosuch"
    elif mode == "dir-escape":
        for c in cg["entries"][0]["controllers"]:
            if c["cnames"] == ["name=stasis_cgtest"]:
                c["dirs"][0]["dir_name"] = "a/../.."
    elif mode == "no-set":
        pid = decode(os.path.join(d, "pstree.img"))["entries"][0]["pid"]
        corep = os.path.join(d, "core-%d.img" % pid)
        core = decode(corep)
        core["entries"][0]["thread_core"]["cg_set"] = 99
        encode(corep, core)
        return
    else:
        sys.exit("unknown mode " + mode)
    encode(cgp, cg)


main()
