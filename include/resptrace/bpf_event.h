/* The record layout shared by the kernel program (bpf/resptrace.bpf.c) and the user-space
 * loader: one ring-buffer record per captured chunk of a kept TCP segment. The one
 * definition of that layout; it compiles as BPF C (types from vmlinux.h, included first)
 * and as C++ (types from <linux/types.h>). Sizes and offsets are checked on both sides.
 *
 * Record = struct resptrace_bpf_event, then chunk_len payload bytes. The ring buffer's
 * record size may exceed sizeof(header) + chunk_len (records are reserved in size
 * classes): chunk_len is what counts.
 *
 * A segment with payload_len bytes on the wire is captured up to the load-time snaplen:
 * captured_len = min(payload_len, snaplen) bytes, sent in ordered chunks of at most
 * RESPTRACE_BPF_CHUNK_MAX bytes, one record each, all with the same header fields except
 * chunk_offset/chunk_len. Each CPU has its own ring buffer (field cpu); the records of one
 * segment are contiguous in it (programs are not preempted outside PREEMPT_RT), and each
 * ring is in timestamp order. A segment without
 * payload (SYN, FIN, RST, bare ACK) or with snaplen 0 gives one record with chunk_len 0.
 * Bytes past the snaplen are counted (RESPTRACE_BPF_CTR_TRUNCATED_BYTES) and visible as
 * payload_len > captured_len; bytes lost to a full ring buffer are counted
 * (RESPTRACE_BPF_CTR_LOST_BYTES), their records are missing.
 */
#ifndef RESPTRACE_BPF_EVENT_H_
#define RESPTRACE_BPF_EVENT_H_

#ifndef __bpf__
#include <linux/types.h>
#endif

/* Largest payload chunk one record carries. */
#define RESPTRACE_BPF_CHUNK_MAX 16384u
/* Chunks per segment the program can emit; bounds its loop and the snaplen. */
#define RESPTRACE_BPF_CHUNKS_MAX 32u
/* Largest snaplen the program honours (512 KiB): larger settings act as this value. */
#define RESPTRACE_BPF_SNAPLEN_MAX (RESPTRACE_BPF_CHUNK_MAX * RESPTRACE_BPF_CHUNKS_MAX)
/* Default payload bytes captured per segment: covers GSO super-segments on lo (131,032
 * bytes) and BIG TCP up to 256 KiB. */
#define RESPTRACE_BPF_SNAPLEN_DEFAULT (256u * 1024u)
/* Default ring-buffer fill step, in bytes: the submit that takes the fill past a multiple
 * of it wakes the consumer (the loader sets a quarter of each CPU's ring). */
#define RESPTRACE_BPF_WAKEUP_BYTES_DEFAULT (1024u * 1024u)

/* TCP header flag bits, as in the tcp_flags field. */
#define RESPTRACE_BPF_TCP_FIN 0x01u
#define RESPTRACE_BPF_TCP_SYN 0x02u
#define RESPTRACE_BPF_TCP_RST 0x04u
#define RESPTRACE_BPF_TCP_PSH 0x08u
#define RESPTRACE_BPF_TCP_ACK 0x10u
#define RESPTRACE_BPF_TCP_URG 0x20u
#define RESPTRACE_BPF_TCP_ECE 0x40u
#define RESPTRACE_BPF_TCP_CWR 0x80u

enum resptrace_bpf_direction {
  RESPTRACE_BPF_DIR_INGRESS = 0, /* TC ingress and XDP */
  RESPTRACE_BPF_DIR_EGRESS = 1,  /* TC egress */
};

/* Indices into struct resptrace_bpf_counters (per CPU; sum over CPUs). */
enum resptrace_bpf_counter {
  RESPTRACE_BPF_CTR_SEEN = 0,       /* packets the program ran on */
  RESPTRACE_BPF_CTR_NOT_TCP,        /* well-formed but not TCP over IPv4/IPv6 (ARP, UDP...) */
  RESPTRACE_BPF_CTR_NOT_PARSED,     /* malformed, too short or unsupported headers */
  RESPTRACE_BPF_CTR_FRAGMENTS,      /* IPv4/IPv6 fragments, skipped */
  RESPTRACE_BPF_CTR_KEPT,           /* TCP segments with a port in `ports` */
  RESPTRACE_BPF_CTR_EMITTED,        /* records submitted */
  RESPTRACE_BPF_CTR_RINGBUF_FULL,   /* records lost: the CPU's ring buffer was full (or absent) */
  RESPTRACE_BPF_CTR_LOST_BYTES,     /* payload bytes within the snaplen that were not sent */
  RESPTRACE_BPF_CTR_TRUNCATED,      /* kept segments cut by the snaplen */
  RESPTRACE_BPF_CTR_TRUNCATED_BYTES, /* payload bytes past the snaplen */
  RESPTRACE_BPF_CTR_COUNT,
};

/* The value of the per-CPU map `counters` (one entry, key 0). */
struct resptrace_bpf_counters {
  __u64 value[RESPTRACE_BPF_CTR_COUNT];
};

/* The map `ports` is a bitmap of kept ports: port p is bit (p % 64) of the __u64 at key
 * (p / 64). */
#define RESPTRACE_BPF_PORT_WORDS (65536u / 64u)

struct resptrace_bpf_event {
  __u64 timestamp_ns; /* bpf_ktime_get_ns(): CLOCK_MONOTONIC, not the Unix epoch */
  __u32 ifindex;
  __u32 cpu;          /* CPU that captured it: orders the chunks of one segment */
  __u8 direction;     /* enum resptrace_bpf_direction */
  __u8 ip_version;    /* 4 or 6 */
  __u8 tcp_flags;     /* RESPTRACE_BPF_TCP_* */
  __u8 reserved;      /* zero */
  __u16 sport;        /* host byte order */
  __u16 dport;        /* host byte order */
  __u8 saddr[16];     /* IPv4: first 4 bytes, rest zero; network byte order */
  __u8 daddr[16];
  __u32 seq;          /* host byte order */
  __u32 ack;          /* host byte order */
  __u32 payload_len;  /* TCP payload bytes of the whole segment on the wire */
  __u32 captured_len; /* min(payload_len, snaplen): bytes sent over all chunks */
  __u32 chunk_offset; /* offset in the payload of this record's first byte */
  __u32 chunk_len;    /* payload bytes following this header */
};

#ifdef __cplusplus
#define RESPTRACE_BPF_STATIC_ASSERT static_assert
#else
#define RESPTRACE_BPF_STATIC_ASSERT _Static_assert
#endif
RESPTRACE_BPF_STATIC_ASSERT(sizeof(struct resptrace_bpf_event) == 80,
                            "resptrace_bpf_event layout changed: update both sides");
RESPTRACE_BPF_STATIC_ASSERT(__builtin_offsetof(struct resptrace_bpf_event, saddr) == 24,
                            "resptrace_bpf_event.saddr moved");
RESPTRACE_BPF_STATIC_ASSERT(__builtin_offsetof(struct resptrace_bpf_event, seq) == 56,
                            "resptrace_bpf_event.seq moved");
RESPTRACE_BPF_STATIC_ASSERT(__builtin_offsetof(struct resptrace_bpf_event, chunk_len) == 76,
                            "resptrace_bpf_event.chunk_len moved");
RESPTRACE_BPF_STATIC_ASSERT(RESPTRACE_BPF_SNAPLEN_DEFAULT <= RESPTRACE_BPF_SNAPLEN_MAX,
                            "default snaplen above the program's maximum");
#undef RESPTRACE_BPF_STATIC_ASSERT

#endif /* RESPTRACE_BPF_EVENT_H_ */
