#!/usr/bin/env bash
# Installs what the integration tests drive besides Python packages: Chromium with its
# driver (the HTML report's browser test) and a PostgreSQL server (the run store on
# PostgreSQL; the tests start a throwaway cluster on loopback themselves).
#
# Debian/Ubuntu only, and only as root or with passwordless sudo. Anywhere else it says
# what it could not install and exits 0: the tests that need these parts then skip, naming
# what is missing.
#
# Then scripts/install-local-llm.sh installs the local model for the real-model tests
# (llama-cpp-python, built once and cached, and the SmolLM2 GGUF); ASSAY_SKIP_LOCAL_LLM=1
# skips that step.
set -uo pipefail

system_packages() {
    need=()
    command -v chromium >/dev/null 2>&1 || need+=(chromium)
    command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
    ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
    if [ ${#need[@]} -eq 0 ]; then
        echo "test-services: chromium, chromedriver and postgresql are installed"
        return 0
    fi

    if ! command -v apt-get >/dev/null 2>&1; then
        echo "test-services: no apt-get here; not installing ${need[*]} (their tests will skip)"
        return 0
    fi
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        if sudo -n true 2>/dev/null; then
            sudo="sudo -n"
        else
            echo "test-services: not root and no passwordless sudo; not installing ${need[*]}" \
                 "(their tests will skip)"
            return 0
        fi
    fi

    echo "test-services: installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # a failed index refresh (no network) still lets an already-cached index install
    $sudo apt-get update -qq >/dev/null 2>&1 || echo "test-services: apt-get update failed"
    # postgresql's package starts a system cluster where it can; the tests use their own
    if ! $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" \
        >/tmp/test-services.log 2>&1; then
        echo "test-services: apt-get install ${need[*]} failed (see /tmp/test-services.log);" \
             "their tests will skip"
        tail -5 /tmp/test-services.log
    fi
}

system_packages
# the local LLM for tests/test_llm_real_model.py; it too never fails, and says why it skipped
bash "$(dirname "$0")/install-local-llm.sh" \
    || echo "test-services: install-local-llm.sh failed; the real-model tests will skip"
exit 0
