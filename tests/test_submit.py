"""``jug submit`` without a cluster: the job scripts (``--dry-run``) for SLURM, SGE and
PBS carry the options given, walltimes are read as SLURM writes them, the workers stop
taking tasks before the limit, options come from a jugrc too, and a missing or
refusing ``sbatch`` is one clear line.  (On a real SLURM: ``test_slurm.py``.)"""
import os
import subprocess
import sys

import pytest

from jug.batchjobs import SCHEDULERS, batch_job, parse_walltime, stop_margin
from jug.records import describe_batch_job
from jugtest import jug_command, jug_env

JUGFILE = 'from jug import TaskGenerator\n\n@TaskGenerator\ndef f(x):\n    return x\n\nf(1)\n'


def _submit(tmp_path, *args, env=None):
    (tmp_path / 'jf.py').write_text(JUGFILE)
    return subprocess.run(jug_command('submit', 'jf.py', *args), cwd=tmp_path,
                          env=jug_env(**(env or {})), capture_output=True, text=True,
                          timeout=60)


def _directives(script, prefix):
    return [line[len(prefix) + 1:] for line in script.splitlines()
            if line.startswith(prefix + ' ')]


def _stop_after(script):
    """The last ``--stop-after`` of the workers' command (argparse takes the last)."""
    words = _command_line(script)
    return [words[i + 1] for i, word in enumerate(words) if word == '--stop-after'][-1]


def _command_line(script):
    [line] = [line for line in script.splitlines() if line.startswith('exec ')]
    return line.split()


def test_slurm_script_carries_every_option(tmp_path):
    run = _submit(tmp_path, '--workers', '3', '--time', '1:30:00', '--mem', '2G',
                  '--cpus-per-worker', '4', '--partition', 'short',
                  '--sbatch-arg=--oversubscribe', '--sbatch-arg=--qos=low',
                  '--keep-going', '--lease-time', '300', '--dry-run')
    assert run.returncode == 0, run.stderr
    script = run.stdout
    assert script.startswith('#!/bin/bash\n')
    assert _directives(script, '#SBATCH') == [
        '--job-name=jug-jf', '--array=1-3',
        f'--output="{tmp_path}/jf.jugdata/submit/slurm-%A_%a.out"',
        '--time=01:30:00', '--mem=2G', '--cpus-per-task=4', '--partition=short',
        '--oversubscribe', '--qos=low']
    assert f'cd {tmp_path} || exit 1' in script
    # 90 minutes: workers stop taking tasks 9 minutes (a tenth) before the limit
    assert _stop_after(script) == '4860'
    assert script.splitlines()[-2].startswith(
        '# the workers take no new task after 4860 s (--stop-after), 540 s before the time '
        'limit (the limit sends SIGTERM')
    words = _command_line(script)
    # a job step with the worker's CPUs, then this very Python and jug
    assert words[:7] == ['exec', 'srun', '--cpus-per-task=4', sys.executable, '-m', 'jug',
                         'execute']
    assert words[7:10] == ['jf.py', '--jugdir', 'jf.jugdata']
    assert '--keep-going' in words and words[words.index('--lease-time') + 1] == '300.0'
    assert not os.path.exists(tmp_path / 'jf.jugdata')  # a dry run writes nothing


def test_sge_and_pbs_scripts(tmp_path):
    sge = _submit(tmp_path, '--scheduler', 'sge', '--workers', '5', '--time', '2-00:00:00',
                  '--mem', '3G', '--cpus-per-worker', '2', '--partition', 'all.q',
                  '--scheduler-arg=-P myproject', '--dry-run')
    assert sge.returncode == 0, sge.stderr
    assert _directives(sge.stdout, '#$') == [
        '-N jug-jf', '-t 1-5', '-S /bin/bash', '-cwd', '-j y',
        f'-o {tmp_path}/jf.jugdata/submit/',
        '-l h_rt=48:00:00', '-l h_vmem=3G', '-pe smp 2', '-q all.q', '-P myproject']
    assert _stop_after(sge.stdout) == '172200'  # 10 minutes at most before
    assert _command_line(sge.stdout)[1:5] == [sys.executable, '-m', 'jug', 'execute']
    pbs = _submit(tmp_path, '--scheduler', 'PBS', '--workers', '2', '--time', '45',
                  '--mem', '8gb', '--cpus-per-worker', '2', '--partition', 'workq',
                  '--stop-before', '120', '--dry-run')
    assert pbs.returncode == 0, pbs.stderr
    assert _directives(pbs.stdout, '#PBS') == [
        '-N jug-jf', '-J 1-2', '-l select=1:ncpus=2:mem=8gb', '-j oe',
        f'-o {tmp_path}/jf.jugdata/submit/', '-l walltime=00:45:00', '-q workq']
    assert _stop_after(pbs.stdout) == '2580'  # 45 min minus --stop-before
    # one worker: no array (PBS Pro wants at least two elements)
    single = _submit(tmp_path, '--scheduler', 'pbs', '--workers', '1', '--dry-run')
    assert not any(d.startswith('-J') for d in _directives(single.stdout, '#PBS'))


def test_job_ids_of_each_scheduler():
    assert SCHEDULERS['slurm'].job_id('4242;cluster\n') == '4242'
    assert SCHEDULERS['sge'].job_id('123.1-4:1\n') == '123'  # qsub -terse
    assert SCHEDULERS['sge'].submit == ['qsub', '-terse']
    assert SCHEDULERS['pbs'].job_id('77[].server\n') == '77[].server'


def test_awkward_directories_and_names(tmp_path):
    project = tmp_path / 'my project%j'
    project.mkdir()
    (project / 'my job.py').write_text(JUGFILE)
    run = subprocess.run(jug_command('submit', 'my job.py', '--dry-run'), cwd=project,
                         env=jug_env(), capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    directives = _directives(run.stdout, '#SBATCH')
    # SLURM reads %-patterns in --output: the directory's own % is doubled
    assert f'--output="{tmp_path}/my project%%j/my job.jugdata/submit/slurm-%A_%a.out"' \
        in directives
    assert '--job-name=jug-my_job' in directives
    assert f"cd '{project}' || exit 1" in run.stdout
    # SGE and PBS cannot quote a directive's value
    sge = subprocess.run(jug_command('submit', 'my job.py', '--scheduler', 'sge', '--dry-run'),
                         cwd=project, env=jug_env(), capture_output=True, text=True,
                         timeout=60)
    assert sge.returncode == 2
    assert 'has a space, which SGE and PBS directives cannot hold' in sge.stderr


def test_options_from_a_jugrc(tmp_path):
    (tmp_path / '.jugrc').write_text('[submit]\nworkers = 7\ntime = 10\n'
                                     'sbatch_arg = --exclusive\n\n[execute]\nkeep_going = True\n')
    run = _submit(tmp_path, '--dry-run')
    assert run.returncode == 0, run.stderr
    directives = _directives(run.stdout, '#SBATCH')
    assert '--array=1-7' in directives and '--time=00:10:00' in directives
    assert '--exclusive' in directives
    assert '--keep-going' in _command_line(run.stdout)


def test_the_sooner_of_the_budget_and_a_stop_after_given(tmp_path):
    # 10 minutes: the budget is 540 s; a --stop-after of the user's that is sooner wins
    run = _submit(tmp_path, '--time', '10', '--stop-after', '100', '--dry-run')
    assert run.returncode == 0, run.stderr
    assert _stop_after(run.stdout) == '100'
    run = _submit(tmp_path, '--time', '10', '--stop-after', '1000', '--dry-run')
    assert _stop_after(run.stdout) == '540'
    # no --time: the user's passes through as it is
    run = _submit(tmp_path, '--stop-after', '1000', '--dry-run')
    assert _stop_after(run.stdout) == '1000'


def test_no_time_no_budget(tmp_path):
    run = _submit(tmp_path, '--dry-run')
    assert run.returncode == 0
    assert '--stop-after' not in run.stdout
    assert not any(d.startswith('--time') for d in _directives(run.stdout, '#SBATCH'))
    assert '--array=1-4' in _directives(run.stdout, '#SBATCH')  # the default


@pytest.mark.parametrize('args, message', [
    (['--time', 'soon'], "--time: cannot read the time 'soon'"),
    (['--workers', '0'], '--workers needs a positive whole number'),
    (['--scheduler', 'lsf'], '--scheduler must be one of slurm, sge, pbs'),
    (['--time', '10', '--stop-before', '600'], '--stop-before (600 s) must be shorter'),
    (['--stop-before', '60'], '--stop-before needs --time'),
    (['--partition', 'a\nb'], 'a directive may not hold a control character'),
    (['--jugdir', 'dict_store'], 'the workers need a store they all share'),
    (['--time', '10', '--stop-after', 'soon'], '--stop-after needs a positive number'),
])
def test_bad_options_are_one_line(tmp_path, args, message):
    run = _submit(tmp_path, *args, '--dry-run')
    assert run.returncode == 2
    assert message in run.stderr and len(run.stderr.strip().splitlines()) == 1, run.stderr


def test_a_bad_value_in_a_jugrc_is_one_line(tmp_path):
    (tmp_path / '.jugrc').write_text('[submit]\nworkers = many\n')
    run = _submit(tmp_path, '--dry-run')
    assert run.returncode == 2
    assert run.stderr.strip() == ("jug: error: jug submit: --workers needs a positive whole "
                                  "number, not 'many'")


def test_missing_jugfile(tmp_path):
    run = subprocess.run(jug_command('submit', 'nope.py', '--dry-run'), cwd=tmp_path,
                         env=jug_env(), capture_output=True, text=True, timeout=60)
    assert run.returncode == 1 and 'nope.py' in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


def test_sbatch_missing(tmp_path):
    run = _submit(tmp_path, env={'PATH': str(tmp_path / 'empty')})
    assert run.returncode == 1
    assert run.stderr.strip() == ('jug: error: jug submit: sbatch not found: this machine '
                                  'is not a slurm submit host (`jug submit --dry-run` prints '
                                  'the job script)')


def _fake_sbatch(tmp_path, script):
    """The environment of a jug whose sbatch is the shell `script`."""
    fake = tmp_path / 'bin'
    fake.mkdir()
    (fake / 'sbatch').write_text('#!/bin/sh\n' + script)
    (fake / 'sbatch').chmod(0o755)
    return {'PATH': f'{fake}{os.pathsep}{os.environ["PATH"]}'}


def test_sbatch_refusing_shows_its_message(tmp_path):
    env = _fake_sbatch(tmp_path, 'echo "sbatch: error: Batch job submission failed: Invalid '
                                 'partition name specified" >&2\nexit 1\n')
    run = _submit(tmp_path, '--partition', 'nosuch', env=env)
    assert run.returncode == 1
    assert run.stderr.strip() == (
        'jug: error: jug submit: sbatch refused the job (exit code 1): sbatch: error: '
        'Batch job submission failed: Invalid partition name specified')
    # the script it was given stays, for the user to look at
    [script] = os.listdir(tmp_path / 'jf.jugdata' / 'submit')
    assert script.endswith('.sbatch')
    assert (tmp_path / 'jf.jugdata' / 'submit' / script).stat().st_mode & 0o777 == 0o700


def test_submitted_says_how_to_watch(tmp_path):
    env = _fake_sbatch(tmp_path, 'cp "$2" "$(dirname "$2")/given"\necho "4242;cluster"\n')
    run = _submit(tmp_path, '--workers', '2', '--jugdir', 'elsewhere', env=env)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == ('Submitted job 4242: 2 workers of jug execute jf.py --jugdir '
                        'elsewhere (slurm job array).')
    assert any('jug status jf.py --jugdir elsewhere --watch' in line for line in lines)
    assert any('jug status jf.py --jugdir elsewhere --workers' in line for line in lines)
    assert any(line.split()[:3] == ['squeue', '-j', '4242'] for line in lines)
    assert any(line.split()[:2] == ['scancel', '4242'] for line in lines)
    given = (tmp_path / 'elsewhere' / 'submit' / 'given').read_text()
    assert '#SBATCH --array=1-2' in given


def test_redis_jugdir_scripts_go_to_jug_submit(tmp_path):
    run = _submit(tmp_path, '--jugdir', 'redis://127.0.0.1:1/', '--dry-run')
    assert run.returncode == 0, run.stderr
    assert f'--output="{tmp_path}/jug-submit/slurm-%A_%a.out"' in \
        _directives(run.stdout, '#SBATCH')


@pytest.mark.parametrize('text, seconds', [
    ('30', 1800), ('5:30', 330), ('1:00:00', 3600), ('2-3', 2 * 86400 + 3 * 3600),
    ('1-00:30', 86400 + 1800), ('1-01:02:03', 86400 + 3723)])
def test_walltimes_as_slurm_writes_them(text, seconds):
    assert parse_walltime(text) == seconds


@pytest.mark.parametrize('text', ['', '0', 'x', '1:2:3:4', '-5', '1h'])
def test_bad_walltimes(text):
    with pytest.raises(ValueError):
        parse_walltime(text)


def test_stop_margin_is_a_tenth_within_bounds():
    assert stop_margin(60) == 30          # at least 30 s...
    assert stop_margin(40) == 20          # ...but never more than half
    assert stop_margin(3600) == 360
    assert stop_margin(48 * 3600) == 600  # at most 10 minutes


def test_batch_job_from_the_environment():
    assert batch_job({}) is None
    slurm = batch_job({'SLURM_JOB_ID': '12', 'SLURM_ARRAY_JOB_ID': '10',
                       'SLURM_ARRAY_TASK_ID': '3', 'SLURM_STEP_ID': '0'})
    assert slurm == {'scheduler': 'slurm', 'job': '12', 'array_job': '10',
                     'array_task': '3', 'step': '0'}
    assert describe_batch_job(slurm) == 'slurm job 12 (array 10, element 3, step 0)'
    assert batch_job({'SGE_TASK_ID': '2', 'JOB_ID': '77'}) == \
        {'scheduler': 'sge', 'array_task': '2', 'job': '77'}
    assert batch_job({'SGE_TASK_ID': 'undefined', 'JOB_ID': '78'}) is None  # not an array
    assert batch_job({'PBS_JOBID': '5[1].srv', 'PBS_ARRAY_INDEX': '1'}) == \
        {'scheduler': 'pbs', 'job': '5[1].srv', 'array_task': '1'}


def test_pythonpath_only_for_a_jug_outside_site_packages(monkeypatch):
    import site

    from jug.jobs import PACKAGE_ROOT
    from jug.subcommands import submit
    assert submit._environment()['PYTHONPATH'].split(os.pathsep)[0] == PACKAGE_ROOT
    # an installed jug: putting site-packages first would shadow the standard library
    monkeypatch.setattr(submit, 'PACKAGE_ROOT', site.getsitepackages()[0])
    assert submit._environment() == {}
