"""Replay many saved sessions over many volumes on a dask.distributed cluster.

    napari-limnet batch SESSION.limnet.json ... --out-dir OUT [--image-dir DIR] [--scheduler ADDRESS]
                        [--workers 2] [--csv timings.csv]

Each session file names its image (``image.path`` / ``image.name``); ``--image-dir`` looks the
file up there by name instead. Each session becomes one task (read the image, replay every
object, write ``OUT/<image stem>_labels.<ext>`` with the geometry the session ran at, see :mod:`.replay_files`). Tasks run on a
``LocalCluster`` (one thread per worker process, as torch prefers) or on an existing cluster
(``--scheduler tcp://host:8786``); progress goes to the terminal as tasks finish, and a CSV gets
one row per object: session, image, object id, rounds, seconds, voxels, worker.
"""

from __future__ import annotations

import csv
from pathlib import Path


def resolve_image(record, session_path: Path, image_dir: str | None) -> Path:
    """The image a session was recorded on: in ``image_dir`` by name, else its recorded path."""
    name = record.image.get("name") or Path(record.image.get("path", "")).name
    candidates = []
    if image_dir:
        candidates += [Path(image_dir) / Path(record.image.get("path", "")).name, Path(image_dir) / name]
    if record.image.get("path"):
        p = Path(record.image["path"])
        candidates += [p, session_path.parent / p.name]
    for c in candidates:
        if c.is_file():
            return c
    raise ValueError(f"{session_path.name}: cannot find its image ({name}); pass --image-dir")


def output_name(image_path: Path) -> str:
    """image.tif -> image_labels.tif; NIfTI for .npy images and names without a volume suffix."""
    from .io.files import split_volume_suffix

    stem, ext = split_volume_suffix(image_path.name)
    return stem + "_labels" + (ext if ext not in ("", ".npy") else ".nii.gz")


def replay_task(session_path: str, image_path: str, out_dir: str, device: str | None = None) -> dict:
    """One task: replay a session on its image and write the labels. Runs on a dask worker."""
    import socket

    try:  # the worker's address (tcp://host:port), so rows say which worker of a cluster ran them
        from distributed import get_worker

        worker = get_worker().address
    except (ImportError, ValueError):
        worker = socket.gethostname()

    from .replay_files import replay_to_file

    done = replay_to_file(session_path, image_path, out_dir, device=device, out_dir=True)
    return {"session": session_path, "image": image_path, "out": str(done.out), "objects": done.result.timings,
            "warnings": done.result.warnings, "seconds": done.seconds, "worker": worker}


def run_batch(sessions: list[str], out_dir: str, image_dir: str | None = None, scheduler: str | None = None,
              workers: int = 2, csv_path: str | None = None, device: str | None = None, log=print) -> list[dict]:
    """Replay ``sessions`` on a dask.distributed cluster; returns one result dict per session."""
    from distributed import Client, LocalCluster, as_completed

    from .session_files import SessionRecord

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    jobs = []
    for s in sessions:
        sp = Path(s)
        record = SessionRecord.load(sp)  # fail early, on this machine, with a clear message
        jobs.append((str(sp.resolve()), str(resolve_image(record, sp, image_dir).resolve())))
    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
    results = []
    try:
        log(f"batch: {len(jobs)} session(s) on {len(client.scheduler_info()['workers'])} worker(s) ({client.scheduler.address})")
        futures = {client.submit(replay_task, s, i, str(out.resolve()), device, pure=False): (s, i) for s, i in jobs}
        for n, fut in enumerate(as_completed(futures), 1):
            s, i = futures[fut]
            try:
                r = fut.result()
            except Exception as err:  # noqa: BLE001 - one bad session must not stop the batch
                r = {"session": s, "image": i, "error": f"{type(err).__name__}: {err}", "objects": []}
                log(f"[{n}/{len(jobs)}] {Path(s).name}: FAILED ({r['error']})")
            else:
                log(f"[{n}/{len(jobs)}] {Path(s).name} -> {Path(r['out']).name}: {len(r['objects'])} object(s) "
                    f"in {r['seconds']:.1f} s on {r['worker']}" + (f" ({'; '.join(r['warnings'])})" if r["warnings"] else ""))
            results.append(r)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    if csv_path:
        write_csv(results, csv_path)
        log(f"wrote {csv_path}")
    return results


def write_csv(results: list[dict], path: str) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["session", "image", "object_id", "rounds", "seconds", "voxels", "worker", "error"])
        for r in results:
            if r.get("error"):
                w.writerow([r["session"], r["image"], "", "", "", "", "", r["error"]])
            for o in r["objects"]:
                w.writerow([r["session"], r["image"], o["id"], o.get("rounds", ""), f"{o.get('seconds', 0):.3f}",
                            o.get("voxels", ""), r.get("worker", ""), "skipped" if o.get("skipped") else ""])
