"""Every number that turns a reading into a score, named, with its default, in one place.

A watch overrides any of them under `scoring:` in its YAML file; the rest keep these defaults."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

_Weight = Field(ge=0, le=1)


class Scoring(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # how the item was tied to the parties (the base score of an event)
    verb_before_item: float = Field(1.0, ge=0, le=1)      # "North Korea sent troops to Russia"
    item_before_verb: float = Field(0.9, ge=0, le=1)      # "troops were sent to Russia"
    receiver_verb: float = Field(0.9, ge=0, le=1)         # "Russia has used North Korean missiles"
    transfer_noun: float = Field(0.9, ge=0, le=1)         # "the deployment of troops to Russia"
    combat: float = Field(0.85, ge=0, le=1)               # "North Korean soldiers fighting in Kursk"
    item_without_verb: float = Field(0.75, ge=0, le=1)    # "North Korean shells in Russia"
    used_by_recipient: float = Field(0.8, ge=0, le=1)     # "a North Korean KN-23 fired by Russian forces"
    # a missing party borrowed from context: the score is multiplied by where it came from
    same_sentence: float = Field(0.85, ge=0, le=1)
    previous_sentence: float = Field(0.75, ge=0, le=1)
    next_sentence: float = Field(0.7, ge=0, le=1)
    headline: float = Field(0.7, ge=0, le=1)
    supplier_for_receiver: float = Field(0.7, ge=0, le=1)  # a receive verb's borrowed supplier
    pronoun_subject: float = Field(0.9, ge=0, le=1)       # "They ... supplied": the previous sentence's party
    # hedges before the verb (a denial is a status of its own, `denied`, not a weight)
    hypothetical: float = Field(0.5, ge=0, le=1)          # "if Pyongyang were to send troops"
    # more sentences saying the same raise the article's score
    support_bonus: float = Field(0.05, ge=0, le=1)        # per further supporting sentence
    support_share: float = Field(0.8, ge=0, le=1)         # supports when score >= threshold x this

    def base(self, basis: str) -> float:
        return getattr(self, basis)


BASES = ("verb_before_item", "item_before_verb", "receiver_verb", "transfer_noun", "combat",
         "item_without_verb")
