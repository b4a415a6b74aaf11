/*
 * compress.h: the object body's compression engines (format.compression):
 * gzip through libdeflate (levels 2-12) or ISA-L igzip (level 1, the fast
 * one), zstd through libzstd (levels 1-19), or none. Input comes in pieces
 * and output is appended to a buffer, so memory holds the compressed body
 * and at most one input chunk, never the whole uncompressed batch.
 */
#ifndef KK_COMPRESS_H
#define KK_COMPRESS_H

#include <stddef.h>

#include "cfg.h"
#include "util.h"

struct comp {
	enum cfg_compression	 kind;
	int			 level;
	void			*engine;	/* engine state, per kind */
	void			*level_buf;	/* ISA-L's work area */
	size_t			 level_buf_size;
	int			 started;	/* a header was written (ISA-L) */
};

/*
 * zstd's window must stay within 8 MiB so that every reader we name
 * (Trino) decodes the frames: levels 1-19 choose 512 KiB (level 1) to
 * 8 MiB (17-19) for a stream of unknown size, the "ultra" levels 20-22
 * more, which is why format.level stops at 19 (test_compress checks the
 * frame header).
 */
#define COMP_ZSTD_WINDOW_MAX	(8 * 1024 * 1024)
/* gzip level 1 goes to ISA-L igzip at this level of its own (0-3): its
 * fastest on JSON lines (1.3 CPU-s/GB, ratio 4.48; level 2 1.4-1.7 for
 * 4.58, level 0 1.45 for 3.48), 3x libdeflate level 1 */
#define COMP_ISAL_LEVEL		1

void	comp_init(struct comp *, enum cfg_compression, int level);
void	comp_free(struct comp *);
/* Start a new object (the previous stream must have been finished). */
void	comp_reset(struct comp *);
/*
 * How much input to gather before calling comp_write: libdeflate has no
 * streaming interface and compresses each chunk as one gzip member, so
 * bigger chunks compress better; the streaming engines take any size.
 */
size_t	comp_chunk(const struct comp *);
/* Compress in[0..len) onto out. */
void	comp_write(struct comp *, struct buf *out, const void *in, size_t len);
/* Compress the last input and end the stream (a complete gzip stream, or
 * one zstd frame with its checksum). */
void	comp_finish(struct comp *, struct buf *out, const void *in,
	    size_t len);
/* "application/gzip", "application/zstd", or NULL for none. */
const char *comp_content_type(enum cfg_compression);
/* ".gz", ".zst" or "". */
const char *comp_extension(enum cfg_compression);

#endif
