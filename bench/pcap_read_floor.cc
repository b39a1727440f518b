// The libpcap read floor: reads every frame of a capture and touches its first byte, nothing
// else. scripts/bench compares resptrace's counting mode against this.
#include <pcap/pcap.h>

#include <cstdio>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: pcap_read_floor FILE\n");
    return 2;
  }
  char err[PCAP_ERRBUF_SIZE];
  pcap_t* p = pcap_open_offline(argv[1], err);
  if (p == nullptr) {
    std::fprintf(stderr, "pcap_read_floor: %s\n", err);
    return 1;
  }
  pcap_pkthdr* h;
  const u_char* data;
  unsigned long long frames = 0, bytes = 0, first = 0;
  int rc;
  while ((rc = pcap_next_ex(p, &h, &data)) == 1) {
    ++frames;
    bytes += h->caplen;
    if (h->caplen > 0) first += data[0];
  }
  pcap_close(p);
  std::printf("%llu frames, %llu bytes (%llu)\n", frames, bytes, first);
  return rc == PCAP_ERROR_BREAK || rc == -2 ? 0 : 1;
}
