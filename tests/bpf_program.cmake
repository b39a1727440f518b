# The kernel programs under BPF_PROG_TEST_RUN; only when cmake/bpf.cmake built them.
if(TARGET resptrace_bpf_skel)
  resptrace_test(bpf_program_test resptrace_bpf_skel bpf_program_runner.cc)
  # pcap_builder.h crafts the frames; it speaks in resptrace_flow's types.
  target_link_libraries(bpf_program_test PRIVATE resptrace_flow resptrace_tc)
endif()
