/*
 * util.h: small helpers shared by the supervisor and the worker: a growable
 * byte buffer, checked allocation, monotonic time, durable file writes and
 * decimal sequence number comparison.
 */
#ifndef KK_UTIL_H
#define KK_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define KK_VERSION	"0.1.0"

#define EX_OK_		0
#define EX_FATAL	1
#define EX_CONFIG_	78	/* EX_CONFIG from sysexits.h */
#define EX_ABANDONED	75	/* worker: its final flush was abandoned at the stop */
#define EX_LEASE_LOST	77	/* worker: its lease is another keeper's now */

/* A growable byte buffer; data is always NUL-terminated (not counted in len). */
struct buf {
	char	*data;
	size_t	 len;
	size_t	 cap;
};

void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xrealloc(void *, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
int	 xasprintf(char **, const char *, ...)
	    __attribute__((format(printf, 2, 3)));

void	 buf_init(struct buf *);
void	 buf_free(struct buf *);
void	 buf_reset(struct buf *);		/* len = 0, keeps memory */
void	 buf_reserve(struct buf *, size_t extra);
/* Like buf_reserve, but to exactly len + extra + 1 bytes when it grows. */
void	 buf_reserve_exact(struct buf *, size_t extra);
void	 buf_add(struct buf *, const void *, size_t);
void	 buf_addstr(struct buf *, const char *);
void	 buf_addc(struct buf *, char);
void	 buf_printf(struct buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));

/* Time. */
uint64_t	now_ms(void);		/* CLOCK_MONOTONIC in milliseconds */
uint64_t	wall_ms(void);		/* CLOCK_REALTIME in milliseconds */
/* "2026-11-27T14:30:05.123Z" from epoch milliseconds; out >= 25 bytes */
void	 fmt_iso8601_ms(int64_t epoch_ms, char *out, size_t outlen);

/* Hex and digests (OpenSSL). out must hold 2*len+1. */
void	 hex_encode(const unsigned char *in, size_t len, char *out);
void	 sha256_hex(const void *data, size_t len, char out[65]);
/* OpenSSL's SHA-256, fetched once (an EVP_MD) */
struct evp_md_st;
const struct evp_md_st *sha256_md(void);
/* base64 of the MD5 of data, as Content-MD5 wants it; out >= 25 bytes */
void	 md5_base64(const void *data, size_t len, char out[32]);
/* Standard base64 encode: appends to b. */
void	 base64_encode_buf(struct buf *b, const void *in, size_t len);
/* Standard base64 decode (padding required, no whitespace); -1 if invalid.
 * out may be in (decoding in place). */
ssize_t	 base64_decode(const char *in, size_t len, unsigned char *out,
	    size_t outcap);
/* The vector decoder (AVX2, where the CPU has it): -1 until the first
 * decode looks, 0 off, 1 on; the unit tests run both ways. */
extern int	 base64_simd;

/*
 * Sequence numbers are decimal strings up to 128 bits (56 digits on AWS,
 * "1" on moto): compare them as big integers, never as strings.
 */
int	 seq_cmp(const char *a, const char *b);
int	 seq_valid(const char *s);		/* 1 if non-empty decimal <= 128 digits */

/*
 * Durable files. State directories are created with mkdir_p, which fsyncs
 * the parent of each directory it creates and then requires the directory
 * asked for (not its parents) to be a directory of this user that group and
 * others cannot write (dir_check: 0, or -1 with errno EPERM or ENOTDIR after
 * a log line saying why).
 */
int	 mkdir_p(const char *path, mode_t mode);
int	 dir_check(const char *path);
/* write path.tmp (created anew, never through a symlink), fsync, rename,
 * fsync dir; 0 or -1 with errno */
int	 write_file_atomic(const char *path, const void *data, size_t len,
	    mode_t mode);
/* read a whole regular file (max bytes) into b; 0, or -1 with errno (ENOENT,
 * EFBIG; EINVAL or EISDIR for a FIFO, device or directory, never waited on) */
int	 read_file(const char *path, struct buf *b, size_t max);
int	 fsync_dir(const char *dir);

/* Jittered exponential backoff: min(cap, base * 2^attempt), full jitter
 * in [d/2, d]. */
uint64_t	 backoff_ms(unsigned attempt, uint64_t base, uint64_t cap);

/* Copy a NUL-terminated string into out[outlen], truncating: strlcpy. */
void	 str_copy(char *out, const char *in, size_t outlen);

/* Close every fd >= lowfd. */
void	 closefrom_(int lowfd);

/* Names safe to use as one path component ([A-Za-z0-9._-], not . or ..). */
int	 safe_component(const char *);

#endif
