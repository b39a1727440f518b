// The network interfaces that are up now, and those that come up later: "-i any" attaches
// to each as it appears.
#ifndef RESPTRACE_INTERFACE_WATCHER_H_
#define RESPTRACE_INTERFACE_WATCHER_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace resptrace {

struct NetInterface {
  int ifindex = 0;
  std::string name;
  friend bool operator==(const NetInterface&, const NetInterface&) = default;
};

// Every interface that is up, in ifindex order.
absl::StatusOr<std::vector<NetInterface>> UpInterfaces();

// Reports interfaces that come up after Open(), from the kernel's link notifications.
class InterfaceWatcher {
 public:
  static absl::StatusOr<InterfaceWatcher> Open();
  InterfaceWatcher(InterfaceWatcher&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  InterfaceWatcher& operator=(InterfaceWatcher&&) = delete;
  ~InterfaceWatcher();

  // A descriptor that turns readable when notifications wait: poll it with the rest.
  int fd() const { return fd_; }
  // Reads the waiting notifications without blocking; returns the interfaces now up
  // among those they name (each may be reported again when its state changes again).
  absl::StatusOr<std::vector<NetInterface>> ReadUp();

 private:
  explicit InterfaceWatcher(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace resptrace

#endif  // RESPTRACE_INTERFACE_WATCHER_H_
