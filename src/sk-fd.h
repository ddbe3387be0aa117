/*
 * sk-fd.h - one fd over a unix socket, in an SCM_RIGHTS message carrying
 * one byte: how a child sends back what it opened in another namespace.
 */
#ifndef STASIS_SK_FD_H
#define STASIS_SK_FD_H

/* Send @fd on @sk: 0, or -1 with errno set. */
int sk_send_fd(int sk, int fd);
/* The fd received on @sk (close-on-exec), or -1. */
int sk_recv_fd(int sk);

#endif
