// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Kernel side of live tracing: TC ingress/egress and XDP programs that parse
 * Ethernet / VLAN / IPv4 / IPv6 / TCP, keep the segments whose source or destination port
 * is in the `ports` map, and copy them to their CPU's ring buffer as records laid out in
 * include/resptrace/bpf_event.h. They never drop traffic.
 *
 * Every read of packet bytes goes through bpf_skb_load_bytes / bpf_xdp_load_bytes:
 * one code path for TC and XDP, non-linear skbs and multi-buffer XDP included.
 */
#include "vmlinux.h"

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "resptrace/bpf_event.h"

/* From uapi/linux/pkt_cls.h, which vmlinux.h (types only) does not carry. */
#define TC_ACT_UNSPEC (-1)

#define ETH_HEADER_LEN 14
#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86DD
#define ETHERTYPE_VLAN 0x8100
#define ETHERTYPE_QINQ 0x88A8
#define ETHERTYPE_QINQ_LEGACY 0x9100
#define VLAN_TAGS_MAX 2
#define IPPROTO_TCP_NUM 6
#define IPV4_FRAGMENT_MASK 0x3FFF /* MF flag + fragment offset */
#define IPV6_HEADER_LEN 40
#define IPV6_EXT_HOP_BY_HOP 0
#define IPV6_EXT_ROUTING 43
#define IPV6_EXT_FRAGMENT 44
#define IPV6_EXT_AUTH 51
#define IPV6_EXT_DEST_OPTS 60
#define IPV6_EXT_MAX 4 /* extension headers skipped before giving up */
#define TCP_HEADER_LEN 20

/* Payload capacity of each record size class: a record is reserved at the smallest class
 * that holds its chunk (ring-buffer reservations must have a constant size), so a small
 * RESP command does not occupy a 16 KiB slot. Totals: 128 B, 256 B, 1 KiB, 4 KiB,
 * 16 KiB + 80. The 128 B class holds a GET or SET of a short key and its reply: packed
 * records are fewer cache lines for the program to write and the consumer to read. */
#define CLASS_TINY (128 - sizeof(struct resptrace_bpf_event))
#define CLASS_SMALL (256 - sizeof(struct resptrace_bpf_event))
#define CLASS_MEDIUM (1024 - sizeof(struct resptrace_bpf_event))
#define CLASS_LARGE (4096 - sizeof(struct resptrace_bpf_event))
#define CLASS_MAX RESPTRACE_BPF_CHUNK_MAX

/* Set by the loader before load (read-only afterwards). */
const volatile __u32 snaplen = RESPTRACE_BPF_SNAPLEN_DEFAULT; /* payload bytes per segment */
/* Records are submitted without waking the consumer (it drains on a timer); the record
 * that takes the ring's fill past a multiple of this many bytes wakes it, so it never
 * sleeps on a filling ring. One wake-up per crossing, not one per record past the mark:
 * a wake-up is an irq_work self-IPI, a VM exit under a hypervisor, and the consumer may
 * take a while to come (per kept packet at -P 1 here: 418 ns waking on every record past
 * the mark, 370 ns waking once per crossing). */
const volatile __u64 wakeup_bytes = RESPTRACE_BPF_WAKEUP_BYTES_DEFAULT;

/* One ring buffer per CPU, at the CPU's index: a program only ever touches its own CPU's
 * ring, so producers on different CPUs share no lock and no cache line. The loader sizes
 * the template, creates the rings and fills the array; user space merges the rings by
 * timestamp (src/bpf_ring_set.cc). */
struct ring_template {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 4 * 1024 * 1024);
};
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
  __uint(max_entries, 1); /* the loader sets one entry per possible CPU */
  __type(key, __u32);
  __array(values, struct ring_template);
} rings SEC(".maps");

/* Ports to keep: a bitmap of 65,536 bits (port p is bit p % 64 of word p / 64), filled by
 * the loader. An array lookup is inlined by the verifier; a hash lookup per port would be
 * two function calls and two hashes per packet. */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, RESPTRACE_BPF_PORT_WORDS);
  __type(key, __u32);
  __type(value, __u64);
} ports SEC(".maps");

/* One entry per CPU holding every counter: one lookup per packet, not one per increment. */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct resptrace_bpf_counters);
} counters SEC(".maps");

/* Wire headers as plain structs: vmlinux.h's carry CO-RE relocations and bitfields that
 * have no business on a copy of packet bytes. */
struct vlan_tag {
  __be16 tci;
  __be16 ethertype;
};
struct ipv4_header {
  __u8 version_ihl;
  __u8 tos;
  __be16 total_length;
  __be16 id;
  __be16 fragment;
  __u8 ttl;
  __u8 protocol;
  __be16 checksum;
  __u8 saddr[4];
  __u8 daddr[4];
};
struct ipv6_header {
  __be32 version_class_flow;
  __be16 payload_length;
  __u8 next_header;
  __u8 hop_limit;
  __u8 saddr[16];
  __u8 daddr[16];
};
struct ipv6_extension {
  __u8 next_header;
  __u8 length;
};
struct tcp_header {
  __be16 sport;
  __be16 dport;
  __be32 seq;
  __be32 ack;
  __u8 data_offset;
  __u8 flags;
  __be16 window;
  __be16 checksum;
  __be16 urgent;
};

static __always_inline void count(struct resptrace_bpf_counters *ctr, __u32 index, __u64 n) {
  ctr->value[index] += n;
}

/* Headers are read in place when they lie in the packet's linear part, the usual case: a
 * helper call per header costs more than the bounds check. Otherwise (a non-linear skb,
 * multi-buffer XDP) through the load helper. `var` is an lvalue of a header struct type. */
#define HEADER_OFFSET_MAX 512
#define load_header(ctx, xdp, offset, var)                                               \
  ({                                                                                    \
    long _err = 0;                                                                      \
    __u32 _off = (offset);                                                              \
    void *_data = packet_data(ctx, xdp);                                                \
    void *_end = packet_end(ctx, xdp);                                                  \
    if (_off <= HEADER_OFFSET_MAX && _data + _off + sizeof(var) <= _end)                \
      (var) = *(typeof(var) *)(_data + _off);                                           \
    else                                                                                \
      _err = load_bytes(ctx, xdp, _off, &(var), sizeof(var));                           \
    _err;                                                                               \
  })

static __always_inline void *packet_data(void *ctx, const bool xdp) {
  return xdp ? (void *)(long)((struct xdp_md *)ctx)->data
             : (void *)(long)((struct __sk_buff *)ctx)->data;
}

static __always_inline void *packet_end(void *ctx, const bool xdp) {
  return xdp ? (void *)(long)((struct xdp_md *)ctx)->data_end
             : (void *)(long)((struct __sk_buff *)ctx)->data_end;
}

/* `xdp` is a constant at every call site: the other branch is compiled out, so each
 * program only calls the helper its type allows. */
static __always_inline long load_bytes(void *ctx, const bool xdp, __u32 offset, void *to,
                                       __u32 len) {
  return xdp ? bpf_xdp_load_bytes(ctx, offset, to, len) : bpf_skb_load_bytes(ctx, offset, to, len);
}

/* Reserves a record of class `capacity` in `ring`, fills it with `header` and payload bytes
 * [chunk_offset, chunk_offset + chunk_len) and submits it. Returns 0 on success. */
static __always_inline int emit_chunk(void *ctx, const bool xdp, void *ring,
                                      struct resptrace_bpf_counters *ctr,
                                      const struct resptrace_bpf_event *header,
                                      __u32 payload_offset, __u32 chunk_offset, __u32 chunk_len,
                                      const __u32 capacity) {
  struct resptrace_bpf_event *record =
      bpf_ringbuf_reserve(ring, sizeof(struct resptrace_bpf_event) + capacity, 0);
  if (!record) {
    count(ctr, RESPTRACE_BPF_CTR_RINGBUF_FULL, 1);
    return -1;
  }
  __builtin_memcpy(record, header, sizeof(*header));
  record->chunk_offset = chunk_offset;
  record->chunk_len = chunk_len;
  if (chunk_len > 0) {
    /* clang 14: only a 64-bit length behind barrier_var() keeps the bounds the verifier
     * needs for a variable-length load into the fixed reservation. */
    __u64 len = chunk_len;
    barrier_var(len);
    if (len == 0 || len > capacity ||
        load_bytes(ctx, xdp, payload_offset + chunk_offset, record + 1, len) != 0) {
      bpf_ringbuf_discard(record, BPF_RB_NO_WAKEUP);
      return -1;
    }
  }
  /* The fill counts this record already: it was reserved. */
  const __u64 size = sizeof(struct resptrace_bpf_event) + capacity + BPF_RINGBUF_HDR_SZ;
  const __u64 fill = bpf_ringbuf_query(ring, BPF_RB_AVAIL_DATA);
  const __u64 before = fill > size ? fill - size : 0; /* less: the consumer just read */
  const bool crossed = wakeup_bytes > 0 && fill / wakeup_bytes != before / wakeup_bytes;
  bpf_ringbuf_submit(record, crossed ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);
  count(ctr, RESPTRACE_BPF_CTR_EMITTED, 1);
  return 0;
}

/* Sends header->captured_len payload bytes in ordered chunks: full CLASS_MAX chunks, then a
 * tail in the smallest class that holds it (a payload-less segment: one empty record).
 * Stops at the first chunk that cannot be sent and counts the bytes not sent. */
static __always_inline void emit_segment(void *ctx, const bool xdp, void *ring,
                                         struct resptrace_bpf_counters *ctr,
                                         const struct resptrace_bpf_event *header,
                                         __u32 payload_offset) {
  __u32 captured = header->captured_len;
  __u32 offset = 0;
  for (__u32 i = 0; i < RESPTRACE_BPF_CHUNKS_MAX; i++) {
    if (captured - offset <= CLASS_MAX) break;
    if (emit_chunk(ctx, xdp, ring, ctr, header, payload_offset, offset, CLASS_MAX, CLASS_MAX) != 0) {
      count(ctr, RESPTRACE_BPF_CTR_LOST_BYTES, captured - offset);
      return;
    }
    offset += CLASS_MAX;
  }
  __u32 tail = captured - offset;
  int failed;
  if (tail <= CLASS_TINY)
    failed = emit_chunk(ctx, xdp, ring, ctr, header, payload_offset, offset, tail, CLASS_TINY);
  else if (tail <= CLASS_SMALL)
    failed = emit_chunk(ctx, xdp, ring, ctr, header, payload_offset, offset, tail, CLASS_SMALL);
  else if (tail <= CLASS_MEDIUM)
    failed = emit_chunk(ctx, xdp, ring, ctr, header, payload_offset, offset, tail, CLASS_MEDIUM);
  else if (tail <= CLASS_LARGE)
    failed = emit_chunk(ctx, xdp, ring, ctr, header, payload_offset, offset, tail, CLASS_LARGE);
  else
    failed = emit_chunk(ctx, xdp, ring, ctr, header, payload_offset, offset, tail, CLASS_MAX);
  if (failed) count(ctr, RESPTRACE_BPF_CTR_LOST_BYTES, tail);
}

static __always_inline bool is_vlan(__u16 ethertype) {
  return ethertype == ETHERTYPE_VLAN || ethertype == ETHERTYPE_QINQ ||
         ethertype == ETHERTYPE_QINQ_LEGACY;
}

static __always_inline bool port_kept(__u16 port) {
  __u32 word = port / 64;
  __u64 *bits = bpf_map_lookup_elem(&ports, &word);
  return bits && (*bits & (1ull << (port % 64)));
}

/* Parses one frame of `packet_len` bytes and emits the records of a kept TCP segment. */
static __always_inline void process(void *ctx, const bool xdp, __u8 direction, __u32 ifindex,
                                    __u32 packet_len) {
  __u32 zero = 0;
  struct resptrace_bpf_counters *ctr = bpf_map_lookup_elem(&counters, &zero);
  if (!ctr) return; /* never: the map has one entry per CPU */
  count(ctr, RESPTRACE_BPF_CTR_SEEN, 1);

  __be16 ethertype_be;
  if (load_header(ctx, xdp, ETH_HEADER_LEN - 2, ethertype_be) != 0) {
    count(ctr, RESPTRACE_BPF_CTR_NOT_PARSED, 1);
    return;
  }
  __u16 ethertype = bpf_ntohs(ethertype_be);
  __u32 offset = ETH_HEADER_LEN;
  for (int i = 0; i < VLAN_TAGS_MAX && is_vlan(ethertype); i++) {
    struct vlan_tag tag;
    if (load_header(ctx, xdp, offset, tag) != 0) {
      count(ctr, RESPTRACE_BPF_CTR_NOT_PARSED, 1);
      return;
    }
    ethertype = bpf_ntohs(tag.ethertype);
    offset += sizeof(tag);
  }

  struct resptrace_bpf_event header = {};
  header.direction = direction;
  header.ifindex = ifindex;
  __u32 l4_offset;
  __u32 ip_end; /* offset one past the IP packet: excludes Ethernet padding */
  if (ethertype == ETHERTYPE_IPV4) {
    struct ipv4_header ip;
    if (load_header(ctx, xdp, offset, ip) != 0) {
      count(ctr, RESPTRACE_BPF_CTR_NOT_PARSED, 1);
      return;
    }
    __u32 header_len = (ip.version_ihl & 0x0F) * 4;
    __u32 total_len = bpf_ntohs(ip.total_length);
    if ((ip.version_ihl >> 4) != 4 || header_len < sizeof(ip)) {
      count(ctr, RESPTRACE_BPF_CTR_NOT_PARSED, 1);
      return;
    }
    if (bpf_ntohs(ip.fragment) & IPV4_FRAGMENT_MASK) {
      count(ctr, RESPTRACE_BPF_CTR_FRAGMENTS, 1);
      return;
    }
    if (ip.protocol != IPPROTO_TCP_NUM) {
      count(ctr, RESPTRACE_BPF_CTR_NOT_TCP, 1);
      return;
    }
    /* total_length 0: a GSO/BIG TCP packet longer than 64 KiB; the frame says how long. */
    ip_end = total_len ? offset + total_len : packet_len;
    if ((total_len && total_len < header_len) || ip_end > packet_len) {
      count(ctr, RESPTRACE_BPF_CTR_NOT_PARSED, 1);
      return;
    }
    header.ip_version = 4;
    __builtin_memcpy(header.saddr, ip.saddr, 4);
    __builtin_memcpy(header.daddr, ip.daddr, 4);
    l4_offset = offset + header_len;
  } else if (ethertype == ETHERTYPE_IPV6) {
    struct ipv6_header ip;
    if (load_header(ctx, xdp, offset, ip) != 0 ||
        (bpf_ntohl(ip.version_class_flow) >> 28) != 6) {
      count(ctr, RESPTRACE_BPF_CTR_NOT_PARSED, 1);
      return;
    }
    __u32 payload_len = bpf_ntohs(ip.payload_length);
    /* payload_length 0: a jumbogram (BIG TCP); the frame says how long. */
    ip_end = payload_len ? offset + IPV6_HEADER_LEN + payload_len : packet_len;
    if (ip_end > packet_len) {
      count(ctr, RESPTRACE_BPF_CTR_NOT_PARSED, 1);
      return;
    }
    l4_offset = offset + IPV6_HEADER_LEN;
    __u8 next = ip.next_header;
    for (int i = 0; i < IPV6_EXT_MAX; i++) {
      if (next == IPV6_EXT_FRAGMENT) {
        count(ctr, RESPTRACE_BPF_CTR_FRAGMENTS, 1);
        return;
      }
      if (next != IPV6_EXT_HOP_BY_HOP && next != IPV6_EXT_ROUTING &&
          next != IPV6_EXT_DEST_OPTS && next != IPV6_EXT_AUTH)
        break;
      struct ipv6_extension ext;
      if (load_header(ctx, xdp, l4_offset, ext) != 0) {
        count(ctr, RESPTRACE_BPF_CTR_NOT_PARSED, 1);
        return;
      }
      l4_offset += next == IPV6_EXT_AUTH ? (ext.length + 2) * 4 : (ext.length + 1) * 8;
      next = ext.next_header;
    }
    if (next != IPPROTO_TCP_NUM) {
      bool extension = next == IPV6_EXT_HOP_BY_HOP || next == IPV6_EXT_ROUTING ||
                       next == IPV6_EXT_DEST_OPTS || next == IPV6_EXT_AUTH ||
                       next == IPV6_EXT_FRAGMENT;
      count(ctr, extension ? RESPTRACE_BPF_CTR_NOT_PARSED : RESPTRACE_BPF_CTR_NOT_TCP, 1);
      return;
    }
    header.ip_version = 6;
    __builtin_memcpy(header.saddr, ip.saddr, 16);
    __builtin_memcpy(header.daddr, ip.daddr, 16);
  } else {
    count(ctr, is_vlan(ethertype) ? RESPTRACE_BPF_CTR_NOT_PARSED : RESPTRACE_BPF_CTR_NOT_TCP, 1);
    return;
  }

  struct tcp_header tcp;
  if (load_header(ctx, xdp, l4_offset, tcp) != 0) {
    count(ctr, RESPTRACE_BPF_CTR_NOT_PARSED, 1);
    return;
  }
  __u32 payload_offset = l4_offset + (tcp.data_offset >> 4) * 4;
  if ((tcp.data_offset >> 4) * 4 < TCP_HEADER_LEN || payload_offset > ip_end) {
    count(ctr, RESPTRACE_BPF_CTR_NOT_PARSED, 1);
    return;
  }
  header.sport = bpf_ntohs(tcp.sport);
  header.dport = bpf_ntohs(tcp.dport);
  if (!port_kept(header.sport) && !port_kept(header.dport)) return;
  count(ctr, RESPTRACE_BPF_CTR_KEPT, 1);

  header.timestamp_ns = bpf_ktime_get_ns();
  header.cpu = bpf_get_smp_processor_id();
  header.tcp_flags = tcp.flags;
  header.seq = bpf_ntohl(tcp.seq);
  header.ack = bpf_ntohl(tcp.ack);
  header.payload_len = ip_end - payload_offset;
  __u32 cap = snaplen < RESPTRACE_BPF_SNAPLEN_MAX ? snaplen : RESPTRACE_BPF_SNAPLEN_MAX;
  header.captured_len = header.payload_len < cap ? header.payload_len : cap;
  if (header.captured_len < header.payload_len) {
    count(ctr, RESPTRACE_BPF_CTR_TRUNCATED, 1);
    count(ctr, RESPTRACE_BPF_CTR_TRUNCATED_BYTES, header.payload_len - header.captured_len);
  }
  /* No ring: a CPU that came online after the loader made the rings. */
  void *ring = bpf_map_lookup_elem(&rings, &header.cpu);
  if (!ring) {
    count(ctr, RESPTRACE_BPF_CTR_RINGBUF_FULL, 1);
    count(ctr, RESPTRACE_BPF_CTR_LOST_BYTES, header.captured_len);
    return;
  }
  emit_segment(ctx, xdp, ring, ctr, &header, payload_offset);
}

SEC("tc")
int resptrace_tc_ingress(struct __sk_buff *skb) {
  process(skb, false, RESPTRACE_BPF_DIR_INGRESS, skb->ifindex, skb->len);
  return TC_ACT_UNSPEC;
}

SEC("tc")
int resptrace_tc_egress(struct __sk_buff *skb) {
  process(skb, false, RESPTRACE_BPF_DIR_EGRESS, skb->ifindex, skb->len);
  return TC_ACT_UNSPEC;
}

/* xdp.frags: also loads on multi-buffer (jumbo MTU) devices; bpf_xdp_load_bytes reads
 * across the fragments. */
SEC("xdp.frags")
int resptrace_xdp(struct xdp_md *xdp) {
  process(xdp, true, RESPTRACE_BPF_DIR_INGRESS, xdp->ingress_ifindex,
          (__u32)bpf_xdp_get_buff_len(xdp));
  return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
