#include "resptrace/tc_attachment.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <net/if.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace resptrace {
namespace {

// libbpf 1.1's headers predate tcx; the kernel's numbers for it.
constexpr int kBpfTcxIngress = 46;
constexpr int kBpfTcxEgress = 47;

// resptrace's clsact filters: a handle and priority no tc default takes ('RT' and 0x5254),
// so that the sweep can tell them from anybody else's.
constexpr __u32 kFilterHandle = 0x5254;
constexpr __u32 kFilterPriority = 0x5254;

std::string IfName(int ifindex) {
  char name[IF_NAMESIZE] = {};
  if (if_indextoname(static_cast<unsigned>(ifindex), name) == nullptr) return std::to_string(ifindex);
  return name;
}

const char* DirName(TcDirection d) { return d == TcDirection::kIngress ? "ingress" : "egress"; }

bpf_tc_hook Hook(int ifindex, TcDirection dir) {
  bpf_tc_hook hook{};
  hook.sz = sizeof hook;
  hook.ifindex = ifindex;
  hook.attach_point = dir == TcDirection::kIngress ? BPF_TC_INGRESS : BPF_TC_EGRESS;
  return hook;
}

bpf_tc_opts FilterOpts(int prog_fd) {
  bpf_tc_opts opts{};
  opts.sz = sizeof opts;
  opts.handle = kFilterHandle;
  opts.priority = kFilterPriority;
  opts.prog_fd = prog_fd;
  return opts;
}

absl::Status Errno(int err, const std::string& what) {
  err = err < 0 ? -err : err;
  std::string hint;
  if (err == EPERM || err == EACCES) {
    hint = " (resptrace needs CAP_BPF and CAP_NET_ADMIN, or root)";
  }
  return absl::Status(err == EPERM || err == EACCES ? absl::StatusCode::kPermissionDenied
                                                    : absl::StatusCode::kUnavailable,
                      absl::StrCat(what, ": ", std::strerror(err), hint));
}

}  // namespace

absl::StatusOr<std::unique_ptr<TcAttachment>> TcAttachment::Attach(int prog_fd, int ifindex,
                                                                   TcDirection dir, Mode prefer) {
  if (prefer == Mode::kTcx) {
    bpf_link_create_opts opts{};
    opts.sz = sizeof opts;
    const int attach = dir == TcDirection::kIngress ? kBpfTcxIngress : kBpfTcxEgress;
    const int fd = bpf_link_create(prog_fd, ifindex, static_cast<bpf_attach_type>(attach), &opts);
    if (fd >= 0) return std::unique_ptr<TcAttachment>(new TcAttachment(Mode::kTcx, ifindex, dir, fd));
    if (fd == -EPERM || fd == -EACCES) {
      return Errno(fd, absl::StrCat("cannot attach to ", IfName(ifindex), " ", DirName(dir)));
    }
    // No tcx in this kernel: a clsact filter instead.
  }
  bpf_tc_hook hook = Hook(ifindex, dir);
  int err = bpf_tc_hook_create(&hook);
  if (err != 0 && err != -EEXIST) {
    return Errno(err, absl::StrCat("cannot add a clsact qdisc to ", IfName(ifindex)));
  }
  bpf_tc_opts opts = FilterOpts(prog_fd);
  opts.flags = BPF_TC_F_REPLACE;  // a filter a killed run left at our handle is ours to replace
  err = bpf_tc_attach(&hook, &opts);
  if (err != 0) {
    return Errno(err, absl::StrCat("cannot attach a tc filter to ", IfName(ifindex), " ", DirName(dir)));
  }
  return std::unique_ptr<TcAttachment>(new TcAttachment(Mode::kClsact, ifindex, dir, -1));
}

TcAttachment::~TcAttachment() {
  if (mode_ == Mode::kTcx) {
    if (link_fd_ >= 0) close(link_fd_);  // a tcx link lives as long as its last fd
    return;
  }
  if (abandoned_) return;
  bpf_tc_hook hook = Hook(ifindex_, dir_);
  bpf_tc_opts opts = FilterOpts(0);
  opts.prog_fd = 0;
  bpf_tc_detach(&hook, &opts);
}

absl::StatusOr<int> SweepStaleClsactFilters(int ifindex) {
  int removed = 0;
  for (TcDirection dir : {TcDirection::kIngress, TcDirection::kEgress}) {
    bpf_tc_hook hook = Hook(ifindex, dir);
    bpf_tc_opts opts = FilterOpts(0);
    opts.prog_fd = 0;
    if (bpf_tc_query(&hook, &opts) != 0) continue;  // no qdisc, or no filter of ours
    // Only a filter running one of our programs: the handle alone could be a coincidence.
    const int prog = bpf_prog_get_fd_by_id(opts.prog_id);
    if (prog < 0) continue;
    bpf_prog_info info{};
    __u32 len = sizeof info;
    const bool ours = bpf_obj_get_info_by_fd(prog, &info, &len) == 0 &&
                      std::strncmp(info.name, "resptrace", 9) == 0;
    close(prog);
    if (!ours) continue;
    bpf_tc_opts detach = FilterOpts(0);
    detach.prog_fd = 0;
    const int err = bpf_tc_detach(&hook, &detach);
    if (err != 0) return Errno(err, absl::StrCat("cannot remove a stale tc filter from ", IfName(ifindex)));
    ++removed;
  }
  return removed;
}

}  // namespace resptrace
