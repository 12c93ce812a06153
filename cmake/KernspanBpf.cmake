# SPDX-License-Identifier: Apache-2.0
# kernspan_bpf_object(NAME SOURCES a.bpf.c ... HEADERS ...)
#
# Compiles each BPF source with clang against a vmlinux.h dumped from the
# running kernel's BTF (CO-RE: no kernel headers), links them into one object
# with `bpftool gen object` and generates NAME.skel.h with
# `bpftool gen skeleton ... name ks_NAME`. Exposes INTERFACE target NAME_skel.

find_program(KERNSPAN_CLANG NAMES clang clang-14 REQUIRED)
find_program(KERNSPAN_BPFTOOL NAMES bpftool PATHS /usr/sbin /sbin REQUIRED)
set(KERNSPAN_VMLINUX_BTF "/sys/kernel/btf/vmlinux" CACHE FILEPATH
    "BTF to generate vmlinux.h from")
set(KERNSPAN_VMLINUX_H "" CACHE FILEPATH
    "A fixed vmlinux.h to use instead of generating one")

set(_ks_bpf_dir ${CMAKE_BINARY_DIR}/bpf)
file(MAKE_DIRECTORY ${_ks_bpf_dir})

if(KERNSPAN_VMLINUX_H)
  set(_ks_vmlinux ${KERNSPAN_VMLINUX_H})
else()
  if(NOT EXISTS ${KERNSPAN_VMLINUX_BTF})
    message(FATAL_ERROR "kernspan: ${KERNSPAN_VMLINUX_BTF} not found: the kernel "
      "needs CONFIG_DEBUG_INFO_BTF=y, or pass -DKERNSPAN_VMLINUX_H=/path/vmlinux.h")
  endif()
  set(_ks_vmlinux ${_ks_bpf_dir}/vmlinux.h)
  add_custom_command(OUTPUT ${_ks_vmlinux}
    COMMAND ${KERNSPAN_BPFTOOL} btf dump file ${KERNSPAN_VMLINUX_BTF} format c > ${_ks_vmlinux}.tmp
    COMMAND ${CMAKE_COMMAND} -E rename ${_ks_vmlinux}.tmp ${_ks_vmlinux}
    COMMENT "Generating vmlinux.h from ${KERNSPAN_VMLINUX_BTF}"
    VERBATIM)
endif()
get_filename_component(_ks_vmlinux_dir ${_ks_vmlinux} DIRECTORY)

# clang's own system include dirs, added with -idirafter so that <asm/...>
# resolves for the BPF target (libbpf-bootstrap does the same).
execute_process(COMMAND ${KERNSPAN_CLANG} -v -E - INPUT_FILE /dev/null
  OUTPUT_VARIABLE _ks_out ERROR_VARIABLE _ks_err)
string(REGEX MATCH "<\\.\\.\\.> search starts here:(.*)End of search list" _ks_m "${_ks_err}")
string(REGEX REPLACE "\n" ";" _ks_lines "${CMAKE_MATCH_1}")
set(KERNSPAN_BPF_SYS_INCLUDES "")
foreach(_l ${_ks_lines})
  string(STRIP "${_l}" _l)
  if(_l)
    list(APPEND KERNSPAN_BPF_SYS_INCLUDES -idirafter ${_l})
  endif()
endforeach()

if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
  set(KERNSPAN_BPF_ARCH x86)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64|arm64")
  set(KERNSPAN_BPF_ARCH arm64)
else()
  message(FATAL_ERROR "kernspan: unsupported architecture ${CMAKE_SYSTEM_PROCESSOR}")
endif()

function(kernspan_bpf_object name)
  cmake_parse_arguments(A "" "" "SOURCES;HEADERS" ${ARGN})
  set(_objs "")
  set(_werror "")
  if(KERNSPAN_WERROR)
    set(_werror -Werror)
  endif()
  foreach(_src ${A_SOURCES})
    get_filename_component(_base ${_src} NAME_WE)
    set(_o ${_ks_bpf_dir}/${_base}.bpf.o)
    add_custom_command(OUTPUT ${_o}
      COMMAND ${KERNSPAN_CLANG} -g -O2 -target bpf -mcpu=v3
              -D__TARGET_ARCH_${KERNSPAN_BPF_ARCH} -Wall ${_werror}
              -I${_ks_vmlinux_dir} -I${CMAKE_SOURCE_DIR}/bpf
              ${KERNSPAN_BPF_SYS_INCLUDES}
              -c ${CMAKE_SOURCE_DIR}/${_src} -o ${_o}
      DEPENDS ${CMAKE_SOURCE_DIR}/${_src} ${_ks_vmlinux}
              ${A_HEADERS}
      COMMENT "BPF ${_src}"
      VERBATIM)
    list(APPEND _objs ${_o})
  endforeach()
  set(_linked ${_ks_bpf_dir}/${name}.bpf.o)
  set(_skel ${_ks_bpf_dir}/${name}.skel.h)
  add_custom_command(OUTPUT ${_linked} ${_skel}
    COMMAND ${KERNSPAN_BPFTOOL} gen object ${_linked} ${_objs}
    COMMAND ${KERNSPAN_BPFTOOL} gen skeleton ${_linked} name ks_${name} > ${_skel}.tmp
    COMMAND ${CMAKE_COMMAND} -E rename ${_skel}.tmp ${_skel}
    DEPENDS ${_objs}
    COMMENT "BPF skeleton ${name}.skel.h"
    VERBATIM)
  add_custom_target(${name}_skel_gen DEPENDS ${_skel})
  add_library(${name}_skel INTERFACE)
  add_dependencies(${name}_skel ${name}_skel_gen)
  # SYSTEM: generated code is not held to our warning flags.
  target_include_directories(${name}_skel SYSTEM INTERFACE ${_ks_bpf_dir})
endfunction()
