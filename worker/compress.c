/*
 * compress.c: the compression engines behind format.compression. gzip goes
 * through libdeflate (a gzip member per input chunk: it cannot stream) or,
 * at level 1, through ISA-L's streaming igzip; zstd streams one frame.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <isa-l/igzip_lib.h>
#include <libdeflate.h>
#include <zstd.h>

#include "compress.h"
#include "log.h"

/*
 * libdeflate compresses whole buffers: a 1 MiB chunk per gzip member
 * keeps the ratio within 1% of one member for the whole batch (4 MiB
 * gains 1% more) and bounds the uncompressed data held at once.
 */
#define DEFLATE_MEMBER	(1024 * 1024)
#define STREAM_CHUNK	(64 * 1024)	/* one engine call per 64 KiB */
#define OUT_ROOM	(128 * 1024)	/* room given to a streaming call */

/* RFC 1952 header for the ISA-L stream: no name, no time, XFL 4
 * ("fastest"), OS 3 (Unix), as zlib writes it at level 1 */
static const unsigned char isal_gzip_header[10] = {
	0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 3
};

static int
use_isal(const struct comp *c)
{
	return c->kind == COMPRESSION_GZIP && c->level == 1;
}

void
comp_init(struct comp *c, enum cfg_compression kind, int level)
{
	size_t r;

	memset(c, 0, sizeof(*c));
	c->kind = kind;
	c->level = level;
	switch (kind) {
	case COMPRESSION_GZIP:
		if (use_isal(c)) {
			c->engine = xcalloc(1, sizeof(struct isal_zstream));
			/* the work area of COMP_ISAL_LEVEL */
			c->level_buf_size = COMP_ISAL_LEVEL == 1 ?
			    ISAL_DEF_LVL1_DEFAULT : ISAL_DEF_LVL2_DEFAULT;
			c->level_buf = xmalloc(c->level_buf_size);
		} else if ((c->engine = libdeflate_alloc_compressor(level)) ==
		    NULL)
			fatalx("libdeflate: no compressor for level %d", level);
		break;
	case COMPRESSION_ZSTD:
		if ((c->engine = ZSTD_createCCtx()) == NULL)
			fatalx("zstd: out of memory");
		r = ZSTD_CCtx_setParameter(c->engine,
		    ZSTD_c_compressionLevel, level);
		if (!ZSTD_isError(r))
			r = ZSTD_CCtx_setParameter(c->engine,
			    ZSTD_c_checksumFlag, 1);
		if (ZSTD_isError(r))
			fatalx("zstd: level %d: %s", level,
			    ZSTD_getErrorName(r));
		break;
	case COMPRESSION_NONE:
		break;
	}
	comp_reset(c);
}

void
comp_free(struct comp *c)
{
	switch (c->kind) {
	case COMPRESSION_GZIP:
		if (use_isal(c))
			free(c->engine);
		else
			libdeflate_free_compressor(c->engine);
		free(c->level_buf);
		break;
	case COMPRESSION_ZSTD:
		ZSTD_freeCCtx(c->engine);
		break;
	case COMPRESSION_NONE:
		break;
	}
	memset(c, 0, sizeof(*c));
}

void
comp_reset(struct comp *c)
{
	struct isal_zstream *s;

	c->started = 0;
	if (use_isal(c)) {
		s = c->engine;
		isal_deflate_init(s);
		s->level = COMP_ISAL_LEVEL;
		s->level_buf = c->level_buf;
		s->level_buf_size = (uint32_t)c->level_buf_size;
		/* the header is ours (see isal_gzip_header), the trailer
		 * (CRC-32, size) is ISA-L's */
		s->gzip_flag = IGZIP_GZIP_NO_HDR;
		s->flush = NO_FLUSH;
	} else if (c->kind == COMPRESSION_ZSTD)
		ZSTD_CCtx_reset(c->engine, ZSTD_reset_session_only);
}

size_t
comp_chunk(const struct comp *c)
{
	if (c->kind == COMPRESSION_GZIP && !use_isal(c))
		return DEFLATE_MEMBER;
	return STREAM_CHUNK;
}

static void
deflate_member(struct comp *c, struct buf *out, const void *in, size_t len)
{
	size_t bound, n;

	bound = libdeflate_gzip_compress_bound(c->engine, len);
	buf_reserve(out, bound);
	n = libdeflate_gzip_compress(c->engine, in, len, out->data + out->len,
	    bound);
	if (n == 0)
		fatalx("libdeflate: output bound too small");
	out->len += n;
	out->data[out->len] = '\0';
	c->started = 1;
}

static void
isal_some(struct comp *c, struct buf *out, const void *in, size_t len,
    int last)
{
	struct isal_zstream *s = c->engine;
	size_t room;
	int r;

	if (!c->started) {
		buf_add(out, isal_gzip_header, sizeof(isal_gzip_header));
		c->started = 1;
	}
	s->next_in = (uint8_t *)(uintptr_t)in;
	s->avail_in = (uint32_t)len;
	s->end_of_stream = last ? 1 : 0;
	for (;;) {
		buf_reserve(out, OUT_ROOM);
		room = out->cap - out->len - 1;
		if (room > UINT32_MAX)
			room = UINT32_MAX;
		s->next_out = (uint8_t *)out->data + out->len;
		s->avail_out = (uint32_t)room;
		if ((r = isal_deflate(s)) != COMP_OK)
			fatalx("isal_deflate: error %d", r);
		out->len += room - s->avail_out;
		out->data[out->len] = '\0';
		if (s->avail_in > 0 || s->avail_out == 0)
			continue;
		if (!last || s->internal_state.state == ZSTATE_END)
			break;
	}
}

static void
zstd_some(struct comp *c, struct buf *out, const void *in, size_t len,
    ZSTD_EndDirective mode)
{
	ZSTD_inBuffer ib = { in, len, 0 };
	ZSTD_outBuffer ob;
	size_t r;

	for (;;) {
		buf_reserve(out, OUT_ROOM);
		ob.dst = out->data + out->len;
		ob.size = out->cap - out->len - 1;
		ob.pos = 0;
		r = ZSTD_compressStream2(c->engine, &ob, &ib, mode);
		if (ZSTD_isError(r))
			fatalx("zstd: %s", ZSTD_getErrorName(r));
		out->len += ob.pos;
		out->data[out->len] = '\0';
		/* continue: done when the input is taken; end: when nothing
		 * is left to write (r is what remains in zstd's buffers) */
		if (mode == ZSTD_e_end ? r == 0 : ib.pos == ib.size)
			break;
	}
	c->started = 1;
}

void
comp_write(struct comp *c, struct buf *out, const void *in, size_t len)
{
	if (len == 0)
		return;
	switch (c->kind) {
	case COMPRESSION_GZIP:
		if (use_isal(c))
			isal_some(c, out, in, len, 0);
		else
			deflate_member(c, out, in, len);
		break;
	case COMPRESSION_ZSTD:
		zstd_some(c, out, in, len, ZSTD_e_continue);
		break;
	case COMPRESSION_NONE:
		buf_add(out, in, len);
		break;
	}
}

void
comp_finish(struct comp *c, struct buf *out, const void *in, size_t len)
{
	switch (c->kind) {
	case COMPRESSION_GZIP:
		if (use_isal(c))
			isal_some(c, out, in, len, 1);
		else if (len > 0 || !c->started)
			/* an empty body is still one (empty) gzip member */
			deflate_member(c, out, in, len);
		break;
	case COMPRESSION_ZSTD:
		zstd_some(c, out, in, len, ZSTD_e_end);
		break;
	case COMPRESSION_NONE:
		buf_add(out, in, len);
		break;
	}
	comp_reset(c);
}

const char *
comp_content_type(enum cfg_compression kind)
{
	switch (kind) {
	case COMPRESSION_GZIP:
		return "application/gzip";
	case COMPRESSION_ZSTD:
		return "application/zstd";
	case COMPRESSION_NONE:
		break;
	}
	return NULL;
}

const char *
comp_extension(enum cfg_compression kind)
{
	switch (kind) {
	case COMPRESSION_GZIP:
		return ".gz";
	case COMPRESSION_ZSTD:
		return ".zst";
	case COMPRESSION_NONE:
		break;
	}
	return "";
}
