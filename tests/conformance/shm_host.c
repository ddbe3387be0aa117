/*
 * shm_host.c - shm_attach.c in the IPC namespace the test starts in: a
 * tree without one of its own attaching segments of the host's, which
 * outlive it and which the restore attaches again by their ids.  With
 * SHM_HOST_RMID set, the segments are removed (IPC_RMID) while attached,
 * before READY: the dump must refuse them (tests/restore/shm-host.sh).
 */
#define SHM_HOST 1
#include "shm_attach.c"
