"""A real single-node SLURM cluster for the tests: the fixture ``slurm_cluster``.

Session scope.  Starts ``munged`` (as the ``munge`` user, with the key in
``/etc/munge``, created at random if missing) unless one already answers, then
``slurmctld`` and ``slurmd`` in the foreground with a ``slurm.conf`` of a temporary
directory (``SLURM_CONF``): one node named after ``hostname -s`` with this machine's
CPUs, a default partition with ``OverSubscribe=YES``, free ports, state and spool
directories in the temporary directory.  Waits until ``sinfo`` shows the node idle, and
stops every job and the three daemons (by pid) at the end.

Needs root and the Debian packages ``slurmctld slurmd slurm-client munge`` (which
``.ci/test`` installs).  Without them the tests that need the cluster are skipped,
with a message, except when ``CI=true``: there they fail.
"""
from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

from redisserver import free_port

__all__ = ['SlurmCluster', 'slurm_cluster']

PROGRAMS = ('munged', 'munge', 'slurmctld', 'slurmd', 'sbatch', 'squeue', 'sinfo', 'scancel')
SBIN = ('/usr/sbin', '/usr/bin', '/sbin')
MUNGE_KEY = '/etc/munge/munge.key'
MUNGE_SOCKET_DIR = '/run/munge'
#: Seconds to wait for the node to be idle.
START_TIMEOUT = 60.0
INSTALL_HINT = 'as root: apt-get install slurmctld slurmd slurm-client munge'

CONFIG = '''\
ClusterName=jugtest
SlurmctldHost={host}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
ReturnToService=2
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd.log
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
KillWait=10
NodeName={host} CPUs={cpus} State=UNKNOWN
PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
'''


def _find(program: str) -> str | None:
    found = shutil.which(program)
    if found:
        return found
    for directory in SBIN:
        path = os.path.join(directory, program)
        if os.access(path, os.X_OK):
            return path
    return None


class SlurmCluster:
    """The running cluster: ``env`` (with ``SLURM_CONF``), ``run(*command)``."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.host = socket.gethostname().split('.')[0]
        self.config = os.path.join(root, 'slurm.conf')
        self.env = dict(os.environ, SLURM_CONF=self.config)
        self.env['PATH'] = os.pathsep.join([self.env.get('PATH', '')] + list(SBIN))
        self.processes: list = []

    def run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(command, env=self.env, capture_output=True, text=True,
                              timeout=60, check=check)

    def start(self) -> None:
        for name in ('state', 'spool'):
            os.makedirs(os.path.join(self.root, name))
        with open(self.config, 'w') as f:
            f.write(CONFIG.format(host=self.host, root=self.root, cpus=os.cpu_count() or 1,
                                  ctld_port=free_port(), slurmd_port=free_port()))
        self._start_munge()
        for daemon in ('slurmctld', 'slurmd'):
            self._daemon([_find(daemon), '-D'], os.path.join(self.root, f'{daemon}.out'))
        self._wait_idle()

    def _daemon(self, command: list, output: str, **kwargs) -> None:
        with open(output, 'w') as out:
            self.processes.append(subprocess.Popen(command, env=self.env, stdout=out,
                                                   stderr=subprocess.STDOUT,
                                                   stdin=subprocess.DEVNULL, **kwargs))

    def _start_munge(self) -> None:
        if subprocess.run([_find('munge') or 'munge', '-n'], capture_output=True,
                          timeout=10).returncode == 0:
            return  # one runs already (the system's): leave it alone
        munge = pwd.getpwnam('munge')
        if not os.path.exists(MUNGE_KEY):
            os.makedirs(os.path.dirname(MUNGE_KEY), exist_ok=True)
            with open(MUNGE_KEY, 'wb') as f:
                f.write(os.urandom(1024))
            os.chown(MUNGE_KEY, munge.pw_uid, munge.pw_gid)
            os.chmod(MUNGE_KEY, 0o400)
        os.makedirs(MUNGE_SOCKET_DIR, exist_ok=True)
        os.chown(MUNGE_SOCKET_DIR, munge.pw_uid, munge.pw_gid)
        self._daemon([_find('munged'), '--foreground'], os.path.join(self.root, 'munged.out'),
                     user=munge.pw_uid, group=munge.pw_gid)
        deadline = time.monotonic() + 10
        while subprocess.run([_find('munge'), '-n'], capture_output=True).returncode != 0:
            if time.monotonic() > deadline:
                raise RuntimeError('munged did not start: ' + self._log('munged.out'))
            time.sleep(0.1)

    def _wait_idle(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            states = self.run('sinfo', '-h', '-o', '%T', check=False).stdout.split()
            if 'idle' in states:
                return
            if time.monotonic() > deadline or any(p.poll() is not None for p in self.processes):
                raise RuntimeError(f'the SLURM node is not idle ({states}): '
                                   + self._log('slurmctld.log') + self._log('slurmd.log'))
            time.sleep(0.2)

    def jobs(self) -> list:
        """The ids of the jobs pending or running."""
        return self.run('squeue', '-h', '-o', '%i').stdout.split()

    def wait_for_no_jobs(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while self.jobs():
            if time.monotonic() > deadline:
                raise AssertionError(f'jobs still queued after {timeout} s: {self.jobs()}')
            time.sleep(0.3)

    def _log(self, name: str) -> str:
        try:
            with open(os.path.join(self.root, name)) as f:
                return f'\n{name}:\n' + f.read()[-3000:]
        except OSError:
            return ''

    def stop(self) -> None:
        self.run('scancel', '--user', pwd.getpwuid(os.getuid()).pw_name, check=False)
        try:  # let the jobs end (their workers release their locks) before the daemons
            self.wait_for_no_jobs(timeout=30)
        except (AssertionError, subprocess.SubprocessError):
            pass
        for process in reversed(self.processes):  # slurmd, slurmctld, munged
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _missing() -> str | None:
    """Why the cluster cannot be started here (None if it can)."""
    if os.getuid() != 0:
        return 'a SLURM cluster needs root (slurmd runs as root)'
    missing = [program for program in PROGRAMS if _find(program) is None]
    if missing:
        return f'{", ".join(missing)} not installed ({INSTALL_HINT})'
    try:
        pwd.getpwnam('munge')
    except KeyError:
        return f'no munge user ({INSTALL_HINT})'
    return None


@pytest.fixture(scope='session')
def slurm_cluster():
    why = _missing()
    if why is not None:
        if os.environ.get('CI') == 'true':
            pytest.fail(f'SLURM tests cannot run: {why}; CI must run every test')
        pytest.skip(f'SLURM tests skipped: {why}')
    root = tempfile.mkdtemp(prefix='jug-slurm-')
    cluster = SlurmCluster(root)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
