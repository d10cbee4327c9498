/* libbpf peer of bench/ringbuf.ts: same object, same rounds (fill the ring with N records through
 * BPF_PROG_TEST_RUN, then time ring_buffer__consume), prints one JSON line per round. */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

struct rec {
	unsigned long long seq;
	unsigned long long value;
};

static unsigned long long sum;
static unsigned long long count;

static int on_record(void *ctx, void *data, size_t size)
{
	const struct rec *r = data;
	sum += r->value;
	count++;
	return 0;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: %s <obj> <records per round> <rounds>\n", argv[0]);
		return 2;
	}
	long n = atol(argv[2]);
	int rounds = atoi(argv[3]);
	libbpf_set_print(NULL);
	struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
	if (!obj || bpf_object__load(obj)) {
		fprintf(stderr, "load failed\n");
		return 1;
	}
	int prog = bpf_program__fd(bpf_object__find_program_by_name(obj, "produce"));
	int map = bpf_map__fd(bpf_object__find_map_by_name(obj, "rb"));
	struct ring_buffer *rb = ring_buffer__new(map, on_record, NULL, NULL);
	char pkt[64] = {0};
	for (int i = 0; i < rounds; i++) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = sizeof(pkt), .repeat = n);
		if (bpf_prog_test_run_opts(prog, &o)) {
			fprintf(stderr, "test run failed\n");
			return 1;
		}
		count = 0;
		double t0 = now();
		ring_buffer__consume(rb);
		double t1 = now();
		printf("{\"round\":%d,\"records\":%llu,\"seconds\":%.9f}\n", i, count, t1 - t0);
	}
	fprintf(stderr, "checksum %llu\n", sum);
	ring_buffer__free(rb);
	bpf_object__close(obj);
	return 0;
}
