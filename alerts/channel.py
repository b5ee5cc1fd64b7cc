"""The channel interface and its registry.

A channel is one module in `wirewatch.alerts.channels`: a config model (a `ChannelSpec` with a
`type` literal, secret fields marked `Secret`) and a `Channel` subclass naming it as `Spec`.
Defining the subclass registers it; the config accepts every registered type; nothing else
needs an edit."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Annotated, ClassVar, Union, get_args

from pydantic import Field

from wirewatch.alerts.model import Outcome
from wirewatch.crawler.conf.base import ChannelSpec
from wirewatch.crawler.conf.sections import Network

_REGISTRY: dict[str, type["Channel"]] = {}


@dataclass(frozen=True)
class ChannelEnv:
    """What a channel may need from the rest of the config."""
    network: Network
    base_dir: str = "."


class Channel(ABC):
    Spec: ClassVar[type[ChannelSpec]]
    digest: float | None = None        # seconds to gather alerts into one message; None: one each
    send_timeout: float = 30.0         # the longest one send may take (sizes the delivery lease)

    def __init__(self, name: str, spec: ChannelSpec, env: ChannelEnv):
        self.name = name
        self.spec = spec
        self.env = env

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if "Spec" in cls.__dict__:
            _REGISTRY[channel_type(cls.Spec)] = cls

    @abstractmethod
    def send(self, payload: dict) -> Outcome:
        """Deliver one alert: delivered, retry (after N s), or dead with a reason."""

    @abstractmethod
    def describe(self) -> str:
        """One line for `check` and `alerts test`: the channel's name and target, secrets masked."""

    def send_digest(self, payloads: list[dict]) -> Outcome:
        """Deliver several alerts as one message (channels with a `digest` interval)."""
        raise NotImplementedError(f"{type(self).__name__} has no digest")

    def close(self) -> None:
        """Release connections; called once the channel is no longer used."""


def channel_type(spec: type[ChannelSpec]) -> str:
    return get_args(spec.model_fields["type"].annotation)[0]


def registered() -> dict[str, type[Channel]]:
    import wirewatch.alerts.channels  # noqa: F401 - importing the package registers every channel
    return dict(_REGISTRY)


def spec_union():
    """The config type of one `channels:` entry: any registered channel, chosen by `type`."""
    specs = tuple(cls.Spec for cls in registered().values())
    return Annotated[Union[specs], Field(discriminator="type")]  # noqa: UP007 - built at runtime


def build_channel(name: str, spec: ChannelSpec, env: ChannelEnv) -> Channel:
    return registered()[spec.type](name, spec, env)
