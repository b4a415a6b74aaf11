/*
 * kpl.c: de-aggregation of KPL aggregated records: magic F3 89 9A C2, a
 * protobuf AggregatedRecord (KPL messages.proto), the MD5 of the protobuf
 * bytes. The small protobuf decoder here trusts nothing in the input: every
 * length is checked against the bytes left, and nothing is allocated that
 * is not bounded by the input size.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "kpl.h"
#include "util.h"

#define KPL_MAGIC_LEN	4
#define KPL_MD5_LEN	16

/* Protobuf wire types. */
#define WT_VARINT	0
#define WT_FIXED64	1
#define WT_LEN		2
#define WT_SGROUP	3
#define WT_EGROUP	4
#define WT_FIXED32	5

/* A cursor over untrusted bytes. */
struct pb {
	const unsigned char	*p;
	const unsigned char	*end;
};

/* A length-delimited field's bytes. */
struct span {
	const unsigned char	*p;
	size_t			 len;
};

/*
 * Decoder passes over the same bytes: the first validates and counts, the
 * second fills the key tables (which may follow the records on the wire),
 * the third fills the records and resolves their key indexes.
 */
#define PASS_COUNT	0
#define PASS_TABLES	1
#define PASS_RECORDS	2

struct dec {
	int			 pass;
	size_t			 npk, nehk, nrec;	/* seen in this pass */
	size_t			 totpk, totehk;		/* from PASS_COUNT */
	struct span		*pk;
	struct span		*ehk;
	struct kpl_record	*rec;
	const char		*why;
};

/* A varint of at most 10 bytes whose value fits in 64 bits. */
static int
pb_varint(struct pb *b, uint64_t *v)
{
	uint64_t x = 0;
	unsigned shift;

	for (shift = 0; shift < 64; shift += 7) {
		unsigned char c;

		if (b->p == b->end)
			return -1;
		c = *b->p++;
		/* the 10th byte holds bit 63 only */
		if (shift == 63 && c > 1)
			return -1;
		x |= (uint64_t)(c & 0x7f) << shift;
		if ((c & 0x80) == 0) {
			*v = x;
			return 0;
		}
	}
	return -1;
}

/* A field key: field number (not 0) and wire type. */
static int
pb_key(struct pb *b, uint64_t *field, unsigned *wt)
{
	uint64_t k;

	if (pb_varint(b, &k) == -1)
		return -1;
	*field = k >> 3;
	*wt = (unsigned)(k & 7);
	return *field == 0 ? -1 : 0;
}

/* The bytes of a length-delimited field, inside what is left. */
static int
pb_bytes(struct pb *b, struct span *s)
{
	uint64_t len;

	if (pb_varint(b, &len) == -1 ||
	    len > (uint64_t)(b->end - b->p))
		return -1;
	s->p = b->p;
	s->len = (size_t)len;
	b->p += len;
	return 0;
}

/* Skip a field we do not know; groups (deprecated) are refused. */
static int
pb_skip(struct pb *b, unsigned wt)
{
	struct span s;
	uint64_t v;

	switch (wt) {
	case WT_VARINT:
		return pb_varint(b, &v);
	case WT_FIXED64:
		if (b->end - b->p < 8)
			return -1;
		b->p += 8;
		return 0;
	case WT_LEN:
		return pb_bytes(b, &s);
	case WT_FIXED32:
		if (b->end - b->p < 4)
			return -1;
		b->p += 4;
		return 0;
	default:
		return -1;
	}
}

/* Tag { required string key = 1; optional string value = 2; } */
static int
dec_tag(struct dec *d, struct span msg)
{
	struct pb b = { msg.p, msg.p + msg.len };
	struct span s;
	uint64_t field;
	unsigned wt;
	int has_key = 0;

	while (b.p < b.end) {
		if (pb_key(&b, &field, &wt) == -1)
			goto bad;
		if (field == 1 || field == 2) {
			if (wt != WT_LEN || pb_bytes(&b, &s) == -1)
				goto bad;
			if (field == 1)
				has_key = 1;
		} else if (pb_skip(&b, wt) == -1)
			goto bad;
	}
	if (!has_key) {
		d->why = "tag without key";
		return -1;
	}
	return 0;
bad:
	d->why = "malformed tag";
	return -1;
}

/*
 * Record { required uint64 partition_key_index = 1;
 *     optional uint64 explicit_hash_key_index = 2;
 *     required bytes data = 3; repeated Tag tags = 4; }
 * A repeated scalar field keeps its last value, as protobuf parsers do.
 */
static int
dec_record(struct dec *d, struct span msg)
{
	struct pb b = { msg.p, msg.p + msg.len };
	struct kpl_record *r;
	struct span data = { NULL, 0 }, s;
	uint64_t field, pki = 0, ehki = 0, v;
	unsigned wt;
	int has_pk = 0, has_ehk = 0, has_data = 0;

	while (b.p < b.end) {
		if (pb_key(&b, &field, &wt) == -1)
			goto bad;
		switch (field) {
		case 1:
		case 2:
			/* a known field of the wrong type is corruption, not
			 * an unknown field: refuse rather than lose data */
			if (wt != WT_VARINT || pb_varint(&b, &v) == -1)
				goto bad;
			if (field == 1) {
				pki = v;
				has_pk = 1;
			} else {
				ehki = v;
				has_ehk = 1;
			}
			break;
		case 3:
			if (wt != WT_LEN || pb_bytes(&b, &data) == -1)
				goto bad;
			has_data = 1;
			break;
		case 4:
			if (wt != WT_LEN || pb_bytes(&b, &s) == -1)
				goto bad;
			if (dec_tag(d, s) == -1)
				return -1;
			break;
		default:
			if (pb_skip(&b, wt) == -1)
				goto bad;
			break;
		}
	}
	if (!has_pk) {
		d->why = "record without partition_key_index";
		return -1;
	}
	if (!has_data) {
		d->why = "record without data";
		return -1;
	}
	if (d->pass == PASS_RECORDS) {
		if (pki >= d->totpk) {
			d->why = "partition key index out of range";
			return -1;
		}
		if (has_ehk && ehki >= d->totehk) {
			d->why = "explicit hash key index out of range";
			return -1;
		}
		r = &d->rec[d->nrec];
		r->data = data.p;
		r->data_len = data.len;
		r->pk = (const char *)d->pk[pki].p;
		r->pk_len = d->pk[pki].len;
		if (has_ehk) {
			r->ehk = (const char *)d->ehk[ehki].p;
			r->ehk_len = d->ehk[ehki].len;
		}
	}
	d->nrec++;
	return 0;
bad:
	d->why = "malformed record";
	return -1;
}

/*
 * AggregatedRecord { repeated string partition_key_table = 1;
 *     repeated string explicit_hash_key_table = 2;
 *     repeated Record records = 3; }
 * The fields may come in any order, which is why indexes are resolved only
 * after the whole message was read.
 */
static int
dec_aggregate(struct dec *d, const unsigned char *p, size_t len)
{
	struct pb b = { p, p + len };
	struct span s;
	uint64_t field;
	unsigned wt;

	d->npk = d->nehk = d->nrec = 0;
	while (b.p < b.end) {
		if (pb_key(&b, &field, &wt) == -1)
			goto bad;
		if (field >= 1 && field <= 3) {
			if (wt != WT_LEN || pb_bytes(&b, &s) == -1)
				goto bad;
			switch (field) {
			case 1:
				if (d->pass == PASS_TABLES)
					d->pk[d->npk] = s;
				d->npk++;
				break;
			case 2:
				if (d->pass == PASS_TABLES)
					d->ehk[d->nehk] = s;
				d->nehk++;
				break;
			default:
				if (d->nrec == KPL_MAX_RECORDS) {
					d->why = "too many records";
					return -1;
				}
				/* the tables pass only needs the bounds,
				 * checked above */
				if (d->pass == PASS_TABLES)
					d->nrec++;
				else if (dec_record(d, s) == -1)
					return -1;
				break;
			}
		} else if (pb_skip(&b, wt) == -1)
			goto bad;
	}
	return 0;
bad:
	d->why = "malformed aggregate";
	return -1;
}

int
kpl_is_aggregate(const unsigned char *p, size_t len)
{
	/* as the official deaggregators: magic, then more than the digest */
	return len > KPL_MAGIC_LEN + KPL_MD5_LEN &&
	    memcmp(p, KPL_MAGIC, KPL_MAGIC_LEN) == 0;
}

int
kpl_decode(const unsigned char *p, size_t len, struct kpl_agg *agg,
    const char **why)
{
	struct dec d;
	const unsigned char *body;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	size_t blen;
	const char *whybuf;

	if (why == NULL)
		why = &whybuf;
	agg->records = NULL;
	agg->n = 0;
	memset(&d, 0, sizeof(d));
	if (!kpl_is_aggregate(p, len)) {
		*why = "not an aggregate";
		return -1;
	}
	body = p + KPL_MAGIC_LEN;
	blen = len - KPL_MAGIC_LEN - KPL_MD5_LEN;
	/*
	 * The official deaggregators treat a checksum mismatch as "not
	 * aggregated after all"; the caller archives the record whole.
	 */
	if (EVP_Digest(body, blen, md, &mdlen, EVP_md5(), NULL) != 1 ||
	    mdlen != KPL_MD5_LEN ||
	    memcmp(md, body + blen, KPL_MD5_LEN) != 0) {
		*why = "checksum mismatch";
		return -1;
	}

	/* every entry costs at least 2 input bytes, so the arrays below
	 * stay proportional to the input, whatever it claims */
	d.pass = PASS_COUNT;
	if (dec_aggregate(&d, body, blen) == -1) {
		*why = d.why;
		return -1;
	}
	if (d.nrec == 0) {
		/* emitting nothing would silently drop the Kinesis record */
		*why = "aggregate without records";
		return -1;
	}
	d.totpk = d.npk;
	d.totehk = d.nehk;
	d.pk = xcalloc(d.totpk ? d.totpk : 1, sizeof(*d.pk));
	d.ehk = xcalloc(d.totehk ? d.totehk : 1, sizeof(*d.ehk));
	d.rec = xcalloc(d.nrec, sizeof(*d.rec));

	/* the same bytes passed the first pass: only the index checks of
	 * the last pass can fail */
	d.pass = PASS_TABLES;
	if (dec_aggregate(&d, body, blen) == -1)
		goto fail;
	d.pass = PASS_RECORDS;
	if (dec_aggregate(&d, body, blen) == -1)
		goto fail;
	free(d.pk);
	free(d.ehk);
	agg->records = d.rec;
	agg->n = d.nrec;
	*why = NULL;
	return 0;

fail:
	*why = d.why;
	free(d.pk);
	free(d.ehk);
	free(d.rec);
	return -1;
}

void
kpl_free(struct kpl_agg *agg)
{
	free(agg->records);
	agg->records = NULL;
	agg->n = 0;
}
