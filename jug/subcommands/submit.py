"""``jug submit``: start ``jug execute`` workers as a job array of a batch scheduler.

Layer 5 (docs/cluster.rst).  Builds a :class:`jug.batchjobs.JobRequest` from the
options (``[submit]`` in a jugrc too), writes the job script into
``<jugdir>/submit/`` (``jug-submit/`` when the store is not a directory), submits it
(``sbatch``; ``qsub`` for SGE and PBS) and says how to watch the workers; with
``--dry-run``, prints the script instead.  The workers run ``jug execute`` with the
same jugfile, jugdir and execute options (``jug.jobs.execute_arguments``), with this
very Python and copy of jug.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time

from ..backends.select import is_directory, is_shared
from ..batchjobs import SCHEDULERS, JobRequest, job_script, parse_walltime
from ..errors import OptionError, SubmitError
from ..jobs import PACKAGE_ROOT, execute_arguments, python_path_with_jug
from ..jug import check_jugfile, command_line
from ..options import add_flag
from . import SubCommand
from .execute import execute as _execute_command
from .execute import stop_after

# typing is imported only by type checkers: importing it costs start-up time
TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any

    from ..optionchain import Options
    from ..batchjobs import Scheduler

#: Workers of a submission unless ``--workers`` says otherwise.
DEFAULT_WORKERS = 4


def job_request(options: Options) -> JobRequest:
    """The job `options` ask for (raises OptionError for a bad value)."""
    if not is_shared(options.jugdir):
        raise OptionError(f'jug submit: the workers need a store they all share (a '
                          f'directory or redis), not {options.jugdir!r}')
    workers = _positive_int(DEFAULT_WORKERS if options.submit_workers is None
                            else options.submit_workers, '--workers')
    cpus = None if options.submit_cpus_per_worker is None else \
        _positive_int(options.submit_cpus_per_worker, '--cpus-per-worker')
    walltime = None
    if options.submit_time is not None:
        try:
            walltime = parse_walltime(str(options.submit_time))
        except ValueError as e:
            raise OptionError(f'jug submit: --time: {e}') from None
    stop_before = None
    if options.submit_stop_before is not None:
        stop_before = _positive_int(options.submit_stop_before, '--stop-before')
        if walltime is None:
            raise OptionError('jug submit: --stop-before needs --time')
        if stop_before >= walltime:
            raise OptionError(f'jug submit: --stop-before ({stop_before} s) must be shorter '
                              f'than --time ({walltime} s)')
    job = JobRequest(
        workers=workers, command=[],
        directory=os.getcwd(), output_dir=os.path.abspath(_script_directory(options)),
        name=_job_name(options.jugfile), walltime=walltime, stop_before=stop_before,
        memory=options.submit_mem, cpus=cpus, partition=options.submit_partition,
        extra=_as_list(options.submit_sbatch_arg),
        environment=_environment())
    job.command = [sys.executable, '-m', 'jug', *execute_arguments(options, _extra(options, job))]
    return job


def _extra(options: Options, job: JobRequest) -> list:
    """What the workers' ``jug execute`` gets besides the execute options: ``--jobs``,
    and ``--stop-after`` from the walltime (or the one given, if sooner)."""
    extra = ['--jobs', str(options.execute_jobs)] if options.execute_jobs else []
    budget = job.budget()
    given = stop_after(options)
    if budget is not None:
        seconds = budget[0] if given is None else min(budget[0], given)
        extra += ['--stop-after', f'{seconds:g}']
    return extra


def _environment() -> dict:
    """What the job script exports: ``PYTHONPATH`` with this jug first, unless this
    Python finds it without (an installed jug: site-packages must not come first)."""
    import site  # lazy, as this module
    found = [*site.getsitepackages(), site.getusersitepackages()]
    if any(os.path.abspath(path) == PACKAGE_ROOT for path in found):
        return {}
    return {'PYTHONPATH': python_path_with_jug()}


def _positive_int(value: Any, option: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if number < 1:
        raise OptionError(f'jug submit: {option} needs a positive whole number, not {value!r}')
    return number


def _as_list(value: Any) -> list:
    """``--sbatch-arg`` values: a list from the command line, lines from a jugrc."""
    if value is None:
        return []
    if isinstance(value, str):
        return [line.strip() for line in value.splitlines() if line.strip()]
    return list(value)


def _job_name(jugfile: str) -> str:
    """``jug-<jugfile's name>``, in the characters every scheduler takes."""
    return 'jug-' + re.sub(r'[^A-Za-z0-9_.-]', '_', os.path.splitext(os.path.basename(jugfile))[0])


def _script_directory(options: Options) -> str:
    """Where job scripts and the workers' output go: ``<jugdir>/submit`` for a file
    store, else ``jug-submit`` in the current directory."""
    if is_directory(options.jugdir):
        return os.path.join(str(options.jugdir), 'submit')
    return 'jug-submit'


def _scheduler(options: Options) -> Scheduler:
    name = str(options.submit_scheduler).lower()
    if name not in SCHEDULERS:
        raise OptionError(f'jug submit: --scheduler must be one of {", ".join(SCHEDULERS)}, '
                          f'not {options.submit_scheduler!r}')
    return SCHEDULERS[name]


def _write_script(directory: str, scheduler: Scheduler, text: str) -> str:
    """Write the job script into `directory` (created); return its path."""
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, f'jug-{time.strftime("%Y%m%d-%H%M%S")}-{os.getpid()}'
                                   f'{scheduler.suffix}')
    # owner only: the script may name a redis URL with its password
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o700)
    with os.fdopen(fd, 'w', encoding='utf-8') as f:
        f.write(text)
    return path


def submit_script(scheduler: Scheduler, path: str) -> str:
    """Submit the job script `path`; return the job id (raises SubmitError)."""
    command = scheduler.submit + [path]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    except FileNotFoundError:
        raise SubmitError(f'jug submit: {command[0]} not found: this machine is not a '
                          f'{scheduler.name} submit host (`jug submit --dry-run` prints the '
                          'job script)') from None
    except subprocess.TimeoutExpired:
        raise SubmitError(f'jug submit: {command[0]} did not answer within 120 s (the job '
                          f'may have been submitted all the same: `{scheduler.watch.split()[0]}`'
                          ' lists your jobs)') from None
    if done.returncode != 0:
        message = (done.stderr.strip() or done.stdout.strip() or 'no message').splitlines()
        raise SubmitError(f'jug submit: {command[0]} refused the job (exit code '
                          f'{done.returncode}): {" / ".join(message)}')
    return scheduler.job_id(done.stdout)


class SubmitCommand(SubCommand):
    """Run workers as a job array of a batch scheduler (SLURM; SGE, PBS)

    submit: write a job script running N ``jug execute`` workers (one job array) with
    this jugfile, jugdir and execute options, submit it with sbatch (qsub for SGE and
    PBS), and say how to watch them.  With --time, workers stop taking new tasks
    before the limit.  --dry-run prints the script instead.
    """

    name = 'submit'
    loads_jugfile_itself = True  # (it does not load it: the workers do)

    def run(self, options: Options, *args: Any, **kwargs: Any) -> None:
        scheduler = _scheduler(options)
        job = job_request(options)
        try:
            script = job_script(scheduler, job)
        except ValueError as e:
            raise OptionError(f'jug submit: {e}') from None
        check_jugfile(options.jugfile)
        if options.submit_dry_run:
            options.print_out(script, end='')
            return
        path = _write_script(job.output_dir, scheduler, script)
        job_id = submit_script(scheduler, path)
        _say_submitted(options, scheduler, job, job_id, path)

    def parse(self, parser: argparse._ActionsContainer) -> None:
        parser.add_argument('--workers', action='store', dest='submit_workers', metavar='N',
                            help=f'How many workers (default: {DEFAULT_WORKERS})')
        parser.add_argument('--time', action='store', dest='submit_time', metavar='T',
                            help='Time limit of each worker (MINUTES, HH:MM:SS, D-HH:MM...); '
                                 'workers stop taking new tasks before it')
        parser.add_argument('--stop-before', action='store', dest='submit_stop_before',
                            metavar='SECONDS',
                            help='With --time: stop taking new tasks this long before the '
                                 'limit (default: a tenth of it, 30 s to 10 min)')
        parser.add_argument('--mem', action='store', dest='submit_mem', metavar='M',
                            help='Memory of each worker, as the scheduler writes it (4G)')
        parser.add_argument('--cpus-per-worker', action='store',
                            dest='submit_cpus_per_worker', metavar='C',
                            help='CPUs of each worker')
        parser.add_argument('--partition', action='store', dest='submit_partition',
                            metavar='P', help='Partition (SLURM) or queue (SGE, PBS)')
        parser.add_argument('--scheduler', action='store', dest='submit_scheduler',
                            metavar='NAME', help='slurm (default), sge or pbs')
        parser.add_argument('--sbatch-arg', '--scheduler-arg', action='append',
                            dest='submit_sbatch_arg', metavar='ARG',
                            help='A directive added to the job script as it is (repeat it '
                                 'for several; write --sbatch-arg=--exclusive)')
        add_flag(parser, '--dry-run', 'submit_dry_run',
                 'Print the job script; write and submit nothing')
        _execute_command.parse(parser)  # the workers' options

    def parse_defaults(self) -> dict[str, Any]:
        return {'submit_workers': None, 'submit_time': None,
                'submit_stop_before': None, 'submit_mem': None,
                'submit_cpus_per_worker': None, 'submit_partition': None,
                'submit_scheduler': 'slurm', 'submit_sbatch_arg': None,
                'submit_dry_run': False}


def _say_submitted(options: Options, scheduler: Scheduler, job: JobRequest, job_id: str,
                   path: str) -> None:
    status = command_line('status', options.jugfile, options.jugdir)
    hints = [(f'{status} --watch', 'how far they are'),
             (f'{status} --workers', 'who is running what'),
             (scheduler.watch.format(job=job_id), 'what the scheduler says'),
             (scheduler.cancel.format(job=job_id), 'stops them')]
    width = max(len(command) for command, _ in hints)
    options.print_out(f'Submitted job {job_id}: {job.workers} workers of '
                      f'{command_line("execute", options.jugfile, options.jugdir)} '
                      f'({scheduler.name} job array).')
    for command, what in hints:
        options.print_out(f'    {command:<{width}}  {what}')
    options.print_out(f'Job script: {path}; their output: {job.output_dir}/')


submit = SubmitCommand()
