"""Queues seen from their consumers: consumer-group series and the consumer's failure modes.

Pure data (see ``mode_types``).  A broker's exporter publishes, beside the
broker's own health, how far each consumer group is behind
(``CONSUMER_GROUP_METRICS``): kafka_exporter's ``kafka_consumergroup_lag``,
Burrow's ``burrow_kafka_consumer_*``, KMinion's ``kminion_kafka_consumer_group_*``.
That lag is the consumer's symptom (it does not keep up), reported by the
broker's exporter: it belongs to the consumer group's component, not to the
broker's health, unless the broker itself shows trouble (under-replicated or
offline partitions, request latency, its own error log).

``CONSUMER_MODES``: how a consumer application fails as a group member.  A poll
loop slower than ``max.poll.interval.ms`` makes the member leave its group
("consumer poll timeout has expired"); the group rebalances again and again,
offset commits fail (``CommitFailedException``) and the lag grows.
"""

from __future__ import annotations

from diagnosis_operator.catalog.mode_types import APP, FailureMode, mode

KAFKA_CONSUMER_CONFIGS = (
    "https://kafka.apache.org/documentation/#consumerconfigs_max.poll.interval.ms"
)
KAFKA_CONSUMER_MONITORING = "https://kafka.apache.org/documentation/#consumer_monitoring"
KAFKA_EXPORTER = "https://github.com/danielqsj/kafka_exporter#metrics"
BURROW = "https://github.com/linkedin/Burrow/wiki"
KMINION = "https://github.com/redpanda-data/kminion"
LIBRDKAFKA_CONFIG = "https://github.com/confluentinc/librdkafka/blob/master/CONFIGURATION.md"

# Series a broker's exporter publishes about a consumer group, not about the broker.
CONSUMER_GROUP_METRICS: tuple[str, ...] = (
    r"^kafka_consumergroup_",
    r"^burrow_kafka_consumer_",
    r"^kminion_kafka_consumer_group_",
)
CONSUMER_GROUP_SOURCES = (KAFKA_EXPORTER, BURROW, KMINION)

CONSUMER_MODES: tuple[FailureMode, ...] = (
    mode(
        APP,
        "consumer group rebalancing",
        metrics=(
            r"^kafka_consumer_coordinator_rebalance",
            r"^kafka_consumer_fetch_manager_records_lag",
        ),
        logs=(
            r"consumer poll timeout has expired",
            r"max\.poll\.interval\.ms",
            r"maximum poll interval \(\d+ms\) exceeded",
            r"group is rebalancing|rebalance in progress",
            r"commitfailedexception",
        ),
        sources=(KAFKA_CONSUMER_CONFIGS, KAFKA_CONSUMER_MONITORING, LIBRDKAFKA_CONFIG),
    ),
)
