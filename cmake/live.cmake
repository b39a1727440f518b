# Live capture through libpcap and the -w capture writer.
add_library(resptrace_live STATIC src/live_capture.cc src/pcap_writer.cc)
target_link_libraries(resptrace_live PUBLIC resptrace_capture absl::status absl::statusor
  absl::strings PkgConfig::PCAP)
target_link_libraries(resptrace PRIVATE resptrace_live)
