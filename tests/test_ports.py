"""Only the ports the image needs: EXPOSE equals images.yaml's ports, each of them answers
from the host when the image runs its own CMD, and nothing else listens."""
import pytest

from imagecheck import services as services_module




@pytest.mark.facts
def test_exposed_ports_equal_listed_ports(image, evidence):
    exposed = sorted(int(key.split("/")[0]) for key in (image.config.get("ExposedPorts") or {}))
    listed = sorted(image.spec.ports)
    evidence("ports.exposed", exposed)
    assert exposed == listed, (f"{image.ref} EXPOSEs {exposed or 'no port'}, images.yaml lists {listed or 'none'}"
                               "\n  hint: EXPOSE exactly the ports the image serves, and list them in images.yaml")


@pytest.mark.services
def test_every_listed_port_answers_from_the_host(image, services, evidence):
    seen = {}
    for port, endpoint in services.endpoints.items():
        ok, what = services_module.answer(endpoint)
        seen[port] = (ok, what)
    evidence("ports.answers", {f"{p} ({services.endpoints[p].service})": what for p, (_, what) in seen.items()})
    evidence("services.ready_seconds", services.ready_seconds)
    silent = [f"{services.endpoints[p]}: {what}" for p, (ok, what) in seen.items() if not ok]
    assert not silent, f"ports of {image.ref} that do not answer from the host:\n  " + "\n  ".join(silent)


@pytest.mark.services
def test_no_unlisted_port_listens(image, services, evidence):
    listeners, source = services_module.listening_sockets(services.container, image.spec.timeouts.command)
    evidence("ports.listening", [str(l) for l in listeners])
    evidence("ports.listening_source", source)
    unlisted = [l for l in listeners if l.port not in image.spec.ports]
    assert not unlisted, (f"{image.ref}, started with its own CMD, listens on ports images.yaml does not list:\n  "
                          + "\n  ".join(str(l) for l in unlisted)
                          + f"\n  (listed: {sorted(image.spec.ports)}; seen with {source})"
                          "\n  hint: stop the extra service, or list its port in images.yaml if it is wanted")
