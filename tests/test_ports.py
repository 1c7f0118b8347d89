"""Only the ports the image needs: EXPOSE equals images.yaml's ports, each of them answers
from the host when the image runs its own CMD, and nothing else listens."""
import pytest

from imagecheck.image import listeners


@pytest.mark.facts
def test_exposed_ports_equal_listed_ports(image, evidence):
    exposed = sorted(int(key.split("/")[0]) for key in (image.config.get("ExposedPorts") or {}))
    listed = sorted(image.spec.ports)
    evidence("ports.exposed", exposed)
    assert exposed == listed, (f"{image.ref} EXPOSEs {exposed or 'no port'}, images.yaml lists {listed or 'none'}"
                               "\n  hint: EXPOSE exactly the ports the image serves, and list them in images.yaml")


@pytest.mark.services
def test_every_listed_port_answers_from_the_host(image, services_as_started, evidence):
    """Each listed port answered from the host within timeouts.service_ready of the start
    (SSH with a banner, HTTP with a status below 500, others with a connection)."""
    services = services_as_started
    evidence("ports.answers", {f"{port} ({services.endpoints[port].service})": str(seen)
                               for port, seen in services.answers.items()})
    evidence("services.waited_seconds", services.waited)
    silent = [f"{endpoint}: last seen {services.answers[endpoint.port].seen}" for endpoint in services.silent]
    assert not silent, (f"ports of {image.ref} that did not answer from the host within timeouts.service_ready "
                        f"({image.spec.timeouts.service_ready} s) of the start:\n  " + "\n  ".join(silent)
                        + f"\n  last log lines:\n{services.container.logs(20).strip()}"
                        "\n  hint: the image's own CMD must start every service images.yaml lists; raise "
                        "timeouts.service_ready if it is just slow")


@pytest.mark.services
def test_no_unlisted_port_listens(image, services, evidence):
    found, source = listeners.listening_sockets(services.container, image.spec.timeouts.command)
    evidence("ports.listening", [str(l) for l in found])
    evidence("ports.listening_source", source)
    unlisted = [l for l in found if l.port not in image.spec.ports]
    assert not unlisted, (f"{image.ref}, started with its own CMD, listens on ports images.yaml does not list:\n  "
                          + "\n  ".join(str(l) for l in unlisted)
                          + f"\n  (listed: {sorted(image.spec.ports)}; seen with {source})"
                          "\n  hint: stop the extra service, or list its port in images.yaml if it is wanted")
