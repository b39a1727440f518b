// Attaching a TC program to one interface and direction, and taking it off again.
//
// tcx links first: the kernel detaches them by itself when the process dies, kill -9
// included. Where the kernel has no tcx, a clsact filter at resptrace's own handle and
// priority, removed on exit and swept at the next start if a run was killed. resptrace never
// deletes a qdisc, nor a filter it did not create.
#ifndef RESPTRACE_TC_ATTACHMENT_H_
#define RESPTRACE_TC_ATTACHMENT_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace resptrace {

enum class TcDirection { kIngress, kEgress };

class TcAttachment {
 public:
  enum class Mode { kTcx, kClsact };

  // `prefer` kTcx tries a tcx link and falls back to a clsact filter; kClsact goes
  // straight to the filter (for kernels without tcx, and for tests of that path).
  static absl::StatusOr<std::unique_ptr<TcAttachment>> Attach(int prog_fd, int ifindex,
                                                               TcDirection dir,
                                                               Mode prefer = Mode::kTcx);
  ~TcAttachment();
  TcAttachment(const TcAttachment&) = delete;
  TcAttachment& operator=(const TcAttachment&) = delete;

  Mode mode() const { return mode_; }
  int ifindex() const { return ifindex_; }
  TcDirection direction() const { return dir_; }
  // Leaves the attachment in place (a clsact filter outlives the process): for tests of
  // the sweep, which is what cleans up after a killed run.
  void Abandon() { abandoned_ = true; }

 private:
  TcAttachment(Mode mode, int ifindex, TcDirection dir, int link_fd)
      : mode_(mode), ifindex_(ifindex), dir_(dir), link_fd_(link_fd) {}
  Mode mode_;
  int ifindex_;
  TcDirection dir_;
  int link_fd_;  // kTcx: the link; kClsact: -1
  bool abandoned_ = false;
};

// Removes, from both directions of `ifindex`, a clsact filter that a previous resptrace run
// left behind (at resptrace's handle and priority, running a program whose name starts
// with "resptrace"). Returns how many it removed.
absl::StatusOr<int> SweepStaleClsactFilters(int ifindex);

}  // namespace resptrace

#endif  // RESPTRACE_TC_ATTACHMENT_H_
