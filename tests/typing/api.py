"""Never executed: mypy checks that the public API reads well from a user's side.

Each area appends a section exercising its public names as a user would.
"""

from __future__ import annotations

from commerce_kit import CommerceKitError
from commerce_kit.http import user_message_for
from commerce_kit.testing import ManualClock
from commerce_kit.typing import Clock, Sleep

clock: Clock = ManualClock()
sleep: Sleep = ManualClock().sleep
code: str = CommerceKitError.code
message: str = user_message_for(CommerceKitError("detail")).message
