#!/usr/bin/env python3
"""Checks the Kubernetes manifests in this folder without a cluster.

1. Every file parses as YAML, and the objects refer to each other
   consistently: names, label selectors, named ports, ConfigMap and Secret
   keys, volumes, the probes' paths, the port the node listens on.
2. With `--schemas` (needs `pip install kubernetes-validate`): every object
   validates against the Kubernetes API's schema, strictly.
3. With `--render` (needs docker and the image clearledger:dev): the
   ConfigMap's render.sh runs in the image for pods 0, 1 and 2; each result
   must be valid TOML with the right id, address, bootstrap flag and peers,
   a volume's stored id must win on a second run, and clearledger-node must
   start on a rendered file (it refuses unknown settings) and answer /healthz.

Usage: python3 deploy/k8s/check.py [--schemas] [--render]
Prints one line per check and 'N passed, N failed'; exits 1 on any failure.
"""

import os
import re
import subprocess
import sys
import tempfile
import time
import tomllib

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
IMAGE = os.environ.get("CLEARLEDGER_IMAGE", "clearledger:dev")
results = {"passed": 0, "failed": 0}


def check(ok, what):
    results["passed" if ok else "failed"] += 1
    print(("ok: " if ok else "FAILED: ") + what)
    return ok


def load(name):
    with open(os.path.join(HERE, name), encoding="utf-8") as file:
        return [doc for doc in yaml.safe_load_all(file) if doc is not None]


def by_kind(objects, kind):
    return [o for o in objects if o.get("kind") == kind]


def selects(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def references():
    kustomization = load("kustomization.yaml")[0]
    objects = []
    for name in kustomization["resources"]:
        objects += load(name)
    check(True, f"YAML parses: {', '.join(kustomization['resources'])}")
    secret = load("secret.yaml")[0]
    check(secret["kind"] == "Secret", "secret.yaml (the example, not applied) parses")

    (sts,) = by_kind(objects, "StatefulSet")
    (config,) = by_kind(objects, "ConfigMap")
    (pdb,) = by_kind(objects, "PodDisruptionBudget")
    services = {s["metadata"]["name"]: s for s in by_kind(objects, "Service")}
    spec = sts["spec"]
    pod = spec["template"]["spec"]
    labels = spec["template"]["metadata"]["labels"]
    (node,) = [c for c in pod["containers"] if c["name"] == "node"]
    (init,) = pod["initContainers"]

    check(spec["selector"]["matchLabels"] == labels, "StatefulSet selector matches its pod labels")
    headless = services.get(spec["serviceName"])
    check(
        headless is not None
        and headless["spec"].get("clusterIP") == "None"
        and headless["spec"].get("publishNotReadyAddresses") is True,
        f"serviceName {spec['serviceName']} is a headless Service that lists unready pods",
    )
    for name, service in services.items():
        check(selects(service["spec"]["selector"], labels), f"Service {name} selects the pods")
    check(selects(pdb["spec"]["selector"]["matchLabels"], labels), "PodDisruptionBudget selects the pods")
    check(pdb["spec"].get("maxUnavailable") == 1, "PodDisruptionBudget: maxUnavailable 1")
    check(spec["podManagementPolicy"] == "Parallel", "pods start in parallel (a leader needs a majority)")

    ports = {p["name"]: p["containerPort"] for p in node["ports"]}
    for name, service in services.items():
        for port in service["spec"]["ports"]:
            check(port["targetPort"] in ports, f"Service {name} targets the container port {port['targetPort']}")
    probes = {kind: node[kind]["httpGet"] for kind in ("startupProbe", "livenessProbe", "readinessProbe")}
    check(probes["readinessProbe"]["path"] == "/readyz", "readiness on /readyz")
    check(probes["livenessProbe"]["path"] == "/healthz", "liveness on /healthz")
    check(all(p["port"] in ports for p in probes.values()), "every probe uses a named container port")
    check(
        all(c.get("resources", {}).get("requests") for c in pod["containers"] + pod["initContainers"]),
        "every container has resource requests",
    )

    template = tomllib.loads(config["data"]["node.toml"])
    listen_port = int(template["listen"].rsplit(":", 1)[1])
    peer_port = {e["name"]: e.get("value") for e in init["env"]}["PEER_PORT"]
    check(
        listen_port == ports["http"] == int(peer_port),
        f"node.toml listens on {listen_port}, the container port and PEER_PORT agree",
    )
    check(
        not {"node_id", "advertise", "bootstrap", "peers"} & template.keys(),
        "node.toml leaves node_id, advertise, bootstrap and peers to render.sh",
    )
    mounts = {m["mountPath"]: m["name"] for m in node["volumeMounts"]}
    check(
        mounts.get(template["data_dir"]) == "data",
        f"data_dir {template['data_dir']} is the volume claim 'data'",
    )
    args = node["args"]
    config_path = args[args.index("--config") + 1]
    check(mounts.get(os.path.dirname(config_path)) == "config", f"--config {config_path} is on the rendered volume")
    init_mounts = {m["name"]: m["mountPath"] for m in init["volumeMounts"]}
    check(
        init_mounts.get("config") == os.path.dirname(config_path),
        "the init container renders into the same volume",
    )
    script_path = init["command"][-1]
    check(
        init_mounts.get("template") == os.path.dirname(script_path)
        and os.path.basename(script_path) in config["data"],
        f"the init container runs {script_path} from the ConfigMap",
    )
    for key in ("node.toml", "node-ids", "bootstrap"):
        check(key in config["data"], f"ConfigMap has {key}")
    ordinals = dict(line.split("=") for line in config["data"]["node-ids"].split())
    check(
        sorted(ordinals) == [str(n) for n in range(spec["replicas"])],
        f"node-ids names an id for each of the {spec['replicas']} ordinals",
    )
    check(len(set(ordinals.values())) == len(ordinals), "node-ids gives distinct ids")

    volumes = {v["name"]: v for v in pod["volumes"]}
    claims = {c["metadata"]["name"] for c in spec["volumeClaimTemplates"]}
    for container in pod["containers"] + pod["initContainers"]:
        for mount in container["volumeMounts"]:
            check(
                mount["name"] in volumes or mount["name"] in claims,
                f"{container['name']} mounts a defined volume: {mount['name']}",
            )
    check(
        volumes["template"]["configMap"]["name"] == config["metadata"]["name"],
        "the template volume is the ConfigMap",
    )
    for env in node["env"]:
        ref = env.get("valueFrom", {}).get("secretKeyRef")
        if ref:
            check(
                ref["name"] == secret["metadata"]["name"] and ref["key"] in secret["stringData"],
                f"{env['name']} comes from Secret {ref['name']} key {ref['key']}",
            )
    image_names = {i["name"] for i in kustomization.get("images", [])}
    check(
        all(c["image"] in image_names for c in pod["containers"] + pod["initContainers"]),
        "kustomization sets the image of every container",
    )
    return objects + [secret], config


def schemas(objects):
    import kubernetes_validate

    version = kubernetes_validate.latest_version()
    for obj in objects:
        name = f"{obj['kind']} {obj['metadata']['name']}"
        try:
            kubernetes_validate.validate(obj, version, strict=True)
            check(True, f"{name} validates against the Kubernetes {version} schema (strict)")
        except kubernetes_validate.ValidationError as error:
            check(False, f"{name}: {error.message} at {'.'.join(map(str, error.path))}")


def docker(*args, check_rc=True):
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check_rc)


def render_pod(pod, template, out, data):
    """Runs render.sh in the image as the init container would for `pod`."""
    return docker(
        "run", "--rm", "--network", "none", "--read-only",
        "-e", f"POD_NAME={pod}", "-e", "PEER_SERVICE=clearledger-peer", "-e", "PEER_PORT=8080",
        "-v", f"{template}:/etc/clearledger-template:ro",
        "-v", f"{out}:/etc/clearledger", "-v", f"{data}:/var/lib/clearledger",
        "--entrypoint", "/bin/busybox", IMAGE, "sh", "/etc/clearledger-template/render.sh",
        check_rc=False,
    )


def rendered_id(out):
    with open(os.path.join(out, "node.toml"), "rb") as file:
        return tomllib.load(file)["node_id"]


def render(config):
    with tempfile.TemporaryDirectory() as tmp:
        template = os.path.join(tmp, "template")
        os.mkdir(template)
        for key, value in config["data"].items():
            with open(os.path.join(template, key), "w", encoding="utf-8") as file:
                file.write(value)
        rendered = {}
        for ordinal in range(3):
            out = os.path.join(tmp, f"out{ordinal}")
            data = os.path.join(tmp, f"data{ordinal}")
            for folder in (out, data):
                os.mkdir(folder)
                os.chmod(folder, 0o777)
            pod = f"clearledger-{ordinal}"
            first = render_pod(pod, template, out, data)
            check(first.returncode == 0, f"render.sh for {pod}: {first.stdout.strip() or first.stderr.strip()}")
            with open(os.path.join(out, "node.toml"), "rb") as file:
                toml = tomllib.load(file)
            rendered[ordinal] = (out, data)
            peers = sorted((p["id"], p["addr"]) for p in toml.get("peers", []))
            expected_peers = (
                [(n + 1, f"clearledger-{n}.clearledger-peer:8080") for n in range(3) if n != ordinal]
                if ordinal == 0
                else []
            )
            check(
                toml["node_id"] == ordinal + 1
                and toml["advertise"] == f"{pod}.clearledger-peer:8080"
                and toml["bootstrap"] == (ordinal == 0)
                and peers == expected_peers
                and toml["listen"] == "0.0.0.0:8080",
                f"{pod}: node_id {toml['node_id']}, advertise {toml['advertise']}, "
                f"bootstrap {toml['bootstrap']}, peers {[p[0] for p in peers]}",
            )
        # A volume that already holds an id keeps it, whatever node-ids says now.
        with open(os.path.join(template, "node-ids"), "w", encoding="utf-8") as file:
            file.write("0=1\n1=2\n2=4\n")
        out, data = rendered[2]
        again = render_pod("clearledger-2", template, out, data)
        check(
            again.returncode == 0 and rendered_id(out) == 3 and "the volume wins" in again.stderr,
            "a volume's stored id (3) wins over a changed node-ids (4), with a warning",
        )
        os.remove(os.path.join(data, "node-id"))
        fresh = render_pod("clearledger-2", template, out, data)
        check(fresh.returncode == 0 and rendered_id(out) == 4, "a new volume takes the new id from node-ids (4)")

        # The node itself accepts the rendered file (unknown settings are refused).
        out, data = rendered[1]
        name = f"clearledger-k8s-check-{os.getpid()}"
        started = docker("run", "-d", "--name", name, "--network", "none", "--read-only",
                         "--tmpfs", "/tmp", "-e", "CLEARLEDGER_ADMIN_KEY=k8s-check-admin-key",
                         "-v", f"{out}:/etc/clearledger:ro", "-v", f"{data}:/var/lib/clearledger",
                         IMAGE, "run", "--config", "/etc/clearledger/node.toml", check_rc=False)
        try:
            healthy = False
            deadline = time.monotonic() + 60
            while started.returncode == 0 and time.monotonic() < deadline:
                probe = docker("exec", name, "/bin/busybox", "wget", "-q", "-O", "-",
                               "http://127.0.0.1:8080/healthz", check_rc=False)
                if probe.returncode == 0 and '"ok"' in probe.stdout:
                    healthy = True
                    break
                if docker("inspect", "-f", "{{.State.Running}}", name, check_rc=False).stdout.strip() != "true":
                    break
                time.sleep(0.5)
            logs = docker("logs", name, check_rc=False)
            check(healthy, "clearledger-node starts on the rendered config of clearledger-1 and answers /healthz"
                  + ("" if healthy else f": {logs.stderr[-600:]}"))
        finally:
            docker("rm", "-f", "-v", name, check_rc=False)
            # The node wrote its database as uid 10001; let the temp dir go.
            docker("run", "--rm", "--user", "0", "-v", f"{tmp}:/t", "--entrypoint", "/bin/busybox",
                   IMAGE, "chmod", "-R", "a+rwX", "/t", check_rc=False)


def main():
    objects, config = references()
    if "--schemas" in sys.argv:
        schemas(objects)
    if "--render" in sys.argv:
        render(config)
    print(f"k8s check: {results['passed']} passed, {results['failed']} failed")
    return 1 if results["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
