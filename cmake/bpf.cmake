# eBPF live capture, kernel side: compiles each bpf/<name>.bpf.c with clang for the BPF
# target (CO-RE, against the checked-in vmlinux/vmlinux.h; regenerate it with
# scripts/gen-vmlinux) and turns the object into a libbpf skeleton <build>/bpf/<name>.skel.h
# whose struct and functions are named <name>_bpf (struct resptrace_bpf, resptrace_bpf__open...:
# `resptrace` alone would clash with the C++ namespace).
# Defines the interface library resptrace_bpf_skel: the skeleton headers + libbpf.
# Without the tools, or with -DRESPTRACE_EBPF=OFF, defines nothing.
if(CMAKE_SYSTEM_NAME STREQUAL "Linux")
  set(resptrace_ebpf_default ON)
else()
  set(resptrace_ebpf_default OFF)
endif()
option(RESPTRACE_EBPF "Build the eBPF capture programs (needs clang, bpftool, libbpf)"
       ${resptrace_ebpf_default})
if(NOT RESPTRACE_EBPF)
  message(STATUS "resptrace: eBPF capture not built (RESPTRACE_EBPF=OFF)")
  return()
endif()

if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|i.86)$")
  set(resptrace_bpf_arch x86)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^(aarch64|arm64)$")
  set(resptrace_bpf_arch arm64)
else()
  message(STATUS "resptrace: eBPF capture not built (no BPF target arch for "
                 "${CMAKE_SYSTEM_PROCESSOR})")
  return()
endif()

find_program(RESPTRACE_BPF_CLANG NAMES clang clang-14 clang-15 clang-16)
find_program(RESPTRACE_BPFTOOL NAMES bpftool PATHS /usr/sbin /sbin /usr/local/sbin)
pkg_check_modules(LIBBPF IMPORTED_TARGET libbpf)
if(NOT EXISTS "${RESPTRACE_BPF_CLANG}" OR NOT EXISTS "${RESPTRACE_BPFTOOL}" OR NOT LIBBPF_FOUND)
  message(STATUS "resptrace: eBPF capture not built (clang: ${RESPTRACE_BPF_CLANG}, "
                 "bpftool: ${RESPTRACE_BPFTOOL}, libbpf found: ${LIBBPF_FOUND}); "
                 "scripts/deps installs them")
  return()
endif()

set(resptrace_bpf_out ${CMAKE_CURRENT_BINARY_DIR}/bpf)
file(MAKE_DIRECTORY ${resptrace_bpf_out})
file(GLOB resptrace_bpf_sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/bpf/*.bpf.c)
set(resptrace_bpf_skeletons)
foreach(src ${resptrace_bpf_sources})
  get_filename_component(name ${src} NAME)
  string(REGEX REPLACE "\\.bpf\\.c$" "" name ${name})
  set(tmp_obj ${resptrace_bpf_out}/${name}.tmp.bpf.o)
  set(obj ${resptrace_bpf_out}/${name}.bpf.o)
  set(skel ${resptrace_bpf_out}/${name}.skel.h)
  add_custom_command(
    OUTPUT ${tmp_obj}
    COMMAND ${RESPTRACE_BPF_CLANG} -g -O2 -target bpf -D__TARGET_ARCH_${resptrace_bpf_arch}
            -Wall -Werror -I${resptrace_bpf_out} -I${CMAKE_CURRENT_SOURCE_DIR}/include
            -I${CMAKE_CURRENT_SOURCE_DIR}/vmlinux -MD -MF ${tmp_obj}.d -c ${src} -o ${tmp_obj}
    DEPENDS ${src}
    DEPFILE ${tmp_obj}.d
    COMMENT "Compiling BPF program ${name}"
    VERBATIM)
  # `gen object` links the object and strips its DWARF (BTF stays): a smaller skeleton.
  add_custom_command(
    OUTPUT ${obj} ${skel}
    COMMAND ${RESPTRACE_BPFTOOL} gen object ${obj} ${tmp_obj}
    COMMAND ${RESPTRACE_BPFTOOL} gen skeleton ${obj} name ${name}_bpf > ${skel}
    DEPENDS ${tmp_obj}
    COMMENT "Generating BPF skeleton ${name}.skel.h"
    VERBATIM)
  list(APPEND resptrace_bpf_skeletons ${skel})
endforeach()

add_custom_target(resptrace_bpf_skeletons DEPENDS ${resptrace_bpf_skeletons})
add_library(resptrace_bpf_skel INTERFACE)
add_dependencies(resptrace_bpf_skel resptrace_bpf_skeletons)
# SYSTEM: the generated skeletons are not held to -Wextra -Werror.
target_include_directories(resptrace_bpf_skel SYSTEM INTERFACE ${resptrace_bpf_out})
target_include_directories(resptrace_bpf_skel INTERFACE ${CMAKE_CURRENT_SOURCE_DIR}/include)
# libbpf links shared, and the shared library brings libelf and zlib itself.
target_link_libraries(resptrace_bpf_skel INTERFACE PkgConfig::LIBBPF)
message(STATUS "resptrace: eBPF capture built (clang ${RESPTRACE_BPF_CLANG}, "
               "bpftool ${RESPTRACE_BPFTOOL}, libbpf ${LIBBPF_VERSION})")
