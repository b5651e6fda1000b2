"""The bridge config on the one ``ALPR__`` scheme (precedence with flags: test_service)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from alpr.bridge.config import BridgeConfig, load_config
from alpr.config import PipelineConfig
from alpr.config import load_config as load_pipeline_config
from alpr.errors import ConfigError


def test_env_scheme_nested_keys() -> None:
    env = {
        "ALPR__ZMQ": '["tcp://a:1", "tcp://b:2"]',  # lists are JSON
        "ALPR__DB": "sqlite:///env.db",
        "ALPR__HA_DISCOVERY": "true",
        "ALPR__RETENTION__READS_DAYS": "3",
        "ALPR__MQTT_TLS__CA": "/etc/alpr/ca.pem",
        "ALPR__PARKING__PERMIT_HOOK__URL": "https://pay.example/permit",
        "ALPR__WEBHOOKS": '[{"url": "https://x.example/h", "alerts_only": true}]',
    }
    cfg = load_config(None, env=env)
    assert cfg.zmq == ["tcp://a:1", "tcp://b:2"] and cfg.db == "sqlite:///env.db" and cfg.ha_discovery
    assert cfg.retention.reads_days == 3 and cfg.retention.crops_days == 7
    assert cfg.mqtt_tls.ca == Path("/etc/alpr/ca.pem")
    assert cfg.parking.permit_hook is not None and cfg.parking.permit_hook.url == "https://pay.example/permit"
    assert cfg.webhooks[0].alerts_only


def test_env_over_toml_key_by_key(tmp_path: Path) -> None:
    toml = tmp_path / "bridge.toml"
    toml.write_text('db = "sqlite:///file.db"\n[retention]\nreads_days = 5\ncrops_days = 2\n')
    cfg = load_config(toml, env={"ALPR__RETENTION__READS_DAYS": "9"})
    assert cfg.retention.reads_days == 9 and cfg.retention.crops_days == 2 and cfg.db == "sqlite:///file.db"
    flags = load_config(toml, env={"ALPR__DB": "sqlite:///env.db"}, overrides={"db": "sqlite:///flag.db"})
    assert flags.db == "sqlite:///flag.db"


def test_legacy_names_still_work_below_the_new_ones(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="alpr.bridge.config"):
        cfg = load_config(None, env={"ALPR_DB": "sqlite:///old.db", "ALPR_ZMQ": "tcp://a:1, tcp://b:2"})
    assert cfg.db == "sqlite:///old.db" and cfg.zmq == ["tcp://a:1", "tcp://b:2"]
    assert "ALPR_DB is deprecated: set ALPR__DB" in caplog.text
    both = load_config(None, env={"ALPR_DB": "sqlite:///old.db", "ALPR__DB": "sqlite:///new.db"})
    assert both.db == "sqlite:///new.db"


def test_errors_name_the_key_never_the_value() -> None:
    secret = "hunter2-hunter2"
    env = {"ALPR__WEBHOOKS": f'[{{"url": "https://x.example/h", "secret": "{secret}"}}]'}
    with pytest.raises(ConfigError, match=r"webhooks\.0\.secret: expected a Standard Webhooks") as e:
        load_config(None, env=env)
    assert secret not in str(e.value)
    with pytest.raises(ConfigError, match=r"retention.bogus: Extra inputs"):
        load_config(None, env={"ALPR__RETENTION__BOGUS": "1"})
    with pytest.raises(ConfigError, match=r"zmq.*JSON"):
        load_config(None, env={"ALPR__ZMQ": "tcp://a:1"})


def test_one_environment_for_bridge_and_pipeline() -> None:
    # `alpr run` and `alpr serve` may share one environment file: neither reads the other's keys.
    assert not set(BridgeConfig.model_fields) & set(PipelineConfig.model_fields)
    env = {"ALPR__DB": "sqlite:///b.db", "ALPR__DETECTOR__CONF_THRESHOLD": "0.6"}
    assert load_config(None, env=env).db == "sqlite:///b.db"
    assert load_pipeline_config(environ=env).detector.conf_threshold == 0.6


def test_direct_construction_reads_no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALPR__DB", "sqlite:///env.db")
    assert BridgeConfig().db == "sqlite:///alpr.db" and load_config().db == "sqlite:///env.db"
