"""``jug submit`` on a real single-node SLURM (the ``slurm_cluster`` fixture): the
workers of a job array run every task once inside job steps, a cancelled array
resubmitted finishes the work with nothing run twice at once and no lock left, and
workers given a time limit shorter than the work stop cleanly before it."""
import json
import subprocess
import time

from jug.backends.file_store import file_store
from jugtest import jug_command, jug_env

#: Each task appends "x start end pid array_task step" to log.txt (one write: atomic).
JUGFILE = '''
import os
import time
from jug import TaskGenerator

SECONDS = float(os.environ.get('TASK_SECONDS', '0.2'))
BARRIER = int(os.environ.get('BARRIER', '0'))


def wait_for_the_others():
    """Wait until BARRIER workers have started a task (so that each gets some)."""
    open(f"started-{os.environ.get('SLURM_ARRAY_TASK_ID')}", 'w').close()
    deadline = time.time() + 60
    while len([f for f in os.listdir('.') if f.startswith('started-')]) < BARRIER:
        if time.time() > deadline:
            raise RuntimeError('the other workers did not start')
        time.sleep(0.05)


@TaskGenerator
def work(x):
    if BARRIER:
        wait_for_the_others()
    start = time.time()
    time.sleep(SECONDS)
    line = (f"{x} {start} {time.time()} {os.getpid()} "
            f"{os.environ.get('SLURM_ARRAY_TASK_ID')} {os.environ.get('SLURM_STEP_ID')}\\n")
    fd = os.open('log.txt', os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.write(fd, line.encode())
    os.close(fd)
    return x


results = [work(x) for x in range(N)]
'''


def _project(tmp_path, tasks):
    (tmp_path / 'jf.py').write_text(JUGFILE.replace('N)', f'{tasks})'))


def _submit(cluster, tmp_path, *args, seconds=0.2, barrier=0):
    env = jug_env(**{k: v for k, v in cluster.env.items() if k in ('SLURM_CONF', 'PATH')},
                  TASK_SECONDS=str(seconds), BARRIER=str(barrier))
    run = subprocess.run(jug_command('submit', 'jf.py', '--sbatch-arg=--oversubscribe',
                                     '--will-cite', *args),
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    job_id = run.stdout.split()[2].rstrip(':')
    assert job_id.isdigit(), run.stdout
    return job_id


def _log(tmp_path):
    try:
        text = (tmp_path / 'log.txt').read_text()
    except FileNotFoundError:
        return []
    rows = []
    for line in text.splitlines():
        x, start, end, pid, array_task, step = line.split()
        rows.append((int(x), float(start), float(end), int(pid), array_task, step))
    return rows


def _check(tmp_path):
    return subprocess.run(jug_command('check', 'jf.py'), cwd=tmp_path, env=jug_env(),
                          capture_output=True, timeout=60).returncode


def _locks(tmp_path):
    return sorted(file_store(str(tmp_path / 'jf.jugdata')).listlocks())


def _outputs(tmp_path):
    return ''.join(path.read_text() for path in
                   sorted((tmp_path / 'jf.jugdata' / 'submit').glob('slurm-*.out')))


def _wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f'timed out waiting for {what}'
        time.sleep(0.2)


def test_three_workers_in_job_steps_run_every_task_once(slurm_cluster, tmp_path):
    tmp_path = tmp_path / 'a project%j'  # the scripts quote what SLURM would cut or expand
    tmp_path.mkdir()
    _project(tmp_path, 60)
    job_id = _submit(slurm_cluster, tmp_path, '--workers', '3', barrier=3)
    slurm_cluster.wait_for_no_jobs()
    rows = _log(tmp_path)
    assert sorted(x for x, *_ in rows) == list(range(60)), _outputs(tmp_path)
    assert _check(tmp_path) == 0
    assert {array_task for *_, array_task, _ in rows} == {'1', '2', '3'}
    assert {step for *_, step in rows} == {'0'}  # each worker is a job step (srun)
    assert len({pid for _, _, _, pid, _, _ in rows}) == 3
    # the run records say which job each task ran in
    store = file_store(str(tmp_path / 'jf.jugdata'))
    records = [store.load_record(key) for key in store.list()]
    assert {r['batch']['array_job'] for r in records} == {job_id}
    assert {r['batch']['array_task'] for r in records} == {'1', '2', '3'}
    assert all(r['batch']['scheduler'] == 'slurm' and r['batch']['step'] == '0'
               for r in records)
    assert _locks(tmp_path) == []
    assert slurm_cluster.jobs() == []


def test_cancelled_then_resubmitted_finishes_with_nothing_run_twice_at_once(
        slurm_cluster, tmp_path):
    _project(tmp_path, 30)
    job_id = _submit(slurm_cluster, tmp_path, '--workers', '3', seconds=1.0)
    _wait_for(lambda: len(_log(tmp_path)) >= 6, 90, 'six tasks done')
    slurm_cluster.run('scancel', job_id)
    slurm_cluster.wait_for_no_jobs()
    done_first = len(_log(tmp_path))
    assert done_first < 30
    # SIGTERM: the workers released their locks and recorded their runs as interrupted
    assert _locks(tmp_path) == []
    records = [json.loads(line) for path in (tmp_path / 'jf.jugdata' / 'records').glob('*.jsonl')
               for line in path.read_text().splitlines() if line.strip()]
    assert any(r['record'].get('status') == 'interrupted' for r in records), records
    _submit(slurm_cluster, tmp_path, '--workers', '3', seconds=1.0)
    slurm_cluster.wait_for_no_jobs()
    rows = _log(tmp_path)
    assert sorted({x for x, *_ in rows}) == list(range(30)), _outputs(tmp_path)
    # a task may have run again (cancelled after it logged), but never twice at once
    for x in range(30):
        runs = sorted((start, end) for y, start, end, *_ in rows if y == x)
        assert all(a[1] <= b[0] for a, b in zip(runs, runs[1:]))
    assert _check(tmp_path) == 0
    assert _locks(tmp_path) == []


def test_workers_stop_cleanly_before_the_time_limit(slurm_cluster, tmp_path):
    _project(tmp_path, 45)
    started = time.monotonic()
    # a minute's limit, tasks stop being taken 50 s before it: about 10 s of work each
    _submit(slurm_cluster, tmp_path, '--workers', '3', '--time', '1', '--stop-before', '50',
            seconds=1.0)
    slurm_cluster.wait_for_no_jobs()
    took = time.monotonic() - started
    assert took < 45, took  # stopped by themselves, well before the limit
    first = _log(tmp_path)
    assert 0 < len(first) < 45
    output = _outputs(tmp_path)
    assert output.count('jug: stopping: time limit reached') == 3, output
    assert 'CANCELLED' not in output and 'TIME LIMIT' not in output, output
    assert _locks(tmp_path) == []
    assert _check(tmp_path) == 1
    _submit(slurm_cluster, tmp_path, '--workers', '3', seconds=1.0)
    slurm_cluster.wait_for_no_jobs()
    assert sorted(x for x, *_ in _log(tmp_path)) == list(range(45))
    assert _check(tmp_path) == 0


def test_sbatch_refusing_a_job_is_one_line(slurm_cluster, tmp_path):
    _project(tmp_path, 3)
    env = jug_env(**{k: v for k, v in slurm_cluster.env.items() if k in ('SLURM_CONF', 'PATH')})
    run = subprocess.run(jug_command('submit', 'jf.py', '--partition', 'nosuch'),
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    [line] = run.stderr.strip().splitlines()
    assert line.startswith('jug: error: jug submit: sbatch refused the job (exit code 1): ')
    assert 'invalid partition' in line.lower(), line
