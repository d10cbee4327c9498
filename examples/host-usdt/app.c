/*
 * A tiny "server" with a USDT probe: for every line on stdin it handles one request and fires
 * myapp:request(id, latency in µs, status) — zero cost unless something is attached.
 * Build: gcc -O2 -o /tmp/myapp examples/host-usdt/app.c   (needs <sys/sdt.h>: systemtap-sdt-dev)
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/sdt.h>

int main(void)
{
	char line[256];
	long id = 0;
	while (fgets(line, sizeof(line), stdin)) {
		long latency = strtol(line, NULL, 10);
		int status = latency > 1000 ? 503 : 200;
		id++;
		DTRACE_PROBE3(myapp, request, id, latency, status);
		printf("request %ld done\n", id);
		fflush(stdout);
	}
	return 0;
}
