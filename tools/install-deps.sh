#!/usr/bin/env bash
# Installs what building and testing libsattn needs on Debian 12 (x86-64), and the Python venv at .venv.
# Idempotent: packages already installed are skipped, `apt-get update` runs only when something is missing, and an
# existing venv that already imports everything the tests need is left alone. Safe to run on every build.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv_dir="${repo_root}/.venv"
python_for_venv="${SATTN_BOOTSTRAP_PYTHON:-python3}"

# What each package is for:
#   cmake ninja-build g++ .......... native build (presets default, debug, asan; g++ also brings libasan/libubsan)
#   catch2 ......................... C++ test framework (single header <catch2/catch.hpp>)
#   libtbb-dev ..................... optional oneTBB parallel backend for the CPU kernels
#   clang-19 lld-19 ................ riscv64 cross compiler and linker (preset riscv64)
#   libclang-rt-19-dev ............. clang-19's sanitizer and libFuzzer runtimes (preset fuzz)
#   g++-riscv64-linux-gnu .......... the cross libstdc++/libgcc (crtbegin.o, headers) and riscv64-linux-gnu-ar that
#   libc6-dev-riscv64-cross          clang finds through --gcc-toolchain=/usr, plus the cross glibc
#   qemu-user ...................... qemu-riscv64 runs the cross-built tests (8.0 or newer, see below); its binfmt
#                                    Recommends is not wanted: ctest starts qemu itself
required_packages=(
  cmake ninja-build g++
  catch2 libtbb-dev
  clang-19 lld-19 libclang-rt-19-dev
  g++-riscv64-linux-gnu libc6-dev-riscv64-cross
)

# A pyenv or other python3 with venv and ensurepip built in needs nothing; Debian's own python3 needs python3-venv.
if ! command -v "${python_for_venv}" >/dev/null 2>&1; then
  required_packages+=(python3 python3-venv)
elif ! "${python_for_venv}" -c 'import ensurepip, venv' >/dev/null 2>&1; then
  required_packages+=(python3-venv)
fi

is_installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q '^install ok installed$'
}

installed_version() {
  dpkg-query -W -f='${Version}' "$1" 2>/dev/null || true
}

missing_packages=()
for package in "${required_packages[@]}"; do
  is_installed "${package}" || missing_packages+=("${package}")
done

# qemu before 8.0 aborts ("decode_save_opc: Assertion `ctx->insn_start != NULL'") when it translates any RVV
# conversion with a static rounding mode (vfcvt/vfwcvt/vfncvt.rtz.*), which clang emits for every vectorised
# float-to-int cast. Debian 12 ships qemu 7.2, so there qemu-user comes from the distribution's own backports suite.
minimum_qemu_version="1:8.0"
# shellcheck source=/dev/null
codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
qemu_version="$(installed_version qemu-user)"
qemu_release=()
if ! is_installed qemu-user || ! dpkg --compare-versions "${qemu_version}" ge "${minimum_qemu_version}"; then
  missing_packages+=(qemu-user)
  [[ "${codename}" == bookworm ]] && qemu_release=(-t bookworm-backports)
fi

as_root=()
if ((EUID != 0)) && ((${#missing_packages[@]} > 0)); then
  command -v sudo >/dev/null 2>&1 || {
    echo "install-deps: need root or sudo to install: ${missing_packages[*]}" >&2
    exit 1
  }
  as_root=(sudo)
fi

# Adds bookworm-backports on the same Debian mirror and keyring as the main suite, unless some source has it already.
# Backports are never picked by default (priority 100), only for packages named with -t bookworm-backports.
ensure_backports_source() {
  grep -rhsw -- 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/ | grep -qv '^[[:space:]]*#' &&
    return 0
  local mirror keyring
  mirror="$(awk '/^$/ { uri = ""; suites = "" } /^URIs:/ { uri = $2 } /^Suites:/ { suites = $0 }
                 uri != "" && suites ~ /[ \t]bookworm([ \t]|$)/ { print uri; exit }' \
    /etc/apt/sources.list.d/*.sources 2>/dev/null || true)"
  if [[ -z "${mirror}" ]]; then
    mirror="$(awk '$1 == "deb" && / bookworm / { for (i = 2; i <= NF; ++i) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' \
      /etc/apt/sources.list 2>/dev/null || true)"
  fi
  [[ -n "${mirror}" ]] || {
    echo "install-deps: found no Debian bookworm source to add bookworm-backports next to" >&2
    exit 1
  }
  keyring=/usr/share/keyrings/debian-archive-keyring.gpg
  echo "install-deps: adding bookworm-backports from ${mirror} (for qemu-user >= 8)"
  printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: %s\n' \
    "${mirror}" "${keyring}" |
    "${as_root[@]}" tee /etc/apt/sources.list.d/sattn-bookworm-backports.sources >/dev/null
}

apt_get() {
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q "$@"
}

if ((${#missing_packages[@]} > 0)); then
  ((${#qemu_release[@]} == 0)) || ensure_backports_source
  echo "install-deps: installing ${missing_packages[*]}"
  apt_get update
  # Everything but qemu-user from the default release; qemu-user separately, since -t applies to the whole command.
  distribution_packages=()
  for package in "${missing_packages[@]}"; do
    [[ "${package}" == qemu-user ]] || distribution_packages+=("${package}")
  done
  if ((${#distribution_packages[@]} > 0)); then
    apt_get install -y --no-install-recommends "${distribution_packages[@]}"
  fi
  if [[ " ${missing_packages[*]} " == *" qemu-user "* ]]; then
    apt_get install -y --no-install-recommends "${qemu_release[@]}" qemu-user
  fi
  qemu_version="$(installed_version qemu-user)"
  dpkg --compare-versions "${qemu_version}" ge "${minimum_qemu_version}" || {
    echo "install-deps: qemu-user ${qemu_version} is older than ${minimum_qemu_version#1:}" >&2
    exit 1
  }
fi

# What the Python tests need in the venv, from PyPI:
#   numpy pytest ........... the bindings and their tests
#   ml_dtypes .............. bfloat16 numpy arrays (the package's optional extra sattn[bf16])
#   scikit-build-core ...... the build backend of pyproject.toml: the wheel test builds with --no-build-isolation, so
#                            it needs no PyPI access of its own
python_packages=(numpy pytest ml_dtypes "scikit-build-core>=0.10")
python_modules="numpy, pytest, ml_dtypes, scikit_build_core"

venv_is_ready() {
  [[ -x "${venv_dir}/bin/python" ]] && "${venv_dir}/bin/python" -c "import ${python_modules}" >/dev/null 2>&1
}

if ! venv_is_ready; then
  # A venv whose interpreter no longer starts (e.g. its base Python was removed) is rebuilt from scratch.
  if ! "${venv_dir}/bin/python" -c '' >/dev/null 2>&1; then
    echo "install-deps: creating Python venv at ${venv_dir}"
    "${python_for_venv}" -m venv --clear "${venv_dir}"
  fi
  echo "install-deps: installing ${python_packages[*]} into ${venv_dir}"
  "${venv_dir}/bin/python" -m pip install --quiet --disable-pip-version-check "${python_packages[@]}"
  venv_is_ready || {
    echo "install-deps: ${venv_dir} still cannot import ${python_modules}" >&2
    exit 1
  }
fi
