#!/usr/bin/env python3
"""Fetch, start and stop the local Kafka (KRaft) broker and Elasticsearch node.

Standard library only, so it runs before the project's virtualenv exists.

    python3 deploy/local/services.py fetch      # download jars / zip (cached)
    python3 deploy/local/services.py up         # start both, wait for health
    python3 deploy/local/services.py status
    python3 deploy/local/services.py down       # stop exactly what `up` started

Everything lives under ``$LUISTER_SERVICES_DIR`` (default ``.cache/`` in the
checkout, git-ignored): downloads, unpacked distributions, data, logs, pid files.
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
ES_RUN_USER = "luister-es"  # Elasticsearch refuses to run as root


def _read_versions() -> dict[str, str]:
    versions: dict[str, str] = {}
    for line in (HERE / "versions.env").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            versions[key.strip()] = value.strip()
    return versions


VERSIONS = _read_versions()


@dataclass(frozen=True)
class Settings:
    base: Path
    kafka_port: int
    kafka_controller_port: int
    es_port: int
    es_transport_port: int
    es_heap: str
    kafka_heap: str
    timeout: float
    kafka_java_home: str
    es_java_home: str

    @classmethod
    def from_env(cls) -> "Settings":
        env = os.environ
        return cls(
            base=Path(env.get("LUISTER_SERVICES_DIR", ROOT / ".cache")).resolve(),
            kafka_port=int(env.get("LUISTER_KAFKA_PORT", "9092")),
            kafka_controller_port=int(env.get("LUISTER_KAFKA_CONTROLLER_PORT", "9093")),
            es_port=int(env.get("LUISTER_ES_PORT", "9200")),
            es_transport_port=int(env.get("LUISTER_ES_TRANSPORT_PORT", "9300")),
            es_heap=env.get("LUISTER_ES_HEAP", "1g"),
            kafka_heap=env.get("LUISTER_KAFKA_HEAP", "512m"),
            timeout=float(env.get("LUISTER_SERVICES_TIMEOUT", "120")),
            kafka_java_home=env.get("LUISTER_KAFKA_JAVA_HOME", VERSIONS["KAFKA_JAVA_HOME_DEFAULT"]),
            es_java_home=env.get("LUISTER_ES_JAVA_HOME", VERSIONS["ES_JAVA_HOME_DEFAULT"]),
        )

    @property
    def kafka_home(self) -> Path:
        return self.base / f"kafka-{VERSIONS['KAFKA_VERSION']}"

    @property
    def es_home(self) -> Path:
        return self.base / f"elasticsearch-{VERSIONS['ES_VERSION']}"

    @property
    def run_dir(self) -> Path:
        return self.base / "run"


def log(msg: str) -> None:
    print(f"[services] {msg}", flush=True)


class ServiceError(RuntimeError):
    pass


# ---------------------------------------------------------------- fetch

def _mvn(*args: str) -> None:
    if shutil.which("mvn") is None:
        raise ServiceError("`mvn` is not on PATH; install Maven (apt-get install maven)")
    cmd = ["mvn", "-q", "-B", *args]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise ServiceError(f"{' '.join(cmd)} failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")


def fetch_kafka(s: Settings) -> None:
    libs = s.kafka_home / "libs"
    marker = s.kafka_home / ".complete"
    if marker.exists():
        log(f"kafka {VERSIONS['KAFKA_VERSION']}: cached in {s.kafka_home}")
        return
    log(f"kafka {VERSIONS['KAFKA_VERSION']}: resolving jars with mvn into {libs}")
    shutil.rmtree(s.kafka_home, ignore_errors=True)
    libs.mkdir(parents=True)
    _mvn(
        "-f", str(HERE / "kafka-pom.xml"),
        f"-Dkafka.version={VERSIONS['KAFKA_VERSION']}",
        f"-Dkafka.scala={VERSIONS['KAFKA_SCALA']}",
        "dependency:copy-dependencies",
        f"-DoutputDirectory={libs}",
        "-DincludeScope=runtime",
    )
    marker.touch()


def fetch_elasticsearch(s: Settings) -> None:
    version = VERSIONS["ES_VERSION"]
    marker = s.es_home / ".complete"
    if marker.exists():
        log(f"elasticsearch {version}: cached in {s.es_home}")
        return
    downloads = s.base / "downloads"
    archive = downloads / f"elasticsearch-{version}.zip"
    if not archive.exists():
        log(f"elasticsearch {version}: downloading integ-test-zip with mvn")
        downloads.mkdir(parents=True, exist_ok=True)
        _mvn(
            "dependency:copy",
            f"-Dartifact=org.elasticsearch.distribution.integ-test-zip:elasticsearch:{version}:zip",
            f"-DoutputDirectory={downloads}",
        )
    log(f"elasticsearch {version}: unpacking")
    shutil.rmtree(s.es_home, ignore_errors=True)
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(s.base)
    for script in (s.es_home / "bin").iterdir():
        script.chmod(0o755)
    _install_es_plugins(s)
    marker.touch()


def _install_es_plugins(s: Settings) -> None:
    """Build and install the Dutch/English analysis plugin (see es-plugin/)."""
    build = HERE / "es-plugin" / "build.sh"
    if not build.exists():
        return
    env = dict(os.environ, JAVA_HOME=s.es_java_home, ES_HOME=str(s.es_home), OUT_DIR=str(s.base / "es-plugin"))
    result = subprocess.run(["bash", str(build)], capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise ServiceError(f"building the analysis plugin failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")


def cmd_fetch(s: Settings) -> None:
    s.base.mkdir(parents=True, exist_ok=True)
    fetch_kafka(s)
    fetch_elasticsearch(s)


# ---------------------------------------------------------------- process helpers

def _pid_file(s: Settings, name: str) -> Path:
    return s.run_dir / f"{name}.pid"


def _read_pid(s: Settings, name: str) -> int | None:
    try:
        pid = int(_pid_file(s, name).read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    return pid


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _wait(what: str, check, timeout: float, log_file: Path, pid_name: str, s: Settings) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if _read_pid(s, pid_name) is None:
            raise ServiceError(f"{what} exited during start-up; see {log_file}:\n{_tail(log_file)}")
        time.sleep(1)
    raise ServiceError(
        f"{what} was not healthy after {timeout:.0f}s (raise LUISTER_SERVICES_TIMEOUT); see {log_file}:\n{_tail(log_file)}"
    )


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log written)"


def _cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, URL-safe base64. Never one that starts with "-"
    (1 in 32 do): the storage tool would read it as an option (Kafka's own Uuid avoids it too)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def _java(java_home: str) -> str:
    java = Path(java_home) / "bin" / "java"
    if not java.exists():
        raise ServiceError(f"no JDK at {java_home}; set LUISTER_KAFKA_JAVA_HOME / LUISTER_ES_JAVA_HOME")
    return str(java)


# ---------------------------------------------------------------- kafka

def kafka_up(s: Settings) -> None:
    if _read_pid(s, "kafka"):
        log(f"kafka already running on 127.0.0.1:{s.kafka_port}")
        return
    if _port_open(s.kafka_port):
        raise ServiceError(f"port {s.kafka_port} is taken by another process; set LUISTER_KAFKA_PORT")
    home = s.kafka_home
    conf_dir = s.run_dir / "kafka"
    data_dir = s.base / "data" / "kafka"
    logs_dir = s.base / "logs"
    for d in (conf_dir, data_dir, logs_dir):
        d.mkdir(parents=True, exist_ok=True)
    props = conf_dir / "server.properties"
    props.write_text(
        "\n".join(
            [
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.voters=1@127.0.0.1:{s.kafka_controller_port}",
                f"listeners=PLAINTEXT://127.0.0.1:{s.kafka_port},CONTROLLER://127.0.0.1:{s.kafka_controller_port}",
                f"advertised.listeners=PLAINTEXT://127.0.0.1:{s.kafka_port}",
                "controller.listener.names=CONTROLLER",
                "inter.broker.listener.name=PLAINTEXT",
                "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                f"log.dirs={data_dir}",
                "num.partitions=4",
                "offsets.topic.replication.factor=1",
                "offsets.topic.num.partitions=8",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "group.initial.rebalance.delay.ms=0",
                "auto.create.topics.enable=true",
                "message.max.bytes=2097152",
                "",
            ]
        )
    )
    log4j = conf_dir / "log4j.properties"
    log4j.write_text(
        "log4j.rootLogger=INFO, file\n"
        "log4j.appender.file=org.apache.log4j.FileAppender\n"
        f"log4j.appender.file.File={logs_dir / 'kafka-server.log'}\n"
        "log4j.appender.file.layout=org.apache.log4j.PatternLayout\n"
        "log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n\n"
        "log4j.logger.kafka=INFO\nlog4j.logger.org.apache.kafka=INFO\n"
    )
    java = _java(s.kafka_java_home)
    classpath = f"{home / 'libs'}/*"
    base_cmd = [java, f"-Dlog4j.configuration=file:{log4j}", "-cp", classpath]
    if not (data_dir / "meta.properties").exists():
        cluster_id = _cluster_id()
        fmt = subprocess.run(
            [*base_cmd, "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(props), "--ignore-formatted"],
            capture_output=True,
            text=True,
        )
        if fmt.returncode != 0:
            raise ServiceError(f"formatting Kafka storage failed:\n{fmt.stdout}{fmt.stderr}")
    stdout_log = logs_dir / "kafka.out"
    with open(stdout_log, "ab") as out:
        proc = subprocess.Popen(
            [*base_cmd[:1], f"-Xms{s.kafka_heap}", f"-Xmx{s.kafka_heap}", *base_cmd[1:], "kafka.Kafka", str(props)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    _pid_file(s, "kafka").write_text(str(proc.pid))
    log(f"kafka starting (pid {proc.pid}), logs in {logs_dir}")
    _wait(
        f"Kafka on 127.0.0.1:{s.kafka_port}",
        lambda: _port_open(s.kafka_port) and "Kafka Server started" in (logs_dir / "kafka-server.log").read_text(errors="replace"),
        s.timeout,
        logs_dir / "kafka-server.log",
        "kafka",
        s,
    )
    log(f"kafka {VERSIONS['KAFKA_VERSION']} ready on 127.0.0.1:{s.kafka_port}")


# ---------------------------------------------------------------- elasticsearch

def _es_run_as() -> list[str]:
    """Elasticsearch will not start as root: run it as a dedicated system user."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(ES_RUN_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", ES_RUN_USER], check=True
        )
    return ["runuser", "-u", ES_RUN_USER, "--"]


def _es_health(port: int) -> bool:
    try:
        with urllib.request.urlopen(
            f"http://127.0.0.1:{port}/_cluster/health?wait_for_status=yellow&timeout=1s", timeout=3
        ) as resp:
            return json.load(resp).get("status") in ("yellow", "green")
    except (urllib.error.URLError, OSError, ValueError):
        return False


def es_up(s: Settings) -> None:
    if _read_pid(s, "elasticsearch"):
        log(f"elasticsearch already running on 127.0.0.1:{s.es_port}")
        return
    if _port_open(s.es_port):
        raise ServiceError(f"port {s.es_port} is taken by another process; set LUISTER_ES_PORT")
    data_dir = s.base / "data" / "elasticsearch"
    logs_dir = s.base / "logs" / "elasticsearch"
    conf_dir = s.run_dir / "es-config"
    for d in (data_dir, logs_dir):
        d.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(conf_dir, ignore_errors=True)
    shutil.copytree(s.es_home / "config", conf_dir)
    (conf_dir / "elasticsearch.yml").write_text(
        "\n".join(
            [
                "cluster.name: luister-local",
                "node.name: luister-local-1",
                f"path.data: {data_dir}",
                f"path.logs: {logs_dir}",
                "network.host: 127.0.0.1",
                f"http.port: {s.es_port}",
                f"transport.port: {s.es_transport_port}",
                "discovery.type: single-node",
                "xpack.security.enabled: false",
                # the local disk may be nearly full; a dev node should still accept writes
                "cluster.routing.allocation.disk.threshold_enabled: false",
                "action.auto_create_index: true",
                "",
            ]
        )
    )
    pid_file = _pid_file(s, "elasticsearch")
    pid_file.unlink(missing_ok=True)
    run_as = _es_run_as()
    if run_as:
        for path in (s.es_home, data_dir, logs_dir, conf_dir, s.run_dir):
            subprocess.run(["chown", "-R", f"{ES_RUN_USER}:", str(path)], check=True)
        # the run user must be able to reach the folders on the way down
        for parent in s.base.parents:
            if str(parent) == "/":
                break
            parent.chmod(parent.stat().st_mode | 0o011)
        s.base.chmod(s.base.stat().st_mode | 0o011)
    env = dict(
        os.environ,
        ES_JAVA_HOME=s.es_java_home,
        ES_PATH_CONF=str(conf_dir),
        ES_JAVA_OPTS=f"-Xms{s.es_heap} -Xmx{s.es_heap}",
    )
    env.pop("JAVA_HOME", None)
    stdout_log = s.base / "logs" / "elasticsearch.out"
    _java(s.es_java_home)
    with open(stdout_log, "ab") as out:
        result = subprocess.run(
            [*run_as, "env", f"ES_JAVA_HOME={s.es_java_home}", f"ES_PATH_CONF={conf_dir}",
             f"ES_JAVA_OPTS=-Xms{s.es_heap} -Xmx{s.es_heap}",
             str(s.es_home / "bin" / "elasticsearch"), "-d", "-p", str(pid_file)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
        )
    if result.returncode != 0:
        raise ServiceError(f"elasticsearch failed to start; see {stdout_log}:\n{_tail(stdout_log)}")
    log(f"elasticsearch starting (pid {pid_file.read_text().strip() if pid_file.exists() else '?'}), logs in {logs_dir}")
    _wait(
        f"Elasticsearch on 127.0.0.1:{s.es_port}",
        lambda: _es_health(s.es_port),
        s.timeout,
        logs_dir / "luister-local.log",
        "elasticsearch",
        s,
    )
    log(f"elasticsearch {VERSIONS['ES_VERSION']} ready on http://127.0.0.1:{s.es_port}")


# ---------------------------------------------------------------- up / down / status

def _stop(s: Settings, name: str, grace: float = 30.0) -> None:
    pid = _read_pid(s, name)
    if pid is None:
        log(f"{name}: not running")
        _pid_file(s, name).unlink(missing_ok=True)
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and _read_pid(s, name):
        time.sleep(0.5)
    if _read_pid(s, name):
        log(f"{name}: still running after {grace:.0f}s, sending SIGKILL")
        os.kill(pid, signal.SIGKILL)
        time.sleep(0.5)
    _pid_file(s, name).unlink(missing_ok=True)
    log(f"{name}: stopped (pid {pid})")


def cmd_up(s: Settings, only: str | None) -> None:
    cmd_fetch(s)
    s.run_dir.mkdir(parents=True, exist_ok=True)
    if only in (None, "kafka"):
        kafka_up(s)
    if only in (None, "elasticsearch"):
        es_up(s)


def cmd_down(s: Settings, only: str | None) -> None:
    if only in (None, "elasticsearch"):
        _stop(s, "elasticsearch")
    if only in (None, "kafka"):
        _stop(s, "kafka")


def cmd_status(s: Settings) -> int:
    ok = True
    for name, port in (("kafka", s.kafka_port), ("elasticsearch", s.es_port)):
        pid = _read_pid(s, name)
        healthy = _es_health(port) if name == "elasticsearch" else _port_open(port)
        ok &= bool(pid and healthy)
        log(f"{name}: {'running pid ' + str(pid) if pid else 'not running'}, "
            f"127.0.0.1:{port} {'healthy' if healthy else 'not answering'}")
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Environment: LUISTER_SERVICES_DIR, LUISTER_KAFKA_PORT (9092), LUISTER_KAFKA_CONTROLLER_PORT (9093), "
        "LUISTER_ES_PORT (9200), LUISTER_ES_TRANSPORT_PORT (9300), LUISTER_ES_HEAP (1g), LUISTER_KAFKA_HEAP (512m), "
        "LUISTER_SERVICES_TIMEOUT (120 s), LUISTER_KAFKA_JAVA_HOME, LUISTER_ES_JAVA_HOME.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("fetch", help="download and unpack Kafka and Elasticsearch (skipped when cached)")
    for name, text in (("up", "start the services and wait until healthy"), ("down", "stop the services started by `up`")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--only", choices=["kafka", "elasticsearch"], help="act on one service")
    sub.add_parser("status", help="show whether each service runs and answers")
    args = parser.parse_args(argv)
    s = Settings.from_env()
    try:
        if args.command == "fetch":
            cmd_fetch(s)
        elif args.command == "up":
            cmd_up(s, args.only)
        elif args.command == "down":
            cmd_down(s, args.only)
        else:
            return cmd_status(s)
    except ServiceError as exc:
        print(f"[services] ERROR: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
