/*
 * sigv4.c: AWS Signature Version 4, header-based, computed the way
 * botocore's SigV4Auth and S3SigV4Auth compute it (tests/unit/
 * sigv4_vectors.py keeps us honest). SHA-256 and HMAC-SHA256 come from
 * OpenSSL. No secret ever reaches a log line; key material is wiped.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/hmac.h>
#include <openssl/params.h>

#include "log.h"
#include "sigv4.h"
#include "util.h"

#define SIGV4_ALGORITHM		"AWS4-HMAC-SHA256"
#define SIGV4_UNSIGNED		"UNSIGNED-PAYLOAD"

/* One header as it enters the canonical form. */
struct sigv4_hdr {
	char	*name;		/* lowercase */
	char	*value;		/* trimmed, inner blank runs collapsed */
	size_t	 order;		/* keeps repeated headers in given order */
};

/* One query parameter, both halves already encoded. */
struct sigv4_qp {
	char	*name;
	char	*value;
};

/*
 * Headers botocore never signs: hop-by-hop headers and ones that proxies
 * and HTTP stacks add or rewrite (curl adds Expect on large PUTs), so a
 * signature over them would break in transit.
 */
static const char *const unsigned_headers[] = {
	"connection", "expect", "keep-alive", "proxy-authenticate",
	"proxy-authorization", "te", "trailer", "transfer-encoding",
	"upgrade", "user-agent", "x-amzn-trace-id",
};

/* Headers the signer adds itself; a caller's copy would be a duplicate. */
static const char *const signer_headers[] = {
	"host", "x-amz-date", "x-amz-security-token", "authorization",
};

static int
is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
	    c == '~';
}

void
sigv4_uri_encode(struct buf *b, const char *s, size_t len, int keep_slash)
{
	static const char hexu[] = "0123456789ABCDEF";
	const unsigned char *p = (const unsigned char *)s;
	char enc[3];
	size_t i;

	buf_reserve(b, len);
	for (i = 0; i < len; i++) {
		if (is_unreserved(p[i]) || (keep_slash && p[i] == '/')) {
			buf_addc(b, (char)p[i]);
			continue;
		}
		enc[0] = '%';
		enc[1] = hexu[p[i] >> 4];
		enc[2] = hexu[p[i] & 15];
		buf_add(b, enc, 3);
	}
}

static int
qp_cmp(const void *a, const void *b)
{
	const struct sigv4_qp *x = a, *y = b;
	int c;

	/*
	 * Name first, then value, compared as separate strings: comparing
	 * "name=value" as one string would put "a-b=1" before "a=1".
	 */
	if ((c = strcmp(x->name, y->name)) != 0)
		return c;
	return strcmp(x->value, y->value);
}

static char *
encode_dup(const char *s)
{
	struct buf b;

	buf_init(&b);
	if (s != NULL)
		sigv4_uri_encode(&b, s, strlen(s), 0);
	buf_addstr(&b, "");		/* data is never NULL */
	return b.data;
}

/* A NULL name or value counts as empty: { "uploads", NULL } is "uploads=". */
void
sigv4_query_string(struct buf *b, const struct sigv4_kv *kv, size_t n)
{
	struct sigv4_qp *qp;
	size_t i;

	if (kv == NULL || n == 0)
		return;
	qp = xcalloc(n, sizeof(*qp));
	for (i = 0; i < n; i++) {
		qp[i].name = encode_dup(kv[i].name);
		qp[i].value = encode_dup(kv[i].value);
	}
	qsort(qp, n, sizeof(*qp), qp_cmp);
	for (i = 0; i < n; i++) {
		if (i > 0)
			buf_addc(b, '&');
		buf_addstr(b, qp[i].name);
		buf_addc(b, '=');
		buf_addstr(b, qp[i].value);
		free(qp[i].name);
		free(qp[i].value);
	}
	free(qp);
}

/*
 * RFC 3986 section 5.2.4 dot-segment removal as botocore's
 * remove_dot_segments() does it, which also drops empty segments
 * ("//a//" becomes "/a/"). path starts with '/'.
 */
static void
normalize_path(struct buf *out, const char *path)
{
	const char **seg;
	size_t *seglen;
	size_t nseg = 0, maxseg = 1, i, len;
	const char *p, *e;

	for (p = path; *p != '\0'; p++)
		if (*p == '/')
			maxseg++;
	seg = xcalloc(maxseg, sizeof(*seg));
	seglen = xcalloc(maxseg, sizeof(*seglen));
	for (p = path; ; p = e + 1) {
		e = strchr(p, '/');
		len = e != NULL ? (size_t)(e - p) : strlen(p);
		if (len == 2 && p[0] == '.' && p[1] == '.') {
			if (nseg > 0)
				nseg--;
		} else if (len > 0 && !(len == 1 && p[0] == '.')) {
			seg[nseg] = p;
			seglen[nseg++] = len;
		}
		if (e == NULL)
			break;
	}
	buf_addc(out, '/');
	for (i = 0; i < nseg; i++) {
		if (i > 0)
			buf_addc(out, '/');
		buf_add(out, seg[i], seglen[i]);
	}
	len = strlen(path);
	if (nseg > 0 && path[len - 1] == '/')
		buf_addc(out, '/');
	free(seg);
	free(seglen);
}

/*
 * S3 signs the path as sent: encoded once, never normalized (a key may
 * legitimately hold "//" or "/../"). Every other service signs the
 * normalized form of the path as sent, encoded again: the wire carries
 * the path encoded once, so the canonical URI is encoded twice ("a b"
 * is "a%20b" on the wire and "a%2520b" in the canonical request).
 */
static void
canonical_uri(struct buf *out, const char *path, int s3)
{
	struct buf norm, once;

	if (s3) {
		sigv4_uri_encode(out, path, strlen(path), 1);
		return;
	}
	buf_init(&norm);
	buf_init(&once);
	normalize_path(&norm, path);
	sigv4_uri_encode(&once, norm.data, norm.len, 1);
	sigv4_uri_encode(out, once.data, once.len, 1);
	buf_free(&norm);
	buf_free(&once);
}

static int
is_tchar(unsigned char c)
{
	/* RFC 9110 token characters */
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') ||
	    (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int
valid_token(const char *s)
{
	if (s == NULL || *s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (!is_tchar((unsigned char)*s))
			return 0;
	return 1;
}

/* Header values: no control characters but tab (no CR/LF injection). */
static int
valid_field_value(const char *s)
{
	const unsigned char *p;

	if (s == NULL)
		return 0;
	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
			return 0;
	return 1;
}

/* Region, service: they go into the scope, which '/' separates. */
static int
valid_scope_part(const char *s)
{
	if (s == NULL || *s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (!is_unreserved((unsigned char)*s))
			return 0;
	return 1;
}

/* Printable ASCII without blanks and without the delimiters in excl. */
static int
valid_printable(const char *s, const char *excl)
{
	if (s == NULL || *s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f ||
		    strchr(excl, *s) != NULL)
			return 0;
	return 1;
}

static int
valid_payload_hash(const char *s)
{
	size_t i;

	if (s == NULL)
		return 0;
	if (strcmp(s, SIGV4_UNSIGNED) == 0)
		return 1;
	for (i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[64] == '\0';
}

static int
in_list(const char *name, const char *const *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcasecmp(name, list[i]) == 0)
			return 1;
	return 0;
}

/*
 * Trimall as botocore does it (' '.join(value.split())): no leading or
 * trailing blanks, every inner run of blanks becomes one space. Control
 * characters other than tab were rejected before, so blanks are space
 * and tab.
 */
static char *
trim_value(const char *v)
{
	struct buf b;
	int pending = 0;

	buf_init(&b);
	buf_addstr(&b, "");
	for (; *v != '\0'; v++) {
		if (*v == ' ' || *v == '\t') {
			pending = b.len > 0;
			continue;
		}
		if (pending)
			buf_addc(&b, ' ');
		pending = 0;
		buf_addc(&b, *v);
	}
	return b.data;
}

static char *
lower_dup(const char *s)
{
	char *d = xstrdup(s), *p;

	for (p = d; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return d;
}

static int
hdr_cmp(const void *a, const void *b)
{
	const struct sigv4_hdr *x = a, *y = b;
	int c;

	if ((c = strcmp(x->name, y->name)) != 0)
		return c;
	/* qsort is not stable: keep repeated headers in the order given */
	return x->order < y->order ? -1 : x->order > y->order;
}

static void
hdr_add(struct sigv4_hdr *h, size_t *n, const char *name, const char *value)
{
	h[*n].name = lower_dup(name);
	h[*n].value = trim_value(value);
	h[*n].order = *n;
	(*n)++;
}

/*
 * Canonical headers ("name:v1,v2\n" per distinct name, sorted) into ch and
 * the signed header list ("a;b;c") into sh.
 */
static void
canonical_headers(const struct sigv4_request *req, const struct aws_creds *cr,
    const char *amz_date, struct buf *ch, struct buf *sh)
{
	struct sigv4_hdr *h;
	size_t n = 0, i;

	h = xcalloc(req->nheaders + 3, sizeof(*h));
	hdr_add(h, &n, "host", req->host);
	hdr_add(h, &n, "x-amz-date", amz_date);
	if (cr->session_token != NULL)
		hdr_add(h, &n, "x-amz-security-token", cr->session_token);
	for (i = 0; i < req->nheaders; i++)
		if (!in_list(req->headers[i].name, unsigned_headers,
		    sizeof(unsigned_headers) / sizeof(unsigned_headers[0])))
			hdr_add(h, &n, req->headers[i].name,
			    req->headers[i].value);
	qsort(h, n, sizeof(*h), hdr_cmp);
	for (i = 0; i < n; i++) {
		if (i > 0 && strcmp(h[i].name, h[i - 1].name) == 0) {
			buf_addc(ch, ',');
		} else {
			if (i > 0) {
				buf_addc(ch, '\n');
				buf_addc(sh, ';');
			}
			buf_addstr(ch, h[i].name);
			buf_addc(ch, ':');
			buf_addstr(sh, h[i].name);
		}
		buf_addstr(ch, h[i].value);
	}
	buf_addc(ch, '\n');
	for (i = 0; i < n; i++) {
		free(h[i].name);
		free(h[i].value);
	}
	free(h);
}

static int
hmac_sha256(const void *key, size_t keylen, const void *msg, size_t msglen,
    unsigned char out[32])
{
	unsigned int outlen = 0;

	if (keylen > INT_MAX)
		return -1;
	if (HMAC(EVP_sha256(), key, (int)keylen, msg, msglen, out,
	    &outlen) == NULL || outlen != 32)
		return -1;
	return 0;
}

/*
 * The signing key changes once a day per secret, region and service, so it
 * is derived once and kept, as an HMAC context keyed with it: four HMACs
 * fewer per request, and no algorithm lookup (OpenSSL 3 fetches one at
 * every one-shot HMAC()). The cache is found by a digest of the secret and
 * the scope; the secret itself is not kept here.
 */
#define KEY_CACHE	8

static struct {
	unsigned char	 id[32];	/* SHA-256 of secret, date, region, service */
	EVP_MAC_CTX	*mac;		/* HMAC-SHA256 keyed with the signing key */
} key_cache[KEY_CACHE];
static unsigned key_cache_next;

static EVP_MAC_CTX *
signing_ctx(const char *secret, const char *date, const char *region,
    const char *service)
{
	static EVP_MAC *hmac;
	OSSL_PARAM params[2];
	unsigned char id[32], k1[32], key[32];
	unsigned int idlen = 0;
	EVP_MD_CTX *md;
	EVP_MAC_CTX *ctx = NULL;
	size_t slen = strlen(secret), i;
	char *kseed, digest[] = "SHA2-256";

	if ((md = EVP_MD_CTX_new()) == NULL)
		return NULL;
	if (EVP_DigestInit_ex(md, sha256_md(), NULL) != 1 ||
	    EVP_DigestUpdate(md, secret, slen + 1) != 1 ||
	    EVP_DigestUpdate(md, date, strlen(date) + 1) != 1 ||
	    EVP_DigestUpdate(md, region, strlen(region) + 1) != 1 ||
	    EVP_DigestUpdate(md, service, strlen(service) + 1) != 1 ||
	    EVP_DigestFinal_ex(md, id, &idlen) != 1 || idlen != 32) {
		EVP_MD_CTX_free(md);
		return NULL;
	}
	EVP_MD_CTX_free(md);
	for (i = 0; i < KEY_CACHE; i++)
		if (key_cache[i].mac != NULL &&
		    CRYPTO_memcmp(key_cache[i].id, id, 32) == 0)
			return key_cache[i].mac;
	if (hmac == NULL && (hmac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL)
		return NULL;
	/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" secret, date), region),
	 * service), "aws4_request") */
	kseed = xmalloc(slen + 5);
	memcpy(kseed, "AWS4", 4);
	memcpy(kseed + 4, secret, slen + 1);
	params[0] = OSSL_PARAM_construct_utf8_string("digest", digest, 0);
	params[1] = OSSL_PARAM_construct_end();
	if (hmac_sha256(kseed, slen + 4, date, strlen(date), k1) == -1 ||
	    hmac_sha256(k1, 32, region, strlen(region), key) == -1 ||
	    hmac_sha256(key, 32, service, strlen(service), k1) == -1 ||
	    hmac_sha256(k1, 32, "aws4_request", 12, key) == -1 ||
	    (ctx = EVP_MAC_CTX_new(hmac)) == NULL ||
	    EVP_MAC_init(ctx, key, 32, params) != 1) {
		EVP_MAC_CTX_free(ctx);
		ctx = NULL;
		goto done;
	}
	i = key_cache_next++ % KEY_CACHE;
	EVP_MAC_CTX_free(key_cache[i].mac);
	memcpy(key_cache[i].id, id, 32);
	key_cache[i].mac = ctx;
 done:
	OPENSSL_cleanse(kseed, slen + 5);
	OPENSSL_cleanse(k1, sizeof(k1));
	OPENSSL_cleanse(key, sizeof(key));
	free(kseed);
	return ctx;
}

/* The signature is hex(HMAC(kSigning, string to sign)). */
static int
compute_signature(const char *secret, const char *date, const char *region,
    const char *service, const struct buf *sts, char sig[65])
{
	EVP_MAC_CTX *key, *ctx;
	unsigned char mac[32];
	size_t maclen = 0;
	int rv = -1;

	/* a copy: the cached context stays keyed and unused */
	if ((key = signing_ctx(secret, date, region, service)) == NULL ||
	    (ctx = EVP_MAC_CTX_dup(key)) == NULL)
		return -1;
	if (EVP_MAC_update(ctx, (const unsigned char *)sts->data,
	    sts->len) == 1 &&
	    EVP_MAC_final(ctx, mac, &maclen, sizeof(mac)) == 1 &&
	    maclen == 32) {
		hex_encode(mac, 32, sig);
		rv = 0;
	}
	EVP_MAC_CTX_free(ctx);
	return rv;
}

/* Why a request cannot be signed, or NULL. Never quotes a value. */
static const char *
check_request(const struct sigv4_request *req, const struct aws_creds *cr)
{
	const char *content_sha = NULL;
	size_t i;

	if (!valid_scope_part(req->service))
		return "bad or missing service";
	if (!valid_scope_part(req->region))
		return "bad or missing region";
	if (req->method == NULL || *req->method == '\0' ||
	    strspn(req->method, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") !=
	    strlen(req->method))
		return "bad or missing method";
	if (!valid_printable(req->host, "/"))
		return "bad or missing host";
	if (req->path == NULL || req->path[0] != '/')
		return "path missing or not absolute";
	if (!valid_payload_hash(req->payload_sha256))
		return "payload hash neither hex sha-256 nor UNSIGNED-PAYLOAD";
	if (req->nparams > 0 && req->params == NULL)
		return "missing query parameters";
	for (i = 0; i < req->nparams; i++)
		if (req->params[i].name == NULL)
			return "query parameter without a name";
	if (req->nheaders > 0 && req->headers == NULL)
		return "missing headers";
	for (i = 0; i < req->nheaders; i++) {
		if (!valid_token(req->headers[i].name))
			return "bad header name";
		if (!valid_field_value(req->headers[i].value))
			return "bad or missing header value";
		if (in_list(req->headers[i].name, signer_headers,
		    sizeof(signer_headers) / sizeof(signer_headers[0])))
			return "header is added by the signer";
		if (strcasecmp(req->headers[i].name,
		    "x-amz-content-sha256") == 0) {
			if (content_sha != NULL)
				return "x-amz-content-sha256 given twice";
			content_sha = req->headers[i].value;
		}
	}
	/*
	 * S3 rejects a SigV4 request without x-amz-content-sha256, and
	 * checks that it agrees with the payload hash that was signed. (The
	 * service, not req->s3: that flag only picks the path rules.)
	 */
	if (strcmp(req->service, "s3") == 0 && content_sha == NULL)
		return "s3 request without x-amz-content-sha256";
	if (content_sha != NULL && strcmp(content_sha,
	    req->payload_sha256) != 0)
		return "x-amz-content-sha256 differs from the payload hash";
	if (cr->access_key_id == NULL || cr->secret_access_key == NULL ||
	    !valid_printable(cr->access_key_id, "/,=") ||
	    *cr->secret_access_key == '\0')
		return "incomplete credentials";
	/* The caller sends X-Amz-Security-Token iff session_token != NULL. */
	if (cr->session_token != NULL && (*cr->session_token == '\0' ||
	    !valid_field_value(cr->session_token)))
		return "bad session token";
	return NULL;
}

int
sigv4_sign(const struct sigv4_request *req, const struct aws_creds *cr,
    time_t now, struct sigv4_signed *out)
{
	struct buf creq, ch, sh, sts;
	struct tm tm;
	char date[9], hash[65], sig[65];
	const char *why;

	if (out == NULL)
		return -1;
	memset(out, 0, sizeof(*out));
	if (req == NULL || cr == NULL)
		return -1;
	if ((why = check_request(req, cr)) != NULL) {
		log_warnx("sigv4: %s: cannot sign: %s",
		    valid_scope_part(req->service) ? req->service : "request",
		    why);
		return -1;
	}
	if (gmtime_r(&now, &tm) == NULL ||
	    strftime(out->amz_date, sizeof(out->amz_date), "%Y%m%dT%H%M%SZ",
	    &tm) != 16) {
		log_warnx("sigv4: %s: cannot sign: time out of range",
		    req->service);
		memset(out, 0, sizeof(*out));
		return -1;
	}
	memcpy(date, out->amz_date, 8);
	date[8] = '\0';

	buf_init(&creq);
	buf_init(&ch);
	buf_init(&sh);
	buf_init(&sts);

	/* method \n uri \n query \n headers \n signed headers \n payload */
	buf_addstr(&creq, req->method);
	buf_addc(&creq, '\n');
	canonical_uri(&creq, req->path, req->s3);
	buf_addc(&creq, '\n');
	sigv4_query_string(&creq, req->params, req->nparams);
	buf_addc(&creq, '\n');
	canonical_headers(req, cr, out->amz_date, &ch, &sh);
	buf_add(&creq, ch.data, ch.len);
	buf_addc(&creq, '\n');
	buf_add(&creq, sh.data, sh.len);
	buf_addc(&creq, '\n');
	buf_addstr(&creq, req->payload_sha256);

	sha256_hex(creq.data, creq.len, hash);
	buf_printf(&sts, SIGV4_ALGORITHM "\n%s\n%s/%s/%s/aws4_request\n%s",
	    out->amz_date, date, req->region, req->service, hash);

	if (compute_signature(cr->secret_access_key, date, req->region,
	    req->service, &sts, sig) == -1) {
		log_warnx("sigv4: %s: cannot sign: hmac failed",
		    req->service);
		buf_free(&creq);
		buf_free(&ch);
		buf_free(&sh);
		buf_free(&sts);
		memset(out, 0, sizeof(*out));
		return -1;
	}
	xasprintf(&out->authorization, SIGV4_ALGORITHM
	    " Credential=%s/%s/%s/%s/aws4_request, SignedHeaders=%s,"
	    " Signature=%s", cr->access_key_id, date, req->region,
	    req->service, sh.data, sig);
	out->canonical_request = creq.data;	/* ownership moves to out */
	out->string_to_sign = sts.data;
	buf_free(&ch);
	buf_free(&sh);
	return 0;
}

void
sigv4_signed_free(struct sigv4_signed *s)
{
	if (s == NULL)
		return;
	free(s->authorization);
	free(s->canonical_request);
	free(s->string_to_sign);
	memset(s, 0, sizeof(*s));
}
