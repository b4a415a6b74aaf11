/*
 * util.c: buffers, allocation, time, digests, durable files, sequence
 * number comparison, backoff. Allocation failure is fatal: a daemon that
 * cannot allocate a few bytes cannot archive safely either.
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define B64_AVX2	1
#endif

#include "log.h"
#include "util.h"

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		fatalx("out of memory (%zu bytes)", n);
	return p;
}

void *
xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz ? sz : 1);

	if (p == NULL)
		fatalx("out of memory (%zu x %zu bytes)", n, sz);
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (q == NULL)
		fatalx("out of memory (%zu bytes)", n);
	return q;
}

char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		fatalx("out of memory");
	return p;
}

char *
xstrndup(const char *s, size_t n)
{
	char *p = strndup(s, n);

	if (p == NULL)
		fatalx("out of memory");
	return p;
}

int
xasprintf(char **ret, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(ret, fmt, ap);
	va_end(ap);
	if (n < 0)
		fatalx("out of memory");
	return n;
}

void
buf_init(struct buf *b)
{
	b->data = NULL;
	b->len = b->cap = 0;
}

void
buf_free(struct buf *b)
{
	free(b->data);
	buf_init(b);
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

void
buf_reserve(struct buf *b, size_t extra)
{
	size_t need, cap;

	if (extra > SIZE_MAX - b->len - 1)
		fatalx("buffer size overflow");
	need = b->len + extra + 1;
	if (need <= b->cap)
		return;
	cap = b->cap ? b->cap : 256;
	/* double while small; past 8 MiB grow by a quarter, so that a big
	 * object does not sit in a buffer twice its size */
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap < 8 * 1024 * 1024 ?
		    cap * 2 : cap + cap / 4;
	b->data = xrealloc(b->data, cap);
	b->cap = cap;
}

void
buf_reserve_exact(struct buf *b, size_t extra)
{
	size_t need;

	if (extra > SIZE_MAX - b->len - 1)
		fatalx("buffer size overflow");
	need = b->len + extra + 1;
	if (need <= b->cap)
		return;
	b->data = xrealloc(b->data, need);
	b->cap = need;
}

void
buf_add(struct buf *b, const void *p, size_t n)
{
	buf_reserve(b, n);
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void
buf_addstr(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

void
buf_addc(struct buf *b, char c)
{
	buf_reserve(b, 1);
	b->data[b->len++] = c;
	b->data[b->len] = '\0';
}

void
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		fatalx("buf_printf: bad format");
	buf_reserve(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void
fmt_iso8601_ms(int64_t ms, char *out, size_t outlen)
{
	time_t t;
	struct tm tm;
	int64_t frac;

	/* floor division, without ever overflowing near INT64_MIN */
	t = (time_t)(ms / 1000);
	frac = ms % 1000;
	if (frac < 0) {
		frac += 1000;
		t--;
	}
	if (gmtime_r(&t, &tm) == NULL) {
		if (outlen > 0)
			out[0] = '\0';
		return;
	}
	snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (int)frac);
}

void
hex_encode(const unsigned char *in, size_t len, char *out)
{
	static const char hexd[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = hexd[in[i] >> 4];
		out[2 * i + 1] = hexd[in[i] & 15];
	}
	out[2 * len] = '\0';
}

static void
digest(const EVP_MD *md, const void *data, size_t len, unsigned char *out,
    unsigned int *outlen)
{
	if (EVP_Digest(data, len, out, outlen, md, NULL) != 1)
		fatalx("EVP_Digest failed");
}

/*
 * SHA-256 fetched from the provider once: EVP_sha256() makes OpenSSL 3
 * look the algorithm up again at every use, which costs more than hashing
 * the few hundred bytes of a signed request.
 */
const EVP_MD *
sha256_md(void)
{
	static EVP_MD *md;

	if (md == NULL && (md = EVP_MD_fetch(NULL, "SHA2-256", NULL)) == NULL)
		fatalx("EVP_MD_fetch SHA2-256 failed");
	return md;
}

void
sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n;

	digest(sha256_md(), data, len, md, &n);
	hex_encode(md, n, out);
}

void
md5_base64(const void *data, size_t len, char out[32])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n;

	digest(EVP_md5(), data, len, md, &n);
	EVP_EncodeBlock((unsigned char *)out, md, (int)n);
}

void
base64_encode_buf(struct buf *b, const void *in, size_t len)
{
	size_t out = 4 * ((len + 2) / 3);
	const unsigned char *p = in;

	buf_reserve(b, out);
	/* EVP_EncodeBlock takes an int: go in chunks (multiple of 3) */
	while (len > 0) {
		size_t chunk = len > 3 * (1u << 20) ? 3 * (1u << 20) : len;
		int n = EVP_EncodeBlock((unsigned char *)b->data + b->len, p,
		    (int)chunk);

		b->len += (size_t)n;
		p += chunk;
		len -= chunk;
	}
	b->data[b->len] = '\0';
}

static const signed char b64val[256] = {
	['A'] = 1, ['B'] = 2, ['C'] = 3, ['D'] = 4, ['E'] = 5, ['F'] = 6,
	['G'] = 7, ['H'] = 8, ['I'] = 9, ['J'] = 10, ['K'] = 11, ['L'] = 12,
	['M'] = 13, ['N'] = 14, ['O'] = 15, ['P'] = 16, ['Q'] = 17,
	['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22,
	['W'] = 23, ['X'] = 24, ['Y'] = 25, ['Z'] = 26,
	['a'] = 27, ['b'] = 28, ['c'] = 29, ['d'] = 30, ['e'] = 31,
	['f'] = 32, ['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36,
	['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40, ['o'] = 41,
	['p'] = 42, ['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46,
	['u'] = 47, ['v'] = 48, ['w'] = 49, ['x'] = 50, ['y'] = 51,
	['z'] = 52, ['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56,
	['4'] = 57, ['5'] = 58, ['6'] = 59, ['7'] = 60, ['8'] = 61,
	['9'] = 62, ['+'] = 63, ['/'] = 64,
};	/* value + 1; 0 = not a base64 digit */

#ifdef B64_AVX2
/*
 * 32 digits at a time with AVX2 (W. Mula and D. Lemire, "Faster Base64
 * Encoding and Decoding Using AVX2 Instructions", 2018): each byte is
 * classified by its two nibbles, any byte outside the alphabet ('='
 * included: padding is for the scalar tail) refuses the whole input,
 * then the digits are translated and 32 of them packed into 24 bytes.
 * The store writes 32 bytes: 8 past the 24 decoded ones, never past
 * o + 32 <= outcap, and when decoding in place (out == in) only over
 * input already read. Returns the digits decoded (a multiple of 32) with
 * *op the bytes written, or (size_t)-1 on a byte outside the alphabet.
 */
__attribute__((target("avx2")))
static size_t
b64_decode_avx2(const unsigned char *in, size_t len, unsigned char *out,
    size_t outcap, size_t *op)
{
#define TWICE(...) __VA_ARGS__, __VA_ARGS__
	/* bit sets by low and high nibble: a byte is a digit when they do
	 * not meet; 0x10 in every low entry refuses bytes >= 0x80 */
	const __m256i lut_lo = _mm256_setr_epi8(TWICE(
	    0x15, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
	    0x11, 0x11, 0x13, 0x1a, 0x1b, 0x1b, 0x1b, 0x1a));
	const __m256i lut_hi = _mm256_setr_epi8(TWICE(
	    0x10, 0x10, 0x01, 0x02, 0x04, 0x08, 0x04, 0x08,
	    0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10));
	/* what to add to a digit to get its value, by high nibble ('/' is
	 * moved to entry 1) */
	const __m256i lut_roll = _mm256_setr_epi8(TWICE(
	    0, 16, 19, 4, -65, -65, -71, -71, 0, 0, 0, 0, 0, 0, 0, 0));
	const __m256i nib = _mm256_set1_epi8(0x0f);
	const __m256i slash = _mm256_set1_epi8('/');
	const __m256i pack1 = _mm256_set1_epi32(0x01400140);
	const __m256i pack2 = _mm256_set1_epi32(0x00011000);
	const __m256i order = _mm256_setr_epi8(TWICE(
	    2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1));
	const __m256i gather = _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 7, 7);
#undef TWICE
	__m256i v, hi_n, roll;
	size_t i = 0, o = 0;

	while (i + 32 <= len && o + 32 <= outcap) {
		v = _mm256_loadu_si256((const __m256i *)(const void *)(in + i));
		hi_n = _mm256_and_si256(_mm256_srli_epi32(v, 4), nib);
		if (!_mm256_testz_si256(_mm256_shuffle_epi8(lut_lo,
		    _mm256_and_si256(v, nib)), _mm256_shuffle_epi8(lut_hi,
		    hi_n)))
			return (size_t)-1;
		roll = _mm256_shuffle_epi8(lut_roll, _mm256_add_epi8(
		    _mm256_cmpeq_epi8(v, slash), hi_n));
		v = _mm256_add_epi8(v, roll);
		/* 4 x 6 bits -> 2 x 12 bits -> 24 bits per 32-bit lane */
		v = _mm256_madd_epi16(_mm256_maddubs_epi16(v, pack1), pack2);
		v = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(v, order),
		    gather);
		_mm256_storeu_si256((__m256i *)(void *)(out + o), v);
		i += 32;
		o += 24;
	}
	*op = o;
	return i;
}
#endif

int base64_simd = -1;

ssize_t
base64_decode(const char *in, size_t len, unsigned char *out, size_t outcap)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t i = 0, o = 0, pad = 0, full;
	int a, b, c, d, n;

	if (len % 4 != 0)
		return -1;
	if (len == 0)
		return 0;
	if (s[len - 1] == '=')
		pad++;
	if (s[len - 2] == '=')
		pad++;
	if (len / 4 * 3 - pad > outcap)
		return -1;
	/* every group but the last: 32 digits at a time where the CPU can,
	 * then four table lookups and one check per group */
	full = len - 4;
#ifdef B64_AVX2
	if (base64_simd == -1)
		base64_simd = __builtin_cpu_supports("avx2") ? 1 : 0;
	if (base64_simd == 1 && full >= 32 &&
	    (i = b64_decode_avx2(s, full, out, outcap, &o)) == (size_t)-1)
		return -1;
#endif
	for (; i < full; i += 4) {
		a = b64val[s[i]] - 1;
		b = b64val[s[i + 1]] - 1;
		c = b64val[s[i + 2]] - 1;
		d = b64val[s[i + 3]] - 1;
		if ((a | b | c | d) < 0)
			return -1;
		out[o] = (unsigned char)(a << 2 | b >> 4);
		out[o + 1] = (unsigned char)(b << 4 | c >> 2);
		out[o + 2] = (unsigned char)(c << 6 | d);
		o += 3;
	}
	/* the last group, with its padding */
	n = 4 - (int)pad;
	a = b64val[s[i]] - 1;
	b = b64val[s[i + 1]] - 1;
	c = n > 2 ? b64val[s[i + 2]] - 1 : 0;
	d = n > 3 ? b64val[s[i + 3]] - 1 : 0;
	if ((a | b | c | d) < 0 || n < 2)
		return -1;
	out[o++] = (unsigned char)(a << 2 | b >> 4);
	if (n > 2)
		out[o++] = (unsigned char)(b << 4 | c >> 2);
	if (n > 3)
		out[o++] = (unsigned char)(c << 6 | d);
	return (ssize_t)o;
}

int
seq_valid(const char *s)
{
	size_t n = 0;

	if (s == NULL || *s == '\0')
		return 0;
	for (; *s; s++, n++)
		if (!isdigit((unsigned char)*s) || n >= 128)
			return 0;
	return 1;
}

int
seq_cmp(const char *a, const char *b)
{
	size_t la, lb;
	int c;

	while (*a == '0' && a[1] != '\0')
		a++;
	while (*b == '0' && b[1] != '\0')
		b++;
	la = strlen(a);
	lb = strlen(b);
	if (la != lb)
		return la < lb ? -1 : 1;
	c = strcmp(a, b);
	return c < 0 ? -1 : c > 0;
}

/*
 * A directory the daemon keeps state in must be its own and closed to
 * everyone else: whoever else can write into it can plant a symlink or a
 * file that the daemon would then follow or trust. A symlink to such a
 * directory is fine if the link itself is ours (an operator moving state to
 * another disk); one made by somebody else is not.
 */
int
dir_check(const char *path)
{
	struct stat st;
	uid_t me = geteuid();

	if (lstat(path, &st) == -1)
		return -1;
	if (S_ISLNK(st.st_mode)) {
		if (st.st_uid != me) {
			log_warnx("unsafe directory %s: a symlink owned by uid "
			    "%u, not by this user (uid %u)", path,
			    (unsigned)st.st_uid, (unsigned)me);
			errno = EPERM;
			return -1;
		}
		if (stat(path, &st) == -1)
			return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		log_warnx("unsafe directory %s: not a directory", path);
		errno = ENOTDIR;
		return -1;
	}
	if (st.st_uid != me) {
		log_warnx("unsafe directory %s: owned by uid %u, not by this "
		    "user (uid %u)", path, (unsigned)st.st_uid, (unsigned)me);
		errno = EPERM;
		return -1;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		log_warnx("unsafe directory %s: writable by group or others "
		    "(mode %04o)", path, (unsigned)(st.st_mode & 07777));
		errno = EPERM;
		return -1;
	}
	return 0;
}

/*
 * mkdir, and when it created the directory, fsync its parent: a new
 * directory's entry is not durable by itself, and after a power loss every
 * fsynced file inside it (an outbox entry, a checkpoint) would go with it.
 */
static int
mkdir_durable(char *path, mode_t mode)
{
	char *slash;
	int r;

	if (mkdir(path, mode) == -1)
		return errno == EEXIST ? 0 : -1;
	if ((slash = strrchr(path, '/')) == NULL)
		return fsync_dir(".");
	if (slash == path)
		return fsync_dir("/");
	*slash = '\0';
	r = fsync_dir(path);
	*slash = '/';
	return r;
}

int
mkdir_p(const char *path, mode_t mode)
{
	char tmp[PATH_MAX];
	char *p;
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(tmp, path, len + 1);
	/* the parents may be anything (/tmp, /var/lib): only the directory
	 * asked for is the daemon's own and checked */
	for (p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir_durable(tmp, mode) == -1)
			return -1;
		*p = '/';
	}
	if (mkdir_durable(tmp, mode) == -1)
		return -1;
	return dir_check(tmp);
}

int
fsync_dir(const char *dir)
{
	int fd, r;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	r = fsync(fd);
	close(fd);
	return r;
}

/*
 * A failed write, fsync or rename is never taken for success: the caller
 * gets -1 and nothing is renamed into place, so a checkpoint or an outbox
 * entry that did not reach the disk is written again from the start (a new
 * temp file) by whoever retries, never just fsynced again: after a failed
 * fsync the kernel may have dropped the dirty pages (PostgreSQL, 2018).
 * Each failure is logged here with the file and the step, once for all
 * callers. After a failed directory fsync the rename is visible but maybe
 * not durable: the caller must not report it (it gets -1).
 */
int
write_file_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	const char *p = data, *slash, *step;
	int fd = -1, saved;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	/*
	 * Never through a symlink, never into a file somebody else made: a
	 * stale temp file (a crash) is removed, not reused (unlink removes a
	 * link, not its target), and the new one must be created by us.
	 */
	step = "create";
	if (unlink(tmp) == -1 && errno != ENOENT)
		goto fail;
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, mode)) == -1)
		goto fail;
	step = "write";
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n == -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		/* a short write (a disk filling up) goes on with the rest;
		 * the next write says why it cannot */
		p += n;
		len -= (size_t)n;
	}
	step = "fsync";
	if (fsync(fd) == -1)
		goto fail;
	step = "close";
	if (close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	step = "rename";
	if (rename(tmp, path) == -1)
		goto fail;
	slash = strrchr(path, '/');
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path) ?
		    (int)(slash - path) : 1, path);
	if (fsync_dir(dir) == -1) {
		log_warn("%s: fsync of directory %s", path, dir);
		return -1;
	}
	return 0;
fail:
	saved = errno;
	log_warn("%s: %s of %s", path, step, tmp);
	if (fd != -1)
		close(fd);
	unlink(tmp);
	errno = saved;
	return -1;
}

int
read_file(const char *path, struct buf *b, size_t max)
{
	struct stat st;
	int fd, saved;
	char chunk[65536];
	ssize_t n;

	buf_reset(b);
	/* O_NONBLOCK: a FIFO put where a file belongs must not hang us in
	 * open() waiting for a writer; it is refused below */
	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) == -1)
		return -1;
	if (fstat(fd, &st) == -1)
		goto fail;
	if (!S_ISREG(st.st_mode)) {
		errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
		goto fail;
	}
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n == -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		if (n == 0)
			break;
		if (b->len + (size_t)n > max) {
			errno = EFBIG;
			goto fail;
		}
		buf_add(b, chunk, (size_t)n);
	}
	if (b->data == NULL)
		buf_reserve(b, 0), b->data[0] = '\0';
	close(fd);
	return 0;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

uint64_t
backoff_ms(unsigned attempt, uint64_t base, uint64_t cap)
{
	uint64_t d = base, r;

	while (attempt-- > 0 && d < cap)
		d = d > cap / 2 ? cap : d * 2;
	if (d > cap)
		d = cap;
	if (d < 2)
		return d;
	if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
		r = (uint64_t)random();
	return d / 2 + r % (d / 2 + 1);
}

void
str_copy(char *out, const char *in, size_t outlen)
{
	size_t n = strlen(in);

	if (outlen == 0)
		return;
	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, in, n);
	out[n] = '\0';
}

void
closefrom_(int lowfd)
{
	DIR *d;
	struct dirent *de;
	int dfd;

	if ((d = opendir("/proc/self/fd")) == NULL) {
		long max = sysconf(_SC_OPEN_MAX);
		int fd;

		for (fd = lowfd; fd < (max > 0 ? max : 1024); fd++)
			close(fd);
		return;
	}
	dfd = dirfd(d);
	while ((de = readdir(d)) != NULL) {
		int fd;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		fd = atoi(de->d_name);
		if (fd >= lowfd && fd != dfd)
			close(fd);
	}
	closedir(d);
}

int
safe_component(const char *s)
{
	const char *p;

	if (s == NULL || *s == '\0' || strcmp(s, ".") == 0 ||
	    strcmp(s, "..") == 0 || strlen(s) > 200)
		return 0;
	for (p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' &&
		    *p != '-')
			return 0;
	return 1;
}
