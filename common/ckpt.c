/*
 * ckpt.c: checkpoints as small JSON files, written atomically only after
 * the object they describe is in S3 (the exactly-once argument rests on
 * this order), and the shard lock that keeps one worker per shard.
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "ckpt.h"
#include "log.h"
#include "util.h"

static int
ckpt_path(char *out, size_t len, const char *state_dir, const char *dir,
    const char *shard)
{
	if (!safe_component(shard)) {
		errno = EINVAL;
		return -1;
	}
	if ((size_t)snprintf(out, len, "%s/%s/%s", state_dir, dir, shard) >=
	    len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

static struct json_object *
parse_whole(const struct buf *b)
{
	struct json_tokener *tok;
	struct json_object *j;
	size_t end;

	if (b->len == 0 || memchr(b->data, '\0', b->len) != NULL ||
	    b->len > INT_MAX)
		return NULL;
	tok = json_tokener_new();
	j = json_tokener_parse_ex(tok, b->data, (int)b->len);
	end = json_tokener_get_parse_end(tok);
	if (j == NULL || json_tokener_get_error(tok) != json_tokener_success ||
	    !json_object_is_type(j, json_type_object)) {
		if (j != NULL)
			json_object_put(j);
		json_tokener_free(tok);
		return NULL;
	}
	json_tokener_free(tok);
	for (; end < b->len; end++)
		if (!isspace((unsigned char)b->data[end])) {
			json_object_put(j);
			return NULL;
		}
	return j;
}

int
ckpt_read(const char *state_dir, const char *shard, struct ckpt *c)
{
	char path[PATH_MAX];
	struct buf b;
	struct json_object *j, *v;
	int ret = -1;

	memset(c, 0, sizeof(*c));
	if (ckpt_path(path, sizeof(path), state_dir, "checkpoints", shard) ==
	    -1)
		return -1;
	buf_init(&b);
	if (read_file(path, &b, 65536) == -1) {
		if (errno == ENOENT) {
			buf_free(&b);
			return 1;
		}
		if (errno == EINVAL)
			log_warnx("checkpoint %s: not a regular file", path);
		else
			log_warn("checkpoint %s", path);
		buf_free(&b);
		return -1;
	}
	/* the whole file is one JSON object: a NUL or anything after the
	 * object is damage, not the end of the checkpoint */
	if ((j = parse_whole(&b)) == NULL) {
		log_warnx("checkpoint %s: not a JSON object", path);
		goto out;
	}
	if (json_object_object_get_ex(j, "seq", &v)) {
		const char *s = json_object_get_string(v);

		if (!json_object_is_type(v, json_type_string) || !seq_valid(s)) {
			log_warnx("checkpoint %s: bad seq", path);
			goto out;
		}
		snprintf(c->pos.seq, sizeof(c->pos.seq), "%s", s);
	}
	if (json_object_object_get_ex(j, "sub", &v)) {
		if (!json_object_is_type(v, json_type_int) ||
		    json_object_get_int64(v) < 0 ||
		    json_object_get_int64(v) == INT64_MAX || c->pos.seq[0] == '\0') {
			log_warnx("checkpoint %s: bad sub", path);
			goto out;
		}
		c->pos.has_sub = 1;
		c->pos.sub = (uint64_t)json_object_get_int64(v);
	}
	if (json_object_object_get_ex(j, "done", &v)) {
		if (!json_object_is_type(v, json_type_boolean)) {
			log_warnx("checkpoint %s: bad done", path);
			goto out;
		}
		c->done = json_object_get_boolean(v);
	}
	/* only a shard found empty at its end has nothing to resume after */
	if (c->pos.seq[0] == '\0' && !c->done) {
		log_warnx("checkpoint %s: no seq", path);
		goto out;
	}
	if (json_object_object_get_ex(j, "key", &v) &&
	    json_object_is_type(v, json_type_string))
		snprintf(c->key, sizeof(c->key), "%s", json_object_get_string(v));
	if (json_object_object_get_ex(j, "sha256", &v) &&
	    json_object_is_type(v, json_type_string) &&
	    json_object_get_string_len(v) == 64)
		snprintf(c->sha256, sizeof(c->sha256), "%s",
		    json_object_get_string(v));
	ret = 0;
out:
	if (j != NULL)
		json_object_put(j);
	buf_free(&b);
	return ret;
}

int
ckpt_write(const char *state_dir, const char *shard, const struct ckpt *c)
{
	char path[PATH_MAX], when[32];
	struct json_object *j;
	const char *s;
	int r;

	if (ckpt_path(path, sizeof(path), state_dir, "checkpoints", shard) ==
	    -1)
		return -1;
	j = json_object_new_object();
	json_object_object_add(j, "shard", json_object_new_string(shard));
	if (c->pos.seq[0] != '\0')
		json_object_object_add(j, "seq", json_object_new_string(c->pos.seq));
	if (c->pos.has_sub)
		json_object_object_add(j, "sub",
		    json_object_new_int64((int64_t)c->pos.sub));
	json_object_object_add(j, "done", json_object_new_boolean(c->done));
	if (c->key[0] != '\0')
		json_object_object_add(j, "key", json_object_new_string(c->key));
	if (c->sha256[0] != '\0')
		json_object_object_add(j, "sha256",
		    json_object_new_string(c->sha256));
	fmt_iso8601_ms((int64_t)wall_ms(), when, sizeof(when));
	json_object_object_add(j, "updated", json_object_new_string(when));
	s = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	r = write_file_atomic(path, s, strlen(s), 0644);
	json_object_put(j);
	return r;
}

int
ckpt_set_aside(const char *state_dir, const char *shard, char *out,
    size_t outlen)
{
	char path[PATH_MAX];

	if (ckpt_path(path, sizeof(path), state_dir, "checkpoints", shard) ==
	    -1)
		return -1;
	if ((size_t)snprintf(out, outlen, "%s.bad-%lld", path,
	    (long long)(wall_ms() / 1000)) >= outlen) {
		errno = ENAMETOOLONG;
		return -1;
	}
	/*
	 * No fsync of the directory: if a power loss undoes this rename, the
	 * bad file comes back and is set aside again at the next start; the
	 * next checkpoint written here (write_file_atomic) fsyncs the
	 * directory, and the set-aside with it.
	 */
	return rename(path, out);
}

int
ckpt_lock(const char *state_dir, const char *shard)
{
	char path[PATH_MAX];
	struct stat st;
	int fd;

	if (ckpt_path(path, sizeof(path), state_dir, "locks", shard) == -1)
		return -1;
	/* O_NONBLOCK: a FIFO planted here must not hang the open */
	if ((fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC, 0644)) == -1)
		return -1;
	/* what was opened must be a file of ours with no other name: never
	 * a hard link to somebody else's file */
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_uid != geteuid() || st.st_nlink != 1) {
		log_warnx("lock %s: not a regular file of this user with one "
		    "link; refusing it", path);
		close(fd);
		errno = EPERM;
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		int saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}
