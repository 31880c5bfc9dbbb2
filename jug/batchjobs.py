"""Batch schedulers (SLURM, SGE, PBS): the job scripts ``jug submit`` writes, and what a
worker knows of the batch job it runs in.

Layer 4 (runtime; ``docs/cluster.rst``), but it imports only the standard library, so
that ``jug.records`` (layer 3) may ask it which batch job runs (:func:`batch_job`).

A :class:`JobRequest` says what to run (N workers of ``jug execute`` with their
arguments) and what to ask the scheduler for (walltime, memory, CPUs, partition or
queue, extra directives); :func:`job_script` writes the script for one of
:data:`SCHEDULERS`.  The workers form one *job array*, each element running one
worker; with a walltime, each worker is told (``jug execute --stop-after``) to stop
taking new tasks :func:`stop_margin` seconds before it, and the scheduler's SIGTERM at the limit
(or at ``scancel``/``qdel``) stops a task still running cleanly: its lock is released
and its run recorded as interrupted.

:func:`batch_job` tells, in a worker, which batch job it runs in, from the
scheduler's environment variables (kept in the run records).
"""
from __future__ import annotations

import os
import re
import shlex
import time

# typing is imported only by type checkers: importing it costs start-up time
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, Mapping

__all__ = ['JobRequest', 'Scheduler', 'SCHEDULERS', 'parse_walltime', 'stop_margin',
           'job_script', 'batch_job']

#: Shortest and longest time before the walltime at which workers stop taking tasks.
MIN_STOP_MARGIN = 30
MAX_STOP_MARGIN = 600


class JobRequest:
    """One submission: `workers` workers running ``command`` (a list of words).

    Attributes
    ----------
    walltime : int or None
        Seconds each worker may run (None: the scheduler's default).
    stop_before : int or None
        Seconds before the walltime at which workers stop taking new tasks (None:
        :func:`stop_margin`).
    memory, partition : str or None
        As the scheduler writes them (``4G``; a partition or queue name).
    cpus : int or None
        CPUs of each worker.
    extra : list of str
        Directives added as they are (``--sbatch-arg``).
    """

    def __init__(self, workers: int, command: list, directory: str, output_dir: str,
                 name: str, walltime: int | None = None, stop_before: int | None = None,
                 memory: str | None = None, cpus: int | None = None,
                 partition: str | None = None, extra: list | None = None,
                 environment: Mapping[str, str] | None = None) -> None:
        self.workers = workers
        self.command = command
        self.directory = directory
        self.output_dir = output_dir
        self.name = name
        self.walltime = walltime
        self.stop_before = stop_before
        self.memory = memory
        self.cpus = cpus
        self.partition = partition
        self.extra = list(extra or [])
        self.environment = dict(environment or {})

    def budget(self) -> tuple[int, int] | None:
        """``(seconds after which a worker stops taking new tasks, seconds that leaves
        before the walltime)``, or None without a walltime."""
        if self.walltime is None:
            return None
        margin = stop_margin(self.walltime) if self.stop_before is None else self.stop_before
        budget = max(self.walltime - margin, 1)
        return budget, self.walltime - budget


class Scheduler:
    """How one batch scheduler is asked for a job array (see the module docstring).

    Attributes
    ----------
    name : str
        ``slurm``, ``sge`` or ``pbs``.
    submit : list of str
        The command that submits a script (its path is appended).
    directive : str
        The prefix of a directive line in a script.
    suffix : str
        The file name suffix of its scripts.
    watch, cancel : str
        The commands that show and stop a job (``{job}``: its id).
    at_limit : str
        What the scheduler does to a task still running at the time limit.
    """

    name = ''
    submit: list = []
    directive = ''
    suffix = ''
    watch = ''
    cancel = ''
    at_limit = ''

    def directives(self, job: JobRequest) -> list:
        """The directive lines (without prefix) asking for `job`."""
        raise NotImplementedError

    def launcher(self, job: JobRequest) -> list:
        """What runs the worker's command inside the job."""
        return []

    def job_id(self, output: str) -> str:
        """The job id in what the submit command printed."""
        return output.strip()


class _Slurm(Scheduler):
    name, submit, directive, suffix = 'slurm', ['sbatch', '--parsable'], '#SBATCH', '.sbatch'
    watch, cancel = 'squeue -j {job}', 'scancel {job}'
    at_limit = ('the limit sends SIGTERM: a running task is released and recorded as '
                'interrupted')

    def directives(self, job: JobRequest) -> list:
        output = _quoted(job.output_dir.replace('%', '%%') + '/slurm-%A_%a.out')
        return [f'--job-name={job.name}', f'--array=1-{job.workers}', f'--output={output}',
                *_requests(job, lambda t: f'--time={_slurm_time(t)}', '--mem={}'.format,
                           '--cpus-per-task={}'.format, '--partition={}'.format)]

    def launcher(self, job: JobRequest) -> list:
        # a job step; its CPUs are said again (srun of SLURM 22.05 does not inherit them)
        return ['srun'] + ([f'--cpus-per-task={job.cpus}'] if job.cpus else [])

    def job_id(self, output: str) -> str:
        return output.strip().split(';')[0]  # --parsable: "id" or "id;cluster"


class _Sge(Scheduler):
    name, submit, directive, suffix = 'sge', ['qsub', '-terse'], '#$', '.sge'
    watch, cancel = 'qstat -j {job}', 'qdel {job}'
    at_limit = ('h_rt kills it (SIGKILL): its lock goes stale and the next workers take '
                'it over')

    def directives(self, job: JobRequest) -> list:
        return [f'-N {job.name}', f'-t 1-{job.workers}', '-S /bin/bash', '-cwd', '-j y',
                f'-o {_unspaced(job.output_dir)}/',
                *_requests(job, lambda t: f'-l h_rt={_clock(t)}', '-l h_vmem={}'.format,
                           '-pe smp {}'.format, '-q {}'.format)]

    def job_id(self, output: str) -> str:
        return output.strip().split('.')[0]  # -terse: "123.1-4:1" for an array


class _Pbs(Scheduler):
    name, submit, directive, suffix = 'pbs', ['qsub'], '#PBS', '.pbs'
    watch, cancel = 'qstat -t {job}', 'qdel {job}'
    at_limit = ('the limit sends SIGTERM: a running task is released and recorded as '
                'interrupted')

    def directives(self, job: JobRequest) -> list:
        resources = f'select=1:ncpus={job.cpus or 1}' + (f':mem={job.memory}'
                                                          if job.memory else '')
        lines = [f'-N {job.name}'] + ([f'-J 1-{job.workers}'] if job.workers > 1 else [])
        return lines + [f'-l {resources}', '-j oe', f'-o {_unspaced(job.output_dir)}/',
                        *_requests(job, lambda t: f'-l walltime={_clock(t)}', None, None,
                                   '-q {}'.format)]


#: The schedulers ``jug submit --scheduler`` knows (SLURM is tested on a real one).
SCHEDULERS: dict = {scheduler.name: scheduler for scheduler in (_Slurm(), _Sge(), _Pbs())}


def _requests(job: JobRequest, walltime: Callable | None, memory: Callable | None,
              cpus: Callable | None, partition: Callable | None) -> list:
    """The directives for the resources `job` asks for, each written by the function
    given for it (None: not a directive of its own with this scheduler)."""
    asked = ((job.walltime, walltime), (job.memory, memory), (job.cpus, cpus),
             (job.partition, partition))
    return [write(value) for value, write in asked if value and write is not None]


def _quoted(text: str) -> str:
    """`text` in double quotes, as sbatch reads a directive's value."""
    return '"' + text.replace('\\', '\\\\').replace('"', '\\"') + '"'


def _unspaced(path: str) -> str:
    """`path`, which SGE's and PBS's directives cannot quote (raises ValueError)."""
    if any(character.isspace() for character in path):
        raise ValueError(f'the output directory {path!r} has a space, which SGE and PBS '
                         'directives cannot hold: submit from a directory without one')
    return path


def parse_walltime(text: str) -> int:
    """Seconds of a walltime written as SLURM does: ``MM``, ``MM:SS``, ``HH:MM:SS``,
    ``D-HH``, ``D-HH:MM`` or ``D-HH:MM:SS``.

    Raises
    ------
    ValueError
        With a message naming the accepted forms.
    """
    match = re.fullmatch(r'\s*(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?\s*', text)
    if match is None:
        raise ValueError(f'cannot read the time {text!r}: write MINUTES, MM:SS, HH:MM:SS, '
                         'D-HH, D-HH:MM or D-HH:MM:SS')
    days, first, second, third = match.groups()
    if days is not None:  # D-HH[:MM[:SS]]
        seconds = int(days) * 86400 + int(first) * 3600 + int(second or 0) * 60 \
            + int(third or 0)
    elif third is not None:  # HH:MM:SS
        seconds = int(first) * 3600 + int(second) * 60 + int(third)
    else:  # MM[:SS]
        seconds = int(first) * 60 + int(second or 0)
    if seconds <= 0:
        raise ValueError(f'the time {text!r} is not positive')
    return seconds


def stop_margin(walltime: int) -> int:
    """Seconds before the walltime at which workers stop taking new tasks: a tenth of
    it, at least :data:`MIN_STOP_MARGIN` and at most :data:`MAX_STOP_MARGIN` (and
    never more than half of it)."""
    return min(max(walltime // 10, MIN_STOP_MARGIN), MAX_STOP_MARGIN, walltime // 2)


def _clock(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    return f'{hours:02d}:{rest // 60:02d}:{rest % 60:02d}'


def _slurm_time(seconds: int) -> str:
    days, rest = divmod(seconds, 86400)
    return f'{days}-{_clock(rest)}' if days else _clock(rest)


def job_script(scheduler: Scheduler, job: JobRequest) -> str:
    """The text of the job script running `job` with `scheduler`.

    Raises
    ------
    ValueError
        For what the scheduler's directives cannot hold (a line break in a value; a
        space in SGE's and PBS's output directory).
    """
    quote = shlex.quote
    lines = ['#!/bin/bash',
             f'# Written by `jug submit` on {time.strftime("%Y-%m-%d %H:%M:%S")}: a job '
             f'array of {job.workers} jug execute worker{"s" if job.workers != 1 else ""}.']
    for line in scheduler.directives(job) + job.extra:
        if any(ord(character) < 32 for character in line):
            raise ValueError(f'a directive may not hold a control character: {line!r}')
        lines.append(f'{scheduler.directive} {line}')
    lines.append(f'cd {quote(job.directory)} || exit 1')
    for name, value in sorted(job.environment.items()):
        lines.append(f'export {name}={quote(value)}')
    budget = job.budget()
    if budget is not None:
        lines.append(f'# the workers take no new task after {budget[0]} s (--stop-after), '
                     f'{budget[1]} s before the time limit ({scheduler.at_limit})')
    words = scheduler.launcher(job) + job.command
    lines.append('exec ' + ' '.join(quote(word) for word in words))
    return '\n'.join(lines) + '\n'


def batch_job(environ: Mapping[str, str] | None = None) -> dict | None:
    """The batch job this process runs in, from the scheduler's variables (None: none).

    Usage: ``batch_job()`` → ``{'scheduler': 'slurm', 'job': '123', 'array_job': '120',
    'array_task': '3', 'step': '0'}`` (only the fields that are set)
    """
    environ = os.environ if environ is None else environ
    for scheduler, variables in _JOB_VARIABLES:
        if environ.get(variables[0][1], 'undefined') != 'undefined':  # (SGE's "no array")
            found = {field: environ[name] for field, name in variables if name in environ}
            return {'scheduler': scheduler, **found}
    return None


_JOB_VARIABLES = (
    ('slurm', (('job', 'SLURM_JOB_ID'), ('array_job', 'SLURM_ARRAY_JOB_ID'),
               ('array_task', 'SLURM_ARRAY_TASK_ID'), ('step', 'SLURM_STEP_ID'))),
    ('sge', (('array_task', 'SGE_TASK_ID'), ('job', 'JOB_ID'))),
    ('pbs', (('job', 'PBS_JOBID'), ('array_task', 'PBS_ARRAY_INDEX'))),
)
