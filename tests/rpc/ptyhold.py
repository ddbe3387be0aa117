# ptyhold.py PIDFILE PROGRAM [ARGS...]: start PROGRAM in a session of its
# own with a pty's slave as stdin, stdout and stderr (not its controlling
# terminal), keep the master here and drain it until the program ends.
import os
import sys

master, slave = os.openpty()
pid = os.fork()
if pid == 0:
    os.setsid()
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    os.closerange(3, 1024)
    os.execv(sys.argv[2], sys.argv[2:])
os.close(slave)
with open(sys.argv[1], "w") as f:
    f.write(str(pid))
while True:
    try:
        if not os.read(master, 4096):
            break
    except OSError:
        break
os.waitpid(pid, 0)
