# The per-CPU ring buffers' reader; built with the libbpf side of the capture.
if(TARGET resptrace_tc)
  resptrace_test(bpf_ring_set_test resptrace_tc)
endif()
