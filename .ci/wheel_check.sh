#!/usr/bin/env bash
# The package as users install it: build the wheel, install it (non-editable, no extras) into a
# fresh venv with the locked versions, run the demo at a small size and serve the API to a
# healthy /health. Runs outside the repository so nothing of the checkout can leak onto the path.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-python3.11}"
work="$(mktemp -d)"
trap 'kill "${server_pid:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT

echo "wheel check: building the wheel"
# Build from a copy of the tracked files: building in place leaves build/ in the checkout,
# which mypy and ruff would then read as a second copy of every package.
mkdir "$work/src"
git -C "$repo" ls-files -z | tar -C "$repo" --null --no-recursion -T - -cf - | tar -xf - -C "$work/src"
"$python" -m pip wheel --quiet --no-deps "$work/src" -w "$work/dist"
"$python" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --upgrade pip
extras="${1:-}"   # e.g. "[spark]"
wheel="$(ls "$work"/dist/c2c_link-*.whl)"
"$work/venv/bin/python" -m pip install --quiet -c "$repo/constraints.txt" "${wheel}${extras}"

cd "$work"
export C2C_HOME="$work/home"
echo "wheel check: c2c --help"
"$work/venv/bin/c2c" --help > /dev/null
echo "wheel check: c2c demo --students 200 --no-serve"
"$work/venv/bin/c2c" demo --students 200 --no-serve --home "$work/demo-home" --data "$work/demo-data" \
    > "$work/demo.log" 2>&1 || { tail -40 "$work/demo.log"; echo "wheel check: demo FAILED"; exit 1; }
tail -3 "$work/demo.log"

port="$("$work/venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
echo "wheel check: c2c serve on 127.0.0.1:$port"
C2C_HOME="$work/demo-home" "$work/venv/bin/c2c" serve --host 127.0.0.1 --port "$port" > "$work/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 60); do
    if "$work/venv/bin/python" -c "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:$port/health', timeout=2).status == 200 else 1)" 2>/dev/null; then
        echo "wheel check: /health answered 200"
        exit 0
    fi
    sleep 1
done
tail -20 "$work/serve.log"
echo "wheel check: /health never answered"
exit 1
