#!/usr/bin/env bash
# The package as users install it: build the wheel once, then for each variant install it
# (non-editable) into a fresh venv with the locked versions, run the demo at a small size and
# serve the API to a healthy /health. Runs outside the repository so nothing of the checkout can
# leak onto the path.
#   bash .ci/wheel_check.sh            # plain install, then the [spark] extra with the Spark link
#   bash .ci/wheel_check.sh plain      # one variant only (plain | spark)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-python3.11}"
uv="${UV:-$repo/.venv/bin/uv}"
variants=("${@:-plain spark}")
read -r -a variants <<< "${variants[*]}"
work="$(mktemp -d)"
server_pid=0
# (never `kill 0`: that would signal this whole process group, CI's own shell included)
trap '[ "$server_pid" = 0 ] || kill "$server_pid" 2>/dev/null || true; rm -rf "$work"' EXIT

echo "wheel check: building the wheel"
# Build from a copy of the tracked files: building in place leaves build/ in the checkout,
# which mypy and ruff would then read as a second copy of every package.
mkdir "$work/src"
git -C "$repo" ls-files -z | tar -C "$repo" --null --no-recursion -T - -cf - | tar -xf - -C "$work/src"
"$python" -m pip wheel --quiet --no-deps "$work/src" -w "$work/dist"
wheel="$(ls "$work"/dist/c2c_link-*.whl)"

healthy() {  # healthy VENV PORT: /health answers 200 within a minute
    for _ in $(seq 1 60); do
        if "$1/bin/python" -c "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:$2/health', timeout=2).status == 200 else 1)" 2>/dev/null; then
            return 0
        fi
        sleep 1
    done
    return 1
}

check_variant() {  # check_variant NAME EXTRAS BACKEND
    local name="$1" extras="$2" backend="$3"
    local dir="$work/$name" venv="$work/$name/venv"
    mkdir -p "$dir"
    echo "wheel check [$name]: install ${wheel##*/}${extras} into a fresh venv"
    "$python" -m venv "$venv"
    # uv installs the same locked versions as pip, in seconds rather than a minute or two of
    # CI per variant; it is the one `make venv` put in the checkout's .venv (outside this
    # venv, which holds only what the wheel asks for). pip when there is none.
    if [ -x "$uv" ]; then
        "$uv" pip install --quiet --python "$venv/bin/python" -c "$repo/constraints.txt" \
            "${wheel}${extras}"
    else
        "$venv/bin/python" -m pip install --quiet --upgrade pip
        "$venv/bin/python" -m pip install --quiet -c "$repo/constraints.txt" "${wheel}${extras}"
    fi

    cd "$dir"
    export C2C_HOME="$dir/home"
    echo "wheel check [$name]: c2c --help"
    "$venv/bin/c2c" --help > /dev/null
    echo "wheel check [$name]: C2C_LINKAGE_BACKEND=$backend c2c demo --students 200 --no-serve"
    C2C_LINKAGE_BACKEND="$backend" "$venv/bin/c2c" demo --students 200 --no-serve \
        --home "$dir/demo-home" --data "$dir/demo-data" > "$dir/demo.log" 2>&1 \
        || { tail -40 "$dir/demo.log"; echo "wheel check [$name]: demo FAILED"; exit 1; }
    # The link's metadata names the backend that ran: a Spark variant that silently linked on
    # DuckDB would prove nothing.
    grep -q "mdm_crosswalk: run_id=[^,]*, backend=$backend," "$dir/demo.log" \
        || { tail -40 "$dir/demo.log"; echo "wheel check [$name]: the link did not run on $backend"; exit 1; }
    tail -3 "$dir/demo.log"

    local port
    port="$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
    echo "wheel check [$name]: c2c serve on 127.0.0.1:$port"
    C2C_HOME="$dir/demo-home" "$venv/bin/c2c" serve --host 127.0.0.1 --port "$port" > "$dir/serve.log" 2>&1 &
    server_pid=$!
    healthy "$venv" "$port" || { tail -20 "$dir/serve.log"; echo "wheel check [$name]: /health never answered"; exit 1; }
    echo "wheel check [$name]: /health answered 200"
    kill "$server_pid" && wait "$server_pid" 2>/dev/null || true
    server_pid=0
    cd "$work"
}

for variant in "${variants[@]}"; do
    case "$variant" in
        plain) check_variant plain "" duckdb ;;
        # The Spark extra needs Java 17 (.ci/run installs it when missing).
        spark) check_variant spark "[spark]" spark ;;
        *) echo "wheel check: unknown variant $variant (plain | spark)"; exit 2 ;;
    esac
done
