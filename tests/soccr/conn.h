/*
 * conn.h - a connection for libsoccr's tests (conn.c).
 */
#ifndef STASIS_TEST_SOCCR_CONN_H
#define STASIS_TEST_SOCCR_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "stasis/soccr.h"

/* Socket a is the one saved and restored, b its peer. */
struct pair {
	int fam;		/* 4, 6, or 46 (IPv6 socket, v4-mapped) */
	int a, b;
	uint16_t pa, pb;	/* their ports */
	uint64_t a_out, a_in;	/* bytes a wrote (dir 0), a read (dir 1) */
	uint64_t b_out, b_in;	/* bytes b wrote (dir 1), b read (dir 0) */
	int a_shut, b_shut;	/* shutdown(SHUT_WR) done */
};

/* Why the last call failed. */
extern char conn_why[256];
int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

int nft(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Drop what comes from port @sport, past the sender: sent, never acked. */
int block(uint16_t sport);
int unblock_all(void);

int new_socket(int fam);
/* A listener on loopback of family @fam; its address in @a. */
int listen_on(int fam, union soccr_addr *a, socklen_t *len);
int make_pair(struct pair *p, int fam);
void pair_ports(struct pair *p);
uint16_t port_of(int fd);
int put(int fd, int dir, uint64_t *off, size_t n);
int expect(int fd, int dir, uint64_t *off, size_t n);
int expect_eof(int fd);
int tcp_state(int fd);
int wait_state(int fd, int state);
int queued(int fd, unsigned long req);
int wait_inq(int fd, int n);

#endif
