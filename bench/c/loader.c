// libbpf 1.1 peer of bench/loader.ts: open+load+close of the same object N times, and N map lookups.
// Usage: loader-bench <obj.o> <load iterations> <lookup iterations>; prints "load_ms <x>" and "lookup_ns <y>".
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int quiet(enum libbpf_print_level level, const char *fmt, va_list args)
{
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: %s obj.o load_iters lookup_iters\n", argv[0]);
		return 2;
	}
	int loads = atoi(argv[2]);
	long lookups = atol(argv[3]);
	libbpf_set_print(quiet);
	double t0 = now_ms();
	for (int i = 0; i < loads; i++) {
		struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
		if (!obj || bpf_object__load(obj)) {
			fprintf(stderr, "load failed\n");
			return 1;
		}
		bpf_object__close(obj);
	}
	double t1 = now_ms();
	printf("load_ms %.4f\n", (t1 - t0) / loads);

	int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "bench", 4, 8, 16, NULL);
	if (fd < 0) {
		fprintf(stderr, "map create failed\n");
		return 1;
	}
	__u32 key = 3;
	__u64 value = 0;
	bpf_map_update_elem(fd, &key, &value, 0);
	double t2 = now_ms();
	for (long i = 0; i < lookups; i++)
		bpf_map_lookup_elem(fd, &key, &value);
	double t3 = now_ms();
	printf("lookup_ns %.2f\n", (t3 - t2) * 1e6 / lookups);
	/* the cheapest syscall, the same way our koffi side makes it (bench/loader.ts's getpid row) */
	double t4 = now_ms();
	for (long i = 0; i < lookups; i++)
		syscall(SYS_getpid);
	double t5 = now_ms();
	printf("getpid_ns %.2f\n", (t5 - t4) * 1e6 / lookups);
	return 0;
}
