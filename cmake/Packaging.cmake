# Debian packages with CPack (deploy/package.sh builds them):
#   chunkd              the daemon, chunkctl and the client programs, their
#                       man pages, the systemd unit, /etc/chunkd/chunkd.ini
#   libchunkclient1     the shared library
#   libchunkclient-dev  header, static library, chunkclient.pc, the CMake
#                       package config, libchunkclient(3)
# Dependencies on Debian's libraries come from dpkg-shlibdeps; ours on our
# own library are stated, version for version.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME chunkd)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "chunkd")
set(CPACK_PACKAGE_CONTACT "chunkd developers <chunkd@example.org>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "persistent-memory chunk server over RDMA")
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL chunkd libs dev)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# chunkd's programs link libchunkclient.so.1, which is not installed where
# dpkg-shlibdeps looks: it finds it in the build instead.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${PROJECT_BINARY_DIR}/client)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://example.org/chunkd")

set(CPACK_DEBIAN_CHUNKD_PACKAGE_NAME chunkd)
set(CPACK_DEBIAN_CHUNKD_PACKAGE_SECTION net)
set(CPACK_DEBIAN_CHUNKD_PACKAGE_DEPENDS "libchunkclient1 (= ${PROJECT_VERSION})")
set(CPACK_DEBIAN_CHUNKD_DESCRIPTION
  "persistent-memory chunk server over RDMA
 chunkd owns regions of persistent memory (device-DAX) and grants clients
 immutable chunks: written with one-sided RDMA WRITEs, made durable by an
 explicit remote persist, sealed, then readable by anyone with RDMA READs.
 Includes chunkctl, the operator's tool, the systemd unit and an example
 configuration in /etc/chunkd/chunkd.ini.")
# The configuration is the operator's: dpkg keeps their edits.
file(WRITE ${PROJECT_BINARY_DIR}/package/chunkd/conffiles
  "/etc/chunkd/chunkd.ini\n")
set(CPACK_DEBIAN_CHUNKD_PACKAGE_CONTROL_EXTRA
  ${PROJECT_BINARY_DIR}/package/chunkd/conffiles)

set(CPACK_DEBIAN_LIBS_PACKAGE_NAME libchunkclient1)
set(CPACK_DEBIAN_LIBS_PACKAGE_SECTION libs)
# A shlibs file, so packages built against it depend on it. (CPack adds
# a postinst and postrm that run ldconfig to any package with a library
# in /usr/lib.)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")
set(CPACK_DEBIAN_LIBS_DESCRIPTION
  "client library of chunkd, a persistent-memory chunk server
 libchunkclient allocates, writes (RDMA WRITE), persists, seals and reads
 (RDMA READ) immutable chunks of a chunkd.")

set(CPACK_DEBIAN_DEV_PACKAGE_NAME libchunkclient-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
# chunkclient.pc names these in Requires.private; pkg-config wants them.
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS
  "libchunkclient1 (= ${PROJECT_VERSION}), libibverbs-dev, librdmacm-dev, libisal-dev, libsodium-dev")
set(CPACK_DEBIAN_DEV_DESCRIPTION
  "client library of chunkd: development files
 The header chunkclient.h, the static library, chunkclient.pc for
 pkg-config, the CMake package (find_package(chunkclient)) and the
 manual page libchunkclient(3).")

include(CPack)
