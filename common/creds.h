/*
 * creds.h: where the AWS credentials come from (Credentials in
 * kinesis-keeper.conf(5)), in order: the config's credentials, the
 * environment, and further sources of the chain. The secret is never logged; the source is, once.
 */
#ifndef KK_CREDS_H
#define KK_CREDS_H

#include "cfg.h"
#include "sigv4.h"

struct creds;

struct creds		*creds_new(const struct cfg *);
void			 creds_free(struct creds *);
/* Current credentials, refreshed when they are about to expire; NULL if no
 * source has any (the reason is logged). */
const struct aws_creds	*creds_get(struct creds *);
/* Name of the source used, for the startup log line ("config", ...). */
const char		*creds_source(struct creds *);

#endif
