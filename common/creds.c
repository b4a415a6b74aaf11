/*
 * creds.c: the credentials chain. Static sources (config, environment) are
 * resolved once; the secret stays in this module and in the signer only.
 */
#include <stdlib.h>
#include <string.h>

#include "creds.h"
#include "log.h"

struct creds {
	struct aws_creds	 cur;
	int			 have;
	int			 logged;
};

static void
set_static(struct creds *c, const char *akid, const char *secret,
    const char *token, const char *source)
{
	c->cur.access_key_id = xstrdup(akid);
	c->cur.secret_access_key = xstrdup(secret);
	c->cur.session_token = token != NULL && *token != '\0' ?
	    xstrdup(token) : NULL;
	c->cur.expires_ms = 0;
	snprintf(c->cur.source, sizeof(c->cur.source), "%s", source);
	c->have = 1;
}

struct creds *
creds_new(const struct cfg *cfg)
{
	struct creds *c = xcalloc(1, sizeof(*c));
	const char *akid, *secret;

	if (cfg->cred_access_key_id != NULL &&
	    cfg->cred_secret_access_key != NULL) {
		set_static(c, cfg->cred_access_key_id,
		    cfg->cred_secret_access_key, cfg->cred_session_token,
		    "config");
		return c;
	}
	akid = getenv("AWS_ACCESS_KEY_ID");
	secret = getenv("AWS_SECRET_ACCESS_KEY");
	if (akid != NULL && *akid != '\0' && secret != NULL && *secret != '\0')
		set_static(c, akid, secret, getenv("AWS_SESSION_TOKEN"),
		    "environment");
	return c;
}

void
creds_free(struct creds *c)
{
	if (c == NULL)
		return;
	free(c->cur.access_key_id);
	if (c->cur.secret_access_key != NULL) {
		explicit_bzero(c->cur.secret_access_key,
		    strlen(c->cur.secret_access_key));
		free(c->cur.secret_access_key);
	}
	free(c->cur.session_token);
	free(c);
}

const struct aws_creds *
creds_get(struct creds *c)
{
	if (!c->have) {
		if (!c->logged)
			log_warnx("credentials: none found (config, "
			    "environment)");
		c->logged = 1;
		return NULL;
	}
	return &c->cur;
}

const char *
creds_source(struct creds *c)
{
	return c->have ? c->cur.source : "none";
}
