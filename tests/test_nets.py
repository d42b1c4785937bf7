import pytest
import torch

from vaekit.errors import ConfigError
from vaekit.nets import Decoder, Encoder, NetConfig

SHAPES = [(64,), (1, 8, 8), (1, 28, 28), (3, 32, 32), (3, 17, 23), (1, 5, 9), (2, 50)]
NETS = {
    "mlp": NetConfig(body="mlp", hidden=[32, 16]),
    "conv-k4": NetConfig(body="conv", channels=[8, 8], kernel=4, stride=2),
    "conv-k3-dense": NetConfig(body="conv", channels=[4, 8, 8], kernel=3, stride=2, dense=[16]),
}


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("net", NETS, ids=str)
def test_encoder_decoder_round_trip_shapes(shape, net):
    cfg = NETS[net]
    enc, dec = Encoder(cfg, shape, latent_dim=3), Decoder(cfg, shape, latent_dim=3, n_params=2)
    x = torch.randn(5, *shape)
    mu, logvar = enc(x)
    assert mu.shape == logvar.shape == (5, 3)
    assert dec(mu).shape == (5, 2, *shape)


def test_condition_vector_is_used():
    cfg = NETS["mlp"]
    enc, dec = Encoder(cfg, (10,), 3, cond_dim=4), Decoder(cfg, (10,), 3, 1, cond_dim=4)
    x, c1, c2 = torch.randn(2, 10), torch.zeros(2, 4), torch.ones(2, 4)
    assert not torch.allclose(enc(x, c1)[0], enc(x, c2)[0])
    assert not torch.allclose(dec(torch.zeros(2, 3), c1), dec(torch.zeros(2, 3), c2))


def test_too_small_input_for_the_conv_stack_is_a_config_error():
    with pytest.raises(ConfigError, match="too small"):
        Encoder(NetConfig(body="conv", channels=[4] * 3, kernel=4), (1, 4, 4), 2)


@pytest.mark.parametrize("bad", [{"hidden": [0]}, {"channels": []}, {"activation": "swishy"}, {"body": "rnn"}])
def test_bad_net_config(bad):
    kwargs = {"body": "conv", **bad}
    with pytest.raises(ConfigError):
        NetConfig(**kwargs)
