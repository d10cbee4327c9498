/* Ring buffer benchmark producer: each XDP test run writes one 16-byte record {seq, value}. Driven by
 * BPF_PROG_TEST_RUN with repeat=N, so a round fills the ring with exactly N records. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

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

struct rec {
	__u64 seq;
	__u64 value;
};

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
