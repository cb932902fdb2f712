"""Container images for tests/test_containers.py, built here from Debian packages with podman
(no registry is reachable; TOOLCHAIN.md, "Containers").

The cache: a debootstrap root file system tarred under CACHE (default /var/cache/chatserver-test,
or $CHATSERVER_CONTAINER_CACHE), and the base images in podman's own storage
(/var/lib/containers) under localhost/chatserver-test/*, tagged with a hash of their recipe.
Both live on the machine, so a later run on the same machine (a later session, or CI, which runs
on the session's machine) builds none of them again; `podman rmi` or deleting CACHE starts
over. The application image itself is always built from the working tree (podman caches its
layers too).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

CACHE = Path(os.environ.get("CHATSERVER_CONTAINER_CACHE", "/var/cache/chatserver-test"))
PODMAN = shutil.which("podman")
DEBOOTSTRAP = shutil.which("debootstrap") or (
    "/usr/sbin/debootstrap" if Path("/usr/sbin/debootstrap").exists() else None)
DEBIAN = "localhost/chatserver-test/debian:bookworm-minbase"
# The certificate authorities this machine adds to Debian's (such as an egress proxy's): the
# images' npm and pip reach the registries through the same network as the host.
HOST_CAS = Path("/usr/local/share/ca-certificates")
# Local stand-ins for the public images the deploy files name.
BASES = {
    "python": """FROM {debian}
COPY cas/ /usr/local/share/ca-certificates/
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-venv \\
    ca-certificates && rm -rf /var/lib/apt/lists/* && update-ca-certificates \\
    && ln -s /usr/bin/python3 /usr/local/bin/python
ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
""",
    "node": """FROM {debian}
COPY cas/ /usr/local/share/ca-certificates/
RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm make \\
    ca-certificates && rm -rf /var/lib/apt/lists/* && update-ca-certificates
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
""",
    # Stand-ins for the images deploy/compose.yaml names, with the parts of their entry points
    # it relies on: postgres makes its database from POSTGRES_* on an empty volume; redis
    # accepts connections from the other containers; nginx reads conf.d/.
    "postgres": """FROM {debian}
RUN apt-get update && apt-get install -y --no-install-recommends postgresql-15 \\
    && rm -rf /var/lib/apt/lists/*
COPY postgres-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
ENV PATH=/usr/lib/postgresql/15/bin:$PATH PGDATA=/var/lib/postgresql/data
ENTRYPOINT ["sh", "/usr/local/bin/docker-entrypoint.sh"]
CMD ["postgres"]
""",
    "redis": """FROM {debian}
RUN apt-get update && apt-get install -y --no-install-recommends redis-server \\
    && rm -rf /var/lib/apt/lists/*
RUN printf '#!/bin/sh\\nif [ "$1" = redis-server ]; then shift; \\
exec redis-server --protected-mode no "$@"; fi\\nexec "$@"\\n' > /entrypoint.sh
ENTRYPOINT ["sh", "/entrypoint.sh"]
CMD ["redis-server"]
""",
    "nginx": """FROM {debian}
RUN apt-get update && apt-get install -y --no-install-recommends nginx-light \\
    && rm -rf /var/lib/apt/lists/* /etc/nginx/sites-enabled/default
CMD ["nginx", "-g", "daemon off;"]
""",
}
POSTGRES_ENTRYPOINT = """#!/bin/sh
# The official image's contract, as far as compose.yaml uses it.
set -e
mkdir -p "$PGDATA" /run/postgresql
chown -R postgres:postgres "$PGDATA" /run/postgresql
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  printf '%s' "$POSTGRES_PASSWORD" > /tmp/pwfile
  chown postgres /tmp/pwfile
  runuser -u postgres -- initdb -D "$PGDATA" -U "$POSTGRES_USER" --pwfile=/tmp/pwfile \\
    --auth-host=scram-sha-256 --auth-local=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  rm /tmp/pwfile
  echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
  echo "CREATE DATABASE \\"$POSTGRES_DB\\";" | runuser -u postgres -- \\
    postgres --single -D "$PGDATA" -c listen_addresses='' postgres >/dev/null
fi
exec runuser -u postgres -- postgres -D "$PGDATA" -c listen_addresses='*'
"""


def _cas() -> list[Path]:
    return sorted(HOST_CAS.glob("*.crt")) if HOST_CAS.is_dir() else []


def base_tag(kind: str) -> str:
    """localhost/chatserver-test/KIND:HASH, the hash of what the image is built from, so a
    change to the recipe or to this machine's authorities builds a new one."""
    digest = hashlib.sha256(BASES[kind].encode())
    if kind == "postgres":
        digest.update(POSTGRES_ENTRYPOINT.encode())
    for ca in _cas():
        digest.update(ca.read_bytes())
    return f"localhost/chatserver-test/{kind}:{digest.hexdigest()[:12]}"


def why_not() -> str | None:
    """None when podman can build and run images here, else the reason."""
    if PODMAN is None or DEBOOTSTRAP is None:
        return "podman and debootstrap are not installed (apt-get install podman runc " \
               "debootstrap podman-compose)"
    if os.geteuid() != 0:
        return "building the base images with debootstrap needs root"
    probe = podman("info", check=False, timeout=60)
    if probe.returncode != 0:
        return f"podman does not work here: {probe.stderr.strip()[-300:]}"
    return None


def environment() -> dict[str, str]:
    CACHE.mkdir(parents=True, exist_ok=True)
    conf = CACHE / "containers.conf"
    # Without these a run fails in this sandbox: setrlimit is not permitted, and crun with
    # cgroup v2 is not supported (TOOLCHAIN.md).
    conf.write_text('[containers]\ndefault_ulimits = []\n'
                    '[engine]\ncgroup_manager = "cgroupfs"\nruntime = "runc"\n')
    return {**os.environ, "CONTAINERS_CONF": str(conf)}


def podman(*args: str, check: bool = True, timeout: float = 900,
           stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    assert PODMAN is not None
    done = subprocess.run([PODMAN, *args], capture_output=True, text=True, timeout=timeout,
                          env=environment(), input=stdin)
    if check and done.returncode != 0:
        raise AssertionError(f"podman {' '.join(args[:3])} failed: "
                             f"{(done.stdout + done.stderr)[-3000:]}")
    return done


def exists(image: str) -> bool:
    return podman("image", "exists", image, check=False).returncode == 0


def base_images() -> None:
    """The Debian base and the Python and Node images on it, built once per machine."""
    if not exists(DEBIAN):
        rootfs = CACHE / "bookworm-minbase.tar"
        if not rootfs.exists():
            target = CACHE / "rootfs"
            shutil.rmtree(target, ignore_errors=True)
            assert DEBOOTSTRAP is not None
            subprocess.run([DEBOOTSTRAP, "--variant=minbase", "bookworm", str(target)],
                           check=True, capture_output=True, timeout=900)
            subprocess.run(["tar", "-C", str(target), "-cf", str(rootfs), "."], check=True)
            shutil.rmtree(target, ignore_errors=True)
        podman("import", str(rootfs), DEBIAN)
    for kind, containerfile in BASES.items():
        image = base_tag(kind)
        if not exists(image):
            folder = CACHE / kind
            shutil.rmtree(folder, ignore_errors=True)
            (folder / "cas").mkdir(parents=True)
            for ca in _cas():
                shutil.copy(ca, folder / "cas" / ca.name)
            (folder / "Containerfile").write_text(containerfile.format(debian=DEBIAN))
            (folder / "postgres-entrypoint.sh").write_text(POSTGRES_ENTRYPOINT)
            podman("build", "--network", "host", "-t", image, str(folder))


def build_app(root: Path, tag: str) -> int:
    """deploy/Dockerfile built with the local bases; returns the image's size in bytes."""
    podman("build", "--network", "host", "-f", str(root / "deploy" / "Dockerfile"),
           "--ignorefile", str(root / "deploy" / "Dockerfile.dockerignore"),
           "--build-arg", f"NODE_IMAGE={base_tag('node')}",
           "--build-arg", f"PYTHON_IMAGE={base_tag('python')}",
           "-t", tag, str(root), timeout=1500)
    return int(podman("image", "inspect", "--format", "{{.Size}}", tag).stdout.strip())


def compose(folder: Path, *args: str, check: bool = True,
            timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """podman-compose in `folder` (its compose.yaml and .env), with this sandbox's settings."""
    executable = shutil.which("podman-compose")
    assert executable is not None
    done = subprocess.run([executable, *args], cwd=folder, capture_output=True, text=True,
                          timeout=timeout, env=environment())
    if check and done.returncode != 0:
        raise AssertionError(f"podman-compose {' '.join(args)} failed: "
                             f"{(done.stdout + done.stderr)[-3000:]}")
    return done
