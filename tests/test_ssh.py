"""SSH answers on its listed port, takes keys only (no password login, no root password
login, by the daemon's effective configuration), and every container has its own host
keys (keys baked into the image are shared by everyone who pulls it)."""
import pytest

from imagecheck.check import ImagecheckError, fail, not_applicable
from imagecheck.image import services as services_module
from imagecheck.image import ssh

pytestmark = pytest.mark.services

PASSWORD_KEYS = ("passwordauthentication", "kbdinteractiveauthentication", "permitemptypasswords")
ROOT_WITHOUT_PASSWORD = ("no", "prohibit-password", "without-password", "forced-commands-only")


@pytest.fixture(autouse=True)
def _ssh_is_promised(image):
    """The checks of this module apply only to an image that lists a ssh port."""
    if "ssh" not in image.spec.ports.values():
        not_applicable(f"images.yaml lists no ssh port for {image.ref}")


@pytest.fixture
def sshd_config(image, services):
    """sshd_config(login_user): the daemon's effective configuration for that user's login."""
    timeout = image.spec.timeouts.command
    try:
        daemon = ssh.daemon(services, timeout)
    except ImagecheckError as error:
        fail(str(error))

    def config(login_user: str) -> dict[str, str]:  # called in the check: its errors fail the check
        return ssh.effective_config(services, daemon, login_user, timeout)

    return config


def _login_user(image) -> str:
    return image.spec.user.name if image.spec.user else (image.config.get("User") or "root").split(":")[0]


def test_ssh_answers_with_its_banner(image, services_as_started, evidence):
    """The SSH port answered the readiness wait with an SSH-2.0 banner."""
    endpoint = services_as_started.endpoint("ssh")
    seen = services_as_started.answers[endpoint.port]
    evidence("ssh.banner", seen.banner)
    evidence("ssh.answered", str(seen))
    assert seen.banner is not None and seen.banner.startswith("SSH-2.0-"), (
        f"{endpoint} of {image.ref} did not answer with an SSH-2.0 banner within timeouts.service_ready "
        f"({image.spec.timeouts.service_ready} s) of the start: last seen {seen.seen}"
        "\n  hint: the image's own CMD must start sshd on the port images.yaml lists")


def test_sshd_refuses_password_login(image, sshd_config, evidence):
    user = _login_user(image)
    config = sshd_config(user)
    seen = {key: config.get(key, "(not reported)") for key in PASSWORD_KEYS}
    evidence("sshd.password_settings", seen)
    enabled = [f"{key} {value}" for key, value in seen.items() if value == "yes"]
    assert not enabled, (f"sshd in {image.ref} accepts passwords for {user} (`sshd -T -C user={user},...`): "
                         f"{', '.join(enabled)}; the image promises key-only SSH"
                         "\n  hint: PasswordAuthentication no and KbdInteractiveAuthentication no, in the first "
                         "sshd_config file that sets them (first value wins)")


def test_sshd_refuses_root_password_login(image, sshd_config, evidence):
    config = sshd_config("root")
    permit = config.get("permitrootlogin", "(not reported)")
    evidence("sshd.permitrootlogin", permit)
    assert permit in ROOT_WITHOUT_PASSWORD, (
        f"sshd in {image.ref} has PermitRootLogin {permit} for a root login, expected one of "
        f"{', '.join(ROOT_WITHOUT_PASSWORD)}\n  hint: PermitRootLogin no")


@pytest.mark.slow
def test_ssh_host_keys_differ_between_containers(image, services, evidence):
    timeout = image.spec.timeouts.command
    first, source = ssh.served_host_keys(services, timeout)
    with services_module.Services(image, "services-second") as second_services:
        second, _ = ssh.served_host_keys(second_services, timeout)
    evidence("ssh.host_keys", {"first": sorted(f"{k.kind} {k.fingerprint}" for k in first),
                               "second": sorted(f"{k.kind} {k.fingerprint}" for k in second),
                               "read_with": source})
    shared = first & second
    assert not shared, (
        f"two containers of {image.ref} serve the same SSH host key(s): "
        + ", ".join(f"{k.kind} {k.fingerprint}" for k in sorted(shared, key=lambda k: k.kind))
        + "\n  anyone with the image holds the private key and can impersonate every container"
        "\n  hint: make host keys when the container starts (ssh-keygen in the start script), never at build")
