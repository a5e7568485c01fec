"""Architecture: shapes at every size the tool meets, parameter budget, registry, ablations."""

from __future__ import annotations

import pytest
import torch

from mobilegan import paper
from mobilegan.config import ModelConfig
from mobilegan.models.baselines import UNet
from mobilegan.models.registry import available_models, build_discriminator, build_model
from mobilegan.models.summary import count_parameters

SIZES = [(64, 64), (128, 128), (256, 256), (192, 256)]
ABLATIONS = {
    "paper": ModelConfig(),
    "pam_kv_stride_2": ModelConfig(pam_kv_stride=2),
    "no_attention": ModelConfig(attention=False),
    "single_scale": ModelConfig(multiscale=False),
}


def _logits(model: torch.nn.Module, batch: int, h: int, w: int) -> torch.Tensor:
    with torch.no_grad():
        return model.eval()(torch.randn(batch, 3, h, w))


@pytest.fixture(scope="module")
def generator() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(ModelConfig()).eval()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_generator_logits_match_the_input_size(generator: torch.nn.Module,
                                               size: tuple[int, int]) -> None:
    out = _logits(generator, 2 if size[0] == 64 else 1, *size)
    assert out.shape == (2 if size[0] == 64 else 1, 1, *size)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", [n for n in ABLATIONS if n != "paper"])
@pytest.mark.parametrize("size", [(64, 64), (192, 256)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_ablations_keep_the_output_shape(name: str, size: tuple[int, int]) -> None:
    model = build_model(ABLATIONS[name])
    assert _logits(model, 1, *size).shape == (1, 1, *size)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_unet_logits_match_the_input_size(size: tuple[int, int]) -> None:
    # Width does not change the shape logic; base 8 keeps 256x256 fast.
    assert _logits(UNet(base=8), 1, *size).shape == (1, 1, *size)


def test_unet_has_ronneberger_widths() -> None:
    model = build_model(ModelConfig(name="unet"))
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert sorted({c.out_channels for c in convs}) == [1, 64, 128, 256, 512, 1024]
    assert 30.9e6 < count_parameters(model) < 31.1e6  # Ronneberger's 31M
    assert _logits(model, 1, 64, 64).shape == (1, 1, 64, 64)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_discriminator_gives_patch_logits(size: tuple[int, int]) -> None:
    h, w = size
    disc = build_discriminator(ModelConfig()).eval()
    with torch.no_grad():
        out = disc(torch.randn(2, 3, h, w), torch.rand(2, 1, h, w))
    assert out.shape == (2, 1, h // 16, w // 16)


def test_discriminator_attention_can_be_taken_out_of_the_judge_only() -> None:
    from mobilegan.models.attention import ChannelAttention, PositionAttention

    def attentive(module: torch.nn.Module) -> int:
        return sum(isinstance(m, (PositionAttention, ChannelAttention)) for m in module.modules())

    assert attentive(build_discriminator(ModelConfig())) == 2  # PAM after conv 2, CAM after 3
    assert attentive(build_discriminator(ModelConfig(discriminator_attention=False))) == 0
    assert attentive(build_discriminator(ModelConfig(attention=False))) == 0
    assert attentive(build_discriminator(ModelConfig(attention=False,
                                                     discriminator_attention=True))) == 2
    generator = build_model(ModelConfig(discriminator_attention=False))
    assert attentive(generator) == attentive(build_model(ModelConfig())) > 0


def test_generator_parameters_match_the_paper() -> None:
    params = count_parameters(build_model(ModelConfig()))
    assert abs(params / (paper.PAPER_PARAMETERS_M * 1e6) - 1) < 0.05, params


def test_registry_builds_every_model_and_ablation() -> None:
    assert {"mobilegan", "unet"} <= set(available_models())
    for name in available_models():
        assert isinstance(build_model(ModelConfig(name=name)), torch.nn.Module)
    from mobilegan.models.attention import ChannelAttention, PositionAttention

    def kinds(cfg: ModelConfig) -> set[type]:
        return {type(m) for m in build_model(cfg).modules()}

    assert {ChannelAttention, PositionAttention} <= kinds(ModelConfig())
    assert not {ChannelAttention, PositionAttention} & kinds(ModelConfig(attention=False))
    assert len(build_model(ModelConfig(multiscale=False)).stem.branches) == 1
    assert len(build_model(ModelConfig()).stem.branches) == len(paper.MULTISCALE_FACTORS)
    strides = {m.kv_stride for m in build_model(ModelConfig(pam_kv_stride=2)).modules()
               if isinstance(m, PositionAttention)}
    assert strides == {1, 2}  # only the first CDA's PAM (64x64 at 128 input) is pooled
    # The ablations differ only in switches: same parameter names where layers exist.
    paper_names = set(build_model(ModelConfig()).state_dict())
    assert set(build_model(ModelConfig(pam_kv_stride=2)).state_dict()) == paper_names
    with pytest.raises(ValueError, match="unknown model"):
        build_model(ModelConfig(name="segformer"))


def test_head_starts_as_nearest_neighbour_upsampling_unless_asked_otherwise() -> None:
    """The tied head (default) gives every pixel of a 2x2 output cell the same logit at
    initialisation; PyTorch's default initialisation does not (its sub-pixel positions start
    apart, which let one of them saturate in a GAN-free run). Tying draws no random numbers:
    everything but the head initialises identically under either choice."""
    def build(head_init: str) -> torch.nn.Module:
        torch.manual_seed(0)
        return build_model(ModelConfig(head_init=head_init)).eval()

    tied, default = build("tied"), build("pytorch")
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        out_tied, out_default = tied(x), default(x)

    def cell_spread(out: torch.Tensor) -> float:
        cells = out.unfold(2, 2, 2).unfold(3, 2, 2)  # (B, 1, H/2, W/2, 2, 2)
        return float((cells.amax((-1, -2)) - cells.amin((-1, -2))).max())

    assert cell_spread(out_tied) == 0.0
    assert cell_spread(out_default) > 0.05
    assert tied.head.bias.abs().max() == 0
    head = {"head.weight", "head.bias"}
    tied_state, default_state = tied.state_dict(), default.state_dict()
    assert set(tied_state) == set(default_state)
    for name in set(tied_state) - head:
        assert torch.equal(tied_state[name], default_state[name]), name


def test_tying_refuses_overlapping_kernels_and_config_checks_the_choice(tmp_path) -> None:
    from mobilegan.config import ConfigError, RunConfig
    from mobilegan.models.generator import tie_subpixel_kernels

    with pytest.raises(ValueError, match="overlap"):
        tie_subpixel_kernels(torch.nn.ConvTranspose2d(4, 1, 3, stride=2))
    cfg = RunConfig()
    cfg.model.head_init = "zeros"
    cfg.data.train_dir = str(tmp_path)
    with pytest.raises(ConfigError, match="model.head_init"):
        cfg.validate()


@pytest.mark.parametrize("field, value", [("head_init", "zeros"), ("pam_kv_stride", 3),
                                          ("decoder_dropout", 1.0), ("encoder_dropout", -0.1)])
def test_a_model_built_without_a_run_config_refuses_bad_switches(field: str, value) -> None:
    from mobilegan.config import ConfigError

    with pytest.raises(ConfigError, match=f"model.{field}"):
        build_model(ModelConfig(**{field: value}))


def test_discriminator_layers_are_the_papers() -> None:
    """Four 4x4 stride-2 convolutions with padding 1; PAM after the 2nd, CAM after the
    3rd; and the verdict depends on the mask it is shown (it judges pairs)."""
    from torch import nn

    from mobilegan.models.attention import ChannelAttention, PositionAttention
    from mobilegan.models.discriminator import MobileGANDiscriminator

    torch.manual_seed(0)
    judge = MobileGANDiscriminator().eval()
    layers = list(judge.net)
    convs = [i for i, m in enumerate(layers) if isinstance(m, nn.Conv2d)]
    assert len(convs) == 4
    assert all((layers[i].kernel_size, layers[i].stride, layers[i].padding)
               == ((4, 4), (2, 2), (1, 1)) for i in convs)
    [pam] = [i for i, m in enumerate(layers) if isinstance(m, PositionAttention)]
    [cam] = [i for i, m in enumerate(layers) if isinstance(m, ChannelAttention)]
    assert convs[1] < pam < convs[2] < cam < convs[3]
    image = torch.randn(1, 3, 64, 64)
    lesion = torch.zeros(1, 1, 64, 64)
    lesion[..., 16:48, 16:48] = 1
    with torch.no_grad():
        assert not torch.allclose(judge(image, lesion), judge(image, 1 - lesion))


def test_both_decoder_streams_reach_the_mask() -> None:
    """The two streams are summed: changing the second one's weights changes the output."""
    torch.manual_seed(0)
    model = build_model(ModelConfig()).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        before = model(x)
        for parameter in model.streams[1].parameters():
            parameter.mul_(1.5)
        assert not torch.allclose(model(x), before)


def test_the_encoder_output_is_upsampled_bilinearly() -> None:
    """The decoder's first upsample (paper: 'upsample'; decided in docs/architecture.md):
    bilinear, so features at 1/8 come back to 1/4 smoothly, not in 2x2 blocks."""
    import torch.nn.functional as F

    torch.manual_seed(0)
    model = build_model(ModelConfig()).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        deep = model.encoder(model.stem(x))
        expected = F.interpolate(deep, scale_factor=2.0, mode="bilinear", align_corners=False)
        assert torch.allclose(model.encode(x), expected)
        assert not torch.allclose(model.encode(x), F.interpolate(deep, scale_factor=2.0))


def test_unet_up_blocks_use_their_skip_connection() -> None:
    from mobilegan.models.baselines import UpBlock

    torch.manual_seed(0)
    block = UpBlock(8, 4).eval()
    x = torch.randn(1, 8, 4, 4)
    with torch.no_grad():
        assert not torch.allclose(block(x, torch.zeros(1, 4, 8, 8)),
                                  block(x, torch.ones(1, 4, 8, 8)))


def test_sizes_that_are_not_multiples_of_8_are_refused_not_cropped() -> None:
    """Three 2x2 max-pools round down and the x8 decoder cannot get back: a 100x100 input
    gave a 96x96 map without a word."""
    model = build_model(ModelConfig(pam_kv_stride=4)).eval()
    with torch.no_grad():
        assert model(torch.zeros(1, 3, 104, 136)).shape == (1, 1, 104, 136)
        for size in ((100, 100), (128, 190)):
            with pytest.raises(ValueError, match="multiples of 8"):
                model(torch.zeros(1, 3, *size))


def test_a_model_cast_to_bf16_runs_without_autocast() -> None:
    """PAM moved its input up to float32 beside bf16 1x1 convolutions: an error."""
    model = build_model(ModelConfig(pam_kv_stride=4)).eval().to(torch.bfloat16)
    with torch.no_grad():
        out = model(torch.zeros(1, 3, 64, 64, dtype=torch.bfloat16))
    assert out.dtype == torch.bfloat16 and torch.isfinite(out.float()).all()


def test_the_discriminator_sees_the_mask_in_the_images_range_and_is_pix2pixs() -> None:
    """The mask enters as [-1, 1] like the image (a [0, 1] mask is a constant the judge can
    read); the first conv has no normalisation; LeakyReLU slope 0.2 throughout (pix2pix)."""
    from torch import nn

    from mobilegan.models.discriminator import MobileGANDiscriminator

    judge = MobileGANDiscriminator().eval()
    seen: dict[str, torch.Tensor] = {}
    judge.net[0].register_forward_hook(lambda module, inputs, output: seen.update(x=inputs[0]))
    mask = torch.zeros(1, 1, 32, 32)
    mask[..., :16] = 1
    with torch.no_grad():
        judge(torch.zeros(1, 3, 32, 32), mask)
    assert seen["x"][0, 3, 0, 0] == 1 and seen["x"][0, 3, 0, -1] == -1
    layers = list(judge.net)
    assert isinstance(layers[1], nn.LeakyReLU)  # straight after the first conv: no norm
    assert all(m.negative_slope == 0.2 for m in layers if isinstance(m, nn.LeakyReLU))


def test_the_decisions_table_is_what_paper_py_holds_and_the_network_builds() -> None:
    """docs/architecture.md's "Decisions" table writes down every choice where the paper is
    silent; each constant it names must hold the values it states, and the generator must
    be built with them (a dilation changed in code alone, or in the table alone, shows)."""
    import re
    from pathlib import Path

    from mobilegan.models.blocks import FCA, NonBottleneck1D

    text = (Path(__file__).parents[1] / "docs" / "architecture.md").read_text()
    table = text.split("## Decisions", 1)[1].split("\n## ", 1)[0]
    number = r"\d+(?:\.\d+)?(?:e-?\d+)?"
    checked = []
    for line in table.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        names = re.findall(r"`([A-Z0-9_]+)`", cells[0]) if len(cells) > 2 else []
        if not names or not all(hasattr(paper, name) for name in names):
            continue
        held = [float(v) for name in names
                for v in re.findall(number, str(getattr(paper, name)))]
        assert [float(v) for v in re.findall(number, cells[1])] == held, names
        checked += names
    assert {"FCA64_DILATIONS", "FCA128_DILATIONS", "DECODER_STREAM_DILATIONS", "CDA_CHANNELS",
            "LAMBDA_L1", "ADAM_BETAS", "DECODER_DROPOUT"} <= set(checked)

    generator = build_model(ModelConfig())
    encoder = [block[0].conv3x1_2.dilation[0] for block in generator.encoder
               if isinstance(block, FCA)]
    assert encoder == [*paper.FCA64_DILATIONS, *paper.FCA128_DILATIONS]
    streams = [[m.conv3x1_2.dilation[0] for m in stream.modules() if isinstance(m, NonBottleneck1D)]
               for stream in generator.streams]
    assert streams == [list(d) for d in paper.DECODER_STREAM_DILATIONS]
