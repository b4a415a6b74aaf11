/*
 * helper.c: one network helper of the supervisor (see helper.h), run as
 * "kinesis-keeper-worker -H topology|notify|metrics". It serves one request
 * at a time on fd 3 with blocking calls bounded by their own timeouts; a
 * SIGTERM aborts the call in flight (metrics first push what they hold).
 */
#include <sys/prctl.h>
#include <sys/stat.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "aws.h"
#include "cfg.h"
#include "creds.h"
#include "health.h"
#include "helper.h"
#include "kinesis.h"
#include "leases.h"
#include "log.h"
#include "metrics.h"
#include "msg.h"
#include "sns.h"
#include "util.h"

#define SUP_FD		3
#define SEND_MS		5000

enum role { ROLE_TOPOLOGY, ROLE_NOTIFY, ROLE_METRICS, ROLE_LEASE };

static volatile sig_atomic_t h_stop;

static struct {
	enum role	 role;
	uint32_t	 gen;
	struct cfg	 cfg;
	struct creds	*creds;
	struct aws_ctx	 aws;
} h;

static void
on_term(int sig)
{
	h_stop = 1;
}

static int
stopped(void)
{
	return h_stop;
}

static void
reply(uint32_t type, const void *p, size_t len)
{
	if (msg_send(SUP_FD, type, h.gen, p, len, SEND_MS) == -1)
		fatal("send %s to the supervisor", msg_type_name(type));
}

static void
lease_send(uint32_t type, const void *p, size_t len)
{
	reply(type, p, len);
}

/* What failed; for what a retry will not fix (health.h), its kind and the
 * operator's line: the supervisor says it once a minute. */
static void
result_fill(struct msg_result *r, const struct aws_result *res,
    const char *what, const char *resource)
{
	str_copy(r->code, res->code, sizeof(r->code));
	r->permanent = health_classify(res, what, resource, h.cfg.region,
	    r->text, sizeof(r->text));
	if (r->permanent == HEALTH_OK)
		str_copy(r->text, aws_strerror(res), sizeof(r->text));
}

static void
do_topology(void)
{
	struct kinesis_shard *sh = NULL;
	struct aws_result res;
	struct msg_result r;
	struct msg_topo_shard ts;
	size_t n = 0, i;

	memset(&r, 0, sizeof(r));
	aws_result_init(&res);
	if (kinesis_list_shards(&h.aws, h.cfg.stream, &sh, &n, &res) == -1) {
		char what[300];

		snprintf(what, sizeof(what), "stream %s", h.cfg.stream);
		result_fill(&r, &res, "list shards", what);
		aws_result_free(&res);
		reply(MSG_TOPO_END, &r, sizeof(r));
		return;
	}
	aws_result_free(&res);
	for (i = 0; i < n; i++) {
		memset(&ts, 0, sizeof(ts));
		if (strlen(sh[i].id) >= sizeof(ts.id)) {
			log_warnx("list shards: shard id of %zu characters "
			    "skipped", strlen(sh[i].id));
			continue;
		}
		str_copy(ts.id, sh[i].id, sizeof(ts.id));
		if (sh[i].parent != NULL)
			str_copy(ts.parent, sh[i].parent, sizeof(ts.parent));
		if (sh[i].adjacent_parent != NULL)
			str_copy(ts.adjacent, sh[i].adjacent_parent,
			    sizeof(ts.adjacent));
		reply(MSG_TOPO_SHARD, &ts, sizeof(ts));
		r.count++;
	}
	kinesis_shards_free(sh, n);
	r.ok = 1;
	reply(MSG_TOPO_END, &r, sizeof(r));
}

static void
do_publish(const struct msg *m)
{
	struct msg_publish p;
	struct aws_result res;
	struct msg_result r;
	char *text;

	memcpy(&p, m->payload, sizeof(p));
	p.shard[sizeof(p.shard) - 1] = '\0';
	text = xstrndup((const char *)m->payload + sizeof(p),
	    m->hdr.len - sizeof(p));
	memset(&r, 0, sizeof(r));
	r.id = p.id;
	aws_result_init(&res);
	if (h.cfg.sns_topic_arn == NULL || sns_publish(&h.aws,
	    h.cfg.sns_topic_arn, text, h.cfg.stream, p.shard, &res) == 0)
		r.ok = 1;
	else {
		char what[300];

		snprintf(what, sizeof(what), "topic %s", h.cfg.sns_topic_arn);
		result_fill(&r, &res, "sns publish", what);
	}
	aws_result_free(&res);
	free(text);
	reply(MSG_PUBLISHED, &r, sizeof(r));
}

static void
do_metrics(const struct msg *m)
{
	switch (m->hdr.type) {
	case MSG_M_STATS: {
		struct msg_m_stats s;

		memcpy(&s, m->payload, sizeof(s));
		s.shard[sizeof(s.shard) - 1] = '\0';
		metrics_stats(s.shard, &s.s);
		break;
	}
	case MSG_M_FLUSH: {
		struct msg_m_flush f;

		memcpy(&f, m->payload, sizeof(f));
		f.shard[sizeof(f.shard) - 1] = '\0';
		metrics_flush(f.shard, &f.f);
		break;
	}
	case MSG_M_EVENT: {
		struct msg_m_event e;

		memcpy(&e, m->payload, sizeof(e));
		e.shard[sizeof(e.shard) - 1] = '\0';
		switch (e.kind) {
		case MSG_M_RESTART:
			metrics_restart(e.shard);
			break;
		case MSG_M_NOTIFY_ERROR:
			metrics_notification_error(e.shard[0] ? e.shard : NULL);
			break;
		case MSG_M_WORKERS:
			metrics_workers_running((int)e.value);
			break;
		case MSG_M_PENDING:
			metrics_pending(e.value);
			break;
		case MSG_M_CLOSED:
			metrics_forget(e.shard);
			break;
		case MSG_M_LEASES:
			metrics_leases(e.value);
			break;
		default:
			break;
		}
		break;
	}
	default:
		fatalx("unexpected %s from the supervisor",
		    msg_type_name(m->hdr.type));
	}
}

static void
handle(const struct msg *m)
{
	if (m->hdr.type == MSG_TOPO_REQ && h.role == ROLE_TOPOLOGY)
		do_topology();
	else if (m->hdr.type == MSG_PUBLISH && h.role == ROLE_NOTIFY)
		do_publish(m);
	else if (h.role == ROLE_METRICS)
		do_metrics(m);
	else if (h.role == ROLE_LEASE && (m->hdr.type == MSG_L_RELEASE ||
	    m->hdr.type == MSG_L_ANNOUNCED))
		lh_message(m);
	else
		fatalx("unexpected %s from the supervisor",
		    msg_type_name(m->hdr.type));
}

int
helper_main(int argc, char *argv[])
{
	static const char *const roles[] = { "topology", "notify", "metrics",
	    "lease" };
	struct msg_hello hello;
	struct cfg_errors errs;
	struct sigaction sa;
	struct msgbuf mb;
	struct msg m;
	struct stat st;
	char **overrides = NULL, *end, *text = NULL, name[64];
	size_t nover = 0, i;
	int ch, debug = 0, verbose = 0, got_config = 0, r;
	const char *role = NULL;

	while ((ch = getopt(argc, argv, "dvD:g:H:")) != -1) {
		switch (ch) {
		case 'd':
			debug = 1;
			break;
		case 'v':
			verbose++;
			break;
		case 'D':
			overrides = xrealloc(overrides,
			    (nover + 1) * sizeof(char *));
			overrides[nover++] = optarg;
			break;
		case 'g':
			h.gen = (uint32_t)strtoul(optarg, &end, 10);
			break;
		case 'H':
			role = optarg;
			break;
		default:
			exit(EX_FATAL);
		}
	}
	argc -= optind;
	argv += optind;
	for (i = 0; role != NULL && i < 4; i++)
		if (strcmp(role, roles[i]) == 0)
			break;
	if (argc != 1 || role == NULL || i == 4) {
		fprintf(stderr, "usage: kinesis-keeper-worker -H "
		    "topology|notify|metrics|lease [-dv] [-D key=value]... "
		    "-g gen "
		    "config-file\n");
		exit(EX_FATAL);
	}
	h.role = (enum role)i;
	log_init(debug ? LOG_TO_STDERR : LOG_TO_SYSLOG, verbose, LOG_DAEMON);
	snprintf(name, sizeof(name), "helper %s", role);
	log_procinit(name);
	if (fstat(SUP_FD, &st) == -1 || !S_ISSOCK(st.st_mode))
		fatalx("fd %d is not the supervisor channel; this program is "
		    "started by kinesis-keeper(8)", SUP_FD);
	/* nothing here outlives its supervisor: it holds no data */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;	/* no SA_RESTART: poll returns */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	if (getppid() == 1)
		fatalx("supervisor already gone");

	memset(&hello, 0, sizeof(hello));
	hello.pid = (int32_t)getpid();
	str_copy(hello.shard, role, sizeof(hello.shard));
	reply(MSG_HELLO, &hello, sizeof(hello));

	msgbuf_init(&mb);
	memset(&m, 0, sizeof(m));
	for (;;) {
		struct pollfd pfd;
		uint64_t wait = 60000;
		ssize_t n;

		while ((r = msg_get(&mb, &m)) == 1) {
			if (m.hdr.gen != h.gen)
				continue;
			if (!got_config) {
				if (m.hdr.type != MSG_CONFIG)
					fatalx("expected CONFIG, got %s",
					    msg_type_name(m.hdr.type));
				text = xstrndup(m.payload, m.hdr.len);
				memset(&errs, 0, sizeof(errs));
				if (cfg_parse(&h.cfg, argv[0], text, overrides,
				    nover, 0, &errs) == -1) {
					for (i = 0; i < errs.n; i++)
						log_warnx("%s", errs.msgs[i]);
					fatalx_code(EX_CONFIG_,
					    "bad configuration");
				}
				cfg_errors_free(&errs);
				free(text);
				log_setlevel(h.cfg.log_level);
				if (!debug)
					log_setfacility(h.cfg.log_facility);
				http_global_init();
				h.creds = creds_new(&h.cfg);
				if (aws_ctx_init(&h.aws, &h.cfg, h.creds) == -1)
					fatalx_code(EX_CONFIG_, "bad endpoint");
				if (h.role == ROLE_TOPOLOGY)
					log_info("kinesis %s://%s, credentials "
					    "from %s", h.aws.kinesis.scheme,
					    h.aws.kinesis.host,
					    creds_source(h.creds));
				h.aws.interrupted = stopped;
				aws_ctx_set_abort(&h.aws, stopped);
				if (h.role == ROLE_METRICS)
					metrics_init(&h.cfg);
				if (h.role == ROLE_LEASE) {
					if (h.cfg.lease_table == NULL)
						fatalx_code(EX_CONFIG_, "no "
						    "leases.table");
					lh_init(&h.aws, &h.cfg, lease_send,
					    stopped);
				}
				got_config = 1;
				continue;
			}
			handle(&m);
			if (h_stop)
				break;
		}
		if (r == -1)
			fatalx("bad message from the supervisor");
		if (h_stop)
			break;
		if (got_config && h.role == ROLE_METRICS)
			wait = metrics_tick(&h.aws, &h.cfg);
		if (got_config && h.role == ROLE_LEASE)
			wait = lh_tick();
		if (h_stop)
			break;
		pfd.fd = SUP_FD;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, wait > 60000 ? 60000 : (int)wait) < 1)
			continue;
		n = msgbuf_read(&mb, SUP_FD);
		if (n == 0)
			break;	/* the supervisor is gone or done with us */
		if (n == -1 && errno != EAGAIN && errno != EINTR)
			fatal("read from the supervisor");
	}
	if (got_config && h.role == ROLE_METRICS) {
		h_stop = 0;	/* the last push gets its own short bound */
		metrics_shutdown(&h.aws, &h.cfg);
	}
	if (got_config && h.role == ROLE_LEASE) {
		lh_summary();
		lh_free();
	}
	msgbuf_free(&mb);
	if (got_config) {
		aws_ctx_free(&h.aws);
		creds_free(h.creds);
		cfg_free(&h.cfg);
	}
	free(overrides);
	return EX_OK_;
}
