/*
 * creds.c: the credentials chain (Credentials in kinesis-keeper.conf(5)), in
 * order: the config's keys or profile, the environment, the shared
 * credentials file, web identity (STS AssumeRoleWithWebIdentity), ECS
 * container credentials, EC2 instance metadata (IMDSv2). With
 * credentials.role_arn, what the chain found is the source for STS
 * AssumeRole. Temporary credentials are refreshed five minutes before they
 * expire; a failed refresh keeps the old ones until they really expire. The
 * secret never reaches a log.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "aws.h"
#include "creds.h"
#include "http.h"
#include "log.h"

#define REFRESH_BEFORE_MS	(5 * 60 * 1000)
#define RETRY_AFTER_MS		(10 * 1000)
#define ECS_HOST		"http://169.254.170.2"
#define IMDS_HOST		"http://169.254.169.254"

enum source {
	SRC_NONE,
	SRC_CONFIG,
	SRC_ENV,
	SRC_PROFILE,
	SRC_WEB_IDENTITY,
	SRC_ECS,
	SRC_IMDS
};

static const char *const source_names[] = {
	"none", "config", "environment", "shared credentials file",
	"web identity", "container credentials", "instance metadata (IMDSv2)"
};

struct creds {
	const struct cfg	*cfg;
	enum source		 src;
	char			*profile;	/* for SRC_PROFILE */
	char			*file;
	struct aws_creds	 cur;
	int			 have;
	uint64_t		 next_try;	/* after a failed refresh */
	struct http_client	*http;
	char			*ca_file;
	/* credentials.role_arn: the chain above is the source */
	struct creds		*base;
	struct aws_ctx		*sts;
	int			 logged;
};

static void
clear_cur(struct aws_creds *c)
{
	free(c->access_key_id);
	if (c->secret_access_key != NULL) {
		explicit_bzero(c->secret_access_key,
		    strlen(c->secret_access_key));
		free(c->secret_access_key);
	}
	free(c->session_token);
	memset(c, 0, sizeof(*c));
}

static void
set_cur(struct creds *c, const char *akid, const char *secret,
    const char *token, int64_t expires_ms)
{
	clear_cur(&c->cur);
	c->cur.access_key_id = xstrdup(akid);
	c->cur.secret_access_key = xstrdup(secret);
	c->cur.session_token = token != NULL && *token != '\0' ?
	    xstrdup(token) : NULL;
	c->cur.expires_ms = expires_ms;
	snprintf(c->cur.source, sizeof(c->cur.source), "%s",
	    c->base != NULL ? "assumed role" : source_names[c->src]);
	c->have = 1;
}

static const char *
env(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? v : NULL;
}

/* "2026-11-27T14:30:05Z" (optionally with fraction) -> epoch ms; -1 bad */
static int64_t
parse_time(const char *s)
{
	struct tm tm;
	const char *p;

	memset(&tm, 0, sizeof(tm));
	if ((p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL)
		return -1;
	return (int64_t)timegm(&tm) * 1000;
}

/* The shared credentials file: [profile] then key = value lines. */
static int
load_profile(struct creds *c, const char *file, const char *profile)
{
	struct buf b;
	char *line, *save = NULL, *akid = NULL, *secret = NULL, *token = NULL;
	int in = 0, ret = -1;

	buf_init(&b);
	if (read_file(file, &b, 1024 * 1024) == -1) {
		buf_free(&b);
		return -1;
	}
	for (line = strtok_r(b.data, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		char *k, *v, *e;

		while (isspace((unsigned char)*line))
			line++;
		e = line + strlen(line);
		while (e > line && isspace((unsigned char)e[-1]))
			*--e = '\0';
		if (*line == '#' || *line == ';' || *line == '\0')
			continue;
		if (*line == '[') {
			char *name = line + 1;

			if (e[-1] == ']')
				e[-1] = '\0';
			while (isspace((unsigned char)*name))
				name++;
			/* ~/.aws/config style "profile x" is accepted too */
			if (strncmp(name, "profile ", 8) == 0)
				name += 8;
			in = strcmp(name, profile) == 0;
			continue;
		}
		if (!in || (v = strchr(line, '=')) == NULL)
			continue;
		*v++ = '\0';
		k = line;
		e = k + strlen(k);
		while (e > k && isspace((unsigned char)e[-1]))
			*--e = '\0';
		while (isspace((unsigned char)*v))
			v++;
		if (strcmp(k, "aws_access_key_id") == 0)
			akid = v;
		else if (strcmp(k, "aws_secret_access_key") == 0)
			secret = v;
		else if (strcmp(k, "aws_session_token") == 0)
			token = v;
	}
	if (akid != NULL && secret != NULL) {
		set_cur(c, akid, secret, token, 0);
		ret = 0;
	}
	explicit_bzero(b.data, b.len);
	buf_free(&b);
	return ret;
}

static char *
shared_file(void)
{
	const char *f = env("AWS_SHARED_CREDENTIALS_FILE"), *home;
	char *p;

	if (f != NULL)
		return xstrdup(f);
	if ((home = env("HOME")) == NULL)
		return NULL;
	xasprintf(&p, "%s/.aws/credentials", home);
	return p;
}

static int
http_get(struct creds *c, const char *method, const char *url,
    const struct http_header *h, size_t nh, const char *body,
    struct http_response *resp)
{
	struct http_request req;

	memset(&req, 0, sizeof(req));
	req.method = method;
	req.url = url;
	req.headers = h;
	req.nheaders = nh;
	req.body = body;
	req.body_len = body ? strlen(body) : 0;
	req.max_response = 256 * 1024;
	req.timeout_ms = 3000;
	if (http_perform(c->http, &req, resp) == -1) {
		log_debug("credentials: %s %s: %s", method, url, resp->error);
		return -1;
	}
	if (resp->status < 200 || resp->status >= 300) {
		log_debug("credentials: %s %s: HTTP %ld", method, url,
		    resp->status);
		return -1;
	}
	return 0;
}

/* ECS and IMDS answer {"AccessKeyId","SecretAccessKey","Token","Expiration"} */
static int
take_json(struct creds *c, const char *body)
{
	struct json_object *j, *a, *s, *t, *e;
	int64_t exp = 0;
	int ret = -1;

	if ((j = json_tokener_parse(body)) == NULL)
		return -1;
	if (json_object_object_get_ex(j, "AccessKeyId", &a) &&
	    json_object_object_get_ex(j, "SecretAccessKey", &s) &&
	    json_object_is_type(a, json_type_string) &&
	    json_object_is_type(s, json_type_string)) {
		if (json_object_object_get_ex(j, "Expiration", &e) &&
		    json_object_is_type(e, json_type_string))
			exp = parse_time(json_object_get_string(e));
		if (exp < 0)
			exp = 0;
		t = NULL;
		json_object_object_get_ex(j, "Token", &t);
		set_cur(c, json_object_get_string(a), json_object_get_string(s),
		    t != NULL && json_object_is_type(t, json_type_string) ?
		    json_object_get_string(t) : NULL, exp);
		ret = 0;
	}
	json_object_put(j);
	return ret;
}

static int
load_ecs(struct creds *c)
{
	const char *rel = env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	const char *full = env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	const char *tok = env("AWS_CONTAINER_AUTHORIZATION_TOKEN");
	const char *tokfile = env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	struct http_response resp;
	struct http_header h[1];
	struct buf tb;
	char *url;
	size_t nh = 0;
	int r;

	if (rel != NULL)
		xasprintf(&url, "%s%s", ECS_HOST, rel);
	else if (full != NULL)
		url = xstrdup(full);
	else
		return -1;
	buf_init(&tb);
	if (tokfile != NULL && read_file(tokfile, &tb, 16384) == 0) {
		while (tb.len > 0 && isspace((unsigned char)tb.data[tb.len - 1]))
			tb.data[--tb.len] = '\0';
		tok = tb.data;
	}
	if (tok != NULL) {
		h[0].name = "Authorization";
		h[0].value = tok;
		nh = 1;
	}
	http_response_init(&resp);
	r = http_get(c, "GET", url, h, nh, NULL, &resp);
	if (r == 0)
		r = take_json(c, resp.body.data);
	http_response_free(&resp);
	buf_free(&tb);
	free(url);
	return r;
}

static int
load_imds(struct creds *c)
{
	const char *base = env("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	const char *off = env("AWS_EC2_METADATA_DISABLED");
	struct http_response resp;
	struct http_header h[1];
	char *url, *token = NULL, *role = NULL;
	size_t bl;
	int r = -1;

	if (off != NULL && strcasecmp(off, "true") == 0)
		return -1;
	if (base == NULL)
		base = IMDS_HOST;
	bl = strlen(base);
	while (bl > 0 && base[bl - 1] == '/')
		bl--;
	http_response_init(&resp);
	/* IMDSv2: a session token first, then every call carries it */
	xasprintf(&url, "%.*s/latest/api/token", (int)bl, base);
	h[0].name = "X-aws-ec2-metadata-token-ttl-seconds";
	h[0].value = "21600";
	if (http_get(c, "PUT", url, h, 1, "", &resp) == -1)
		goto out;
	token = xstrdup(resp.body.data ? resp.body.data : "");
	free(url);
	h[0].name = "X-aws-ec2-metadata-token";
	h[0].value = token;
	xasprintf(&url, "%.*s/latest/meta-data/iam/security-credentials/",
	    (int)bl, base);
	if (http_get(c, "GET", url, h, 1, NULL, &resp) == -1)
		goto out;
	role = xstrndup(resp.body.data, strcspn(resp.body.data, "\r\n"));
	if (*role == '\0' || strchr(role, '/') != NULL)
		goto out;
	free(url);
	xasprintf(&url, "%.*s/latest/meta-data/iam/security-credentials/%s",
	    (int)bl, base, role);
	if (http_get(c, "GET", url, h, 1, NULL, &resp) == -1)
		goto out;
	r = take_json(c, resp.body.data);
out:
	http_response_free(&resp);
	free(url);
	free(token);
	free(role);
	return r;
}

/* <Credentials><AccessKeyId>..</AccessKeyId>... from an STS answer */
static int
take_sts_xml(struct creds *c, const char *body)
{
	char akid[256], secret[256], exp[64], *token;
	int64_t ms;

	aws_xml_text(body, "AccessKeyId", akid, sizeof(akid));
	aws_xml_text(body, "SecretAccessKey", secret, sizeof(secret));
	aws_xml_text(body, "Expiration", exp, sizeof(exp));
	/* a session token can be kilobytes long */
	token = aws_xml_dup(body, "SessionToken");
	if (akid[0] == '\0' || secret[0] == '\0') {
		free(token);
		return -1;
	}
	ms = parse_time(exp);
	set_cur(c, akid, secret, token, ms > 0 ? ms : 0);
	explicit_bzero(secret, sizeof(secret));
	free(token);
	return 0;
}

static const char *
session_name(const struct creds *c)
{
	const char *n = env("AWS_ROLE_SESSION_NAME");

	if (c->cfg->cred_session_name != NULL)
		return c->cfg->cred_session_name;
	return n != NULL ? n : "kinesis-keeper";
}

static int
load_web_identity(struct creds *c)
{
	const char *tokfile = env("AWS_WEB_IDENTITY_TOKEN_FILE");
	const char *role = env("AWS_ROLE_ARN");
	const char *ep = c->cfg->ep_sts;
	struct http_response resp;
	struct http_header h[1];
	struct buf tok, body;
	char *url;
	int r = -1;

	if (tokfile == NULL || role == NULL)
		return -1;
	buf_init(&tok);
	buf_init(&body);
	if (read_file(tokfile, &tok, 65536) == -1) {
		log_warn("credentials: web identity token %s", tokfile);
		buf_free(&tok);
		return -1;
	}
	while (tok.len > 0 && isspace((unsigned char)tok.data[tok.len - 1]))
		tok.data[--tok.len] = '\0';
	if (ep != NULL)
		url = xstrdup(ep);
	else
		xasprintf(&url, "https://sts.%s.amazonaws.com%s",
		    c->cfg->region, strncmp(c->cfg->region, "cn-", 3) == 0 ?
		    ".cn" : "");
	/* AssumeRoleWithWebIdentity is not signed: the token proves who */
	aws_form_add(&body, "Action", "AssumeRoleWithWebIdentity");
	aws_form_add(&body, "RoleArn", role);
	aws_form_add(&body, "RoleSessionName", session_name(c));
	aws_form_add(&body, "WebIdentityToken", tok.data);
	aws_form_add(&body, "Version", "2011-06-15");
	h[0].name = "Content-Type";
	h[0].value = "application/x-www-form-urlencoded; charset=utf-8";
	http_response_init(&resp);
	if (http_get(c, "POST", url, h, 1, body.data, &resp) == 0)
		r = take_sts_xml(c, resp.body.data);
	else if (resp.status != 0)
		log_warnx("credentials: AssumeRoleWithWebIdentity %s: HTTP %ld",
		    role, resp.status);
	http_response_free(&resp);
	explicit_bzero(tok.data, tok.len);
	buf_free(&tok);
	buf_free(&body);
	free(url);
	return r;
}

static int
assume_role(struct creds *c)
{
	struct aws_result res;
	struct buf body;
	int r = -1;

	buf_init(&body);
	aws_form_add(&body, "Action", "AssumeRole");
	aws_form_add(&body, "RoleArn", c->cfg->cred_role_arn);
	aws_form_add(&body, "RoleSessionName", session_name(c));
	if (c->cfg->cred_external_id != NULL)
		aws_form_add(&body, "ExternalId", c->cfg->cred_external_id);
	aws_form_add(&body, "DurationSeconds", "3600");
	aws_form_add(&body, "Version", "2011-06-15");
	aws_result_init(&res);
	if (aws_form_call(c->sts, &c->sts->sts, &body, 10000, 3, &res) == 0)
		r = take_sts_xml(c, res.body.data);
	else
		log_warnx("credentials: AssumeRole %s: %s", c->cfg->cred_role_arn,
		    aws_strerror(&res));
	aws_result_free(&res);
	buf_free(&body);
	return r;
}

/* (Re)load from the source chosen at start. */
static int
reload(struct creds *c)
{
	if (c->base != NULL)
		return assume_role(c);
	switch (c->src) {
	case SRC_PROFILE:
		return load_profile(c, c->file, c->profile);
	case SRC_WEB_IDENTITY:
		return load_web_identity(c);
	case SRC_ECS:
		return load_ecs(c);
	case SRC_IMDS:
		return load_imds(c);
	default:
		return c->have ? 0 : -1;
	}
}

/* Walk the chain until a source answers. */
static void
resolve(struct creds *c)
{
	const struct cfg *cfg = c->cfg;
	const char *akid, *secret;

	if (cfg->cred_access_key_id != NULL &&
	    cfg->cred_secret_access_key != NULL) {
		c->src = SRC_CONFIG;
		set_cur(c, cfg->cred_access_key_id, cfg->cred_secret_access_key,
		    cfg->cred_session_token, 0);
		return;
	}
	if (cfg->cred_profile != NULL) {
		/* an explicit profile is the only source: no silent fallback */
		c->src = SRC_PROFILE;
		c->profile = xstrdup(cfg->cred_profile);
		c->file = shared_file();
		if (c->file == NULL || load_profile(c, c->file, c->profile) == -1)
			log_warnx("credentials: profile \"%s\" not found in %s",
			    c->profile, c->file ? c->file : "(no file)");
		return;
	}
	akid = env("AWS_ACCESS_KEY_ID");
	secret = env("AWS_SECRET_ACCESS_KEY");
	if (akid != NULL && secret != NULL) {
		c->src = SRC_ENV;
		set_cur(c, akid, secret, env("AWS_SESSION_TOKEN"), 0);
		return;
	}
	c->profile = xstrdup(env("AWS_PROFILE") ? env("AWS_PROFILE") :
	    "default");
	c->file = shared_file();
	if (c->file != NULL && load_profile(c, c->file, c->profile) == 0) {
		c->src = SRC_PROFILE;
		return;
	}
	if (env("AWS_WEB_IDENTITY_TOKEN_FILE") && env("AWS_ROLE_ARN")) {
		c->src = SRC_WEB_IDENTITY;
		load_web_identity(c);
		return;
	}
	if (env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") ||
	    env("AWS_CONTAINER_CREDENTIALS_FULL_URI")) {
		c->src = SRC_ECS;
		load_ecs(c);
		return;
	}
	if (load_imds(c) == 0) {
		c->src = SRC_IMDS;
		return;
	}
	c->src = SRC_NONE;
}

static struct creds *
creds_alloc(const struct cfg *cfg)
{
	struct creds *c = xcalloc(1, sizeof(*c));
	const char *ca = cfg->tls_ca_file ? cfg->tls_ca_file :
	    env("AWS_CA_BUNDLE");

	c->cfg = cfg;
	c->http = http_client_new(ca);
	return c;
}

struct creds *
creds_new(const struct cfg *cfg)
{
	struct creds *c = creds_alloc(cfg);

	if (cfg->cred_role_arn != NULL) {
		c->base = creds_alloc(cfg);
		resolve(c->base);
		c->sts = xcalloc(1, sizeof(*c->sts));
		if (aws_ctx_init(c->sts, cfg, c->base) == -1)
			fatalx("credentials: bad sts endpoint");
		c->src = c->base->src;
		if (c->base->have)
			assume_role(c);
	} else
		resolve(c);
	if (c->have)
		log_debug("credentials: from %s%s%s", c->base ? "AssumeRole " : "",
		    c->base ? cfg->cred_role_arn : source_names[c->src],
		    c->base ? " with the chain's credentials" : "");
	if (!c->have) {
		/* said at once, not only at the first request */
		log_warnx("credentials: none found (config, environment, "
		    "shared file, web identity, container, instance "
		    "metadata); retrying");
		c->logged = 1;
		c->next_try = now_ms() + RETRY_AFTER_MS;
	}
	return c;
}

void
creds_free(struct creds *c)
{
	if (c == NULL)
		return;
	clear_cur(&c->cur);
	free(c->profile);
	free(c->file);
	http_client_free(c->http);
	if (c->sts != NULL) {
		aws_ctx_free(c->sts);
		free(c->sts);
	}
	creds_free(c->base);
	free(c);
}

const struct aws_creds *
creds_get(struct creds *c)
{
	uint64_t now = now_ms();
	int64_t wall = (int64_t)wall_ms();
	int due, usable, fresh;

	due = !c->have || (c->cur.expires_ms != 0 &&
	    wall >= c->cur.expires_ms - REFRESH_BEFORE_MS);
	if (due && now >= c->next_try) {
		int r;

		if (c->src == SRC_NONE && c->base == NULL) {
			resolve(c);	/* nothing answered before: walk again */
			r = c->have ? 0 : -1;
		} else
			r = reload(c);	/* AssumeRole refreshes its base itself */
		usable = c->have && (c->cur.expires_ms == 0 ||
		    wall < c->cur.expires_ms);
		fresh = usable && (c->cur.expires_ms == 0 ||
		    wall < c->cur.expires_ms - REFRESH_BEFORE_MS);
		if (r == 0 && fresh) {
			if (c->logged)
				log_info("credentials: available again from %s",
				    c->cur.source);
			c->logged = 0;
			log_debug("credentials: refreshed from %s",
			    c->cur.source);
		} else {
			/* failed, or what came back is (nearly) expired too:
			 * ask again later, not on every request */
			c->next_try = now + RETRY_AFTER_MS;
			if (!c->logged) {
				const char *src = c->base ? "AssumeRole" :
				    source_names[c->src];

				if (usable)
					log_warnx("credentials: refresh from %s "
					    "failed; the current ones serve until "
					    "they expire", src);
				else if (r == 0 && c->have)
					log_warnx("credentials: %s gave expired "
					    "credentials; retrying", src);
				else
					log_warnx("credentials: none available "
					    "from %s; retrying", src);
			}
			c->logged = 1;
		}
	}
	/* past their expiry they are useless; until then the old ones serve */
	if (!c->have || (c->cur.expires_ms != 0 && wall >= c->cur.expires_ms))
		return NULL;
	return &c->cur;
}

const char *
creds_source(struct creds *c)
{
	if (c->base != NULL)
		return "assumed role";
	return source_names[c->src];
}
