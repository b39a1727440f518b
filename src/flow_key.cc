#include "resptrace/flow_key.h"

#include <arpa/inet.h>

#include <cstring>

namespace resptrace {

IpAddress IpAddress::V4(const uint8_t* b) {
  IpAddress a;
  std::memcpy(a.bytes.data(), b, 4);
  return a;
}

IpAddress IpAddress::V6(const uint8_t* b) {
  IpAddress a;
  std::memcpy(a.bytes.data(), b, 16);
  a.is_v6 = true;
  return a;
}

void Endpoint::AppendTo(std::string& out) const {
  char buf[INET6_ADDRSTRLEN];
  if (addr.is_v6) {
    inet_ntop(AF_INET6, addr.bytes.data(), buf, sizeof buf);
    out.push_back('[');
    out.append(buf);
    out.push_back(']');
  } else {
    inet_ntop(AF_INET, addr.bytes.data(), buf, sizeof buf);
    out.append(buf);
  }
  out.push_back(':');
  char port_buf[8];
  int n = 0;
  uint16_t p = port;
  do {
    port_buf[n++] = static_cast<char>('0' + p % 10);
    p /= 10;
  } while (p != 0);
  while (n > 0) out.push_back(port_buf[--n]);
}

std::string Endpoint::ToString() const {
  std::string s;
  AppendTo(s);
  return s;
}

}  // namespace resptrace
