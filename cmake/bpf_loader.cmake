# User-space side of the eBPF capture that needs libbpf but not the compiled BPF program:
# attaching TC programs (tcx or clsact), sweeping what a killed run left, following the
# interfaces that are up, and reading the per-CPU ring buffers.
pkg_check_modules(LIBBPF IMPORTED_TARGET libbpf)
if(LIBBPF_FOUND AND NOT RESPTRACE_EBPF STREQUAL "OFF")
  add_library(resptrace_tc STATIC src/tc_attachment.cc src/interface_watcher.cc
    src/bpf_event_decoder.cc src/bpf_ring_set.cc)
  target_include_directories(resptrace_tc PUBLIC include)
  target_link_libraries(resptrace_tc PUBLIC resptrace_flow PkgConfig::LIBBPF absl::status
    absl::statusor absl::strings absl::function_ref)
endif()

if(TARGET resptrace_bpf_skel AND TARGET resptrace_tc)
  add_library(resptrace_bpf_capture STATIC src/bpf_capture.cc)
  target_link_libraries(resptrace_bpf_capture PUBLIC resptrace_tc resptrace_bpf_skel)
  target_compile_definitions(resptrace_bpf_capture PUBLIC RESPTRACE_HAVE_EBPF=1)
  target_link_libraries(resptrace PRIVATE resptrace_bpf_capture)
endif()
