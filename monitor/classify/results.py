"""Fast constructors for the result models (:class:`~monitor.models.Evidence`,
:class:`~monitor.models.TopicMatch`).

Guarantee: :data:`evidence_of` and :data:`topic_match` return instances equal in
every respect (fields, fields-set, extra, private, dump, equality, hash) to the
validating constructors. The fast path is used only if :func:`check_fast_models`
confirms that at import; otherwise both names are the validating constructors.
Callers must pass valid values (the classifier only produces valid ones).
"""

from __future__ import annotations

from pydantic import BaseModel

from monitor.models import Evidence, FieldName, TopicMatch

# Building the result models. Their validation is redundant here (the engine only
# produces valid values: topic ids are validated when the classifier is built, offsets
# are non-negative, scores are clamped to 0..1), and it was the largest cost of a
# matching item after the scan. So the instances are assembled the way pydantic's own
# validator leaves them: ``__dict__`` with every field, all fields marked as set, no
# extra, no private attributes. Measured per instance: ``Evidence(...)`` 1.6 us,
# ``Evidence.model_construct(...)`` 2.7 us, this 1.0 us. :func:`check_fast_models`
# compares the result with the validating constructor at import and falls back to it
# if a pydantic version builds instances differently.
_new_evidence = Evidence.__new__
_new_match = TopicMatch.__new__
_set = object.__setattr__
# BaseModel's slots, set through their descriptors (faster than ``object.__setattr__``).
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__
_EVIDENCE_FIELDS = set(Evidence.model_fields)
_MATCH_FIELDS = set(TopicMatch.model_fields)


def fast_evidence(rule: str, text: str, field: FieldName, start: int, end: int) -> Evidence:
    evidence = _new_evidence(Evidence)
    _set(evidence, "__dict__", {"rule": rule, "text": text, "field": field, "start": start, "end": end})
    _set_fields_set(evidence, _EVIDENCE_FIELDS.copy())
    _set_extra(evidence, None)
    _set_private(evidence, None)
    return evidence


def fast_topic_match(topic: str, score: float, evidence: list[Evidence]) -> TopicMatch:
    match = _new_match(TopicMatch)
    _set(match, "__dict__", {"topic": topic, "score": score, "evidence": evidence})
    _set_fields_set(match, _MATCH_FIELDS.copy())
    _set_extra(match, None)
    _set_private(match, None)
    return match


def valid_evidence(rule: str, text: str, field: FieldName, start: int, end: int) -> Evidence:
    return Evidence(rule=rule, text=text, field=field, start=start, end=end)


def valid_topic_match(topic: str, score: float, evidence: list[Evidence]) -> TopicMatch:
    return TopicMatch(topic=topic, score=score, evidence=evidence)


def _same_instance(a: BaseModel, b: BaseModel) -> bool:
    return (
        type(a) is type(b)
        and a.__dict__ == b.__dict__
        and a.__pydantic_fields_set__ == b.__pydantic_fields_set__
        and a.__pydantic_extra__ == b.__pydantic_extra__
        and a.__pydantic_private__ == b.__pydantic_private__
        and a.model_dump() == b.model_dump()
        and a == b
    )


def check_fast_models() -> bool:
    """Whether the fast constructors build the same instances as validation."""
    try:
        valid = valid_evidence("rule", "text", "summary", 1, 5)
        fast = fast_evidence("rule", "text", "summary", 1, 5)
        return (
            _same_instance(valid, fast)
            and hash(valid) == hash(fast)
            and _same_instance(
                valid_topic_match("topic", 0.5, [valid]), fast_topic_match("topic", 0.5, [fast])
            )
        )
    except Exception:
        return False


FAST_MODELS = check_fast_models()
evidence_of = fast_evidence if FAST_MODELS else valid_evidence
topic_match = fast_topic_match if FAST_MODELS else valid_topic_match
