"""The cost table: rows add up, MACs match hand counts, attention matmuls are counted."""

from __future__ import annotations

from torch import nn

from mobilegan.cli.main import main
from mobilegan.config import ModelConfig
from mobilegan.models.attention import PositionAttention
from mobilegan.models.registry import build_model
from mobilegan.models.summary import count_macs, model_summary


def test_conv_macs_match_the_hand_count() -> None:
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 4, 1))
    summary = model_summary(net, (16, 20))
    assert [r.name for r in summary.rows] == ["0", "2"]
    assert summary.rows[0].macs == 3 * 8 * 9 * 16 * 20
    assert summary.rows[1].macs == 8 * 4 * 16 * 20
    assert summary.rows[0].output_shape == (1, 8, 16, 20)
    assert summary.rows[0].params == 3 * 8 * 9 + 8
    assert summary.total_macs == sum(r.macs for r in summary.rows)
    assert len(model_summary(net, (16, 20), all_layers=True).rows) == 3


def test_pam_matmuls_are_counted() -> None:
    pam = PositionAttention(32)
    n = 16 * 16
    convs = n * 32 * (4 + 4 + 32)  # 1x1 query, key (32 -> 4) and value (32 -> 32)
    matmuls = n * n * 4 + n * n * 32  # Q^T K and V attn
    assert count_macs(pam, (16, 16)) == convs + matmuls
    # In a table the PAM's own row holds the matmuls, its 1x1 convs have rows of their own.
    rows = {r.name: r.macs for r in model_summary(nn.Sequential(pam), (16, 16)).rows}
    assert rows["0"] == matmuls
    assert rows["0.value"] == n * 32 * 32


def test_generator_summary_rows_add_up_and_training_mode_is_kept() -> None:
    model = build_model(ModelConfig()).train()
    summary = model_summary(model, (64, 64))
    assert model.training
    assert summary.total_params == sum(p.numel() for p in model.parameters())
    assert sum(r.params for r in summary.rows) == summary.total_params
    assert sum(r.macs for r in summary.rows) == summary.total_macs
    assert all(r.macs >= 0 for r in summary.rows)
    names = {r.name for r in summary.rows}
    assert {"head", "encoder.0.2", "streams.1.0.deconv.0"} <= names
    no_attention = model_summary(build_model(ModelConfig(attention=False)), (64, 64))
    assert no_attention.total_macs < summary.total_macs
    assert "total MACs at 64x64" in summary.format_table()


def test_cli_model_summary_and_list(capsys) -> None:
    assert main(["model", "summary", "--size", "64", "--set", "model.pam_kv_stride=2"]) == 0
    out = capsys.readouterr().out
    assert "total parameters: 2,322,132" in out and "2.35M" in out
    assert "total MACs at 64x64" in out and "PositionAttention" in out
    assert main(["model", "list"]) == 0
    out = capsys.readouterr().out
    assert "mobilegan" in out and "unet" in out and "model.attention=false" in out
    assert main(["model", "summary", "--size", "100"]) == 2
    assert main(["model", "summary", "--set", "model.nonsense=1"]) == 2
    assert "model.nonsense" in capsys.readouterr().err


def test_list_names_the_shipped_network_and_summary_describes_it(capsys) -> None:
    """The paper's configuration is the default; the shipped weights pool PAM's keys and
    values, which changes the cost: both commands say which is which."""
    import json

    from mobilegan.inference.segmenter import shipped_weights

    stored = json.loads(shipped_weights().with_suffix(".json").read_text())["model"]
    assert main(["model", "list"]) == 0
    assert f"model.pam_kv_stride={stored['pam_kv_stride']}" in capsys.readouterr().out
    assert main(["model", "summary", "--shipped", "--json"]) == 0
    shipped = json.loads(capsys.readouterr().out)
    assert main(["model", "summary", "--json"]) == 0
    paper = json.loads(capsys.readouterr().out)
    assert shipped["model"]["pam_kv_stride"] == stored["pam_kv_stride"] != paper["model"]["pam_kv_stride"]
    assert shipped["total_params"] == paper["total_params"]  # pooling adds no weights...
    assert shipped["total_macs"] < paper["total_macs"]  # ... and saves work
    assert main(["model", "summary", "--shipped", "--set", "model.attention=false"]) == 2
