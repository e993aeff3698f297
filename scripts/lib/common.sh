# shellcheck shell=bash
# Shared helpers for scripts/dev, scripts/test, scripts/migrate and scripts/seed.
#
# Source it from a script that has already done `set -euo pipefail` and
# `cd "$(dirname "$0")/.."` (every path below is relative to the repo root).
#
# Public functions:
#   ok / info / warn / die         one-line logging (warn/die go to stderr)
#   use_default_env                export DATABASE_URL / REDIS_URL defaults (never clobbers)
#   parse_url URL PREFIX           split a URL into PREFIX_SCHEME, _USER, _PASSWORD, _HOST, _PORT, _PATH
#   ensure_venv                    .venv + pip install when requirements changed
#   require_venv                   fail clearly when .venv is missing
#   ensure_mariadb [URL]           make MariaDB answer at URL (start/install it when local)
#   ensure_redis [URL]             make Redis answer at URL (start/install it when local)
#   ensure_database [URL]          create the database and the app user of URL when needed
#   ensure_assets                  run scripts/build-assets when present
#   ensure_node_tools DIR          npm ci in DIR (a package.json + lock) when its node_modules is
#                                  missing or older than the lock
#   start_stub NAME PORT           serve stubs/NAME.py (a local stand-in of an external API)
#                                  in the background on PORT unless it already answers
#   apt_install PKG...             apt-get update (once) + install, as root or through sudo

set -euo pipefail

MEWAYZ_DEFAULT_DATABASE_URL="mysql://mewayz:mewayz@127.0.0.1:3306/mewayz"
MEWAYZ_DEFAULT_REDIS_URL="redis://127.0.0.1:6379/0"
# Runtime files (logs, pids, the data of servers we start) live outside the checkout, so the
# local server's reloader never sees them change. The app uses the same folder (VAR_DIR).
mewayz_runtime_dir() {
  printf '%s' "${VAR_DIR:-${XDG_STATE_HOME:-$HOME/.local/state}/mewayz}"
}
MEWAYZ_LOG_DIR="$(mewayz_runtime_dir)/log"   # install logs and the logs of servers we start
MEWAYZ_RUN_DIR="$(mewayz_runtime_dir)/run"   # pid files of what we start (stubs, Redis)

# Seconds to wait for a freshly started MariaDB / Redis before giving up.
MEWAYZ_SERVICE_TIMEOUT="${MEWAYZ_SERVICE_TIMEOUT:-30}"

# ---------------------------------------------------------------------------
# Logging
# ---------------------------------------------------------------------------

ok()   { printf '✓ %s\n' "$*"; }
info() { printf '… %s\n' "$*"; }
warn() { printf '! %s\n' "$*" >&2; }
die()  { printf '✗ %s\n' "$*" >&2; exit 1; }

# run_logged NAME CMD...: run CMD with its (noisy) output in var/log/NAME.log;
# on failure show the end of that log on stderr and return CMD's status.
run_logged() {
  local name=$1 log rc=0
  shift
  mkdir -p "$MEWAYZ_LOG_DIR"
  log="$MEWAYZ_LOG_DIR/$name.log"
  "$@" >"$log" 2>&1 || rc=$?
  if ((rc != 0)); then
    warn "'$*' failed (exit $rc); last lines of $log:"
    tail -n 25 "$log" | sed 's/^/    /' >&2
  fi
  return "$rc"
}

# ---------------------------------------------------------------------------
# Environment
# ---------------------------------------------------------------------------

use_default_env() {
  export DATABASE_URL="${DATABASE_URL:-$MEWAYZ_DEFAULT_DATABASE_URL}"
  export REDIS_URL="${REDIS_URL:-$MEWAYZ_DEFAULT_REDIS_URL}"
}

# parse_url URL PREFIX
# Sets PREFIX_SCHEME PREFIX_USER PREFIX_PASSWORD PREFIX_HOST PREFIX_PORT PREFIX_PATH
# (PATH without its leading "/": the database name, or the Redis db index).
# User and password are percent-decoded; the port defaults per scheme.
parse_url() {
  local out
  out=$(python3 - "$1" "$2" <<'PY'
import shlex, sys
from urllib.parse import unquote, urlsplit

url, prefix = sys.argv[1], sys.argv[2]
default_ports = {"mysql": 3306, "mariadb": 3306, "mysql+pymysql": 3306,
                 "redis": 6379, "rediss": 6379}
try:
    u = urlsplit(url)
    port = u.port or default_ports.get(u.scheme, 0)
except ValueError as exc:
    sys.exit(f"invalid URL: {exc}")
if not u.scheme or not u.hostname:
    sys.exit("invalid URL: expected scheme://[user[:password]@]host[:port]/name")
fields = {
    "SCHEME": u.scheme,
    "USER": unquote(u.username or ""),
    "PASSWORD": unquote(u.password or ""),
    "HOST": u.hostname,
    "PORT": str(port),
    "PATH": u.path.lstrip("/"),
}
for key, value in fields.items():
    print(f"{prefix}_{key}={shlex.quote(value)}")
PY
  ) || die "Cannot parse URL '$(redact_url "$1")'"
  eval "$out"
}

# redact_url URL: the URL with its password replaced by *** (for messages and CI logs).
redact_url() {
  python3 - "$1" <<'PY'
import sys
from urllib.parse import urlsplit, urlunsplit
url = sys.argv[1]
try:
    u = urlsplit(url)
    if u.password is not None:
        netloc = u.netloc.rsplit("@", 1)
        user = netloc[0].split(":", 1)[0]
        url = urlunsplit(u._replace(netloc=f"{user}:***@{netloc[1]}"))
except ValueError:
    pass
print(url)
PY
}

# with_url_path URL NEWPATH: URL with its path (db name / Redis db index) replaced.
with_url_path() {
  python3 - "$1" "$2" <<'PY'
import sys
from urllib.parse import urlsplit, urlunsplit
print(urlunsplit(urlsplit(sys.argv[1])._replace(path="/" + sys.argv[2])))
PY
}

# is_local_host HOST: true for the loopback names we are allowed to start services for.
is_local_host() {
  case $1 in
    127.0.0.1 | localhost | ::1) return 0 ;;
    *) return 1 ;;
  esac
}

# ---------------------------------------------------------------------------
# Privileges and OS packages
# ---------------------------------------------------------------------------

# as_root CMD...: run CMD as root (directly, or through sudo when we are not root).
as_root() {
  if ((EUID == 0)); then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    # Non-interactive first (cached credentials / NOPASSWD); only prompt when
    # a terminal is there to answer, so CI never hangs on a password prompt.
    if sudo -n true 2>/dev/null; then
      sudo -n "$@"
    elif { : </dev/tty; } 2>/dev/null; then   # a terminal to type the password in
      info "sudo needed for: $*"
      sudo "$@"
    else
      warn "root needed (and sudo needs a password) for: $*"
      return 1
    fi
  else
    warn "root needed (and no sudo) for: $*"
    return 1
  fi
}

_APT_UPDATED=0
apt_install() {
  command -v apt-get >/dev/null 2>&1 ||
    { warn "apt-get not found: install $* with your package manager"; return 1; }
  info "Installing OS packages: $*"
  # Ask for sudo's password (if any) here, visibly: below, output goes to a log.
  as_root true || return 1
  if ((_APT_UPDATED == 0)); then
    run_logged apt-update as_root env DEBIAN_FRONTEND=noninteractive apt-get update || return 1
    _APT_UPDATED=1
  fi
  run_logged "apt-install" as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" || return 1
  ok "Installed $*"
}

# ---------------------------------------------------------------------------
# Python virtualenv
# ---------------------------------------------------------------------------

VENV=".venv"
VENV_PY="$VENV/bin/python"
VENV_STAMP="$VENV/.mewayz-requirements.sha256"

require_venv() {
  [[ -x $VENV_PY ]] || die "No $VENV here: run ./scripts/dev (or ./scripts/test) first to create it"
}

_requirements_hash() {
  # The interpreter version is part of the hash: a venv rebuilt on another
  # Python must reinstall even if the requirement files did not change.
  { cat requirements.txt requirements-dev.txt; "$VENV_PY" -VV; } | sha256sum | cut -d' ' -f1
}

ensure_venv() {
  local python=${PYTHON:-python3}
  command -v "$python" >/dev/null 2>&1 || die "$python not found: install Python 3.11+ (or set PYTHON=/path/to/python3.11)"
  "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
    die "$("$python" -V 2>&1) is too old: Python 3.11+ is required (set PYTHON=/path/to/python3.11)"

  # A venv whose interpreter no longer runs (Python upgraded or removed) is rebuilt.
  if [[ -d $VENV ]] && ! "$VENV_PY" -c '' >/dev/null 2>&1; then
    warn "$VENV is broken (its python does not run): recreating it"
    rm -rf "$VENV"
  fi

  if [[ ! -d $VENV ]]; then
    # Debian/Ubuntu ship venv/ensurepip in a separate package.
    if ! "$python" -c 'import ensurepip, venv' >/dev/null 2>&1; then
      apt_install python3-venv || die "Python's venv module is missing: install python3-venv"
    fi
    info "Creating virtualenv $VENV"
    if ! run_logged venv "$python" -m venv "$VENV"; then
      rm -rf "$VENV"   # don't leave a half-made venv that later runs would trust
      die "Could not create $VENV"
    fi
  fi

  local want
  want=$(_requirements_hash)
  if [[ -f $VENV_STAMP && $(<"$VENV_STAMP") == "$want" ]]; then
    ok "Python dependencies up to date ($VENV)"
    return 0
  fi
  info "Installing Python dependencies (requirements-dev.txt) into $VENV"
  PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 \
    run_logged pip-install "$VENV_PY" -m pip install -r requirements-dev.txt ||
    die "pip install failed (full log: $MEWAYZ_LOG_DIR/pip-install.log)"
  # Written only after a successful install, so a failed one is retried next run.
  printf '%s\n' "$want" >"$VENV_STAMP"
  ok "Python dependencies installed ($VENV)"
}

# ---------------------------------------------------------------------------
# Service probes
# ---------------------------------------------------------------------------

# service_answers KIND HOST PORT: true when a MariaDB (KIND=mysql) or Redis
# (KIND=redis) server answers there. Pure python3 sockets, so it needs neither
# client tools nor credentials: MariaDB greets every new connection with a
# handshake packet, and Redis replies to PING (+PONG, or -NOAUTH when it wants
# a password: still answering). rediss (TLS) is only checked for an open port.
service_answers() {
  python3 - "$1" "$2" "$3" <<'PY'
import socket, sys
kind, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
try:
    with socket.create_connection((host, port), timeout=2) as s:
        s.settimeout(2)
        if kind == "redis":
            s.sendall(b"PING\r\n")
            ok = s.recv(64)[:1] in (b"+", b"-")
        elif kind == "mysql":
            ok = len(s.recv(64)) > 4
        else:
            ok = True
except OSError:
    ok = False
sys.exit(0 if ok else 1)
PY
}

# wait_for KIND HOST PORT SECONDS: poll service_answers until it succeeds or time runs out.
wait_for() {
  local kind=$1 host=$2 port=$3 deadline=$((SECONDS + $4))
  until service_answers "$kind" "$host" "$port"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.5
  done
}

_systemd_running() { [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1; }

# ---------------------------------------------------------------------------
# MariaDB
# ---------------------------------------------------------------------------

_mariadbd_path() {
  local candidate
  for candidate in /usr/sbin/mariadbd /usr/sbin/mysqld "$(command -v mariadbd 2>/dev/null || true)"; do
    [[ -n $candidate && -x $candidate ]] && { printf '%s\n' "$candidate"; return 0; }
  done
  return 1
}

# Our own record of a MariaDB we started on a port (written by mariadbd itself): checked
# instead of "is any mariadbd running", which says nothing about the port we need.
_mariadb_pidfile() { printf '/run/mysqld/mewayz-%s.pid' "$1"; }
_mariadb_log() { printf '%s/mariadb-%s.log' "$MEWAYZ_LOG_DIR" "$1"; }
# The default port uses the system's data directory; any other port a directory of its own,
# so it can run beside a server that already owns /var/lib/mysql.
_mariadb_datadir() { if (($1 == 3306)); then printf /var/lib/mysql; else printf '/var/lib/mysql-mewayz-%s' "$1"; fi; }
_mariadb_socket() { if (($1 == 3306)); then printf /run/mysqld/mysqld.sock; else printf '/run/mysqld/mysqld-%s.sock' "$1"; fi; }

_start_mariadb() {
  local port=$1 daemon datadir socket pidfile log pid install_db
  daemon=$(_mariadbd_path) || return 1
  datadir=$(_mariadb_datadir "$port")
  socket=$(_mariadb_socket "$port")
  pidfile=$(_mariadb_pidfile "$port")
  log=$(_mariadb_log "$port")
  mkdir -p "$MEWAYZ_LOG_DIR"

  # Started by an earlier run and still alive (starting up, or busy): wait for it.
  pid=$(as_root cat "$pidfile" 2>/dev/null || true)
  if [[ $pid =~ ^[0-9]+$ ]] && as_root kill -0 "$pid" 2>/dev/null; then
    info "MariaDB for port $port (pid $pid, started by an earlier run) is not answering yet; waiting"
    return 0
  fi

  # On a laptop with systemd, let systemd own the server (default port only:
  # the unit uses the port from /etc/mysql).
  if ((port == 3306)) && _systemd_running; then
    info "Starting MariaDB (systemctl start mariadb)"
    as_root systemctl start mariadb && return 0
    warn "systemctl start mariadb failed; starting mariadbd directly"
  fi

  info "Starting MariaDB on port $port (data: $datadir, log: $log)"
  # Debian trap: mariadbd started by root needs --user=mysql and an existing
  # /run/mysqld (its socket and pid file live there; it is a tmpfs on many hosts).
  as_root mkdir -p /run/mysqld || return 1
  as_root chown mysql:mysql /run/mysqld || return 1

  if ! as_root test -d "$datadir/mysql"; then
    install_db=$(command -v mariadb-install-db || command -v mysql_install_db) ||
      { warn "mariadb-install-db not found"; return 1; }
    info "Initialising MariaDB data directory $datadir"
    run_logged mariadb-install-db as_root "$install_db" --user=mysql --datadir="$datadir" || return 1
  fi

  local args=(--user=mysql --port="$port" --datadir="$datadir" --socket="$socket" --pid-file="$pidfile")
  if command -v start-stop-daemon >/dev/null 2>&1; then
    # --pidfile: "already running" means this port's server of ours, not any mariadbd.
    # --output keeps the server's startup errors (otherwise lost with --background).
    as_root start-stop-daemon --start --oknodo --background --pidfile "$pidfile" --output "$log" \
      --exec "$daemon" -- "${args[@]}" || return 1
  else
    # shellcheck disable=SC2016  # $1, $2 are expanded by the inner sh
    as_root sh -c 'log=$1; shift; nohup "$@" >>"$log" 2>&1 &' _ "$log" "$daemon" "${args[@]}" || return 1
  fi
}

# ensure_mariadb [URL]: MariaDB answers at the URL's host:port, or we die.
ensure_mariadb() {
  local url=${1:-$DATABASE_URL}
  parse_url "$url" _MDB
  local host=$_MDB_HOST port=$_MDB_PORT
  if service_answers mysql "$host" "$port"; then
    ok "MariaDB answering at $host:$port"
    return 0
  fi
  is_local_host "$host" ||
    die "MariaDB is not answering at $host:$port ($(redact_url "$url")). It is not a local host, so nothing is started: check the server / network, or point DATABASE_URL elsewhere."

  if ! _mariadbd_path >/dev/null; then
    apt_install mariadb-server || die "Could not install mariadb-server: install it and rerun"
    # The package's post-install may already have started it.
    if wait_for mysql "$host" "$port" 5; then
      ok "MariaDB answering at $host:$port"
      return 0
    fi
  fi

  _start_mariadb "$port" || die "Could not start MariaDB on port $port (see $(_mariadb_log "$port"))"
  wait_for mysql "$host" "$port" "$MEWAYZ_SERVICE_TIMEOUT" ||
    die "MariaDB started but not answering at $host:$port after ${MEWAYZ_SERVICE_TIMEOUT}s (see $(_mariadb_log "$port"))"
  ok "MariaDB answering at $host:$port (started)"
}

# ---------------------------------------------------------------------------
# Redis
# ---------------------------------------------------------------------------

_start_redis() {
  local port=$1 password=$2 bind=(127.0.0.1) major
  if ((port == 6379)) && [[ -z $password ]] && _systemd_running; then
    info "Starting Redis (systemctl start redis-server)"
    as_root systemctl start redis-server && return 0
    warn "systemctl start redis-server failed; starting redis-server directly"
  fi
  info "Starting Redis on port $port"
  # "-::1" (bind IPv6 loopback if it exists) is only understood by Redis 7+.
  major=$(redis-server --version | sed -n 's/.* v=\([0-9]*\)\..*/\1/p')
  ((${major:-0} >= 7)) && bind+=(-::1)
  local args=(--daemonize yes --bind "${bind[@]}" --port "$port" --save "" --appendonly no
    --dir "$MEWAYZ_RUN_DIR" --logfile "$MEWAYZ_LOG_DIR/redis-$port.log"
    --pidfile "$MEWAYZ_RUN_DIR/redis-$port.pid")
  # A password in REDIS_URL must also work against the server we start.
  [[ -n $password ]] && args+=(--requirepass "$password")
  mkdir -p "$MEWAYZ_LOG_DIR" "$MEWAYZ_RUN_DIR"
  redis-server "${args[@]}"   # runs as the current user: no root needed
}

# ensure_redis [URL]: Redis answers at the URL's host:port, or we die.
ensure_redis() {
  local url=${1:-$REDIS_URL}
  parse_url "$url" _RDS
  local host=$_RDS_HOST port=$_RDS_PORT kind=redis
  [[ $_RDS_SCHEME == rediss ]] && kind=tcp
  if service_answers "$kind" "$host" "$port"; then
    ok "Redis answering at $host:$port"
    return 0
  fi
  is_local_host "$host" ||
    die "Redis is not answering at $host:$port ($(redact_url "$url")). It is not a local host, so nothing is started: check the server / network, or point REDIS_URL elsewhere."

  if ! command -v redis-server >/dev/null 2>&1; then
    apt_install redis-server || die "Could not install redis-server: install it and rerun"
    if wait_for "$kind" "$host" "$port" 5; then
      ok "Redis answering at $host:$port"
      return 0
    fi
  fi

  _start_redis "$port" "$_RDS_PASSWORD" || die "Could not start redis-server (see $MEWAYZ_LOG_DIR/redis-$port.log)"
  wait_for "$kind" "$host" "$port" "$MEWAYZ_SERVICE_TIMEOUT" ||
    die "Redis started but not answering at $host:$port after ${MEWAYZ_SERVICE_TIMEOUT}s (see $MEWAYZ_LOG_DIR/redis-$port.log)"
  ok "Redis answering at $host:$port (started)"
}

# ---------------------------------------------------------------------------
# Database and application user
# ---------------------------------------------------------------------------

# Python run by the venv interpreter (pymysql comes from requirements.txt).
#   check URL          log in with URL's credentials; make sure its database exists
#                      (creating it with those credentials if their grants allow).
#                      exit 0 ready, 3 cannot log in, 4 logged in but no database
#   sql URL LOCAL      print the admin SQL that creates the database + user of URL
#   provision ADMIN_URL URL LOCAL   run that SQL over an admin connection
# Failed connections print the server's message on stderr and exit non-zero.
IFS= read -r -d '' _DB_PY <<'PY' || true  # read returns 1 at end of input: expected
import sys
from urllib.parse import unquote, urlsplit


def parts(url):
    u = urlsplit(url)
    kwargs = dict(host=u.hostname or "127.0.0.1", port=u.port or 3306,
                  user=unquote(u.username or ""), password=unquote(u.password or ""),
                  connect_timeout=5, charset="utf8mb4", autocommit=True)
    return kwargs, u.path.lstrip("/")


def connect(url):
    import pymysql
    kwargs, _ = parts(url)
    return pymysql.connect(**kwargs)


def ident(name):
    return "`" + name.replace("`", "``") + "`"


def literal(value):
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def statements(url, local):
    kwargs, db = parts(url)
    # GRANT treats _ and % in database names as wildcards: escape them, then
    # add our own % so the grant covers every database whose name starts with
    # the app database name (mewayz, mewayz_test, mewayz_test_scratch_1, ...).
    pattern = db.replace("_", "\\_").replace("%", "\\%") + "%"
    hosts = ["localhost", "127.0.0.1", "::1"] if local == "1" else ["%"]
    user, password = literal(kwargs["user"]), literal(kwargs["password"])
    sql = [f"CREATE DATABASE IF NOT EXISTS {ident(db)} "
           "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"]
    for host in hosts:
        account = f"{user}@{literal(host)}"
        sql += [f"CREATE USER IF NOT EXISTS {account} IDENTIFIED BY {password}",
                # Resets the password when the user already existed (fixes drift).
                f"ALTER USER {account} IDENTIFIED BY {password}",
                f"GRANT ALL PRIVILEGES ON {ident(pattern)}.* TO {account}"]
    return sql


def report(exc):
    print(exc.args[-1] if exc.args else exc, file=sys.stderr)


def check(url):
    import pymysql
    _, db = parts(url)
    try:
        conn = connect(url)
    except pymysql.err.MySQLError as exc:
        report(exc)
        return 3
    with conn, conn.cursor() as cur:
        try:
            cur.execute(f"CREATE DATABASE IF NOT EXISTS {ident(db)} "
                        "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        except pymysql.err.MySQLError:
            pass  # no CREATE grant: fine as long as the database already exists
        try:
            cur.execute(f"USE {ident(db)}")
        except pymysql.err.MySQLError as exc:
            report(exc)
            return 4
    return 0


def provision(admin_url, url, local):
    import pymysql
    try:
        conn = connect(admin_url)
    except pymysql.err.MySQLError as exc:
        report(exc)
        return 3
    with conn, conn.cursor() as cur:
        for stmt in statements(url, local):
            cur.execute(stmt)
    return 0


mode, args = sys.argv[1], sys.argv[2:]
if mode == "check":
    sys.exit(check(*args))
elif mode == "sql":
    print(";\n".join(statements(*args)) + ";")
elif mode == "provision":
    sys.exit(provision(*args))
else:
    sys.exit(f"unknown mode {mode}")
PY

_db_py() { "$VENV_PY" -c "$_DB_PY" "$@"; }

_mysql_client() { command -v mariadb || command -v mysql; }

# _db_admin_provision URL LOCAL: create database + user with the first admin
# connection that works. Sets _DB_ADMIN_VIA. Returns 1 when none works.
_db_admin_provision() {
  local url=$1 local_host=$2 client
  parse_url "$url" _ADM

  # Explicit configuration first: the user told us which admin account to use.
  if [[ -n ${MYSQL_ADMIN_URL:-} ]]; then
    if _db_py provision "$MYSQL_ADMIN_URL" "$url" "$local_host" 2>>"$_DB_ERRLOG"; then
      _DB_ADMIN_VIA="MYSQL_ADMIN_URL"
      return 0
    fi
    warn "MYSQL_ADMIN_URL ($(redact_url "$MYSQL_ADMIN_URL")) did not work: $(tail -n1 "$_DB_ERRLOG")"
  fi
  [[ $local_host == 1 ]] || return 1

  # (a) root through the unix socket: how a fresh Debian/Ubuntu MariaDB lets
  #     the OS root in (TCP root logins with an empty password are refused).
  #     Only if the socket's server is the one on our port (compare @@port).
  #     A server we started on another port has its own socket (_mariadb_socket).
  local socket_port="" socket=()
  if [[ $_ADM_PORT != 3306 ]] && as_root test -S "$(_mariadb_socket "$_ADM_PORT")"; then
    socket=(--socket="$(_mariadb_socket "$_ADM_PORT")")
  fi
  if client=$(_mysql_client); then
    socket_port=$(as_root "$client" "${socket[@]}" -uroot --connect-timeout=5 -N -B -e 'SELECT @@port' 2>>"$_DB_ERRLOG") || socket_port=""
  fi
  if [[ -n $socket_port && $socket_port == "$_ADM_PORT" ]]; then
    _db_py sql "$url" "$local_host" | as_root "$client" "${socket[@]}" -uroot --batch 2>>"$_DB_ERRLOG" || return 1
    _DB_ADMIN_VIA="root via unix socket"
    return 0
  fi

  # (b) root over TCP with an empty password (common on CI images).
  if _db_py provision "mysql://root@$(_url_host "$_ADM_HOST"):$_ADM_PORT/" "$url" "$local_host" 2>>"$_DB_ERRLOG"; then
    _DB_ADMIN_VIA="root over TCP ($_ADM_HOST:$_ADM_PORT)"
    return 0
  fi
  return 1
}

# _url_host HOST: HOST as it must appear inside a URL (IPv6 in brackets).
_url_host() { if [[ $1 == *:* ]]; then printf '[%s]' "$1"; else printf '%s' "$1"; fi; }

# ensure_database [URL]: the URL's user can log in and use the URL's database.
ensure_database() {
  local url=${1:-$DATABASE_URL} rc=0 local_host=0
  require_venv
  parse_url "$url" _EDB
  local db=$_EDB_PATH user=$_EDB_USER where="$_EDB_HOST:$_EDB_PORT"
  [[ $db =~ ^[A-Za-z0-9_]{1,64}$ ]] ||
    die "Database name '$db' in $(redact_url "$url") must be 1-64 letters, digits or underscores"
  [[ -n $user ]] || die "No user in $(redact_url "$url"): expected mysql://user:password@host:port/$db"
  is_local_host "$_EDB_HOST" && local_host=1

  mkdir -p "$MEWAYZ_LOG_DIR"
  _DB_ERRLOG="$MEWAYZ_LOG_DIR/db-setup.log"
  : >"$_DB_ERRLOG"

  _db_py check "$url" 2>>"$_DB_ERRLOG" || rc=$?
  if ((rc == 0)); then
    ok "Database '$db' ready for user '$user' at $where"
    return 0
  fi
  ((rc == 3 || rc == 4)) || die "Could not check database '$db' at $where (see $_DB_ERRLOG)"

  info "Creating database '$db' / user '$user' at $where"
  _DB_ADMIN_VIA=""
  if ! _db_admin_provision "$url" "$local_host"; then
    {
      printf '✗ Cannot log in to MariaDB at %s as %s, and no admin connection worked to create it.\n' "$where" "$user"
      printf '  Login as %s said: %s (all messages: %s)\n' "$user" "$(head -n1 "$_DB_ERRLOG")" "$_DB_ERRLOG"
      printf '  Fix one of:\n'
      printf '   - set DATABASE_URL to credentials that work (mysql://user:password@host:port/dbname)\n'
      printf '   - set MYSQL_ADMIN_URL=mysql://admin:password@%s/ (an account allowed to create databases and users)\n' "$(_url_host "$_EDB_HOST"):$_EDB_PORT"
      printf '   - or run as a MariaDB admin:\n'
      _db_py sql "$url" "$local_host" | sed -e "s/IDENTIFIED BY '[^']*'/IDENTIFIED BY '<password>'/" -e 's/^/       /'
    } >&2
    exit 1
  fi

  rc=0
  _db_py check "$url" 2>>"$_DB_ERRLOG" || rc=$?
  ((rc == 0)) ||
    die "Created database '$db' and user '$user' via $_DB_ADMIN_VIA, but still cannot use it: $(tail -n1 "$_DB_ERRLOG")"
  ok "Database '$db' and user '$user' ready at $where (set up via $_DB_ADMIN_VIA)"
}

# ---------------------------------------------------------------------------
# Front-end assets
# ---------------------------------------------------------------------------

ensure_assets() {
  local builder=scripts/build-assets
  if [[ -x $builder ]]; then
    # The builder runs Tailwind through npm: bring Node.js from Debian if missing.
    local missing=()
    command -v node >/dev/null 2>&1 || missing+=(nodejs)
    command -v npm >/dev/null 2>&1 || missing+=(npm)
    if ((${#missing[@]})); then
      apt_install "${missing[@]}" || warn "Could not install ${missing[*]} (needed by $builder)"
    fi
    info "Building front-end assets ($builder)"
    "$builder" || die "$builder failed"
    ok "Front-end assets built"
  elif [[ -e $builder ]]; then
    warn "$builder exists but is not executable: skipping the asset build"
  else
    warn "$builder not found: skipping the asset build"
  fi
}

# ---------------------------------------------------------------------------
# Local stand-ins of external APIs (stubs/): Stripe, Instagram
# ---------------------------------------------------------------------------

# start_stub NAME PORT: python -m stubs.NAME on 127.0.0.1:PORT, in the background, unless
# something already answers GET /__health there. Its output: <runtime dir>/log/stub-NAME.log.
start_stub() {
  local name=$1 port=$2 log
  mkdir -p "$MEWAYZ_LOG_DIR" "$MEWAYZ_RUN_DIR"
  log="$MEWAYZ_LOG_DIR/stub-$name.log"
  if _stub_answers "$port"; then
    ok "The $name stand-in already answers on port $port"
    return 0
  fi
  info "Starting the local $name stand-in on port $port (log: $log)"
  nohup "$VENV_PY" -m "stubs.$name" --port "$port" >"$log" 2>&1 &
  echo $! >"$MEWAYZ_RUN_DIR/stub-$name.pid"
  local deadline=$((SECONDS + MEWAYZ_SERVICE_TIMEOUT))
  until _stub_answers "$port"; do
    ((SECONDS < deadline)) || die "The $name stand-in did not start; see $log"
    sleep 0.3
  done
  ok "The $name stand-in answers on http://127.0.0.1:$port"
}

_stub_answers() {
  python3 - "$1" <<'PY'
import sys, urllib.request
try:
    with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/__health", timeout=1) as r:
        sys.exit(0 if r.status == 200 else 1)
except Exception:
    sys.exit(1)
PY
}


# ensure_node_tools DIR: `npm ci` in DIR when node_modules is missing or older than the lock.
ensure_node_tools() {
  local dir=$1 stamp="$1/node_modules/.package-lock.json"
  [[ -f $dir/package.json ]] || return 0
  if [[ -f $stamp && ! ( -f $dir/package-lock.json && $dir/package-lock.json -nt $stamp ) ]]; then
    ok "Node tools up to date ($dir)"
    return 0
  fi
  command -v npm >/dev/null 2>&1 || apt_install nodejs npm || { warn "npm missing: $dir not installed"; return 0; }
  info "Installing Node tools ($dir: npm ci)"
  run_logged "npm-$(basename "$dir")" npm --prefix "$dir" ci --no-audit --no-fund --loglevel=error ||
    die "npm ci failed in $dir (log: $MEWAYZ_LOG_DIR/npm-$(basename "$dir").log)"
  touch "$stamp"
  ok "Node tools installed ($dir)"
}
