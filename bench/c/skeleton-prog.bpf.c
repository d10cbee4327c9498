/* The skeleton benchmark's object (bench/skeleton.ts): the ring-buffer producer of ringbuf-producer.bpf.c
 * (same names, so bench/c/ringbuf.c consumes it too) with its record type in BTF for the skeleton, and an
 * array map for typed lookups. With -DREC32 the record's fields are 32-bit (no bigints to make). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <kfunc_kit.h>

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 24);
} rb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} seq SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} lookups SEC(".maps");

#ifdef REC32
/* the same 16 bytes as 32-bit fields: typed decoding without bigints */
struct rec {
	__u32 seq;
	__u32 value;
	__u32 seq_hi;
	__u32 value_hi;
};
#else
struct rec {
	__u64 seq;
	__u64 value;
};
#endif
KFUNC_KIT_RECORD(rb, struct rec);

SEC("xdp")
int produce(struct xdp_md *ctx)
{
	__u32 zero = 0;
	__u64 *s = bpf_map_lookup_elem(&seq, &zero);
	if (!s)
		return XDP_ABORTED;
	struct rec r = { .seq = *s, .value = *s * 3 };
	*s += 1;
	bpf_ringbuf_output(&rb, &r, sizeof(r), 0);
	return XDP_PASS;
}
