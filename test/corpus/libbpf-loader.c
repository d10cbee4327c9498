// The libbpf side of the corpus comparison: for each object, open + load it with the system's libbpf
// (libbpf-dev 1.1), then attach every auto-attachable program as a skeleton's attach would
// (bpf_program__attach; -EOPNOTSUPP = no auto-attach for the section), and print one JSON line.
//   libbpf-loader [-n REPEAT] [-L] [-i] obj.o...
// -n: each object is opened and loaded REPEAT times and every load time is printed; -L: load only, no
// attach; -i: read object paths from stdin, one a line, answering each at once (the benchmark interleaves
// libbpf's and kfunc-kit's loads through it, so both see the same machine load).
// Plain libbpf: CONFIG_* externs come from /boot/config-$(uname -r) or /proc/config.gz, as for any libbpf
// application (the guest script puts the guest kernel's own config at /boot/config-<release>).
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/perf_event.h>
#include <sys/syscall.h>
#include <bpf/libbpf.h>

static char last_warn[512];
static int load_only;

static int on_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	char line[512];

	if (level != LIBBPF_WARN)
		return 0;
	vsnprintf(line, sizeof(line), fmt, args);
	line[strcspn(line, "\n")] = 0;
	// keep the first meaningful line: later ones are the generic "failed to load object"
	if (!last_warn[0] && !strstr(line, "-- BEGIN") && !strstr(line, "Retrying without BTF"))
		snprintf(last_warn, sizeof(last_warn), "%s", line);
	return 0;
}

static void json_str(const char *s)
{
	putchar('"');
	for (; s && *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* A SEC("perf_event") program on the CPU clock of every online CPU, as profile does: 1 when all attached. */
static int attach_perf_event(struct bpf_program *prog)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_SOFTWARE,
		.size = sizeof(attr),
		.config = PERF_COUNT_SW_CPU_CLOCK,
		.sample_freq = 49,
		.freq = 1,
	};
	int cpu, ncpu = sysconf(_SC_NPROCESSORS_ONLN), ok = 1;
	struct bpf_link *links[256] = { 0 };

	for (cpu = 0; cpu < ncpu && cpu < 256; cpu++) {
		int fd = syscall(__NR_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);

		if (fd < 0) {
			ok = 0;
			break;
		}
		links[cpu] = bpf_program__attach_perf_event(prog, fd);
		if (!links[cpu]) {
			close(fd);
			ok = 0;
			break;
		}
	}
	for (cpu = 0; cpu < 256; cpu++)
		bpf_link__destroy(links[cpu]); /* closes the perf fd too */
	return ok;
}

static struct bpf_object *open_load(const char *path, int *err)
{
	struct bpf_object *obj = bpf_object__open_file(path, NULL);

	*err = 0;
	if (!obj) {
		*err = -errno;
		return NULL;
	}
	*err = bpf_object__load(obj);
	return obj;
}

static void one(const char *path, int repeat)
{
	struct bpf_program *prog;
	struct bpf_object *obj;
	int err, i, attached = 0, perf_events = 0, first = 1;
	double t0, ms = 0;

	printf("{\"object\":");
	json_str(path);
	printf(",\"loadMs\":[");
	for (i = 0; i < repeat - 1; i++) {
		t0 = now_ms();
		obj = open_load(path, &err);
		printf("%s%.3f", i ? "," : "", now_ms() - t0);
		bpf_object__close(obj);
	}
	last_warn[0] = 0;
	t0 = now_ms();
	obj = open_load(path, &err);
	ms = now_ms() - t0;
	printf("%s%.3f]", repeat > 1 ? "," : "", ms);
	printf(",\"loaded\":%s", err ? "false" : "true");
	if (err) {
		printf(",\"error\":");
		json_str(last_warn[0] ? last_warn : strerror(-err));
	}
	printf(",\"programs\":[");
	if (obj && !err && !load_only) {
		bpf_object__for_each_program(prog, obj) {
			struct bpf_link *link;
			const char *why = NULL;
			int aerr;

			printf("%s{\"name\":", first ? "" : ",");
			first = 0;
			json_str(bpf_program__name(prog));
			printf(",\"section\":");
			json_str(bpf_program__section_name(prog));
			printf(",\"loaded\":%s", bpf_program__fd(prog) >= 0 ? "true" : "false");
			if (bpf_program__fd(prog) < 0 || !bpf_program__autoattach(prog)) {
				printf(",\"attach\":\"none\"}");
				continue;
			}
			if (strcmp(bpf_program__section_name(prog), "perf_event") == 0) {
				int ok = attach_perf_event(prog);

				perf_events += ok;
				printf(",\"attach\":\"%s\"}", ok ? "perf_event" : "perf_event failed");
				continue;
			}
			last_warn[0] = 0;
			link = bpf_program__attach(prog);
			aerr = link ? 0 : -errno;
			if (link) {
				attached++;
				printf(",\"attach\":\"ok\"}");
				bpf_link__destroy(link);
				continue;
			}
			// no auto-attach for this section (or a bare SEC("kprobe") etc. that names no target)
			if (aerr == -EOPNOTSUPP || aerr == 0) {
				printf(",\"attach\":\"none\"}");
				continue;
			}
			why = last_warn[0] ? last_warn : strerror(-aerr);
			printf(",\"attach\":\"failed\",\"error\":");
			json_str(why);
			printf("}");
		}
	}
	printf("],\"attached\":%d,\"perfEvents\":%d}\n", attached, perf_events);
	fflush(stdout);
	bpf_object__close(obj);
}

int main(int argc, char **argv)
{
	int i = 1, repeat = 1, interactive = 0;
	char line[4096];

	libbpf_set_print(on_print);
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
			repeat = atoi(argv[++i]);
		else if (strcmp(argv[i], "-L") == 0)
			load_only = 1;
		else if (strcmp(argv[i], "-i") == 0)
			interactive = 1;
	}
	if (repeat < 1)
		repeat = 1;
	for (; i < argc; i++)
		one(argv[i], repeat);
	while (interactive && fgets(line, sizeof(line), stdin)) {
		line[strcspn(line, "\n")] = 0;
		if (line[0])
			one(line, repeat);
	}
	return 0;
}
