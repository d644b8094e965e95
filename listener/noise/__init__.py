"""What reaches people, and how often: noise controls over outbox alerts, and spike detection for listening.

Not part of the response-time (SLA) core: `controls` decides per alert (mute, snooze, cooldown, quiet
hours, rate limit and digests), `spikes` judges hourly volume and negative share against a rolling
baseline, and `rules` holds the cooldown lookup both share. Pure functions over typed values; the store
keeps their state, the dispatcher and the listening job call them.
"""

from listener.noise.controls import (
    QUIET,
    RATE,
    Alert,
    Digest,
    Dropped,
    HeldAlert,
    Mute,
    NoiseDecision,
    NoiseSettings,
    NoiseState,
    QuietHours,
    SentAlert,
    Snooze,
    apply_noise_controls,
)
from listener.noise.rules import cooldown_for
from listener.noise.spikes import (
    HOUR,
    HourlyCount,
    HourlySeries,
    Spike,
    SpikeCheck,
    SpikeSettings,
    detect_spikes,
    find_spikes,
    hourly_buckets,
    judged_hour,
    negative_share_spike,
    spike_event,
    volume_spike,
)

__all__ = [
    "HOUR", "QUIET", "RATE", "Alert", "Digest", "Dropped", "HeldAlert", "HourlyCount", "HourlySeries", "Mute",
    "NoiseDecision", "NoiseSettings", "NoiseState", "QuietHours", "SentAlert", "Snooze", "Spike", "SpikeCheck",
    "SpikeSettings", "apply_noise_controls", "cooldown_for", "detect_spikes", "find_spikes", "hourly_buckets",
    "judged_hour", "negative_share_spike", "spike_event", "volume_spike",
]
