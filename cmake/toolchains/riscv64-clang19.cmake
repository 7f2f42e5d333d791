# Cross build for 64-bit RISC-V Linux with the vector extension (RVV 1.0), using Debian 12's clang-19 and lld-19
# against the riscv64 cross glibc/libstdc++ from g++-riscv64-linux-gnu. Binaries run on x86-64 through qemu-user.
#
# Why there is no CMAKE_SYSROOT: Debian's /usr/riscv64-linux-gnu is a multiarch cross prefix, not a real sysroot.
# Its libc.so linker script names /usr/riscv64-linux-gnu/lib/libc.so.6 by absolute path, and lld re-roots such
# paths inside --sysroot (.../usr/riscv64-linux-gnu/usr/riscv64-linux-gnu/...), so linking fails. Instead
# --gcc-toolchain=/usr makes clang find the cross GCC in /usr/lib/gcc-cross/riscv64-linux-gnu/12 and, from it, the
# cross headers and libraries, which it searches before the host's /usr/include and /usr/lib. Host-only headers
# such as Catch2's single header stay reachable as a last resort, which the tests rely on.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR riscv64)

set(SATTN_RISCV64_TRIPLE riscv64-linux-gnu)
set(SATTN_RISCV64_PREFIX /usr/${SATTN_RISCV64_TRIPLE})

set(CMAKE_C_COMPILER clang-19)
set(CMAKE_CXX_COMPILER clang++-19)
set(CMAKE_C_COMPILER_TARGET ${SATTN_RISCV64_TRIPLE})
set(CMAKE_CXX_COMPILER_TARGET ${SATTN_RISCV64_TRIPLE})
set(CMAKE_C_COMPILER_EXTERNAL_TOOLCHAIN /usr)
set(CMAKE_CXX_COMPILER_EXTERNAL_TOOLCHAIN /usr)

# rv64gc: libsattn and its tests must run on a core without the vector extension, so only the rvv backend's kernel
# sources add -march=rv64gcv (backends/rvv/CMakeLists.txt) and run once the backend's probe has seen V.
# -fno-omit-frame-pointer keeps C++ exceptions working: without a frame pointer, clang describes the frame of any
# function with vector spills by a DWARF expression on the vlenb CSR (register 7202), which the GCC 12 unwinder in
# Debian's riscv64 libgcc_s cannot evaluate, so a throw through such a frame ends in abort(). With a frame pointer
# the canonical frame address is s0 plus a constant and the unwinder never needs vlenb.
set(CMAKE_C_FLAGS_INIT "-march=rv64gc -fno-omit-frame-pointer")
set(CMAKE_CXX_FLAGS_INIT "-march=rv64gc -fno-omit-frame-pointer")
# lld-19 instead of GNU ld: clang-19 picks the ld.lld next to itself (/usr/lib/llvm-19/bin), so no cross binutils
# linker is involved and the LLVM versions match.
foreach(_kind EXE SHARED MODULE)
  set(CMAKE_${_kind}_LINKER_FLAGS_INIT "-fuse-ld=lld")
endforeach()

# Archives of riscv64 objects need an archiver that understands them; the host's GNU ar may not index them.
find_program(CMAKE_AR NAMES ${SATTN_RISCV64_TRIPLE}-ar llvm-ar-19 REQUIRED)
find_program(CMAKE_RANLIB NAMES ${SATTN_RISCV64_TRIPLE}-ranlib llvm-ranlib-19 REQUIRED)

# Libraries, headers and CMake packages come only from the cross prefix; programs (python, qemu) from the host.
set(CMAKE_FIND_ROOT_PATH ${SATTN_RISCV64_PREFIX})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# ctest, add_custom_command and try_run start riscv64 binaries through qemu: -L points the guest's dynamic loader
# at the cross glibc, and the vector unit (RVV 1.0, stated so that older qemu does not warn at each start) is
# enabled with a 256-bit VLEN so the RVV code paths actually execute.
find_program(SATTN_QEMU_RISCV64 qemu-riscv64 REQUIRED)
# qemu before 8.0 aborts on the RVV rtz conversions clang emits for vectorised float-to-int casts (QEMU issue 1441);
# tools/install-deps.sh installs a newer one. Said once, not again for every try_compile.
get_property(_sattn_in_try_compile GLOBAL PROPERTY IN_TRY_COMPILE)
get_property(_sattn_qemu_checked GLOBAL PROPERTY SATTN_QEMU_CHECKED)
if(NOT _sattn_in_try_compile AND NOT _sattn_qemu_checked)
  set_property(GLOBAL PROPERTY SATTN_QEMU_CHECKED TRUE)
  execute_process(COMMAND ${SATTN_QEMU_RISCV64} --version OUTPUT_VARIABLE _sattn_qemu_banner ERROR_QUIET)
  string(REGEX MATCH "version ([0-9]+\\.[0-9]+)" _sattn_qemu_match "${_sattn_qemu_banner}")
  if(CMAKE_MATCH_1 VERSION_LESS 8.0)
    message(WARNING "${SATTN_QEMU_RISCV64} is version '${CMAKE_MATCH_1}': qemu before 8.0 crashes on RVV "
                    "vf*cvt.rtz.* instructions; run tools/install-deps.sh for a newer qemu-user")
  endif()
endif()
set(CMAKE_CROSSCOMPILING_EMULATOR ${SATTN_QEMU_RISCV64} -L ${SATTN_RISCV64_PREFIX} -cpu rv64,v=true,vlen=256,vext_spec=v1.0)
