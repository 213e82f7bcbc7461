"""The official Python client against herd: list, create, patch, watch with resume, 410 after compaction.
Usage: client_test.py KUBECONFIG. Prints one line per check and exits non-zero on the first failure."""
import sys
import time

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

config.load_kube_config(config_file=sys.argv[1])
v1 = client.CoreV1Api()
apps = client.AppsV1Api()


def check(cond, what):
    if not cond:
        print("FAIL:", what)
        sys.exit(1)
    print("ok:", what)


ns = v1.list_namespace()
names = {n.metadata.name for n in ns.items}
check({"default", "kube-system"} <= names, "list namespaces")

cm = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="settings", labels={"app": "py"}), data={"a": "1"})
created = v1.create_namespaced_config_map("default", cm)
check(created.metadata.uid and created.metadata.resource_version, "create configmap")

try:
    v1.create_namespaced_config_map("default", cm)
    check(False, "duplicate create must fail")
except ApiException as e:
    check(e.status == 409, "duplicate create is 409")

patched = v1.patch_namespaced_config_map("settings", "default", {"data": {"b": "2"}})
check(patched.data == {"a": "1", "b": "2"}, "strategic patch adds a key")

dep = client.V1Deployment(
    metadata=client.V1ObjectMeta(name="web"),
    spec=client.V1DeploymentSpec(
        replicas=1,
        selector=client.V1LabelSelector(match_labels={"app": "web"}),
        template=client.V1PodTemplateSpec(
            metadata=client.V1ObjectMeta(labels={"app": "web"}),
            spec=client.V1PodSpec(containers=[client.V1Container(name="web", image="nginx")]))))
d = apps.create_namespaced_deployment("default", dep)
check(d.spec.strategy.type == "RollingUpdate" and d.spec.revision_history_limit == 10, "deployment defaults")
d = apps.patch_namespaced_deployment_scale("web", "default", {"spec": {"replicas": 3}})
check(d.spec.replicas == 3, "scale subresource")

lst = v1.list_namespaced_config_map("default", label_selector="app=py")
check(len(lst.items) == 1, "list with label selector")
rv = lst.metadata.resource_version

v1.patch_namespaced_config_map("settings", "default", {"data": {"c": "3"}})
w = watch.Watch()
events = []
for ev in w.stream(v1.list_namespaced_config_map, "default", resource_version=rv, timeout_seconds=5):
    events.append((ev["type"], ev["object"].metadata.name))
    if ev["type"] == "MODIFIED":
        w.stop()
check(("MODIFIED", "settings") in events, "watch resumes from a resourceVersion")

# 410 after compaction: the server runs with a short compaction interval
old_rv = rv
for i in range(5):
    v1.patch_namespaced_config_map("settings", "default", {"data": {"n": str(i)}})
time.sleep(float(sys.argv[2]) if len(sys.argv) > 2 else 3.0)
v1.patch_namespaced_config_map("settings", "default", {"data": {"n": "last"}})
got410 = False
try:
    for ev in watch.Watch().stream(v1.list_namespaced_config_map, "default", resource_version=old_rv, timeout_seconds=3):
        if ev["type"] == "ERROR" and ev["raw_object"].get("code") == 410:
            got410 = True
            break
except ApiException as e:
    got410 = e.status == 410
check(got410, "410 Expired after compaction")

v1.delete_namespaced_config_map("settings", "default")
try:
    v1.read_namespaced_config_map("settings", "default")
    check(False, "deleted configmap must be gone")
except ApiException as e:
    check(e.status == 404, "delete then 404")
print("python client: all checks passed")
