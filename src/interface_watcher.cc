#include "resptrace/interface_watcher.h"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace resptrace {
namespace {

absl::Status Errno(const char* what) {
  return absl::UnavailableError(absl::StrCat(what, ": ", std::strerror(errno)));
}

}  // namespace

absl::StatusOr<std::vector<NetInterface>> UpInterfaces() {
  struct if_nameindex* all = if_nameindex();
  if (all == nullptr) return Errno("cannot list the network interfaces");
  const int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  std::vector<NetInterface> up;
  for (struct if_nameindex* i = all; sock >= 0 && i->if_index != 0; ++i) {
    ifreq req{};
    std::strncpy(req.ifr_name, i->if_name, IFNAMSIZ - 1);
    if (ioctl(sock, SIOCGIFFLAGS, &req) == 0 && (req.ifr_flags & IFF_UP) != 0) {
      up.push_back(NetInterface{static_cast<int>(i->if_index), i->if_name});
    }
  }
  if (sock >= 0) close(sock);
  if_freenameindex(all);
  if (sock < 0) return Errno("cannot read interface flags");
  std::sort(up.begin(), up.end(), [](const auto& a, const auto& b) { return a.ifindex < b.ifindex; });
  return up;
}

absl::StatusOr<InterfaceWatcher> InterfaceWatcher::Open() {
  const int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
  if (fd < 0) return Errno("cannot open a netlink socket to follow interfaces");
  sockaddr_nl addr{};
  addr.nl_family = AF_NETLINK;
  addr.nl_groups = RTMGRP_LINK;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return Errno("cannot subscribe to interface notifications");
  }
  return InterfaceWatcher(fd);
}

InterfaceWatcher::~InterfaceWatcher() {
  if (fd_ >= 0) close(fd_);
}

absl::StatusOr<std::vector<NetInterface>> InterfaceWatcher::ReadUp() {
  std::vector<NetInterface> up;
  alignas(nlmsghdr) char buf[16384];
  for (;;) {
    ssize_t n = recv(fd_, buf, sizeof buf, 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == ENOBUFS) continue;  // notifications were dropped; later ones still come
      return Errno("cannot read interface notifications");
    }
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, n);
         h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_type != RTM_NEWLINK) continue;
      const auto* info = static_cast<const ifinfomsg*>(NLMSG_DATA(h));
      if ((info->ifi_flags & IFF_UP) == 0) continue;
      char name[IF_NAMESIZE] = {};
      if (if_indextoname(static_cast<unsigned>(info->ifi_index), name) == nullptr) continue;
      NetInterface i{info->ifi_index, name};
      if (std::find(up.begin(), up.end(), i) == up.end()) up.push_back(i);
    }
  }
  return up;
}

}  // namespace resptrace
