"""Provider presets, per-profile limit overrides, and config errors naming file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from tui.core import providers
from tui.core.client import make_openai
from tui.core.config import ConfigError, Profile, load_config
from tui.core.errors import AuthError
from tui.core.pricing import PriceError, load_prices
from tui.core.providers import PRESETS, ProviderError
from tui.core.requests import Code, validate
from tui.core.sdk_options import api_key_for

CHAT = (
    '{"custom_id": "a", "method": "POST", "url": "/v1/chat/completions", '
    '"body": {"model": "m", "messages": []}}\n'
)
EMBED = (
    '{"custom_id": "a", "method": "POST", "url": "/v1/embeddings", '
    '"body": {"model": "m", "input": "x"}}\n'
)


def write(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_every_provider_has_a_preset_and_openai_is_the_default() -> None:
    assert set(PRESETS) == set(providers.PROVIDERS)
    profile = Profile("p")
    assert profile.provider_name == "openai"
    assert profile.limits.max_requests == 50_000
    assert profile.limits.completion_windows == ("24h",)


def test_presets_carry_the_documented_limits() -> None:
    assert PRESETS["azure"].limits.max_requests == 100_000
    groq = PRESETS["groq"]
    assert groq.base_url == "https://api.groq.com/openai/v1"
    assert groq.limits.endpoints == ("/v1/chat/completions",)
    assert groq.limits.max_bytes == 100_000_000
    assert groq.limits.completion_windows[0] == "24h"
    assert groq.limits.completion_windows[-1] == "7d"
    assert "/v1/embeddings" in PRESETS["deepinfra"].limits.endpoints
    assert PRESETS["gemini"].base_url is not None


def test_preset_base_url_and_key_variable(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, '[profiles.g]\nprovider = "groq"\n'))
    profile = config.profile("g")
    assert profile.resolved_base_url() == "https://api.groq.com/openai/v1"
    assert profile.api_key_env == "GROQ_API_KEY"
    assert profile.host() == "api.groq.com"
    assert profile.label() == "g · groq · api.groq.com"
    assert Profile("o", base_url="http://127.0.0.1:9/v1").label() == "o · 127.0.0.1:9"


def test_azure_profile_fields_and_deployments(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[profiles.az]\nprovider = "azure"\nazure_endpoint = "https://res.openai.azure.com/"\n'
        'api_version = "2024-10-21"\n[profiles.az.deployments]\n"mini-batch" = "gpt-4o-mini"\n',
    )
    profile = load_config(path).profile("az")
    assert profile.api_key_env == "AZURE_OPENAI_API_KEY"
    assert profile.resolved_base_url() == "https://res.openai.azure.com/openai"
    table = profile.priced(load_prices())
    assert not isinstance(table, PriceError)
    assert table["mini-batch"] == table["gpt-4o-mini"]
    error = PriceError("unusable")
    assert profile.priced(error) is error
    assert profile.limits.max_requests == 100_000


def test_limits_override_the_preset(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[profiles.g]\nprovider = "groq"\n[profiles.g.limits]\nmax_requests = 10\n'
        'completion_windows = ["7d", "24h"]\nendpoints = ["/v1/chat/completions", '
        '"/v1/embeddings"]\noutput_expiry = true\n',
    )
    limits = load_config(path).profile("g").limits
    assert limits.max_requests == 10
    assert limits.max_bytes == 100_000_000  # the preset's, not overridden
    assert limits.completion_windows == ("24h", "7d")  # shortest first: the default
    assert limits.endpoints == ("/v1/chat/completions", "/v1/embeddings")
    assert (limits.min_expiry, limits.max_expiry) == (3600, 30 * 86400)
    request_limits = limits.request_limits()
    assert request_limits.max_requests == 10
    assert request_limits.endpoints == limits.endpoints


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('provider = "bedrock"', "[profiles.p].provider"),
        ('provider = "azure"\napi_version = "x"', "no azure_endpoint"),
        ('provider = "azure"\nazure_endpoint = "https://r"', "no api_version"),
        ('azure_ad_token_env = "eyJ0eXAi.secret"', "[profiles.p].azure_ad_token_env"),
        ("[profiles.p.limits]\nmax_requests = 0", "[profiles.p.limits].max_requests"),
        ('[profiles.p.limits]\nmax_bytes = "big"', "[profiles.p.limits].max_bytes"),
        ('[profiles.p.limits]\nendpoints = ["/v1/nope"]', "[profiles.p.limits].endpoints"),
        ('[profiles.p.limits]\ncompletion_windows = ["1 week"]', "completion_windows"),
        ('[profiles.p.limits]\nmin_expiry = "soon"', "[profiles.p.limits].min_expiry"),
        ("[profiles.p.limits]\ncolour = 1", "unknown field 'colour'"),
        ('[profiles.p.limits]\nmin_expiry = "2d"\nmax_expiry = "1d"', "longer than"),
        ("[profiles.p.deployments]\nx = 1", "[profiles.p.deployments]"),
    ],
)
def test_config_errors_name_file_and_field(tmp_path: Path, body: str, field: str) -> None:
    path = write(tmp_path, f"[profiles.p]\n{body}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert str(path) in message
    assert field in message
    assert "eyJ0eXAi.secret" not in message  # a pasted token is never echoed


def test_windows_endpoints_and_expiry_are_checked() -> None:
    groq = PRESETS["groq"].limits
    assert groq.check_window("7d", "groq") == "7d"
    with pytest.raises(ProviderError, match=r"'30d' is not offered by groq.*24h.*7d"):
        groq.check_window("30d", "groq")
    with pytest.raises(ProviderError, match="not offered by openai"):
        PRESETS["openai"].limits.check_window("48h", "openai")
    with pytest.raises(ProviderError, match="/v1/embeddings is not offered by groq"):
        groq.check_endpoint("/v1/embeddings", "groq")
    with pytest.raises(ProviderError, match="takes no output expiry"):
        groq.check_expiry(3600, "groq")
    assert PRESETS["deepinfra"].limits.check_expiry(3600, "deepinfra") == 3600
    with pytest.raises(ProviderError, match="1h to 30d"):
        PRESETS["openai"].limits.check_expiry(31 * 86400, "openai")


def test_validate_refuses_an_endpoint_the_provider_lacks(tmp_path: Path) -> None:
    path = write(tmp_path, EMBED, "embed.jsonl")
    groq = PRESETS["groq"].limits.request_limits()
    report = validate(path, limits=groq)
    assert not report.ok
    assert not report.only_limit_problems  # never "fixed" by splitting
    assert report.problems[0].code == Code.INVALID_URL
    assert "not offered" in report.problems[0].message
    assert validate(path).ok  # OpenAI takes it
    assert validate(write(tmp_path, CHAT, "chat.jsonl"), limits=groq).ok


def test_validate_uses_the_provider_request_limit(tmp_path: Path) -> None:
    lines = "".join(CHAT.replace('"a"', f'"r{i}"') for i in range(3))
    path = write(tmp_path, lines, "three.jsonl")
    limits = providers.limits_from(PRESETS["azure"].limits, {"max_requests": 2}, "t")
    report = validate(path, limits=limits.request_limits())
    assert report.only_limit_problems and not report.ok
    assert Code.TOO_MANY_TASKS in report.problem_counts


def test_validate_refuses_a_bom_for_azure(tmp_path: Path) -> None:
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + CHAT.encode())
    report = validate(path, limits=PRESETS["azure"].limits.request_limits())
    assert [p.code for p in report.problems] == [Code.UTF8_BOM]


def test_azure_client_uses_key_header_and_api_version(monkeypatch: pytest.MonkeyPatch) -> None:
    import openai

    monkeypatch.setenv("AZ_KEY", "az-secret-key-123456")
    profile = Profile(
        "az",
        provider="azure",
        azure_endpoint="https://res.openai.azure.com",
        api_version="2024-10-21",
        api_key_env="AZ_KEY",
    )
    client = make_openai(profile)
    assert isinstance(client, openai.AsyncAzureOpenAI)
    assert str(client.base_url).startswith("https://res.openai.azure.com/openai")
    assert client.default_query == {"api-version": "2024-10-21"}
    assert client.auth_headers == {"api-key": "az-secret-key-123456"}


def test_azure_without_key_or_token_is_an_auth_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AZURE_OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("AZ_TOKEN", raising=False)
    profile = Profile(
        "az",
        provider="azure",
        azure_endpoint="http://127.0.0.1:9",
        api_version="2024-10-21",
        api_key_env="AZURE_OPENAI_API_KEY",
        azure_ad_token_env="AZ_TOKEN",
    )
    with pytest.raises(AuthError, match="AZURE_OPENAI_API_KEY or AZ_TOKEN"):
        api_key_for(profile)
    monkeypatch.setenv("AZ_TOKEN", "entra-token-abcdef123456")
    assert api_key_for(profile) == ""
    client = make_openai(profile)
    assert client._azure_ad_token == "entra-token-abcdef123456"
    assert "api-key" not in client.auth_headers


def test_hosted_preset_without_key_is_an_auth_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GROQ_API_KEY", raising=False)
    groq = Profile("g", provider="groq", api_key_env="GROQ_API_KEY")
    with pytest.raises(AuthError, match="GROQ_API_KEY"):
        api_key_for(groq)
    local = Profile("l", provider="groq", base_url="http://127.0.0.1:9/v1")
    assert api_key_for(local) == "no-key"  # a local stand-in needs none


def test_the_readme_provider_examples_load(tmp_path: Path) -> None:
    """Every TOML example of the README's Providers section is a valid config."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Providers\n", 1)[1].split("\n## ", 1)[0]
    blocks = [part.split("```", 1)[0] for part in section.split("```toml\n")[1:]]
    assert len(blocks) >= 5
    for index, block in enumerate(blocks):
        if block.startswith("[profiles.groq.limits]"):
            block = '[profiles.groq]\nprovider = "groq"\n' + block
        config = load_config(write(tmp_path, block, f"readme-{index}.toml"))
        for profile in config.profiles.values():
            assert profile.provider in providers.PROVIDERS


def test_saving_settings_keeps_provider_tables(tmp_path: Path) -> None:
    from tui.core.config import save_config

    text = (
        '[profiles.az]\nprovider = "azure"\nazure_endpoint = "https://r.openai.azure.com"\n'
        'api_version = "2024-10-21"\n[profiles.az.deployments]\n"d" = "gpt-4o"\n'
        "[profiles.az.limits]\nmax_requests = 7\n"
    )
    path = write(tmp_path, text)
    config = load_config(path)
    config.settings["theme"] = "nord"
    save_config(config)
    again = load_config(path).profile("az")
    assert again == config.profile("az")
    assert again.limits.max_requests == 7 and again.deployments == (("d", "gpt-4o"),)
    assert path.read_text(encoding="utf-8").startswith(text)  # the user's text kept
