/*
 * test_compress.c: worker/compress.c: every engine and level round-trips
 * through the reference decoders (zlib, libzstd), libdeflate's gzip comes
 * in 1 MiB members, ISA-L's in one, zstd frames stay within an 8 MiB window
 * and carry a checksum, an engine is reusable after a finished stream.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compress.h"
#include "t.h"
#include "unpack.h"
#include "util.h"

#define INPUT_SIZE	(3 * 1024 * 1024 + 12345)
#define SMALL_SIZE	(300 * 1024)	/* the slow levels, under ASan */

/* JSON-ish lines, compressible like log records but not trivially */
static void
make_input(struct buf *in, size_t size)
{
	uint32_t x = 2463534242u;
	size_t i = 0;

	buf_reset(in);
	while (in->len < size) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		buf_printf(in, "{\"seq\":\"%zu\",\"level\":\"%s\",\"latency_ms\":"
		    "%u,\"path\":\"/api/v2/items/%u\",\"id\":\"%08x\"}\n",
		    1000 + i++, (x & 3) == 0 ? "warn" : "info", x % 977,
		    x % 100000, x);
	}
}

/* Compress in: through comp_write in comp_chunk() pieces, plus an odd
 * tail for comp_finish, as batch.c does. */
static void
run(struct comp *c, const struct buf *in, struct buf *out)
{
	size_t chunk = comp_chunk(c), off = 0, tail = in->len % 7777;

	buf_reset(out);
	while (off + chunk <= in->len - tail) {
		comp_write(c, out, in->data + off, chunk);
		off += chunk;
	}
	comp_write(c, out, in->data + off, in->len - tail - off);
	comp_finish(c, out, in->data + in->len - tail, tail);
}

static int
decode(enum cfg_compression kind, const struct buf *z, struct buf *plain,
    int *members)
{
	*members = 0;
	if (kind == COMPRESSION_GZIP)
		return t_gunzip(z, plain, members);
	if (kind == COMPRESSION_ZSTD)
		return t_unzstd(z, plain);
	buf_reset(plain);
	buf_add(plain, z->data, z->len);
	return 0;
}

static void
test_engine(enum cfg_compression kind, int level, size_t size,
    const char *name)
{
	struct comp c;
	struct buf in, out, again, plain;
	size_t body, tail;
	int members, r;

	buf_init(&in);
	buf_init(&out);
	buf_init(&again);
	buf_init(&plain);
	make_input(&in, size);
	comp_init(&c, kind, level);
	run(&c, &in, &out);
	r = decode(kind, &out, &plain, &members);
	T_OK(r == 0 && plain.len == in.len && memcmp(plain.data, in.data,
	    in.len) == 0, "%s: %zu bytes in, %zu out, decodes to the input",
	    name, in.len, out.len);
	if (kind != COMPRESSION_NONE)
		T_OK(out.len < in.len / 3, "%s: compresses (ratio %.2f)", name,
		    (double)in.len / (double)(out.len ? out.len : 1));
	/* libdeflate: one member per comp_write (1 MiB chunks, as run()
	 * feeds it, then the rest) and one for the tail: the uncompressed
	 * data held at once is a chunk, never the batch */
	tail = in.len % 7777;
	body = in.len - tail;
	if (kind == COMPRESSION_GZIP && level > 1)
		T_INTEQ(members, body / (1024 * 1024) + (body % (1024 * 1024) !=
		    0) + (tail != 0), "libdeflate: one gzip member per chunk");
	if (kind == COMPRESSION_GZIP && level == 1)
		T_INTEQ(members, 1, "ISA-L: one gzip member");

	/* the engine starts a fresh stream after comp_finish */
	run(&c, &in, &again);
	T_OK(again.len == out.len && memcmp(again.data, out.data, out.len) ==
	    0, "%s: a second stream is byte for byte the first", name);

	/* an empty stream is still a valid one */
	buf_reset(&out);
	comp_finish(&c, &out, "", 0);
	r = decode(kind, &out, &plain, &members);
	T_OK(r == 0 && plain.len == 0 && (kind == COMPRESSION_NONE ||
	    out.len > 0), "%s: an empty stream decodes to nothing", name);
	comp_free(&c);
	buf_free(&in);
	buf_free(&out);
	buf_free(&again);
	buf_free(&plain);
}

/* RFC 1952 XFL: 4 fastest, 2 maximum compression, as zlib writes it */
static void
test_gzip_header(void)
{
	static const struct { int level, xfl; } t[] = {
		{ 1, 4 }, { 6, 0 }, { 9, 2 }, { 12, 2 }
	};
	struct comp c;
	struct buf out;
	size_t i;

	buf_init(&out);
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		comp_init(&c, COMPRESSION_GZIP, t[i].level);
		buf_reset(&out);
		comp_finish(&c, &out, "hello\n", 6);
		T_OK(out.len > 18 && (unsigned char)out.data[0] == 0x1f &&
		    (unsigned char)out.data[1] == 0x8b && out.data[2] == 8 &&
		    out.data[8] == t[i].xfl, "gzip level %d: magic, deflate, "
		    "XFL %d", t[i].level, t[i].xfl);
		comp_free(&c);
	}
	buf_free(&out);
}

/* The frame header of a streamed frame: window within 8 MiB, checksum on */
static void
test_zstd_frame(int level)
{
	struct comp c;
	struct buf in, out;
	unsigned char fhd, wd;
	uint64_t window;

	buf_init(&in);
	buf_init(&out);
	make_input(&in, SMALL_SIZE);
	comp_init(&c, COMPRESSION_ZSTD, level);
	run(&c, &in, &out);
	T_OK(out.len > 6 && memcmp(out.data, "\x28\xb5\x2f\xfd", 4) == 0,
	    "zstd %d: frame magic", level);
	fhd = (unsigned char)out.data[4];
	wd = (unsigned char)out.data[5];
	window = (1ULL << (10 + (wd >> 3)));
	window += (window / 8) * (wd & 7);
	T_OK((fhd & 0x04) != 0, "zstd %d: content checksum flag", level);
	T_OK((fhd & 0x20) == 0 && window <= COMP_ZSTD_WINDOW_MAX,
	    "zstd %d: window %llu bytes, at most 8 MiB", level,
	    (unsigned long long)window);
	comp_free(&c);
	buf_free(&in);
	buf_free(&out);
}

static void
test_names(void)
{
	T_STREQ(comp_content_type(COMPRESSION_GZIP), "application/gzip",
	    "gzip content type");
	T_STREQ(comp_content_type(COMPRESSION_ZSTD), "application/zstd",
	    "zstd content type");
	T_OK(comp_content_type(COMPRESSION_NONE) == NULL,
	    "none: the format's content type");
	T_STREQ(comp_extension(COMPRESSION_ZSTD), ".zst", "zstd extension");
	T_STREQ(comp_extension(COMPRESSION_GZIP), ".gz", "gzip extension");
	T_STREQ(comp_extension(COMPRESSION_NONE), "", "none: no extension");
}

int
main(void)
{
	test_engine(COMPRESSION_GZIP, 1, INPUT_SIZE, "gzip 1 (ISA-L)");
	test_engine(COMPRESSION_GZIP, 2, INPUT_SIZE, "gzip 2 (libdeflate)");
	test_engine(COMPRESSION_GZIP, 6, INPUT_SIZE, "gzip 6 (libdeflate)");
	test_engine(COMPRESSION_GZIP, 12, SMALL_SIZE, "gzip 12 (libdeflate)");
	test_engine(COMPRESSION_ZSTD, 1, INPUT_SIZE, "zstd 1");
	test_engine(COMPRESSION_ZSTD, 3, SMALL_SIZE, "zstd 3");
	test_engine(COMPRESSION_ZSTD, 19, SMALL_SIZE, "zstd 19");
	test_engine(COMPRESSION_NONE, 0, SMALL_SIZE, "none");
	test_gzip_header();
	test_zstd_frame(1);
	test_zstd_frame(19);
	test_names();
	return t_done();
}
