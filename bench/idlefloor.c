/*
 * bench/idlefloor.c: the floor under an idle GetRecords on this machine:
 * the smallest client there is (one kept-alive socket, a request built
 * once, send, poll, recv, then a timed poll until the next call), no curl,
 * no signing, no parsing. What it costs is the kernel's loopback work and
 * the wake-ups alone; make bench runs 100 of them beside the idle rows.
 * usage: kk-idlefloor port stream shard-index interval-ms seconds
 * Prints "calls cpu-seconds" on exit.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double
mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int
main(int argc, char *argv[])
{
	struct sockaddr_in sa;
	struct rusage ru;
	struct pollfd pfd;
	char body[256], req[2048], resp[65536];
	double end;
	long calls = 0;
	int fd, n, blen, rlen, interval;
	ssize_t got, want;
	char *p;

	if (argc != 6) {
		fprintf(stderr, "usage: kk-idlefloor port stream shard "
		    "interval-ms seconds\n");
		return 2;
	}
	interval = atoi(argv[4]);
	end = mono() + atof(argv[5]);
	blen = snprintf(body, sizeof(body),
	    "{\"ShardIterator\":\"%s~%d~0~0~\",\"Limit\":10000}", argv[2],
	    atoi(argv[3]));
	/* the keeper's request, headers of the same sizes */
	rlen = snprintf(req, sizeof(req), "POST / HTTP/1.1\r\n"
	    "Host: 127.0.0.1:%s\r\n"
	    "Content-Type: application/x-amz-json-1.1\r\n"
	    "X-Amz-Target: Kinesis_20131202.GetRecords\r\n"
	    "X-Amz-Date: 20261203T000000Z\r\n"
	    "Authorization: AWS4-HMAC-SHA256 Credential=AKIDBENCHEXAMPLE/"
	    "20261203/us-east-1/kinesis/aws4_request, SignedHeaders=content-"
	    "type;host;x-amz-date;x-amz-target, Signature=00000000000000000000"
	    "00000000000000000000000000000000000000000000\r\n"
	    "Content-Length: %d\r\n\r\n%s", argv[1], blen, body);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)atoi(argv[1]));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
		perror("connect");
		return 1;
	}
	while (mono() < end) {
		if (send(fd, req, (size_t)rlen, MSG_NOSIGNAL) != rlen)
			break;
		/* the headers and the body of a small answer */
		got = 0;
		want = -1;
		while (want < 0 || got < want) {
			pfd.fd = fd;
			pfd.events = POLLIN;
			if (poll(&pfd, 1, 5000) != 1)
				goto out;
			if ((n = (int)recv(fd, resp + got, sizeof(resp) - 1 -
			    (size_t)got, 0)) <= 0)
				goto out;
			got += n;
			resp[got] = '\0';
			if (want < 0 && (p = strstr(resp, "\r\n\r\n")) != NULL) {
				char *cl = strcasestr(resp, "content-length:");

				want = (p - resp) + 4 + (cl ? atol(cl + 15) : 0);
			}
		}
		calls++;
		poll(NULL, 0, interval);
	}
 out:
	getrusage(RUSAGE_SELF, &ru);
	printf("%ld %.6f\n", calls, ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	    (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
	return 0;
}
