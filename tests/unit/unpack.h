/*
 * unpack.h: decoders for the unit tests, written against the reference
 * libraries rather than the engines the keeper compresses with: zlib for
 * gzip (every member of a multi-member stream), libzstd's streaming decoder.
 */
#ifndef KK_T_UNPACK_H
#define KK_T_UNPACK_H

#include <stdint.h>
#include <string.h>

#include <zlib.h>
#include <zstd.h>

#include "util.h"

/* Inflate a whole gzip stream of one or more members; -1 unless every
 * member is complete and nothing trails the last. *members: how many. */
static int
t_gunzip(const struct buf *in, struct buf *out, int *members)
{
	z_stream z;
	int r = Z_OK, n = 0;

	buf_reset(out);
	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, 15 + 16) != Z_OK)
		return -1;
	z.next_in = (Bytef *)(uintptr_t)in->data;
	z.avail_in = (uInt)in->len;
	do {
		if (r == Z_STREAM_END && inflateReset(&z) != Z_OK)
			break;
		do {
			buf_reserve(out, 65536);
			z.next_out = (Bytef *)out->data + out->len;
			z.avail_out = 65536;
			r = inflate(&z, Z_NO_FLUSH);
			out->len += 65536 - z.avail_out;
			out->data[out->len] = '\0';
		} while (r == Z_OK);
		if (r == Z_STREAM_END)
			n++;
	} while (r == Z_STREAM_END && z.avail_in > 0);
	inflateEnd(&z);
	if (members != NULL)
		*members = n;
	if (r != Z_STREAM_END || z.avail_in != 0)
		return -1;
	return 0;
}

/* Decode a zstd stream (one or more frames, checksums verified); -1 on any
 * error or a truncated frame. */
static int
t_unzstd(const struct buf *in, struct buf *out)
{
	ZSTD_DCtx *d;
	ZSTD_inBuffer ib = { in->data, in->len, 0 };
	ZSTD_outBuffer ob;
	size_t r = 1;

	buf_reset(out);
	if ((d = ZSTD_createDCtx()) == NULL)
		return -1;
	while (ib.pos < ib.size) {
		buf_reserve(out, 65536);
		ob.dst = out->data + out->len;
		ob.size = 65536;
		ob.pos = 0;
		r = ZSTD_decompressStream(d, &ob, &ib);
		if (ZSTD_isError(r))
			break;
		out->len += ob.pos;
		out->data[out->len] = '\0';
	}
	/* the last frame may still hold output */
	while (!ZSTD_isError(r) && r != 0) {
		buf_reserve(out, 65536);
		ob.dst = out->data + out->len;
		ob.size = 65536;
		ob.pos = 0;
		r = ZSTD_decompressStream(d, &ob, &ib);
		if (ZSTD_isError(r) || ob.pos == 0)
			break;
		out->len += ob.pos;
		out->data[out->len] = '\0';
	}
	ZSTD_freeDCtx(d);
	return ZSTD_isError(r) || r != 0 || in->len == 0 ? -1 : 0;
}

#endif
