# SPDX-License-Identifier: Apache-2.0
# What `cmake --install` puts in place, and the .deb that `cpack -G DEB`
# builds from it:
#   bin/kernspan                         the tool
#   lib/kernspan/libkernspan-net.so      the network exporters (loaded from
#                                        ../lib/kernspan next to the binary)
#   include/kernspan/kernspan.h          the marker header, for applications
#   share/pkgconfig/kernspan.pc          pkg-config --cflags kernspan
#   share/cmake/kernspan/                find_package(kernspan) -> kernspan::header
#   share/man/man1/kernspan.1.gz         the man page
#   share/bash-completion/completions/kernspan
#   share/doc/kernspan/                  README, docs, deploy examples
#   lib/systemd/system/kernspan.service  the unit (/usr/lib/... in the .deb) (serve --config /etc/kernspan/kernspan.yaml)
#   etc/kernspan/kernspan.yaml           an example configuration (/etc with prefix /usr)
# The header is architecture-independent, so its pkg-config and CMake files
# go under share/, as Debian does for such packages.
include(CMakePackageConfigHelpers)

install(TARGETS kernspan RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS kernspan-net LIBRARY DESTINATION lib/kernspan)
install(FILES include/kernspan/kernspan.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/kernspan)

install(TARGETS kernspan_header EXPORT kernspanTargets)
set(KERNSPAN_CMAKE_DIR ${CMAKE_INSTALL_DATADIR}/cmake/kernspan)
install(EXPORT kernspanTargets NAMESPACE kernspan:: DESTINATION ${KERNSPAN_CMAKE_DIR})
configure_package_config_file(cmake/kernspan-config.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/kernspan-config.cmake INSTALL_DESTINATION ${KERNSPAN_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/kernspan-config-version.cmake
  COMPATIBILITY SameMajorVersion ARCH_INDEPENDENT)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/kernspan-config.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/kernspan-config-version.cmake
        DESTINATION ${KERNSPAN_CMAKE_DIR})

configure_file(cmake/kernspan.pc.in ${CMAKE_CURRENT_BINARY_DIR}/kernspan.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/kernspan.pc DESTINATION ${CMAKE_INSTALL_DATADIR}/pkgconfig)

# man pages are installed compressed (Debian policy 12.3); -n: no name or
# time stamp in the archive, so the package is reproducible.
find_program(GZIP_EXECUTABLE gzip REQUIRED)
add_custom_command(OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/kernspan.1.gz
  COMMAND ${GZIP_EXECUTABLE} -9n -c ${CMAKE_CURRENT_SOURCE_DIR}/docs/kernspan.1
          > ${CMAKE_CURRENT_BINARY_DIR}/kernspan.1.gz
  DEPENDS docs/kernspan.1 VERBATIM)
add_custom_target(kernspan-man ALL DEPENDS ${CMAKE_CURRENT_BINARY_DIR}/kernspan.1.gz)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/kernspan.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)

install(FILES deploy/bash-completion/kernspan
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)
install(FILES README.md docs/ARCHITECTURE.md docs/BENCHMARKS.md docs/DEPLOY.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY deploy/grafana deploy/prometheus deploy/kubernetes
        DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
install(FILES deploy/systemd/kernspan.service DESTINATION lib/systemd/system)
# /etc with prefix /usr (as packages have it), PREFIX/etc otherwise: an
# absolute destination would ignore `cmake --install --prefix`.
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(KERNSPAN_CONFIG_DIR /etc/kernspan)
else()
  set(KERNSPAN_CONFIG_DIR ${CMAKE_INSTALL_SYSCONFDIR}/kernspan)
endif()
install(FILES deploy/systemd/kernspan.yaml DESTINATION ${KERNSPAN_CONFIG_DIR})

# cpack -G DEB: dependencies as Debian names them, from the binaries'
# shared libraries (dpkg-shlibdeps).
set(CPACK_PACKAGE_NAME kernspan)
set(CPACK_PACKAGE_VENDOR kernspan)
set(CPACK_PACKAGE_CONTACT "kernspan developers <kernspan@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "per-span CPU, off-CPU, syscall and I/O costs of a running program, with eBPF")
set(CPACK_PACKAGE_DESCRIPTION
    "kernspan attaches to a running process and reports each unit of its work (spans from USDT markers, other USDT probes or function uprobes) with wall time, CPU and off-CPU time, run-queue wait, syscalls, disk and network bytes, as a live view, Prometheus metrics, OTLP or Zipkin traces. Includes the kernspan.h marker header.")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS OFF)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${CMAKE_CURRENT_SOURCE_DIR}/deploy/debian/conffiles
    ${CMAKE_CURRENT_SOURCE_DIR}/deploy/debian/postinst)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_GENERATOR DEB)
include(CPack)
