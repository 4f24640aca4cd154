/* SPDX-License-Identifier: BSD-3-Clause */
/* Store keys: the index secret, master key rotation, crypto-erasure. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cr_store.h"

#define IDX_MAGIC "CRIDXKEY"

static int
rw_all(int fd, void *buf, size_t len, off_t off, int wr)
{
	ssize_t n = wr ? pwrite(fd, buf, len, off) : pread(fd, buf, len, off);
	return n == (ssize_t)len ? 0 : n < 0 ? -errno : -EIO;
}

int
cr_store_index_secret(const char *store, const struct cr_keyring *kr, int create,
		      uint8_t secret[32], int *mode, char *err, size_t errlen)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/index.key", store);
	uint8_t f[CR_SEG_HDR_ENC_LEN];
	struct cr_dkey dk = {{0}, NULL};
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		int r = rw_all(fd, f, sizeof(f), 0, 0);
		close(fd);
		if (r != 0 || memcmp(f, IDX_MAGIC, 8) != 0) {
			snprintf(err, errlen, "%s: not an index key file", path);
			return -EINVAL;
		}
		r = -ENOKEY;
		for (int i = 0; i < 2 && r != 0; i++) {
			int k = cr_kslot_unwrap(f + CR_SEG_HDR_LEN + i * CR_KSLOT_LEN, kr, &dk, f,
						CR_SEG_HDR_LEN);
			if (k == 0 || k == -EBADMSG)
				r = k == 0 ? 0 : -EKEYREJECTED;
		}
		if (r == 0) {
			memcpy(secret, dk.key, 32);
			*mode = f[8];
		} else {
			snprintf(err, errlen, "%s: %s", path,
				 r == -ENOKEY ? "no key given has the id of its master key"
					      : "does not open with the key given (altered or wrong key)");
		}
		cr_dkey_wipe(&dk);
		return r;
	}
	if (errno != ENOENT || !create) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	memset(f, 0, sizeof(f));
	memcpy(f, IDX_MAGIC, 8);
	f[8] = (uint8_t)create; /* the protection mode, fixed for the store's life */
	int r = cr_dkey_new(&dk);
	if (r == 0)
		r = cr_kslot_wrap(f + CR_SEG_HDR_LEN, &kr->k[0], &dk, f, CR_SEG_HDR_LEN);
	char tmp[PATH_MAX + 8];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = r == 0 ? open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) : -1;
	if (fd < 0 || rw_all(fd, f, sizeof(f), 0, 1) != 0 || fsync(fd) != 0 ||
	    rename(tmp, path) != 0) {
		snprintf(err, errlen, "%s: cannot create", path);
		r = -EIO;
	}
	if (fd >= 0)
		close(fd);
	if (r == 0) {
		memcpy(secret, dk.key, 32);
		*mode = create;
	}
	cr_dkey_wipe(&dk);
	return r;
}

int
cr_seg_shred_keys(const char *path)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	uint8_t h[CR_SEG_HDR_LEN];
	int r = rw_all(fd, h, sizeof(h), 0, 0);
	if (r == 0 && cr_seg_header_check(h, sizeof(h)) == 0 && cr_seg_encrypted(h)) {
		uint8_t z[2 * CR_KSLOT_LEN] = {0};
		r = rw_all(fd, z, sizeof(z), CR_SEG_HDR_LEN, 1);
		if (r == 0 && fdatasync(fd) != 0)
			r = -errno;
	} else {
		r = 0;
	}
	close(fd);
	return r;
}

/* Re-wrap the key slots of one file whose first 64 bytes are the AAD. */
static int
rewrap(const char *path, const struct cr_keyring *kr, struct cr_rotate_report *rep, FILE *log)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	uint8_t h[CR_SEG_HDR_ENC_LEN];
	int r = rw_all(fd, h, sizeof(h), 0, 0);
	if (r != 0) {
		close(fd);
		return 0; /* shorter than a header: never written (fsck reports it) */
	}
	int is_idx = memcmp(h, IDX_MAGIC, 8) == 0;
	if (!is_idx && (cr_seg_header_check(h, CR_SEG_HDR_LEN) != 0 || !cr_seg_encrypted(h))) {
		close(fd);
		return 0;
	}
	rep->files++;
	uint8_t *slot[2] = {h + CR_SEG_HDR_LEN, h + CR_SEG_HDR_LEN + CR_KSLOT_LEN};
	struct cr_dkey dk = {{0}, NULL};
	int have = -1;
	for (int i = 0; i < 2; i++)
		if (cr_kslot_unwrap(slot[i], kr, &dk, h, CR_SEG_HDR_LEN) == 0) {
			have = i;
			if (cr_kslot_key_id(slot[i]) == kr->k[0].id)
				break;
		}
	if (have < 0) {
		rep->failed++;
		if (log)
			fprintf(log, "%s: no key given opens it; left as it is\n", path);
		close(fd);
		return 0;
	}
	int other = 1 - have;
	if (cr_kslot_key_id(slot[have]) == kr->k[0].id) {
		rep->already++;
		r = 0;
		/* a crash after the new slot was written: clear the old one */
		if (cr_kslot_key_id(slot[other]) != 0) {
			memset(slot[other], 0, CR_KSLOT_LEN);
			r = rw_all(fd, slot[other], CR_KSLOT_LEN,
				   CR_SEG_HDR_LEN + other * CR_KSLOT_LEN, 1);
			if (r == 0 && fdatasync(fd) != 0)
				r = -errno;
		}
	} else {
		uint8_t ns[CR_KSLOT_LEN];
		r = cr_kslot_wrap(ns, &kr->k[0], &dk, h, CR_SEG_HDR_LEN);
		if (r == 0)
			r = rw_all(fd, ns, CR_KSLOT_LEN, CR_SEG_HDR_LEN + other * CR_KSLOT_LEN, 1);
		if (r == 0 && fdatasync(fd) != 0)
			r = -errno;
		if (r == 0) {
			memset(ns, 0, sizeof(ns));
			r = rw_all(fd, ns, CR_KSLOT_LEN, CR_SEG_HDR_LEN + have * CR_KSLOT_LEN, 1);
			if (r == 0 && fdatasync(fd) != 0)
				r = -errno;
		}
		if (r == 0)
			rep->rewrapped++;
		else
			rep->failed++;
		if (r != 0 && log)
			fprintf(log, "%s: cannot write: %s\n", path, strerror(-r));
	}
	cr_dkey_wipe(&dk);
	close(fd);
	return 0;
}

struct rot {
	const struct cr_keyring *kr;
	struct cr_rotate_report *rep;
	FILE *log;
};

static int
rot_one(void *ctx, const char *path, const char *rel)
{
	(void)rel;
	struct rot *R = ctx;
	return rewrap(path, R->kr, R->rep, R->log);
}

int
cr_store_rotate(const char *store, const struct cr_keyring *kr, struct cr_rotate_report *r,
		FILE *log)
{
	memset(r, 0, sizeof(*r));
	if (kr == NULL || kr->n == 0)
		return -ENOKEY;
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/index.key", store);
	int rc = access(path, F_OK) == 0 ? rewrap(path, kr, r, log) : 0;
	struct rot R = {kr, r, log};
	return rc == 0 ? cr_store_each_segment(store, rot_one, &R) : rc;
}
