"""What the plugin holds for one pytest process: the images file, the images under test
and the run they share."""
from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from ..config import Catalog
from ..image.run_context import RunContext
from ..image.under_test import ImageUnderTest
from ..runtime.lifecycle import SigtermAsInterrupt

STATE = pytest.StashKey["ImagecheckState"]()


@dataclass
class ImagecheckState:
    """Everything the plugin holds for one pytest process."""

    catalog: Catalog
    refs: list[str]
    context: RunContext
    require_gpu: bool
    describe_images: bool = False    # a sign-off report is written: describe each image when its checks end
    shard: bool = False              # the run writes a shard of a fleet sign-off: "could not run here" never fails
    images: dict[str, ImageUnderTest] = field(default_factory=dict)
    descriptions: dict[str, dict] = field(default_factory=dict)  # ref -> image.description.describe()
    swept: list[str] | None = None
    sigterm: SigtermAsInterrupt = field(default_factory=SigtermAsInterrupt)

    @property
    def fails_for_the_host(self) -> bool:
        """Whether a check this host cannot run fails (a release run that is not a shard)."""
        return self.require_gpu and not self.shard

    def image(self, ref: str) -> ImageUnderTest:
        if ref not in self.images:
            spec, _ = self.catalog.spec_for(ref)
            self.images[ref] = ImageUnderTest(ref, spec, self.context)
        return self.images[ref]
