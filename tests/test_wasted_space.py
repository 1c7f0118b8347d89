"""The image carries no bytes for nothing: no file written in one layer and overwritten,
re-permissioned or deleted in a later one, no package manager's cache left behind.

Both checks read the layers' file lists once per image (image/layer_files.py: the
engine's layer folders in a container when its storage driver keeps them, else the
`docker save` stream by its tar headers) and judge them with rules/waste.py against
images.yaml's `size.max_waste_mb` and `size.max_cache_mb`."""
from imagecheck.check import fail
from imagecheck.image import layer_files
from imagecheck.rules import waste


def _scanned(image, evidence, progress):
    with progress.step("reading the layers' file lists"):
        listing = layer_files.of(image)
    evidence("waste.read_from", listing.route + (f" ({listing.fallback})" if listing.fallback else ""))
    evidence("waste.read_s", listing.seconds)
    if listing.unreadable:
        evidence("waste.unreadable", listing.unreadable)
    return image.shared("waste-scan", lambda: waste.scan(listing.layers))


def test_no_layer_carries_dead_bytes(image, evidence, progress):
    """Files written in one layer and overwritten, re-permissioned or deleted in a later one."""
    found = _scanned(image, evidence, progress)
    evidence("waste.dead_bytes", waste.total(found.dead))
    evidence("waste.dead", [finding.to_json() for finding in found.dead[:10]])
    message = waste.problem(image.ref, found.dead, image.spec.size.max_waste_mb, "max_waste_mb",
                            "bytes that later layers made dead (re-permissioned, overwritten or deleted)")
    if message:
        fail(message)


def test_no_package_cache_is_left_behind(image, evidence, progress):
    """pip's cache, apt's lists and archives, conda's package folder."""
    found = _scanned(image, evidence, progress)
    evidence("waste.cache_bytes", waste.total(found.caches))
    evidence("waste.caches", [finding.to_json() for finding in found.caches[:10]])
    message = waste.problem(image.ref, found.caches, image.spec.size.max_cache_mb, "max_cache_mb",
                            "package managers' caches")
    if message:
        fail(message)
