/*
 * jsonscan.h: JSON text checked and written by hand, fast: the lexer the
 * GetRecords scanner and the payload minifier share, and the string
 * escaper of jsonl lines.
 */
#ifndef KK_JSONSCAN_H
#define KK_JSONSCAN_H

#include <stddef.h>

#include "util.h"

/*
 * Validate in[0..len) as one JSON text (RFC 8259: any value, surrounding
 * whitespace allowed) in valid UTF-8, with no lone surrogate escapes and
 * nesting at most 64 deep (so that jq 1.6 reads every line). If valid,
 * append its compact form (whitespace outside strings removed, everything
 * else byte for byte) and return 0; otherwise append nothing and return -1.
 */
int	json_minify(struct buf *, const unsigned char *in, size_t len);

/* Append s as a JSON string literal (with quotes); invalid UTF-8 bytes are
 * replaced by U+FFFD so the result always parses. */
void	json_append_string(struct buf *, const char *s, size_t len);

/* A string's body, p just after its opening quote: the position after
 * the closing quote, or NULL if the string is invalid (bad escape, lone
 * surrogate, control character, invalid UTF-8, no end). */
const unsigned char *json_scan_string(const unsigned char *p,
	    const unsigned char *end);
/* An RFC 8259 number at p (p < end): the position after it, or NULL. */
const unsigned char *json_scan_number(const unsigned char *p,
	    const unsigned char *end);

#endif
