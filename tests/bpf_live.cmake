# eBPF live capture end to end in private network namespaces: a veth pair with ingress and
# egress hooks, a container behind a bridge traced on every interface (libpcap too), and
# nothing left attached after resptrace exits.
if(TARGET resptrace_bpf_capture)
  resptrace_test(bpf_live_test resptrace_flow redis_harness.cc)
  target_link_libraries(bpf_live_test PRIVATE resptrace_bpf_skel)
  add_dependencies(bpf_live_test resptrace)
endif()
