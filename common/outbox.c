/*
 * outbox.c: the notification outbox on disk, {state_dir}/outbox/{shard}/.
 * Entries are small JSON files; the message to publish is kept as a string
 * so that a re-publication sends exactly the same bytes.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "log.h"
#include "outbox.h"
#include "util.h"

struct entry {
	char		 name[300];
	struct pos	 first;
	struct pos	 last;
	char		*message;
};

static void
entry_pos_add(struct json_object *j, const char *pfx, const struct pos *p)
{
	char k[32];

	snprintf(k, sizeof(k), "%s_seq", pfx);
	json_object_object_add(j, k, json_object_new_string(p->seq));
	if (p->has_sub) {
		snprintf(k, sizeof(k), "%s_sub", pfx);
		json_object_object_add(j, k, json_object_new_int64(
		    (int64_t)p->sub));
	}
}

int
outbox_put(const char *state_dir, const char *shard,
    const struct pos *first, const struct pos *last,
    const char *message, char *name_out, size_t name_len)
{
	char dir[PATH_MAX], path[PATH_MAX], name[300];
	struct json_object *j;
	const char *s;
	int r;

	if (!safe_component(shard) || !seq_valid(first->seq) ||
	    !seq_valid(last->seq)) {
		errno = EINVAL;
		return -1;
	}
	if (first->has_sub)
		snprintf(name, sizeof(name), "%s-%llu.json", first->seq,
		    (unsigned long long)first->sub);
	else
		snprintf(name, sizeof(name), "%s.json", first->seq);
	snprintf(dir, sizeof(dir), "%s/outbox/%s", state_dir, shard);
	if (mkdir_p(dir, 0750) == -1)
		return -1;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	j = json_object_new_object();
	json_object_object_add(j, "shard", json_object_new_string(shard));
	entry_pos_add(j, "first", first);
	entry_pos_add(j, "last", last);
	json_object_object_add(j, "message", json_object_new_string(message));
	s = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	r = write_file_atomic(path, s, strlen(s), 0640);
	json_object_put(j);
	if (r == 0 && name_out != NULL)
		snprintf(name_out, name_len, "%s", name);
	return r;
}

static int
entry_pos_get(struct json_object *j, const char *pfx, struct pos *p)
{
	struct json_object *v;
	char k[32];

	snprintf(k, sizeof(k), "%s_seq", pfx);
	if (!json_object_object_get_ex(j, k, &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    !seq_valid(json_object_get_string(v)))
		return -1;
	snprintf(p->seq, sizeof(p->seq), "%s", json_object_get_string(v));
	snprintf(k, sizeof(k), "%s_sub", pfx);
	p->has_sub = 0;
	p->sub = 0;
	if (json_object_object_get_ex(j, k, &v)) {
		if (!json_object_is_type(v, json_type_int) ||
		    json_object_get_int64(v) < 0)
			return -1;
		p->has_sub = 1;
		p->sub = (uint64_t)json_object_get_int64(v);
	}
	return 0;
}

static int
entry_load(const char *path, struct entry *e)
{
	struct buf b;
	struct json_object *j = NULL, *v;
	int ret = -1;

	buf_init(&b);
	if (read_file(path, &b, 1024 * 1024) == -1)
		goto out;
	if ((j = json_tokener_parse(b.data)) == NULL)
		goto out;
	if (entry_pos_get(j, "first", &e->first) == -1 ||
	    entry_pos_get(j, "last", &e->last) == -1)
		goto out;
	if (!json_object_object_get_ex(j, "message", &v) ||
	    !json_object_is_type(v, json_type_string))
		goto out;
	e->message = xstrdup(json_object_get_string(v));
	ret = 0;
out:
	if (j != NULL)
		json_object_put(j);
	buf_free(&b);
	return ret;
}

static int
entry_cmp(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	return pos_cmp(&x->first, &y->first);
}

static int
is_entry_name(const char *n)
{
	size_t l = strlen(n);

	return l > 5 && strcmp(n + l - 5, ".json") == 0 && n[0] != '.';
}

int
outbox_count(const char *state_dir, const char *shard)
{
	char dir[PATH_MAX];
	DIR *d;
	struct dirent *de;
	int n = 0;

	snprintf(dir, sizeof(dir), "%s/outbox/%s", state_dir, shard);
	if ((d = opendir(dir)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		if (is_entry_name(de->d_name))
			n++;
	closedir(d);
	return n;
}

int
outbox_drain(const char *state_dir, const char *shard, outbox_publish_fn fn,
    void *arg)
{
	char dir[PATH_MAX], path[PATH_MAX + 512], bad[PATH_MAX + 520];
	struct ckpt ck;
	struct entry *ents = NULL;
	size_t n = 0, cap = 0, i;
	DIR *d;
	struct dirent *de;
	int pending = 0, r;

	if (!safe_component(shard))
		return -1;
	/* the checkpoint first: an entry written after this read is not yet
	 * covered by what we read, and waits for the next drain */
	r = ckpt_read(state_dir, shard, &ck);
	if (r == -1)
		return -1;
	if (r == 1)
		return 0;	/* nothing committed yet */
	snprintf(dir, sizeof(dir), "%s/outbox/%s", state_dir, shard);
	if ((d = opendir(dir)) == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((de = readdir(d)) != NULL) {
		struct entry e;

		if (!is_entry_name(de->d_name))
			continue;
		memset(&e, 0, sizeof(e));
		snprintf(e.name, sizeof(e.name), "%s", de->d_name);
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (entry_load(path, &e) == -1) {
			log_warnx("outbox %s: unreadable entry, moved aside",
			    path);
			snprintf(bad, sizeof(bad), "%s.bad", path);
			rename(path, bad);
			continue;
		}
		/* not covered by the checkpoint: a crash came before it */
		if (!ck.done && (ck.pos.seq[0] == '\0' ||
		    pos_cmp(&e.last, &ck.pos) > 0)) {
			free(e.message);
			continue;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			ents = xrealloc(ents, cap * sizeof(*ents));
		}
		ents[n++] = e;
	}
	closedir(d);
	if (n > 1)
		qsort(ents, n, sizeof(*ents), entry_cmp);
	for (i = 0; i < n; i++) {
		if (pending == 0 && fn(arg, shard, ents[i].message) == 0) {
			snprintf(path, sizeof(path), "%s/%s", dir, ents[i].name);
			if (unlink(path) == -1)
				log_warn("outbox %s", path);
		} else
			pending++;
		free(ents[i].message);
	}
	free(ents);
	/*
	 * No fsync of the directory after these unlinks: an unlink that a
	 * power loss undoes brings back an entry already published, which is
	 * published again with the same bytes (notifications are at least
	 * once). No guarantee needs it, and it cost a disk flush per batch.
	 */
	return pending;
}
