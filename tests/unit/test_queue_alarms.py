"""A broker's alarm flags: harm when they rise (RabbitMQ "Memory and Disk Alarms")."""

from __future__ import annotations

from diagnosis_operator.catalog.effect import is_alarm_flag, is_state_flag
from diagnosis_operator.catalog.failure_modes import harm_direction
from diagnosis_operator.catalog.mode_types import QUEUE


def test_an_alarm_gauge_is_a_flag_whose_rise_is_harm() -> None:
    name = "rabbitmq_alarms_free_disk_space_watermark"
    assert is_alarm_flag(name)
    assert is_state_flag(name)  # its 0 -> 1 flip counts however small
    assert harm_direction(name, (QUEUE,)) == "up"
    assert harm_direction("rabbitmq_alarms_memory_used_watermark", (QUEUE,)) == "up"


def test_blocked_publishers_are_harm_of_the_broker() -> None:
    assert harm_direction("rabbitmq_connections_blocked", (QUEUE,)) == "up"


def test_health_flags_still_fall_and_counts_are_no_alarms() -> None:
    assert not is_alarm_flag("mysql_up")
    assert not is_alarm_flag("rabbitmq_connections")
    assert harm_direction("rabbitmq_queue_messages_ready", (QUEUE,)) is None
