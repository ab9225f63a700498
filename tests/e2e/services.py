# SPDX-License-Identifier: BSD-2-Clause
"""Real services for the end-to-end tests, started on 127.0.0.1 only.

Each service gets its own throwaway keys, ports and directories; it is
stopped by PID (its own process group, then any process still carrying its
tag), never by name; its logs are kept (log_dir) and their tail goes into
every error.  Plain Python 3.11 (Debian's /usr/bin/python3), no pytest, so
benchmarks can use it too; the pytest fixtures are in service_fixtures.py.
docs/testing.md describes each service and what it costs to start.

Services: Sshd, CephRgw, Prometheus (and promtool_check_metrics), SmtpSink,
HttpReceiver (in-process), Browser (headless Chromium through Selenium).
Ports come from reserve_ports(): a lock file per port held for the
service's life, so parallel test workers (and other people's test runs on
the same machine) never pick the same one."""
import atexit
import email
import email.policy
import errno
import fcntl
import hashlib
import json
import mailbox
import os
import random
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

try:  # only present inside the SMTP sink's own interpreter (python3-aiosmtpd)
    from aiosmtpd.handlers import Mailbox as _AiosmtpdMailbox
except ImportError:
    _AiosmtpdMailbox = None

PYTHON = "/usr/bin/python3"
HERE = os.path.dirname(os.path.abspath(__file__))
TAG_VAR = "E2E_SERVICE_OWNER"
PORT_LOCK_DIR = os.environ.get("E2E_PORT_LOCK_DIR", "/tmp/dvalin-test-ports")
LOG_ROOT = os.environ.get("E2E_LOG_DIR", "/tmp/dvalin-e2e-logs")


class ServiceError(Exception):
    """A service did not start or stop; the message carries its log tail."""


# ---------------------------------------------------------------- ports

def _port_range():
    """Ports below the kernel's ephemeral range, so that no outgoing
    connection can be handed a port between our check and the bind."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            eph_lo = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        eph_lo = 32768
    if eph_lo > 21000:
        return 20000, eph_lo - 1
    return 10000, 19999  # an odd ephemeral range: bind check and retry still hold


def _bindable(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        # Servers set SO_REUSEADDR, so a TIME_WAIT left from an earlier
        # test must not make the port look taken; a listener still does.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


class Ports:
    """Ports reserved for one service until release(): an flock on
    PORT_LOCK_DIR/<port> per port, dropped by the kernel if we die."""

    def __init__(self, ports, fds):
        self.ports = ports
        self._fds = fds

    def __getitem__(self, i):
        return self.ports[i]

    def __len__(self):
        return len(self.ports)

    def release(self):
        for fd in self._fds:
            os.close(fd)
        self._fds = []


def reserve_ports(n=1, attempts=400):
    """n consecutive free loopback ports, held until .release()."""
    os.makedirs(PORT_LOCK_DIR, mode=0o1777, exist_ok=True)
    lo, hi = _port_range()
    rng = random.SystemRandom()
    for _ in range(attempts):
        start = rng.randrange(lo, hi - n + 2)
        fds = []
        for port in range(start, start + n):
            fd = os.open(os.path.join(PORT_LOCK_DIR, str(port)), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC,
                         0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                break
            fds.append(fd)
            if not _bindable(port):
                break
        else:
            return Ports(list(range(start, start + n)), fds)
        for fd in fds:
            os.close(fd)
    raise ServiceError(f"no {n} free consecutive ports in {lo}-{hi} after {attempts} tries")


# ---------------------------------------------------------------- processes

def _proc_alive(pid):
    """True for a live process; a zombie counts as gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def tagged_pids(prefix):
    """PIDs of live processes whose environment has TAG_VAR=<prefix>...
    Every service process gets such a tag, and its children inherit it."""
    want = f"{TAG_VAR}={prefix}".encode()
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == os.getpid():
            continue
        try:
            with open(f"/proc/{d}/environ", "rb") as f:
                env = f.read()
        except OSError:
            continue
        if any(e.startswith(want) for e in env.split(b"\0")) and _proc_alive(int(d)):
            found.append(int(d))
    return found


def _kill(pid, sig):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _killpg(pgid, sig):
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


class Proc:
    """One service process in its own process group, output to a log file."""

    def __init__(self, key, argv, log_path, env, cwd=None, popen=None):
        self.key = key
        self.argv = [str(a) for a in argv]
        self.log_path = log_path
        self.log_start = 0
        if popen is not None:  # started by someone else (Selenium), adopted
            self.p = popen
            return
        run = self.argv
        if threading.current_thread() is threading.main_thread() and shutil.which("setpriv"):
            # Killed with us if this process dies without its clean-up
            # (a crashed test worker): the kernel's parent-death signal.
            # It follows the forking thread, hence the main thread only.
            run = ["setpriv", "--pdeathsig", "KILL", "--", *self.argv]
        with open(log_path, "ab") as log:
            self.log_start = log.tell()  # this run's output starts here
            log.write(f"--- {time.strftime('%H:%M:%S')} {shlex.join(self.argv)}\n".encode())
            log.flush()
            self.p = subprocess.Popen(run, stdin=subprocess.DEVNULL, stdout=log,
                                      stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                      start_new_session=True)

    @property
    def pid(self):
        return self.p.pid

    def alive(self):
        return self.p.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=10):
        """sig to the process group, SIGKILL after timeout; reaped."""
        if self.p.poll() is None:
            _killpg(self.p.pid, sig)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                _killpg(self.p.pid, signal.SIGKILL)
                self.p.wait(10)
        _killpg(self.p.pid, signal.SIGKILL)  # whatever of its group is left


def tail(path, lines=40, max_bytes=64 << 10):
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - max_bytes))
            data = f.read().decode(errors="replace")
    except OSError as e:
        return f"({path}: {e.strerror})"
    return "\n".join(data.splitlines()[-lines:])


# ---------------------------------------------------------------- services

_session_dir = None
_live = []          # services started and not yet stopped
_created = 0        # services ever created in this process


def session_log_dir():
    """This process's directory of service logs (kept after the run); logs
    of runs older than a day are removed when a new one starts."""
    global _session_dir
    if _session_dir is None:
        os.makedirs(LOG_ROOT, exist_ok=True)
        cutoff = time.time() - 86400
        for d in os.listdir(LOG_ROOT):
            p = os.path.join(LOG_ROOT, d)
            try:
                if os.stat(p).st_mtime < cutoff:
                    shutil.rmtree(p, ignore_errors=True)
            except OSError:
                pass
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        _session_dir = tempfile.mkdtemp(prefix=time.strftime("%Y%m%d-%H%M%S-") + f"{worker}-",
                                        dir=LOG_ROOT)
    return _session_dir


def created_count():
    return _created


class Service:
    """Common life cycle: a state directory (removed on stop), a log
    directory (kept), processes tagged in their environment, ports held."""
    kind = "service"

    def __init__(self, name=None, state_base="/tmp"):
        global _created
        _created += 1
        self.serial = _created
        self.name = name or f"{self.kind}-{_created}"
        self.tag = f"{os.getpid()}.{_created}:{self.name}"
        self.dir = tempfile.mkdtemp(prefix=f"dvalin-{self.kind}-", dir=state_base)
        self.log_dir = os.path.join(session_log_dir(), self.name)
        os.makedirs(self.log_dir, exist_ok=True)
        self.procs = {}
        self.ports = None
        self.start_seconds = None
        self._stopped = False
        _live.append(self)

    # -- helpers for subclasses
    def env(self, **extra):
        env = {k: v for k, v in os.environ.items() if not k.startswith("DVALIN_")}
        env[TAG_VAR] = self.tag
        env.update(extra)
        return env

    def spawn(self, key, argv, env=None, cwd=None):
        if key in self.procs and self.procs[key].alive():
            raise ServiceError(f"{self.name}: {key} is already running")
        p = Proc(key, argv, os.path.join(self.log_dir, key + ".log"), env or self.env(), cwd)
        self.procs[key] = p
        return p

    def log_files(self):
        return sorted(os.path.join(self.log_dir, f) for f in os.listdir(self.log_dir))

    def log_tail(self, lines=30):
        out = []
        for path in self.log_files():
            out.append(f"----- {path}\n{tail(path, lines)}")
        return "\n".join(out) or f"(no logs in {self.log_dir})"

    def fail(self, what):
        raise ServiceError(f"{self.name}: {what}\n{self.log_tail()}")

    def wait_for(self, what, pred, timeout, watch=None, interval=0.05):
        """Poll pred() until true; fail at once, with the log tail, when a
        watched process exits, and after timeout seconds at the latest."""
        deadline = time.monotonic() + timeout
        watch = list(self.procs) if watch is None else watch
        while True:
            v = pred()
            if v:
                return v
            for key in watch:
                p = self.procs.get(key)
                if p is not None and not p.alive():
                    self.fail(f"{key} exited with status {p.p.returncode} while waiting for {what}")
            if time.monotonic() > deadline:
                self.fail(f"no {what} within {timeout} s")
            time.sleep(interval)

    def run_tool(self, argv, timeout=60, input=None, env=None, check=True):
        """A short-lived helper command (ceph, radosgw-admin, ssh-keygen),
        logged in tools.log and failing with the service's log tail."""
        argv = [str(a) for a in argv]
        t = time.monotonic()
        try:
            p = subprocess.run(argv, input=input, capture_output=True, timeout=timeout,
                               env=env or self.env())
        except subprocess.TimeoutExpired:
            self.fail(f"{shlex.join(argv)} did not finish within {timeout} s")
        with open(os.path.join(self.log_dir, "tools.log"), "ab") as log:
            log.write(f"--- {shlex.join(argv)} -> {p.returncode} in {time.monotonic() - t:.2f} s\n"
                      .encode() + p.stdout[-4000:] + p.stderr[-4000:] + b"\n")
        if check and p.returncode != 0:
            self.fail(f"{shlex.join(argv)} exited with {p.returncode}: "
                      f"{p.stderr.decode(errors='replace').strip()[-2000:]}")
        return p

    def bind_failed(self, key):
        """Did the last run of process key fail because its port was taken?"""
        p = self.procs.get(key)
        if p is None:
            return False
        try:
            with open(p.log_path, "rb") as f:
                f.seek(p.log_start)
                text = f.read(1 << 20).decode(errors="replace").lower()
        except OSError:
            return False
        return "address already in use" in text or "cannot bind" in text

    # -- life cycle
    def start(self):
        t = time.monotonic()
        try:
            self._start()
        except BaseException:
            self.stop(check=False)
            raise
        self.start_seconds = time.monotonic() - t
        return self

    def _start(self):
        raise NotImplementedError

    def pids(self):
        """Every live process of this service, children included."""
        own = [p.pid for p in self.procs.values() if p.alive()]
        return sorted(set(own) | set(tagged_pids(self.tag)))

    def memory_kib(self):
        """Proportional set size (PSS) of all its processes, in KiB."""
        total = 0
        for pid in self.pids():
            try:
                with open(f"/proc/{pid}/smaps_rollup") as f:
                    for line in f:
                        if line.startswith("Pss:"):
                            total += int(line.split()[1])
            except OSError:
                pass
        return total

    def _stop(self):
        """Subclass hook: an orderly stop before processes are signalled."""

    def stop(self, check=True):
        """Stop every process (in reverse start order), then anything that
        still carries the tag; remove the state, keep the logs.  Returns the
        PIDs that had to be killed after the orderly stop; raises (when
        check) if any process survives SIGKILL."""
        if self._stopped:
            return []
        self._stopped = True
        errors = []
        try:
            self._stop()
        except Exception as e:  # keep going: the processes must go anyway
            errors.append(f"orderly stop: {e!r}")
        for key in reversed(list(self.procs)):
            self.procs[key].stop(self.stop_signal(key))
        deadline = time.monotonic() + 3
        left = tagged_pids(self.tag)
        while left and time.monotonic() < deadline:
            time.sleep(0.05)
            left = tagged_pids(self.tag)
        for pid in left:
            _kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        alive = left
        while alive and time.monotonic() < deadline:
            time.sleep(0.05)
            alive = [p for p in alive if _proc_alive(p)]
        if self.ports is not None:
            self.ports.release()
        shutil.rmtree(self.dir, ignore_errors=True)
        if self in _live:
            _live.remove(self)
        if alive:
            errors.append(f"processes {alive} survived SIGKILL")
        if errors and check:
            raise ServiceError(f"{self.name}: " + "; ".join(errors))
        return left

    def stop_signal(self, key):
        return signal.SIGTERM

    def __enter__(self):
        return self.start() if self.start_seconds is None else self

    def __exit__(self, *exc):
        self.stop(check=exc[0] is None)

    def __repr__(self):
        return f"<{type(self).__name__} {self.name} {self.dir}>"


def live_services():
    return list(_live)


def stop_all():
    """Stop every service of this process (the atexit and session-end path)."""
    errors = []
    for s in reversed(list(_live)):
        try:
            s.stop()
        except ServiceError as e:
            errors.append(str(e))
    return errors


def leftovers():
    """Live processes tagged by any service this process started."""
    return tagged_pids(f"{os.getpid()}.")


@atexit.register
def _stop_at_exit():
    stop_all()
    for pid in leftovers():
        _kill(pid, signal.SIGKILL)


def wait_tcp(port, timeout=0.5, banner=None):
    """True when 127.0.0.1:port accepts (and sends banner, if given)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            if banner is None:
                return True
            got = b""
            while len(got) < 256 and banner not in got:
                chunk = s.recv(256)
                if not chunk:
                    break
                got += chunk
            return banner in got
    except OSError:
        return False


def http_get(url, timeout=5, headers=None):
    """(status, body bytes); (0, b'') when nothing answers."""
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except (OSError, urllib.error.URLError):
        return 0, b""


def make_cert(directory, cn="localhost"):
    """A throwaway self-signed certificate for localhost and 127.0.0.1:
    (cert path, key path)."""
    key, crt = os.path.join(directory, "tls-key.pem"), os.path.join(directory, "tls-cert.pem")
    p = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                        "-nodes", "-keyout", key, "-out", crt, "-days", "2", "-subj", f"/CN={cn}",
                        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise ServiceError(f"openssl cannot make a test certificate: {p.stderr.strip()}")
    return crt, key


def _retry_on_bind(service, key, attempts, start_once):
    """start_once(ports) until it does not fail on a taken port."""
    for i in range(attempts):
        try:
            return start_once()
        except ServiceError:
            if i + 1 == attempts or not service.bind_failed(key):
                raise
            service.procs.pop(key).stop()
            service.ports.release()
            service.ports = None


# ---------------------------------------------------------------- sshd

class SshClient:
    """A throwaway client key and the ssh_config host alias that uses it."""

    def __init__(self, alias, key, pub):
        self.alias, self.key, self.pub = alias, key, pub

    def __repr__(self):
        return f"<SshClient {self.alias}>"


class Sshd(Service):
    """OpenSSH sshd on 127.0.0.1:port with its own host key, config,
    authorized_keys and pid file.  For clients: `ssh -F sshd.config HOST`
    (any HOST goes to this sshd), or put sshd.bin_dir first on PATH (its
    `ssh` adds -F), so programs that spawn `ssh` connect without a prompt.
    remote_env: variables every remote command gets (PATH, sanitizer
    options); authorize()/add_client() write authorized_keys lines such as
    `command="...",restrict KEY` for forced-command tests."""
    kind = "sshd"
    alias = "dvalin-sshd"

    def __init__(self, remote_env=None, name=None):
        super().__init__(name)
        self.user = os.environ.get("USER") or __import__("pwd").getpwuid(os.getuid()).pw_name
        self.remote_env = dict(remote_env or {})
        self.config = os.path.join(self.dir, "ssh_config")
        self.known_hosts = os.path.join(self.dir, "known_hosts")
        self.authorized_keys = os.path.join(self.dir, "authorized_keys")
        self.bin_dir = os.path.join(self.dir, "bin")
        self.clients = {}
        self.port = None

    def _keygen(self, path, comment):
        self.run_tool(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path])
        with open(path + ".pub") as f:
            return f.read().strip()

    def _start(self):
        if os.geteuid() == 0:
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # privilege separation dir
        self.host_key = os.path.join(self.dir, "host_ed25519")
        self.host_pub = self._keygen(self.host_key, "dvalin-test-host")
        key = os.path.join(self.dir, "client_ed25519")
        self.default_client = SshClient(self.alias, key, self._keygen(key, "dvalin-test-client"))
        self.reset()
        os.makedirs(self.bin_dir)
        wrapper = os.path.join(self.bin_dir, "ssh")
        with open(wrapper, "w") as f:
            f.write(f"#!/bin/sh\nexec /usr/bin/ssh -F {shlex.quote(self.config)} \"$@\"\n")
        os.chmod(wrapper, 0o755)
        _retry_on_bind(self, "sshd", 5, self._listen)
        self._write_client_config()

    def _listen(self):
        self.ports = reserve_ports(1)
        self.port = self.ports[0]
        env = {TAG_VAR: self.tag, **self.remote_env}
        setenv = " ".join('"%s=%s"' % (k, v) for k, v in env.items())
        conf = os.path.join(self.dir, "sshd_config")
        with open(conf, "w") as f:
            f.write(f"""# throwaway sshd for one test session
ListenAddress 127.0.0.1:{self.port}
HostKey {self.host_key}
PidFile {self.dir}/sshd.pid
AuthorizedKeysFile {self.authorized_keys}
UsePAM no
StrictModes no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowUsers {self.user}
UseDNS no
PrintMotd no
PrintLastLog no
X11Forwarding no
AllowAgentForwarding no
AllowTcpForwarding no
PermitUserEnvironment no
MaxStartups 100
MaxSessions 100
Subsystem sftp internal-sftp
LogLevel VERBOSE
SetEnv {setenv}
""")
        self.spawn("sshd", ["/usr/sbin/sshd", "-D", "-e", "-f", conf])
        self.wait_for(f"SSH banner on 127.0.0.1:{self.port}",
                      lambda: wait_tcp(self.port, banner=b"SSH-2.0"), 15)

    def _write_client_config(self):
        known = f"[127.0.0.1]:{self.port},[localhost]:{self.port},{self.alias}"
        with open(self.known_hosts, "w") as f:
            f.write(f"{self.alias} {self.host_pub}\n")
        common = f"""  HostName 127.0.0.1
  Port {self.port}
  User {self.user}
  IdentitiesOnly yes
  IdentityAgent none
  HostKeyAlias {self.alias}
  UserKnownHostsFile {self.known_hosts}
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
  CheckHostIP no
  UpdateHostKeys no
  BatchMode yes
  PasswordAuthentication no
  KbdInteractiveAuthentication no
  ControlMaster no
  ControlPath none
  ConnectTimeout 10
  LogLevel ERROR
  # half the connection time of the default sntrup761 exchange
  KexAlgorithms curve25519-sha256
"""
        blocks = [f"# every host name leads to the test sshd ({known})"]
        for c in self.clients.values():
            blocks.append(f"Host {c.alias}\n  IdentityFile {c.key}\n{common}")
        neg = "".join(f" !{a}" for a in self.clients)
        blocks.append(f"Host *{neg}\n  IdentityFile {self.default_client.key}\n{common}")
        with open(self.config, "w") as f:
            f.write("\n".join(blocks))

    def key_line(self, client=None, options=None):
        """An authorized_keys line for client (default: the default key),
        with options such as 'command="dvalin serve --stdio /r",restrict'."""
        pub = (client or self.default_client).pub
        return f"{options} {pub}" if options else pub

    def authorize(self, *lines):
        """Replace authorized_keys with these lines (read per connection:
        no restart needed)."""
        with open(self.authorized_keys, "w") as f:
            f.write("".join(line + "\n" for line in lines))
        os.chmod(self.authorized_keys, 0o600)

    def add_client(self, alias, options=None, authorized=True):
        """A second client key reached as `ssh ALIAS`, with its own line
        (and options) in authorized_keys unless authorized is False."""
        if not alias.replace("-", "").replace("_", "").isalnum() or alias == self.alias:
            raise ValueError(f"bad ssh alias {alias!r}")
        key = os.path.join(self.dir, f"client_{alias}")
        # a test before this one on the same sshd may have used the alias
        # (reset() forgets clients, not their files): a new key each time
        for old in (key, key + ".pub"):
            if os.path.exists(old):
                os.unlink(old)
        c = SshClient(alias, key, self._keygen(key, f"dvalin-test-{alias}"))
        self.clients[alias] = c
        self._write_client_config()
        if authorized:
            with open(self.authorized_keys, "a") as f:
                f.write(self.key_line(c, options) + "\n")
        return c

    def reset(self):
        """Back to one authorized default key and no extra clients."""
        self.clients = {}
        self.authorize(self.key_line())
        if self.port:
            self._write_client_config()

    def argv(self, command, host=None):
        return ["/usr/bin/ssh", "-F", self.config, host or self.alias, command]

    def ssh(self, command, input=None, host=None, timeout=60):
        """Run command on the far side: CompletedProcess with bytes."""
        return subprocess.run(self.argv(command, host), input=input, capture_output=True,
                              timeout=timeout)

    def client_env(self, env=None):
        """env (default os.environ) with bin_dir first on PATH."""
        env = dict(os.environ if env is None else env)
        env["PATH"] = self.bin_dir + ":" + env.get("PATH", "/usr/bin:/bin")
        return env

    def url(self, path, host=None):
        return f"ssh://{host or self.alias}{path}"


# ---------------------------------------------------------------- Ceph RGW

def _random_key(n, alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"):
    rng = random.SystemRandom()
    return "".join(rng.choice(alphabet) for _ in range(n))


def canonical_query(params):
    """A query string as SigV4 signs it: sorted by name, every byte but
    A-Z a-z 0-9 - _ . ~ percent-encoded.  curl 7.88's --aws-sigv4 signs the
    query exactly as given, so an unsorted or differently encoded one
    (prefix=dir/) gets 403 SignatureDoesNotMatch from RGW."""
    items = params.items() if isinstance(params, dict) else params
    enc = [(urllib.parse.quote(str(k), safe="-_.~"), urllib.parse.quote(str(v), safe="-_.~"))
           for k, v in items]
    return "&".join(f"{k}={v}" for k, v in sorted(enc))


class S3Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    @property
    def text(self):
        return self.body.decode(errors="replace")

    def __repr__(self):
        return f"<S3Response {self.status} {self.body[:300]!r}>"


class CephRgw(Service):
    """One Ceph mon, one memstore OSD and one radosgw (beast) on loopback,
    cephx off, with one S3 user.  Settings from shared/notes/test-services.md:
    fast paxos, a 0.5 s objecter tick, radosgw started only once the OSD is
    active, `ms mon client mode = crc secure` for radosgw, pool size 1.
    Stopped by SIGKILL of each PID; its state is thrown away."""
    kind = "rgw"
    region = "us-east-1"

    def __init__(self, memstore_bytes=4 << 30, extra_conf=None, name=None):
        # Mon and OSD state on tmpfs when there is room: the mon fsyncs.
        base = "/dev/shm" if shutil.disk_usage("/dev/shm").free > (1 << 30) else "/tmp"
        super().__init__(name, state_base=base)
        self.memstore_bytes = memstore_bytes
        self.extra_conf = extra_conf or {}
        self.conf = os.path.join(self.dir, "ceph.conf")
        self.access_key = self.secret_key = None
        self.port = None

    def _conf_text(self):
        d, L = self.dir, self.log_dir
        mon, rgw = self.ports[0], self.ports[1]
        sections = {
            "global": {
                "fsid": self.fsid,
                "mon host": f"v2:127.0.0.1:{mon}",
                "public addr": "127.0.0.1",
                "cluster addr": "127.0.0.1",
                "ms bind msgr1": "false",
                "ms bind msgr2": "true",
                "ms bind port min": self.ports[2],
                "ms bind port max": self.ports[-1],
                "auth cluster required": "none",
                "auth service required": "none",
                "auth client required": "none",
                "osd pool default size": 1,
                "osd pool default min size": 1,
                "mon allow pool size one": "true",
                "osd pool default pg num": 8,
                "osd pool default pgp num": 8,
                "osd pool default pg autoscale mode": "off",
                "osd crush chooseleaf type": 0,
                "mon warn on pool no redundancy": "false",
                "run dir": f"{d}/run",
                "admin socket": f"{d}/run/$name.asok",
                "pid file": f"{d}/run/$name.pid",
                "log file": f"{L}/$name.log",
                "log to stderr": "false",
                "err to stderr": "true",
                "keyring": f"{d}/keyring",
                "mon data": f"{d}/mon.$id",
                "osd data": f"{d}/osd.$id",
                "osd objectstore": "memstore",
                "memstore device bytes": self.memstore_bytes,
                "objecter tick interval": 0.5,
                # A SIGKILLed radosgw leaves watches that every metadata change
                # (bucket rm, a new radosgw's start) waits out: 30 s by default.
                "osd client watch timeout": 5,
                "crash dir": f"{d}/crash",
            },
            "mon": {
                "paxos propose interval": 0.05,
                "paxos min wait": 0.01,
                "mon data avail warn": 1,
                "mon data avail crit": 0,
            },
            "client.rgw.a": {
                "ms mon client mode": "crc secure",
                "rgw frontends": f"beast endpoint=127.0.0.1:{rgw} tcp_nodelay=1",
                "rgw data": f"{d}/rgw",
                "rgw dns name": "localhost",  # virtual-host style: BUCKET.localhost
            },
        }
        for sec, kv in self.extra_conf.items():
            sections.setdefault(sec, {}).update(kv)
        out = []
        for sec, kv in sections.items():
            out.append(f"[{sec}]")
            out += [f"{k} = {v}" for k, v in kv.items()]
        return "\n".join(out) + "\n"

    def _osd_active(self):
        return "booting -> active" in tail(os.path.join(self.log_dir, "osd.0.log"), 400)

    def _start(self):
        import uuid
        self.fsid = str(uuid.uuid4())
        # mon, rgw, then 6 for the OSD's messengers (it binds 4)
        self.ports = reserve_ports(8)
        self.mon_port, self.port = self.ports[0], self.ports[1]
        for sub in ("run", "mon.a", "osd.0", "rgw", "crash"):
            os.makedirs(os.path.join(self.dir, sub))
        with open(self.conf, "w") as f:
            f.write(self._conf_text())
        c = ["-c", self.conf]
        monmap = os.path.join(self.dir, "monmap")
        self.run_tool(["monmaptool", "--create", "--add", "a", f"v2:127.0.0.1:{self.mon_port}",
                       "--fsid", self.fsid, monmap])
        self.run_tool(["ceph-authtool", "--create-keyring", os.path.join(self.dir, "keyring"),
                       "--gen-key", "-n", "mon.", "--cap", "mon", "allow *"])
        self.run_tool(["ceph-mon", *c, "--mkfs", "-i", "a", "--monmap", monmap])
        self.spawn("mon", ["ceph-mon", *c, "-f", "-i", "a"])
        osd_uuid = str(uuid.uuid4())
        osd_id = self.run_tool(["ceph", *c, "--connect-timeout", "30", "osd", "new", osd_uuid],
                               timeout=60).stdout.decode().strip()
        if osd_id != "0":
            self.fail(f"expected osd id 0, got {osd_id!r}")
        self.run_tool(["ceph-osd", *c, "-i", "0", "--mkfs", "--osd-uuid", osd_uuid])
        self.spawn("osd", ["ceph-osd", *c, "-f", "-i", "0"])
        # radosgw before the OSD is active loses a whole objecter tick
        self.wait_for("OSD active", self._osd_active, 60)
        self.start_rgw()
        self.access_key, self.secret_key = self.add_user("test")

    def start_rgw(self, timeout=60):
        """(Re)start radosgw on the same port (for fault tests)."""
        self.spawn("radosgw", ["radosgw", "-c", self.conf, "-f", "-n", "client.rgw.a"])
        self.wait_for(f"S3 answer on 127.0.0.1:{self.port}",
                      lambda: http_get(self.endpoint + "/", timeout=2)[0] != 0, timeout)

    def stop_rgw(self, sig=signal.SIGKILL):
        """Stop radosgw alone (mon and OSD keep the data)."""
        self.procs["radosgw"].stop(sig)

    def stop_signal(self, key):
        return signal.SIGKILL  # the state is thrown away; a clean stop can take minutes

    def add_user(self, uid, display=None):
        """A new S3 user: (access key, secret key).  radosgw-admin blocks
        until the pools are served, so this is the readiness wait too."""
        ak, sk = _random_key(20), _random_key(40, "abcdefghijklmnopqrstuvwxyz"
                                                  "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        self.run_tool(["radosgw-admin", "-c", self.conf, "user", "create", f"--uid={uid}",
                       f"--display-name={display or uid}", f"--access-key={ak}",
                       f"--secret-key={sk}"], timeout=120)
        return ak, sk

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    def url(self, bucket, prefix=""):
        """dvalin's repository URL for bucket/prefix on this RGW."""
        return f"s3:{self.endpoint}/{bucket}" + (f"/{prefix}" if prefix else "")

    def client_env(self, env=None, access_key=None, secret_key=None):
        env = dict(os.environ if env is None else env)
        env.update(AWS_ACCESS_KEY_ID=access_key or self.access_key,
                   AWS_SECRET_ACCESS_KEY=secret_key or self.secret_key,
                   AWS_DEFAULT_REGION=self.region)
        return env

    def s3(self, method, path, data=b"", headers=(), query="", byte_range=None, keys=None,
           timeout=60):
        """One signed S3 request through curl's --aws-sigv4 (path style);
        query a dict (canonicalized) or a string sent as it is:
        S3Response(status, headers dict (lower-case names), body bytes)."""
        ak, sk = keys or (self.access_key, self.secret_key)
        if not isinstance(query, str):
            query = canonical_query(query)
        url = self.endpoint + urllib.parse.quote(path) + (f"?{query}" if query else "")
        verb = ["-I"] if method == "HEAD" else ["-X", method, "-D", "-"]  # -X HEAD waits for a body
        argv = ["curl", "-sS", *verb, "--aws-sigv4", f"aws:amz:{self.region}:s3",
                "--user", f"{ak}:{sk}", "--max-time", str(timeout),
                # RGW rejects curl's signature without it (shared notes)
                "-H", f"x-amz-content-sha256: {hashlib.sha256(data).hexdigest()}"]
        for h in headers:
            argv += ["-H", h]
        if byte_range:
            argv += ["-r", byte_range]
        if data or method in ("PUT", "POST"):
            argv += ["--data-binary", "@-"]
        p = subprocess.run(argv + [url], input=data, capture_output=True, timeout=timeout + 10)
        if p.returncode != 0:
            raise ServiceError(f"curl {method} {url}: exit {p.returncode}: "
                               f"{p.stderr.decode(errors='replace').strip()}")
        head, _, body = p.stdout.partition(b"\r\n\r\n")
        while head.startswith(b"HTTP/1.1 100"):
            head, _, body = body.partition(b"\r\n\r\n")
        lines = head.decode(errors="replace").split("\r\n")
        status = int(lines[0].split()[1])
        hdrs = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        return S3Response(status, hdrs, body)

    def create_bucket(self, name, keys=None):
        r = self.s3("PUT", f"/{name}", keys=keys)
        if r.status != 200:
            raise ServiceError(f"cannot create bucket {name}: {r}")
        return name

    def remove_bucket(self, name):
        """Delete a bucket with everything in it (frees the OSD's memory)."""
        self.run_tool(["radosgw-admin", "-c", self.conf, "bucket", "rm", f"--bucket={name}",
                       "--purge-objects"], timeout=120, check=False)


# ---------------------------------------------------------------- Prometheus

class Prometheus(Service):
    """Prometheus on 127.0.0.1:port scraping targets ("host:port") every
    scrape_interval; query() and wait_for_series() use its HTTP API."""
    kind = "prometheus"

    def __init__(self, targets, metrics_path="/metrics", scrape_interval="1s", name=None):
        super().__init__(name)
        self.targets = list(targets)
        self.metrics_path = metrics_path
        self.scrape_interval = scrape_interval
        self.config = os.path.join(self.dir, "prometheus.yml")
        self.port = None

    def _write_config(self):
        with open(self.config, "w") as f:
            f.write(f"""global:
  scrape_interval: {self.scrape_interval}
  scrape_timeout: {self.scrape_interval}
  evaluation_interval: {self.scrape_interval}
scrape_configs:
  - job_name: dvalin-test
    metrics_path: {json.dumps(self.metrics_path)}
    static_configs:
      - targets: {json.dumps(self.targets)}
""")

    def _start(self):
        self._write_config()
        _retry_on_bind(self, "prometheus", 5, self._listen)

    def _listen(self):
        self.ports = reserve_ports(1)
        self.port = self.ports[0]
        self.spawn("prometheus", ["/usr/bin/prometheus", f"--config.file={self.config}",
                                  f"--storage.tsdb.path={self.dir}/data",
                                  f"--web.listen-address=127.0.0.1:{self.port}",
                                  "--web.enable-lifecycle", "--log.level=info"])
        self.wait_for("readiness (/-/ready)", lambda: http_get(self.url + "/-/ready")[0] == 200, 30)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def set_targets(self, targets):
        """Scrape other targets from now on (config rewritten, SIGHUP by PID)."""
        self.targets = list(targets)
        self._write_config()
        os.kill(self.procs["prometheus"].pid, signal.SIGHUP)

    def api(self, path, **params):
        status, body = http_get(f"{self.url}/api/v1/{path}?" + urllib.parse.urlencode(params))
        if status != 200:
            raise ServiceError(f"prometheus /api/v1/{path}: HTTP {status}: {body[:300]!r}")
        doc = json.loads(body)
        if doc.get("status") != "success":
            raise ServiceError(f"prometheus /api/v1/{path}: {doc}")
        return doc["data"]

    def query(self, q):
        """The result vector of an instant query."""
        return self.api("query", query=q)["result"]

    def wait_for_series(self, q, timeout=30):
        """Poll query q until it returns a series (the first scrape lands
        5-6 s after start); on timeout the error names each target's state."""
        deadline = time.monotonic() + timeout
        while True:
            res = self.query(q)
            if res:
                return res
            if not self.procs["prometheus"].alive():
                self.fail(f"prometheus exited while waiting for {q}")
            if time.monotonic() > deadline:
                targets = [(t.get("scrapeUrl"), t.get("health"), t.get("lastError"))
                           for t in self.api("targets").get("activeTargets", [])]
                self.fail(f"no series for {q!r} within {timeout} s; targets: {targets}")
            time.sleep(0.25)


def promtool_check_metrics(text):
    """(exit status, output) of `promtool check metrics` on an exposition:
    0 ok, 1 parse error, 3 lint problems."""
    p = subprocess.run(["/usr/bin/promtool", "check", "metrics"],
                       input=text.encode() if isinstance(text, str) else text,
                       capture_output=True, timeout=60)
    return p.returncode, (p.stdout + p.stderr).decode(errors="replace")


# ---------------------------------------------------------------- SMTP sink

if _AiosmtpdMailbox is not None:
    class TlsMailbox(_AiosmtpdMailbox):
        """aiosmtpd's Mailbox handler that also records whether the
        session used STARTTLS (X-Sink-TLS) for the tests to check."""

        def prepare_message(self, session, envelope):
            message = super().prepare_message(session, envelope)
            message["X-Sink-TLS"] = "yes" if session.ssl is not None else "no"
            return message


class Mail:
    """A message the sink received: envelope and parsed message."""

    def __init__(self, raw):
        self.raw = raw
        self.msg = email.message_from_bytes(raw, policy=email.policy.default)
        self.mail_from = self.msg.get("X-MailFrom", "")
        self.rcpt = [a.strip() for a in self.msg.get("X-RcptTo", "").split(",") if a.strip()]
        self.tls = self.msg.get("X-Sink-TLS") == "yes"
        self.subject = str(self.msg.get("Subject", ""))

    @property
    def text(self):
        return self.raw.decode(errors="replace")

    def body(self):
        part = self.msg.get_body(preferencelist=("plain", "html"))
        return part.get_content() if part is not None else ""

    def __repr__(self):
        return f"<Mail {self.mail_from} -> {self.rcpt} {self.subject!r}>"


class SmtpSink(Service):
    """aiosmtpd's Mailbox handler on 127.0.0.1:port writing a Maildir;
    with tls=(cert, key) it offers STARTTLS and requires it."""
    kind = "smtp"

    def __init__(self, tls=None, name=None):
        super().__init__(name)
        self.tls = tls
        self.maildir = os.path.join(self.dir, "Maildir")
        self.port = None

    def _start(self):
        _retry_on_bind(self, "aiosmtpd", 5, self._listen)

    def _listen(self):
        self.ports = reserve_ports(1)
        self.port = self.ports[0]
        argv = [PYTHON, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{self.port}"]
        if self.tls:
            argv += ["--tlscert", self.tls[0], "--tlskey", self.tls[1],
                     "-c", "services.TlsMailbox", self.maildir]
        else:
            argv += ["-c", "aiosmtpd.handlers.Mailbox", self.maildir]
        env = self.env(PYTHONPATH=HERE)
        self.spawn("aiosmtpd", argv, env=env)
        self.wait_for(f"SMTP banner on 127.0.0.1:{self.port}",
                      lambda: wait_tcp(self.port, banner=b"220 "), 15)

    @property
    def url(self):
        return f"smtp://127.0.0.1:{self.port}"

    def messages(self):
        """Every message received so far, in order of arrival."""
        try:
            md = mailbox.Maildir(self.maildir, factory=None, create=False)
            keys = list(md.keys())
        except (OSError, mailbox.Error):
            return []

        def order(k):  # <secs>.M<usecs>P<pid>Q<counter>.<host>: one process, Q counts
            try:
                return int(k.split(".")[1].split("Q")[1])
            except (IndexError, ValueError):
                return 0
        return [Mail(md.get_bytes(k)) for k in sorted(keys, key=order)]

    def wait_for_messages(self, n, timeout=15):
        deadline = time.monotonic() + timeout
        while True:
            got = self.messages()
            if len(got) >= n:
                return got
            if time.monotonic() > deadline:
                self.fail(f"{len(got)} of {n} messages within {timeout} s")
            time.sleep(0.05)

    def clear(self):
        for sub in ("new", "cur", "tmp"):
            d = os.path.join(self.maildir, sub)
            if os.path.isdir(d):
                for f in os.listdir(d):
                    os.unlink(os.path.join(d, f))


# ---------------------------------------------------------------- HTTP receiver

class Request:
    """One request an HttpReceiver got."""

    def __init__(self, method, path, headers, body):
        self.method, self.path, self.headers, self.body = method, path, headers, body

    @property
    def text(self):
        return self.body.decode(errors="replace")

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<Request {self.method} {self.path} {self.body[:200]!r}>"


class HttpReceiver:
    """An HTTP server in this process on 127.0.0.1 (port 0, the socket kept
    bound: no race) that records every request (method, path, headers,
    body) and answers from a route table (default: 200 "{}")."""

    def __init__(self):
        self.requests = []
        self._routes = []
        self._cond = threading.Condition()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _body(self):
                if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                    parts = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass  # trailers
                            return b"".join(parts)
                        parts.append(self.rfile.read(size))
                        self.rfile.readline()
                n = int(self.headers.get("Content-Length", "0") or "0")
                return self.rfile.read(n) if n > 0 else b""

            def _any(self):
                body = self._body()
                req = Request(self.command, self.path, self.headers, body)
                with outer._cond:
                    outer.requests.append(req)
                    outer._cond.notify_all()
                status, ctype, payload, extra = outer._answer(req)
                if callable(payload):
                    payload = payload(req)
                if isinstance(payload, str):
                    payload = payload.encode()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(payload)))
                for k, v in extra.items():
                    self.send_header(k, v)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _any

            def log_message(self, *a):
                pass

        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.srv.daemon_threads = True
        self.port = self.srv.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self._thread.start()

    def route(self, prefix, status=200, body="{}", content_type="application/json",
              method=None, headers=None):
        """Answer requests whose path starts with prefix (longest prefix
        wins; method None = any); body may be a function of the Request."""
        self._routes.append((prefix, method, status, content_type, body, headers or {}))
        self._routes.sort(key=lambda r: -len(r[0]))

    def _answer(self, req):
        path = req.path.split("?")[0]
        for prefix, method, status, ctype, body, extra in self._routes:
            if path.startswith(prefix) and (method is None or method == req.method):
                return status, ctype, body, extra
        return 200, "application/json", "{}", {}

    def wait_for(self, n, timeout=15):
        """The first n requests, waiting up to timeout seconds for them."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.requests) >= n, timeout):
                raise ServiceError(f"HTTP receiver {self.url}: {len(self.requests)} of {n} "
                                   f"requests within {timeout} s: {self.requests}")
            return list(self.requests[:n])

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()
        self._thread.join(10)


# ---------------------------------------------------------------- Chromium

CHROME_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--no-first-run", "--no-default-browser-check", "--disable-extensions",
               "--password-store=basic", "--window-size=1280,900"]


class Browser(Service):
    """Headless Chromium driven by chromedriver through Selenium, with a
    fresh user-data-dir; .driver is the WebDriver."""
    kind = "chromium"

    def __init__(self, name=None, extra_args=()):
        super().__init__(name)
        self.extra_args = list(extra_args)
        self.driver = None

    def _start(self):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service as DriverService
        self.ports = reserve_ports(1)
        opts = webdriver.ChromeOptions()
        opts.binary_location = "/usr/bin/chromium"
        for a in CHROME_ARGS + self.extra_args + [f"--user-data-dir={self.dir}/profile"]:
            opts.add_argument(a)
        log = os.path.join(self.log_dir, "chromedriver.log")
        svc = DriverService(executable_path="/usr/bin/chromedriver", port=self.ports[0],
                            log_path=log, env=self.env(HOME=self.dir),
                            popen_kw={"start_new_session": True})
        try:
            self.driver = webdriver.Chrome(service=svc, options=opts)
        finally:
            if getattr(svc, "process", None) is not None:
                self.procs["chromedriver"] = Proc("chromedriver", [svc.path], log, None,
                                                  popen=svc.process)
        if self.driver is None:
            self.fail("chromedriver did not start a browser")
        self.driver.set_page_load_timeout(30)

    def _stop(self):
        if self.driver is not None:
            d, self.driver = self.driver, None
            done = threading.Thread(target=d.quit, daemon=True)  # quit can hang on a hung browser
            done.start()
            done.join(20)

    def screenshot(self, directory, name):
        """Save the current page as directory/name.png; returns the path."""
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, name if name.endswith(".png") else name + ".png")
        if not self.driver.save_screenshot(path):
            raise ServiceError(f"screenshot {path} failed")
        return path


# ---------------------------------------------------------------- dvalin server

class DvalinServer(Service):
    """`dvalin server run` on 127.0.0.1:port over HTTPS with the certificate
    `server init` made, its data directory in the state directory (as root
    it runs as `nobody`, as it refuses root).  dvalin: the binary under test.
    add_repo()/add_token() administer it through the CLI; url(repo) and
    client_env(env, token) are what a client needs (DVALIN_TOKEN,
    DVALIN_FINGERPRINT).  kill()/restart() for fault tests; args are extra
    `server run` options; state_base="/dev/shm" puts the data on tmpfs."""
    kind = "dvalin-server"

    def __init__(self, dvalin, name=None, state_base="/tmp", args=(), no_tls=False):
        super().__init__(name, state_base=state_base)
        self.dvalin = dvalin
        self.args = [str(a) for a in args]
        self.no_tls = no_tls
        os.chmod(self.dir, 0o755)  # `nobody` must reach its data directory
        self.data = os.path.join(self.dir, "data")
        self.port = None
        self.fingerprint = None
        self.as_user = ["--user", "nobody"] if os.geteuid() == 0 else []

    def cli(self, *args, check=True, input=None, env=None):
        """`dvalin server ARGS --data DATA`: CompletedProcess (text)."""
        argv = [self.dvalin, "server", *[str(a) for a in args], "--data", self.data, *self.as_user]
        p = subprocess.run(argv, capture_output=True, text=True, input=input, env=env or self.env(),
                           timeout=120)
        with open(os.path.join(self.log_dir, "cli.log"), "a") as log:
            log.write(f"--- {shlex.join(argv)} -> {p.returncode}\n{p.stderr[-2000:]}\n")
        if check and p.returncode != 0:
            self.fail(f"{shlex.join(argv)} exited with {p.returncode}: {p.stderr.strip()[-1000:]}")
        return p

    def _start(self):
        out = self.cli("init").stdout
        self.fingerprint = [line.split()[1] for line in out.splitlines()
                            if line.startswith("fingerprint:")][0]
        _retry_on_bind(self, "server", 5, self._listen)

    def _listen(self):
        self.ports = reserve_ports(1)
        self.port = self.ports[0]
        self.run_server()

    def run_server(self):
        argv = [self.dvalin, "server", "run", "--data", self.data, "--listen", f"127.0.0.1:{self.port}",
                *self.as_user, *(["--no-tls"] if self.no_tls else []), *self.args]
        self.spawn("server", argv)
        scheme = "http" if self.no_tls else "https"
        self.wait_for(f"the server answering on {scheme}://127.0.0.1:{self.port}",
                      lambda: self._answers(), 20)

    def _answers(self):
        import ssl
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        scheme = "http" if self.no_tls else "https"
        try:
            with urllib.request.urlopen(f"{scheme}://127.0.0.1:{self.port}/", timeout=2,
                                        context=None if self.no_tls else ctx) as r:
                return r.status == 200
        except (OSError, urllib.error.URLError):
            return False

    def kill(self, sig=signal.SIGKILL):
        """The server process dies (or gets sig); the port stays reserved."""
        self.procs["server"].stop(sig)

    def restart(self):
        if "server" in self.procs and self.procs["server"].alive():
            self.kill(signal.SIGTERM)
        self.run_server()

    def add_repo(self, name, scratch=False):
        self.cli("repo", "add", name, *(["--scratch"] if scratch else []))
        return self.repo_dir(name)

    def repo_dir(self, name):
        return os.path.join(self.data, "repos", name)

    def add_token(self, name, rights, repo=None, expires=None):
        args = ["token", "add", "--name", name, "--rights", rights]
        if repo:
            args += ["--repo", repo]
        if expires:
            args += ["--expires", expires]
        return self.cli(*args).stdout.strip()

    def url(self, repo):
        return f"{'http' if self.no_tls else 'https'}://127.0.0.1:{self.port}/{repo}"

    def client_env(self, env=None, token=None):
        env = dict(os.environ if env is None else env)
        env["DVALIN_FINGERPRINT"] = self.fingerprint
        if token:
            env["DVALIN_TOKEN"] = token
        return env

    def log_text(self):
        p = self.procs.get("server")
        if not p:
            return ""
        with open(p.log_path, errors="replace") as f:
            return f.read()
